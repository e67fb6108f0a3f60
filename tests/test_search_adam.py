"""The controller's fused Adam takes Keras' Adam steps and keeps Keras' state layout."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nasnet.search.adam import FusedAdam


def test_fused_adam_takes_the_steps_of_keras_adam_with_its_state_layout():
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,), (6, 2)]
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    ours = [tf.Variable(w) for w in initial]
    theirs = [tf.Variable(w) for w in initial]
    fused = FusedAdam(ours, learning_rate=0.01)
    reference = keras.optimizers.Adam(learning_rate=0.01)
    reference.build(theirs)
    for _ in range(5):
        grads = [rng.normal(size=s).astype("float32") for s in shapes]
        # The embedding-like last variable gets a sparse gradient on rows 1, 4 and 1 again: a
        # row chosen twice takes one step on its summed gradient.
        sparse = tf.IndexedSlices(tf.constant(grads[2][:3]), tf.constant([1, 4, 1]), (6, 2))
        fused.apply([tf.constant(grads[0]), tf.constant(grads[1]), sparse])
        dense = [tf.constant(grads[0]), tf.constant(grads[1]), tf.convert_to_tensor(sparse)]
        reference.apply_gradients(zip(dense, theirs))
    for a, b, start in zip(ours, theirs, initial):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        assert np.abs(a.numpy() - start).max() > 0.01  # it moved
    assert [tuple(v.shape) for v in fused.variables] == [
        tuple(v.shape) for v in reference.variables
    ]
    assert [v.dtype for v in fused.variables] == [v.dtype for v in reference.variables]
    for a, b in zip(fused.variables, reference.variables):
        np.testing.assert_allclose(
            np.asarray(a.numpy()), np.asarray(b.numpy()), rtol=1e-5, atol=1e-7
        )
    with pytest.raises(ValueError, match="Expected 3 gradients"):
        fused.apply([tf.constant(grads[0])])

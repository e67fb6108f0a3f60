import keras
import numpy as np
import pytest

from keras_nasnet import compat
from keras_nasnet.genotypes import OPS
from keras_nasnet.ops import OP_BUILDERS, LayerSettings, apply_op, same_padding


def test_every_op_of_the_search_space_has_a_builder():
    assert set(OP_BUILDERS) == set(OPS)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("size", [9, 10])
def test_op_output_shape_and_values(op, strides, size):
    inputs = keras.Input((size, size, 6))
    out = apply_op(op, inputs, filters=4, strides=strides, name=f"t_{op}", shared=LayerSettings())
    model = keras.Model(inputs, out)
    expected = -(-size // strides)
    assert tuple(model.output.shape) == (None, expected, expected, 4)
    x = np.random.default_rng(0).normal(size=(2, size, size, 6)).astype("float32")
    assert np.all(np.isfinite(model.predict(x, verbose=0)))


def test_identity_without_change_adds_no_layer():
    inputs = keras.Input((8, 8, 4))
    assert (
        apply_op("identity", inputs, filters=4, strides=1, name="i", shared=LayerSettings())
        is inputs
    )


def test_identity_that_changes_shape_is_relu_conv_bn():
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(
        inputs, apply_op("identity", inputs, filters=6, strides=2, name="i", shared=LayerSettings())
    )
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Activation", "Conv2D", "BatchNormalization"]


def test_pool_projects_only_when_channels_change():
    inputs = keras.Input((8, 8, 4))
    same = keras.Model(
        inputs,
        apply_op("max_pool_3x3", inputs, filters=4, strides=1, name="p", shared=LayerSettings()),
    )
    assert not any(layer.weights for layer in same.layers)
    wider = keras.Model(
        inputs,
        apply_op("max_pool_3x3", inputs, filters=8, strides=1, name="q", shared=LayerSettings()),
    )
    assert [type(layer).__name__ for layer in wider.layers if layer.weights] == [
        "Conv2D",
        "BatchNormalization",
    ]


def test_separable_conv_is_applied_twice_with_batch_norm_settings():
    inputs = keras.Input((8, 8, 4))
    bn = LayerSettings(momentum=0.9, epsilon=1e-5)
    model = keras.Model(
        inputs, apply_op("sep_conv_5x5", inputs, filters=4, strides=2, name="s", shared=bn)
    )
    separable = [layer for layer in model.layers if isinstance(layer, keras.layers.SeparableConv2D)]
    assert [layer.strides for layer in separable] == [(2, 2), (1, 1)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 2 and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)


def test_unknown_op_is_rejected():
    with pytest.raises(ValueError, match="Unknown op 'conv_9x9'"):
        apply_op(
            "conv_9x9",
            keras.Input((8, 8, 4)),
            filters=4,
            strides=1,
            name="x",
            shared=LayerSettings(),
        )


@pytest.mark.parametrize("size", [None, 7, 8, 111, 112])
@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_same_padding_equals_keras_correct_pad(size, kernel):
    expected = compat.correct_pad(keras.KerasTensor((1, size, size, 3)), kernel)[0]
    assert same_padding(size, kernel, 2) == expected

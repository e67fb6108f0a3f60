import keras
import numpy as np
import pytest

from keras_nasnet import ScheduledDropPath
from keras_nasnet.layers import combine_normalization


def _layer(**kwargs):
    args = dict(
        drop_path_keep_prob=0.6, cell_index=3, total_num_cells=8, total_training_steps=100, seed=7
    )
    args.update(kwargs)
    return ScheduledDropPath(**args)


def test_keep_prob_follows_the_tf_slim_schedule():
    layer = _layer()
    final = 1 - (3 + 1) / 8 * (1 - 0.6)  # 0.8 for this cell
    assert layer.final_keep_prob == pytest.approx(final)
    assert layer.keep_prob(0) == pytest.approx(1.0)
    assert layer.keep_prob(50) == pytest.approx(1 - 0.5 * (1 - final))
    assert layer.keep_prob(100) == pytest.approx(final)
    assert layer.keep_prob(10_000) == pytest.approx(final)  # clamped after T
    assert float(layer.keep_prob(keras.ops.convert_to_tensor(50))) == pytest.approx(
        1 - 0.5 * (1 - final)
    )
    last = _layer(cell_index=7)
    assert last.final_keep_prob == pytest.approx(0.6)  # the last cell reaches drop_path_keep_prob


def test_identity_at_inference_and_step_unchanged():
    layer = _layer()
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    assert int(layer.step.numpy()) == 0


def test_training_masks_whole_examples_and_rescales():
    layer = _layer(cell_index=7, total_training_steps=1)
    layer.build((None, 3, 3, 2))
    layer.set_step(5)  # past the ramp: keep = 0.6
    x = np.ones((2000, 3, 3, 2), "float32")
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    per_example = y.reshape(2000, -1)
    assert np.all((per_example == 0).all(axis=1) | np.isclose(per_example, 1 / 0.6).all(axis=1))
    kept = np.isclose(per_example[:, 0], 1 / 0.6).mean()
    assert 0.55 < kept < 0.65
    assert abs(y.mean() - 1.0) < 0.08  # unbiased in expectation
    assert int(layer.step.numpy()) == 6  # each training call advances the schedule


def test_serialization_round_trip():
    layer = _layer()
    clone = ScheduledDropPath.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.keep_prob(30) == layer.keep_prob(30)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(drop_path_keep_prob=0.0), "drop_path_keep_prob"),
        (dict(drop_path_keep_prob=1.5), "drop_path_keep_prob"),
        (dict(cell_index=8), "cell_index"),
        (dict(cell_index=-1), "cell_index"),
        (dict(total_num_cells=0), "total_num_cells"),
        (dict(total_training_steps=0), "total_training_steps"),
        (dict(total_training_steps=None), "total_training_steps"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _layer(**kwargs)


def test_plain_fit_advances_the_schedule():
    inputs = keras.Input((4, 4, 2))
    drop = _layer(total_training_steps=10)
    x = drop(keras.layers.Conv2D(2, 1)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).normal(size=(12, 4, 4, 2)).astype("float32")
    model.fit(data, np.zeros((12, 1)), batch_size=4, epochs=2, verbose=0)
    assert int(drop.step.numpy()) == 6
    model.predict(data, verbose=0)
    model.evaluate(data, np.zeros((12, 1)), verbose=0)
    assert int(drop.step.numpy()) == 6


@pytest.mark.parametrize("combine", ["add_layer_norm", "add_instance_norm"])
def test_combine_normalizations(combine):
    layer = combine_normalization(combine, channels=6, name="n", epsilon=1e-5)
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 5, 5, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    # Layer norm: per example over height, width and channels; instance norm: per example and
    # channel.
    axes = (1, 2, 3) if combine == "add_layer_norm" else (1, 2)
    expected = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(
        x.var(axis=axes, keepdims=True) + 1e-5
    )
    np.testing.assert_allclose(y, expected, atol=1e-4)
    assert [tuple(w.shape) for w in layer.weights] == [(6,), (6,)]  # per-channel scale and offset
    clone = keras.layers.deserialize(
        keras.layers.serialize(layer)
    )  # a built-in layer: no registration
    assert clone.get_config() == layer.get_config()


def test_combine_normalization_rejects_other_combines():
    with pytest.raises(ValueError, match="'concat' has no normalization"):
        combine_normalization("concat", channels=4, name="n")

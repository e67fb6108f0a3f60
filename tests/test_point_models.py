"""The shared base of the model classes: input, classifier head, config round trip."""

import keras
import numpy as np
import pytest
from keras import layers

from keras_nasnet.point_models import (
    PointModel,
    check_head_settings,
    classifier_head,
    model_input,
)


@keras.saving.register_keras_serializable(package="keras_nasnet_tests")
class _WidthsModel(PointModel):
    """A toy point model: one 3x3 conv per width in the point."""

    point_key = "widths"
    point_to_dict = staticmethod(list)
    point_from_dict = staticmethod(tuple)

    def __init__(
        self,
        widths,
        *,
        input_shape=None,
        input_tensor=None,
        include_top=True,
        pooling=None,
        classes=3,
        dropout_rate=0.0,
        name="widths",
        **kwargs,
    ):
        settings = dict(
            input_shape=input_shape,
            default_size=16,
            include_top=include_top,
            pooling=pooling,
            classes=classes,
            classifier_activation="softmax",
            dropout_rate=dropout_rate,
        )
        image, inputs = model_input(input_tensor, settings, min_size=8)
        x = image
        for i, width in enumerate(widths):
            x = layers.Conv2D(width, 3, padding="same", name=f"conv{i}")(x)
        outputs = classifier_head(x, settings)
        self._build_functional(
            inputs,
            outputs,
            name=name,
            point=tuple(widths),
            settings=settings,
            kwargs=kwargs,
            image=image,
        )


def _settings(**overrides):
    settings = dict(
        include_top=True, pooling=None, classes=4, classifier_activation="softmax", dropout_rate=0.0
    )
    settings.update(overrides)
    return settings


@pytest.mark.parametrize(
    "overrides, names, shape",
    [
        ({}, ["avg_pool", "predictions"], (None, 4)),
        ({"dropout_rate": 0.5}, ["avg_pool", "top_dropout", "predictions"], (None, 4)),
        ({"include_top": False, "pooling": "max"}, ["max_pool"], (None, 6)),
        ({"include_top": False, "pooling": "avg"}, ["avg_pool"], (None, 6)),
        ({"include_top": False}, [], (None, 5, 5, 6)),
    ],
)
def test_the_head_builds_the_layers_its_settings_name(overrides, names, shape):
    features = keras.Input((5, 5, 6))
    out = classifier_head(features, _settings(**overrides))
    model = keras.Model(features, out)
    assert [layer.name for layer in model.layers[1:]] == names
    assert tuple(out.shape) == shape


def test_the_dropout_seed_is_drawn_before_the_classifier_initializer():
    drawn = []

    def next_seed():
        drawn.append("dropout")
        return 7

    def initializer():
        drawn.append("kernel")
        return keras.initializers.Constant(0.5)

    features = keras.Input((4, 4, 2))
    out = classifier_head(
        features,
        _settings(dropout_rate=0.1, classes=2),
        next_seed=next_seed,
        kernel_initializer=initializer,
        dropout_name="drop",
    )
    model = keras.Model(features, out)
    assert drawn == ["dropout", "kernel"]
    assert model.get_layer("drop").seed == 7
    np.testing.assert_array_equal(model.get_layer("predictions").get_weights()[0], 0.5)


def test_model_input_checks_the_shape_and_records_it():
    settings = dict(input_shape=None, default_size=16, include_top=True)
    image, inputs = model_input(None, settings, min_size=8)
    assert image is inputs
    assert settings["input_shape"] == (16, 16, 3)
    with pytest.raises(ValueError, match="at least 8x8"):
        model_input(None, dict(settings, input_shape=(4, 4, 3)), min_size=8)


def test_model_input_on_other_layers_returns_their_source():
    source = keras.Input((12, 12, 3))
    rescaled = layers.Rescaling(0.5)(source)
    settings = dict(input_shape=None, default_size=16, include_top=False)
    image, inputs = model_input(rescaled, settings, min_size=8)
    assert image is rescaled and inputs is source
    assert settings["input_shape"] == (12, 12, 3)


def test_a_point_model_saves_and_loads_with_its_point(tmp_path):
    model = _WidthsModel((2, 3), input_shape=(8, 8, 1), trainable=False)
    config = model.get_config()
    assert config["widths"] == [2, 3] and config["input_shape"] == [8, 8, 1]
    assert config["trainable"] is False
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, _WidthsModel)
    assert loaded._point == (2, 3) and loaded.settings["input_shape"] == (8, 8, 1)
    assert not loaded.trainable
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_point_model_on_other_layers_keeps_the_plain_functional_config():
    source = keras.Input((8, 8, 1))
    model = _WidthsModel((2,), input_tensor=layers.Rescaling(2.0)(source))
    config = model.get_config()
    assert "layers" in config and "widths" not in config
    rebuilt = _WidthsModel.from_config(config)
    assert type(rebuilt) is not _WidthsModel
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]


def test_head_settings_hold_the_activation_by_name_and_refuse_an_unknown_pooling():
    settings = check_head_settings(dict(pooling="max", classifier_activation=None))
    assert settings["classifier_activation"] == "linear"
    assert check_head_settings(dict(classifier_activation=keras.activations.softmax)) == {
        "classifier_activation": "softmax"
    }
    with pytest.raises(ValueError, match="`pooling` must be None, 'avg' or 'max'; received 'sum'"):
        check_head_settings(dict(pooling="sum", classifier_activation="softmax"))

"""Drop-in compatibility with keras.applications.nasnet: layers, weights, checks, outputs."""

import keras
import numpy as np
import pytest

import keras_nasnet
from keras_nasnet import applications
from keras_nasnet.applications import weights_registry

from .helpers import randomize, save_legacy_h5, weighted_layer_signature

PAIRS = {
    "mobile": (keras_nasnet.NASNetMobile, keras.applications.NASNetMobile, 224),
    "large": (keras_nasnet.NASNetLarge, keras.applications.NASNetLarge, 331),
}


def _predict(model, x):
    # An eager call: tracing `predict` for a 1000-layer graph costs more than the forward pass.
    return keras.ops.convert_to_numpy(model(x, training=False))


class BuiltModels:
    """Models several tests need, each built once (a NASNetLarge takes ~8 s to build).

    Tests read their structure, or load weights into them before comparing outputs, so what
    another test did to one does not change what a test checks.
    """

    def __init__(self, directory):
        self.directory = directory
        self._cache = {}

    def _get(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @staticmethod
    def shape(variant, include_top):
        # keras.applications' NASNetLarge(include_top=False) cannot run at its default
        # (None, None) size (see check_large_without_top_runs_at_any_size); the official files
        # are for fixed sizes.
        return None if include_top else (PAIRS[variant][2],) * 2 + (3,)

    def reference(self, variant, include_top):
        """keras.applications' model with random weights, and those weights as an official-
        layout h5 file."""

        def build():
            model = PAIRS[variant][1](
                weights=None, include_top=include_top, input_shape=self.shape(variant, include_top)
            )
            randomize(model, seed=1)
            path = self.directory / f"{variant}_{include_top}.h5"
            return model, save_legacy_h5(model, path)

        return self._get(("reference", variant, include_top), build)

    def ours(self, variant, include_top):
        """Our model built with weights=None (whatever weights a test loaded since)."""
        return self._get(
            ("ours", variant, include_top),
            lambda: PAIRS[variant][0](
                weights=None, include_top=include_top, input_shape=self.shape(variant, include_top)
            ),
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return BuiltModels(tmp_path_factory.mktemp("applications"))


# NASNetLarge without its top is slow-marked (36 s on 2 cores): with its top it loads the same
# layout through the same code, and NASNetMobile is checked both ways.
@pytest.mark.parametrize(
    "include_top, variant",
    [
        (True, "mobile"),
        (True, "large"),
        (False, "mobile"),
        pytest.param(False, "large", marks=pytest.mark.slow),
    ],
)
def test_official_layout_loads_with_equal_predictions(variant, include_top, built):
    ours_fn, _, size = PAIRS[variant]
    shape = built.shape(variant, include_top)
    reference, path = built.reference(variant, include_top)
    ours = built.ours(variant, include_top)
    # Same weighted layers, classes, shapes, names and order: the official files load unchanged.
    assert weighted_layer_signature(ours) == weighted_layer_signature(reference)
    assert (ours.input_shape, ours.output_shape) == (reference.input_shape, reference.output_shape)
    loaded = ours_fn(weights=path, include_top=include_top, input_shape=shape)
    # One image: a 1000-layer eager call costs seconds per image, and one shows a wrong weight.
    x = np.random.default_rng(2).uniform(-1, 1, (1, size, size, 3)).astype("float32")
    expected = _predict(reference, x)
    np.testing.assert_allclose(_predict(loaded, x), expected, atol=1e-5)
    # keras' own order-based loader agrees (what a user calling model.load_weights gets).
    ours.load_weights(path)
    np.testing.assert_allclose(_predict(ours, x), expected, atol=1e-5)
    if variant == "large" and not include_top:
        check_large_without_top_runs_at_any_size(path, x, expected)


def check_large_without_top_runs_at_any_size(path, x, fixed_features):
    """Weights of a fixed-size NASNetLarge without top load into one of unknown size, which
    keras.applications' own cannot run."""
    model = keras_nasnet.NASNetLarge(weights=path, include_top=False, pooling="avg")
    assert model.input_shape == (None, None, None, 3)
    features = _predict(model, x[:1])
    # Same weights, same features up to the border handling of strided max pools ('same' here).
    expected = fixed_features[:1].mean(axis=(1, 2))
    assert features.shape == (1, 4032)
    assert np.corrcoef(features.ravel(), expected.ravel())[0, 1] > 0.99
    for size in (224, 64):
        assert _predict(model, x[:1, :size, :size]).shape == (1, 4032)


def test_named_layers_match_keras_applications(built):
    ours = built.ours("mobile", True)
    reference, _ = built.reference("mobile", True)
    auto_named = (
        "input_layer",
        "activation",
        "zero_padding2d",
        "cropping2d",
        "concatenate",
        "add",
        "global_",
    )
    reference_names = {
        layer.name for layer in reference.layers if not layer.name.startswith(auto_named)
    }
    assert reference_names <= {layer.name for layer in ours.layers}
    assert ours.name == reference.name == "nasnet_mobile"
    assert (
        ours.get_layer("normal_concat_12").output.shape
        == reference.get_layer("normal_concat_12").output.shape
    )


def test_keras_3_weights_file_and_weights_from_a_model_with_drop_path(tmp_path):
    source = randomize(keras_nasnet.NASNetMobile(weights=None, include_top=False), seed=3)
    path = str(tmp_path / "m.weights.h5")
    source.save_weights(path)
    loaded = keras_nasnet.NASNetMobile(weights=path, include_top=False)
    x = np.random.default_rng(4).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(_predict(loaded, x), _predict(source, x), atol=1e-5)
    # Official-layout weights fine-tune with drop path: the training-only layers are not in the
    # file.
    legacy = save_legacy_h5(source, tmp_path / "m.h5")
    with_drop_path = keras_nasnet.NASNet(
        "nasnet_a",
        num_blocks=4,
        penultimate_filters=1056,
        stem_filters=32,
        skip_reduction=False,
        include_top=False,
        input_shape=(224, 224, 3),
        drop_path_keep_prob=0.7,
        total_training_steps=100,
        weights=legacy,
    )
    np.testing.assert_allclose(_predict(with_drop_path, x), _predict(source, x), atol=1e-5)


def test_a_weights_file_of_another_model_or_a_directory_is_named(tmp_path):
    from keras_nasnet.weights import load_weights

    def dense(units):
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(units)(keras.layers.Dense(3)(inputs)))

    path = str(tmp_path / "other.weights.h5")
    dense(2).save_weights(path)
    with pytest.raises(ValueError, match=f"Weights file '{path}' does not fit this model"):
        load_weights(dense(5), path)
    with pytest.raises(ValueError, match=f"Weights file '{tmp_path}' is a directory"):
        load_weights(dense(2), str(tmp_path))


def test_mismatched_and_unreadable_weight_files_fail_clearly(built, tmp_path):
    _, no_top = built.reference("mobile", False)
    with pytest.raises(ValueError, match="has no weights for 1 layer.*predictions"):
        keras_nasnet.NASNetMobile(weights=no_top)
    cifar = save_legacy_h5(
        keras_nasnet.NASNetCIFAR(num_blocks=1, penultimate_filters=48), tmp_path / "c.h5"
    )
    with pytest.raises(ValueError, match="does not have"):
        keras_nasnet.NASNetMobile(weights=cifar)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        keras_nasnet.NASNetMobile(weights=str(garbage))
    with pytest.raises(ValueError, match="`weights` argument should be either"):
        keras_nasnet.NASNetMobile(weights=str(tmp_path / "missing.h5"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights="imagenet", classes=10), "`classes` should be 1000"),
        (dict(weights="imagenet", input_shape=(200, 200, 3)), r"should be \(224, 224, 3\)"),
        (
            dict(weights="imagenet", include_top=False, input_shape=(None, None, 3)),
            "must be static",
        ),
        (dict(weights=None, input_shape=(16, 16, 3), include_top=False), "at least 32x32"),
        (dict(weights=None, input_shape=(224, 224)), "three integers"),
        (dict(weights="imagenet", classifier_activation="relu"), "softmax"),
    ],
)
def test_keras_applications_argument_checks(kwargs, match, monkeypatch):
    monkeypatch.setattr(
        keras.utils, "get_file", lambda *a, **k: pytest.fail("must fail before downloading")
    )
    with pytest.raises(ValueError, match=match):
        keras_nasnet.NASNetMobile(**kwargs)
    with pytest.raises(ValueError):  # keras.applications rejects the same input
        keras.applications.NASNetMobile(**kwargs)


def test_pooling_is_checked():
    with pytest.raises(ValueError, match="`pooling` must be None, 'avg' or 'max'"):
        keras_nasnet.NASNetMobile(weights=None, include_top=False, pooling="mean")


def test_default_input_shapes_without_top_match_keras():
    # With the top, the default shapes are compared in test_official_layout_loads_...
    for ours_fn, keras_fn, _ in PAIRS.values():
        a = ours_fn(weights=None, include_top=False)
        b = keras_fn(weights=None, include_top=False)
        assert a.input_shape == b.input_shape and a.output_shape == b.output_shape


def test_imagenet_weights_offline_error_names_file_and_place(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    calls = []

    def offline(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs.get("file_hash")))
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(OSError) as info:
        keras_nasnet.NASNetMobile(weights="imagenet", include_top=False)
    message = str(info.value)
    assert "nasnet_mobile_no_top.h5" in message and str(tmp_path / "models") in message
    assert "NASNet-mobile-no-top.h5" in message and "1ed92395b5b598bdda52abe5c0dbfd63" in message
    assert calls == [
        (
            "nasnet_mobile_no_top.h5",
            "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-mobile-no-top.h5",
            "1ed92395b5b598bdda52abe5c0dbfd63",
        )
    ]


def test_imagenet_weights_are_fetched_and_loaded(built, monkeypatch):
    reference, path = built.reference("mobile", True)
    monkeypatch.setattr(keras.utils, "get_file", lambda fname, origin, **kw: path)
    model = keras_nasnet.NASNetMobile()  # weights="imagenet" by default, as in keras.applications
    x = np.random.default_rng(6).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(_predict(model, x), _predict(reference, x), atol=1e-5)


def test_weights_registry_matches_keras_applications():
    assert {(e.url, e.md5) for e in weights_registry.IMAGENET_WEIGHTS.values()} == {
        (weights_registry.BASE_URL + "NASNet-mobile.h5", "020fb642bf7360b370c678b08e0adf61"),
        (weights_registry.BASE_URL + "NASNet-mobile-no-top.h5", "1ed92395b5b598bdda52abe5c0dbfd63"),
        (weights_registry.BASE_URL + "NASNet-large.h5", "11577c9a518f0070763c2b964a382f17"),
        (weights_registry.BASE_URL + "NASNet-large-no-top.h5", "d81d89dc07e6e56530c4e77faddd61b5"),
    }


def test_preprocess_and_decode_are_keras_ones():
    x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
    for module in (keras_nasnet, applications):
        np.testing.assert_allclose(module.preprocess_input(x.copy()), [[[[-1.0, 0.0, 1.0]]]])
        assert module.decode_predictions is keras.applications.nasnet.decode_predictions


def test_mult_adds_and_params_match_the_paper(built):
    mobile = built.ours("mobile", True)
    assert keras_nasnet.count_mult_adds(mobile) == pytest.approx(564e6, rel=0.01)
    assert mobile.count_params() == pytest.approx(5.3e6, rel=0.01)
    large = built.ours("large", True)
    assert keras_nasnet.count_mult_adds(large) == pytest.approx(23.8e9, rel=0.01)
    assert large.count_params() == pytest.approx(88.9e6, rel=0.01)
    cifar = keras_nasnet.NASNetCIFAR()
    assert cifar.count_params() == pytest.approx(3.3e6, rel=0.05)


def test_cifar_model_and_its_errors():
    model = keras_nasnet.NASNetCIFAR()
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert model.get_layer("stem_conv1").filters == 96  # stem multiplier 3 x F=32
    with pytest.raises(ValueError, match="No ImageNet weights"):
        keras_nasnet.NASNetCIFAR(weights="imagenet")

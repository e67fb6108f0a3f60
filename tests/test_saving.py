"""NASNetModel: every model the package builds knows its cell, and `.keras` files keep it."""

import os
import random

import keras
import numpy as np
import pytest

import keras_nasnet
from keras_nasnet import NASNET_A, NASNET_C, NASNetModel, cli, training
from keras_nasnet.applications.zoo import ZOO
from keras_nasnet.genotypes import get_architecture

from .helpers import weighted_layer_signature

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TINY_CIFAR = dict(num_blocks=1, penultimate_filters=48, classes=3)  # F = 2


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(y) for y in keras.tree.flatten(outputs)]


def _images(shape=(32, 32, 3), count=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, *shape)).astype("float32")


def _assert_same_outputs(a, b, x):
    for y_a, y_b in zip(_numpy(a(x)), _numpy(b(x)), strict=True):
        np.testing.assert_allclose(y_a, y_b, atol=1e-5)


def _round_trip(model, tmp_path, name="m.keras"):
    path = str(tmp_path / name)
    model.save(path)
    return keras.saving.load_model(path)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_function_builds_a_nasnet_model_of_its_zoo_settings(name):
    entry = ZOO[name]
    small = (
        {"input_shape": (32, 32, 3), "include_top": False} if entry.input_size > 32 else TINY_CIFAR
    )
    model = entry.build(weights=None, **small)
    assert isinstance(model, NASNetModel)
    assert model.architecture == get_architecture(name.split("_")[0] + "_" + name.split("_")[1])
    assert model.num_blocks == (entry.settings["num_blocks"] if entry.input_size > 32 else 1)
    # The zoo table is read from the settings the function builds with.
    assert entry.n_at_p == f"{entry.settings['num_blocks']}@{entry.settings['penultimate_filters']}"
    assert model.settings["stem"] == entry.settings["stem"]


def test_a_searched_cell_round_trips_as_its_architecture(tmp_path):
    from .test_nasnet import random_architecture

    architecture = random_architecture(5, num_blocks=3)
    model = NASNetModel(
        architecture,
        filters=2,
        num_blocks=1,
        stem="cifar",
        input_shape=(16, 16, 3),
        classes=4,
        classifier_activation=None,
        seed=1,
    )
    restored = _round_trip(model, tmp_path)
    assert restored.architecture == architecture
    assert restored.settings["classifier_activation"] == "linear"
    _assert_same_outputs(restored, model, _images((16, 16, 3)))


def test_config_holds_a_json_able_architecture_and_no_weights():
    model = keras_nasnet.NASNetCCIFAR(**TINY_CIFAR)
    config = model.get_config()
    assert config["architecture"] == NASNET_C.to_dict() and config["filters"] == 48 // 16
    assert "weights" not in config and "input_tensor" not in config
    rebuilt = NASNetModel.from_config(config)
    assert rebuilt.architecture == NASNET_C and rebuilt.count_params() == model.count_params()


def test_a_file_written_before_nasnet_model_still_loads():
    # tests/data/nasnet_a_tiny_v0.keras: written by the plain-Functional builder (commit 942416e,
    # NASNetCIFAR(num_blocks=1, penultimate_filters=48, classes=3, drop path 0.8 over 10 steps));
    # its zip was re-deflated to keep it small. The .npz holds its inputs and outputs.
    model = keras.saving.load_model(os.path.join(DATA, "nasnet_a_tiny_v0.keras"))
    expected = np.load(os.path.join(DATA, "nasnet_a_tiny_v0.npz"))
    np.testing.assert_allclose(_numpy(model(expected["x"]))[0], expected["y"], atol=1e-6)
    assert any(isinstance(layer, keras_nasnet.ScheduledDropPath) for layer in model.layers)


def test_aux_head_models_strip_into_nasnet_models_that_share_weights(tmp_path):
    model = keras_nasnet.NASNetCIFAR(**TINY_CIFAR, use_aux_head=True, seed=0)
    restored = _round_trip(model, tmp_path, "aux.keras")
    assert restored.settings["use_aux_head"] and len(restored.outputs) == 2
    stripped = keras_nasnet.strip_aux_head(restored)
    assert isinstance(stripped, NASNetModel) and not stripped.settings["use_aux_head"]
    assert stripped.get_layer("predictions") is restored.get_layer(
        "predictions"
    )  # shared, not copied
    reloaded = _round_trip(stripped, tmp_path, "stripped.keras")
    assert len(reloaded.outputs) == 1 and reloaded.architecture == NASNET_A
    x = _images()
    np.testing.assert_allclose(_numpy(reloaded(x))[0], _numpy(model(x))[0], atol=1e-5)
    with pytest.raises(ValueError, match="no auxiliary head"):
        stripped.without_aux_head()


def test_input_tensor_from_keras_input_round_trips_as_nasnet_model(tmp_path):
    inputs = keras.Input((32, 32, 3))
    model = keras_nasnet.NASNetCIFAR(**TINY_CIFAR, input_tensor=inputs)
    assert model.inputs[0] is inputs
    restored = _round_trip(model, tmp_path)
    assert isinstance(restored, NASNetModel) and restored.settings["input_shape"] == (32, 32, 3)


def test_input_tensor_after_other_layers_keeps_them_and_loads_as_a_plain_model(tmp_path):
    inputs = keras.Input((32, 32, 3))
    scaled = keras.layers.Rescaling(0.5, name="halve")(inputs)
    model = keras_nasnet.NASNetCIFAR(**TINY_CIFAR, input_tensor=scaled)
    assert isinstance(model, NASNetModel) and model.get_layer("halve") is not None
    restored = _round_trip(model, tmp_path)
    assert not isinstance(restored, NASNetModel)  # documented: the graph is saved, not the cell
    _assert_same_outputs(restored, model, _images())


def test_same_seed_same_weights_and_no_global_random_state_is_touched():
    state = random.getstate()
    a = keras_nasnet.NASNetCIFAR(
        **TINY_CIFAR, seed=7, dropout_rate=0.5, drop_path_keep_prob=0.7, total_training_steps=5
    )
    b = keras_nasnet.NASNetCIFAR(
        **TINY_CIFAR, seed=7, dropout_rate=0.5, drop_path_keep_prob=0.7, total_training_steps=5
    )
    c = keras_nasnet.NASNetCIFAR(**TINY_CIFAR, seed=8)
    assert random.getstate() == state  # unseeded Keras initializers would draw from `random`
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    assert not np.array_equal(
        a.get_layer("stem_conv1").get_weights()[0], c.get_layer("stem_conv1").get_weights()[0]
    )
    # Layers of one model get distinct seeds: two equal-shaped kernels of one cell differ.
    first, second = (
        a.get_layer(f"separable_conv_1_normal_left{b}_2").get_weights()[0] for b in (1, 2)
    )
    assert first.shape == second.shape and not np.array_equal(first, second)
    with pytest.raises(TypeError, match="seed"):
        keras_nasnet.NASNetCIFAR(**TINY_CIFAR, seed="7")


def test_nasnet_model_takes_filters_and_nasnet_converts_p_once():
    model = NASNetModel(
        "nasnet_c", filters=3, num_blocks=1, stem="cifar", input_shape=(16, 16, 3), classes=2
    )
    same = keras_nasnet.NASNet(
        "nasnet_c",
        num_blocks=1,
        penultimate_filters=3 * 16,
        stem="cifar",
        input_shape=(16, 16, 3),
        classes=2,
    )
    assert model.filters == same.filters == 3
    assert weighted_layer_signature(model) == weighted_layer_signature(same)
    with pytest.raises(ValueError, match="`filters` must be an int >= 1"):
        NASNetModel("nasnet_a", filters=0, stem="cifar")


@pytest.mark.slow
def test_the_train_command_writes_a_file_that_knows_its_cell(tmp_path):
    output = str(tmp_path / "trained.keras")
    argv = [
        "train",
        "--architecture",
        "nasnet_c",
        "--dataset",
        "fashion_mnist_sample",
        "--output",
        output,
        "--blocks",
        "1",
        "--filters",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "512",
    ]
    state = random.getstate()
    assert cli.main(argv) == 0
    assert random.getstate() == state  # no global seeding inside training
    model = keras.saving.load_model(output)
    assert isinstance(model, NASNetModel) and model.architecture == NASNET_C
    assert model.settings["filters"] == 2 and model.settings["input_shape"] == (28, 28, 1)


def test_build_model_seeds_are_arguments():
    settings = training.TrainingSettings(num_blocks=1, filters=2, epochs=1)
    a = training.build_model("nasnet_a", (16, 16, 1), 3, settings, steps_per_epoch=1, seed=3)
    b = training.build_model("nasnet_a", (16, 16, 1), 3, settings, steps_per_epoch=1, seed=3)
    assert isinstance(a, NASNetModel) and a.filters == 2
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))

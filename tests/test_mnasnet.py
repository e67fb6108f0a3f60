"""MnasNet: block strings, the block builder, the four zoo models, counts against the paper,
`.keras` round trips, weights files, LiteRT export and the JAX backend."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

import keras_nasnet
from keras_nasnet import MnasNet, MnasNetModel, MobileBlock, count_mult_adds
from keras_nasnet.applications import mnasnet as zoo_mnasnet
from keras_nasnet.applications.zoo import MNASNET_ZOO, ZOO, get_zoo_model
from keras_nasnet.mobile_blocks import format_blocks, parse_blocks, round_filters

from .helpers import randomize, subprocess_env

FACTORIES = {
    "mnasnet_a1": keras_nasnet.MnasNetA1,
    "mnasnet_b1": keras_nasnet.MnasNetB1,
    "mnasnet_small": keras_nasnet.MnasNetSmall,
    "mnasnet_d1": keras_nasnet.MnasNetD1,
}
TINY = dict(input_shape=(32, 32, 3), classes=3)
# A few layers of every kind: SepConv without skip, MBConv with SE and a skip, a regular conv.
TINY_BLOCKS = [
    "r1_k3_s11_e1_i16_o16_noskip",
    "r2_k5_s22_e6_i16_o24_se0.25",
    "r1_k3_s11_e1_i24_o24_regular",
]
TINY_MACRO = dict(stem_filters=16, head_filters=64)


def _images(shape=(32, 32, 3), count=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, *shape)).astype("float32")


def _numpy(y):
    return keras.ops.convert_to_numpy(y)


def _trainable_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# -- block strings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings", [zoo_mnasnet.A1, zoo_mnasnet.B1, zoo_mnasnet.SMALL, zoo_mnasnet.D1]
)
def test_reference_block_strings_round_trip(settings):
    strings = list(settings["blocks"])
    assert format_blocks(strings) == strings
    assert parse_blocks(" ".join(strings)) == parse_blocks(strings)


def test_a_block_string_reads_as_its_fields():
    block = MobileBlock.from_string("r3_k5_s22_e6_i112_o160_se0.25_noskip")
    assert block == MobileBlock(3, 5, (2, 2), 6, 112, 160, se_ratio=0.25, skip=False)
    assert (block.op, block.has_se, block.has_identity_skip) == ("mbconv", True, False)
    assert MobileBlock.from_string("r1_k3_s11_e1_i32_o16").op == "dconv"
    regular = MobileBlock.from_string("r2_k3_s12_e1_i16_o16_regular")
    assert (regular.op, regular.strides, str(regular)) == (
        "conv",
        (1, 2),
        "r2_k3_s12_e1_i16_o16_regular",
    )


def test_layers_repeat_at_stride_one_from_the_output_width():
    first, second, third = MobileBlock.from_string("r3_k5_s22_e3_i24_o40_se0.25").layers()
    assert (first.strides, first.input_filters, first.has_identity_skip) == ((2, 2), 24, False)
    assert (second.strides, second.input_filters, second.has_identity_skip) == ((1, 1), 40, True)
    assert second == third and second.repeats == 1
    # noskip holds for the repeats too; stride 1 and equal widths skip unless noskip.
    assert not any(
        b.has_identity_skip for b in MobileBlock.from_string("r2_k3_s11_e6_i8_o8_noskip").layers()
    )
    assert MobileBlock.from_string("r1_k3_s11_e6_i8_o8").has_identity_skip


@pytest.mark.parametrize(
    "text, match",
    [
        ("r1_k3_s2_e1_i32_o16", "two digits"),
        ("r1_k3_s11_e1_i32", "lacks 'o'"),
        ("r1_k3_s11_e1_i32_o16_x5", "unknown token 'x5'"),
        ("r1_k3_s11_e1_i32_o16_skip", "unknown token 'skip'"),
        ("r1_r2_k3_s11_e1_i32_o16", "repeats the token 'r'"),
        ("r1_k3_s11_e1_i32_o16_noskip_noskip", "repeats the token 'noskip'"),
        ("r1_k4_s11_e1_i32_o16", "odd"),
        ("r0_k3_s11_e1_i32_o16", "repeats"),
        ("r1_k3_s11_e1_i32_o0", "output_filters"),
        ("r1_k3_s11_e1.5_i32_o16", "whole number"),
        ("r1_k3_s11_e1_i32_o16_se1.5", "se_ratio"),
        ("r1_k3_s11_e1_i32_o16_sehalf", "unknown token"),
        ("r1_k3_s11_e6_i32_o16_regular", "no expansion"),
        ("", "unknown token"),
    ],
)
def test_bad_block_strings_are_refused_naming_the_string(text, match):
    with pytest.raises(ValueError, match=match) as info:
        MobileBlock.from_string(text)
    assert repr(text) in str(info.value)


def test_bad_block_lists_are_refused():
    with pytest.raises(TypeError, match="must be a str"):
        MobileBlock.from_string(3)
    with pytest.raises(ValueError, match="at least one block"):
        parse_blocks([])
    with pytest.raises(TypeError, match="strides"):
        MobileBlock(1, 3, (1, 1, 1), 1, 8, 8)


@pytest.mark.parametrize(
    "filters, multiplier, expected",
    [
        (36, 1.0, 40),  # 36 -> 40: the nearest multiple of 8
        (32, 0.5, 16),
        (16, 0.35, 8),  # 5.6 -> at least the divisor
        (24, 0.75, 24),  # 18 -> 16 is more than 10% down, so one divisor up
        (320, 1.4, 448),
        (112, 1.3, 144),  # 145.6 -> 144
    ],
)
def test_round_filters_as_tensorflow_tpu(filters, multiplier, expected):
    assert round_filters(filters, multiplier) == expected


# -- the four models --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_model_builds_its_blocks_and_predicts(name):
    model = FACTORIES[name](**TINY)
    assert isinstance(model, MnasNetModel) and model.name == name
    assert format_blocks(model.blocks) == list(MNASNET_ZOO[name].settings["blocks"])
    y = _numpy(model(_images()))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    entry = get_zoo_model(name)
    assert entry.build is FACTORIES[name] and entry.n_at_p == "-" and entry.input_size == 224


def test_layers_follow_the_reference_block():
    model = keras_nasnet.MnasNetA1(**TINY)
    names = {layer.name: layer for layer in model.layers}
    # Stem: 3x3 stride 2 to 32; head: 1x1 to 1280; dropout 0.2.
    assert names["stem_conv"].kernel_size == (3, 3) and names["stem_conv"].strides == (2, 2)
    assert names["stem_conv"].filters == 32 and names["head_conv"].filters == 1280
    assert names["top_dropout"].rate == 0.2
    # Block 3 (r3_k5_s22_e3_i24_o40_se0.25): 1x1 to 72, 5x5 depthwise stride 2, SE width
    # int(24 * 0.25) = 6 back to 72, projection to 40; its repeats squeeze to int(40 * 0.25).
    assert names["block3a_expand_conv"].filters == 72
    assert names["block3a_dw_conv"].kernel_size == (5, 5)
    assert names["block3a_dw_conv"].strides == (2, 2)
    assert names["block3a_se_reduce"].filters == 6 and names["block3a_se_expand"].filters == 72
    assert names["block3b_se_reduce"].filters == 10
    assert names["block3a_project_conv"].filters == 40
    # Block 1 (e1, noskip) has no expansion and no skip; BN momentum 0.99, epsilon 1e-3.
    assert "block1a_expand_conv" not in names and "block1a_add" not in names
    assert (names["block1a_dw_bn"].momentum, names["block1a_dw_bn"].epsilon) == (0.99, 1e-3)
    # Identity skips: 1 + 2 + 3 + 1 + 2 (blocks 2 to 6; their first layers change width).
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 9 and "block5a_add" not in adds and "block5b_add" in adds
    se = {layer.name[:7] for layer in model.layers if layer.name.endswith("_se_excite")}
    assert se == {
        "block3a",
        "block3b",
        "block3c",
        "block5a",
        "block5b",
        "block6a",
        "block6b",
        "block6c",
    }


def test_small_has_no_skip_where_its_first_block_declares_another_width():
    model = keras_nasnet.MnasNetSmall(**TINY)
    names = {layer.name for layer in model.layers}
    assert "block1a_add" not in names  # i16 declared after the 8-filter stem, as the reference
    assert "top_dropout" not in names  # dropout 0
    assert model.get_layer("stem_conv").filters == 8


def test_depth_multiplier_rounds_every_width_but_the_heads():
    model = keras_nasnet.MnasNetA1(depth_multiplier=0.5, **TINY)
    assert model.get_layer("stem_conv").filters == 16
    assert [b.output_filters for b in model.scaled_blocks] == [8, 16, 24, 40, 56, 80, 160]
    assert model.get_layer("block7a_project_conv").filters == 160
    assert model.get_layer("head_conv").filters == 1280
    assert format_blocks(model.blocks) == list(zoo_mnasnet.A1["blocks"])  # kept unscaled


def test_include_top_false_keeps_the_head_conv_and_pools():
    features = keras_nasnet.MnasNetSmall(include_top=False, input_shape=(64, 64, 3))
    assert features.output_shape == (None, 2, 2, 1280)
    pooled = keras_nasnet.MnasNetSmall(include_top=False, pooling="max", input_shape=(64, 64, 3))
    assert pooled.output_shape == (None, 1280)
    any_size = keras_nasnet.MnasNetSmall(include_top=False, pooling="avg")
    assert any_size.input_shape == (None, None, None, 3)
    assert _numpy(any_size(_images((40, 48, 3), count=1))).shape == (1, 1280)


# Paper: A1 3.9M / 312M, small 2.0M / 68M; torchvision's mnasnet1_0 (B1) has 4,383,312
# parameters. Parameters here are the trainable ones (BN's moving statistics are not
# parameters in the papers). Every figure below was also computed independently from the block
# strings (a sum over layers of conv, BN, SE and dense sizes, as tensorflow/tpu builds them).
COUNTS = {
    "mnasnet_a1": (3_887_038, 3_920_526, 311_579_072),
    "mnasnet_small": (2_030_264, 2_047_192, 68_339_184),
    "mnasnet_b1": (4_383_312, 4_421_232, 314_415_872),
    "mnasnet_d1": (3_638_404, 3_686_428, 967_705_824),  # no published figures
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_at_224_match_the_paper(name):
    entry = MNASNET_ZOO[name]
    model = entry.make()
    trainable, total, mult_adds = COUNTS[name]
    assert (_trainable_params(model), model.count_params()) == (trainable, total)
    assert count_mult_adds(model) == mult_adds
    if entry.paper_params is not None:
        assert abs(trainable / entry.paper_params - 1) <= 0.02
    if entry.paper_mult_adds is not None:
        assert abs(mult_adds / entry.paper_mult_adds - 1) <= 0.05


# -- saving and weights -----------------------------------------------------------------------


def test_keras_file_round_trip_keeps_blocks_settings_and_outputs(tmp_path):
    model = randomize(keras_nasnet.MnasNetA1(depth_multiplier=0.75, seed=3, **TINY))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, MnasNetModel)
    assert restored.blocks == model.blocks and restored.settings == model.settings
    assert restored.settings["depth_multiplier"] == 0.75
    x = _images()
    np.testing.assert_allclose(_numpy(restored(x)), _numpy(model(x)), atol=1e-5)


def test_config_holds_block_strings_and_rebuilds_the_same_model():
    model = MnasNet(
        [
            "r1_k3_s22_e1_i16_o16_regular",
            "r2_k3_s11_e1_i16_o16_se0.25_regular",
            "r1_k5_s22_e6_i16_o24",
        ],
        stem_filters=16,
        head_filters=64,
        classes=4,
        classifier_activation=None,
        input_shape=(32, 32, 3),
        seed=1,
    )
    config = model.get_config()
    assert config["blocks"] == [
        "r1_k3_s22_e1_i16_o16_regular",
        "r2_k3_s11_e1_i16_o16_se0.25_regular",
        "r1_k5_s22_e6_i16_o24",
    ]
    assert json.loads(json.dumps(config)) == config and config["classifier_activation"] == "linear"
    rebuilt = MnasNetModel.from_config(config)
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in model.layers]
    # Regular convs: one 3x3 conv to 16 (+ BN) per layer, SE 16 -> 4 -> 16 with biases.
    assert rebuilt.get_layer("block2b_conv").kernel_size == (3, 3)
    assert "block1a_dw_conv" not in {layer.name for layer in rebuilt.layers}
    block2 = sum(
        layer.count_params() for layer in rebuilt.layers if layer.name.startswith("block2a")
    )
    assert block2 == 9 * 16 * 16 + 4 * 16 + (16 * 4 + 4) + (4 * 16 + 16)


def test_weights_file_loads_into_a_fresh_model(tmp_path):
    model = randomize(keras_nasnet.MnasNetSmall(**TINY))
    path = str(tmp_path / "small.weights.h5")
    model.save_weights(path)
    loaded = keras_nasnet.MnasNetSmall(weights=path, **TINY)
    x = _images()
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        keras_nasnet.MnasNetSmall(weights=str(garbage), **TINY)
    with warnings.catch_warnings():  # Keras warns of each layer it finds no weights for
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match="does not fit this model"):
            keras_nasnet.MnasNetA1(weights=path, **TINY)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights="imagenet"), "No ImageNet weights are published for MnasNet-A1"),
        (dict(weights="imagenet", classes=10), "`classes` should be 1000"),
        (dict(weights="imagenet", include_top=False, input_shape=(64, 64, 4)), "3 channels"),
        (dict(weights="/nonexistent/w.weights.h5"), "should be either `None`"),
        (dict(weights=3), "should be either `None`"),
        (dict(input_shape=(16, 16, 3)), "at least 32x32"),
        (dict(input_shape=(None, None, 3)), "static `input_shape`"),
        (dict(input_shape=(32, 32)), "tuple of three integers"),
        (dict(include_top=False, pooling="sum"), "`pooling`"),
        (dict(classes=0), "classes"),
        (dict(depth_multiplier=0), "depth_multiplier"),
        (dict(dropout_rate=1.0), "dropout_rate"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_nasnet.MnasNetA1(**kwargs)


def test_a_skip_between_blocks_of_different_widths_is_refused():
    with pytest.raises(ValueError, match="adds an identity skip, but its input has 16 channels"):
        MnasNet(["r1_k3_s11_e1_i32_o16", "r1_k3_s11_e6_i24_o24"], input_shape=(32, 32, 3))


def test_the_nasnet_zoo_is_unchanged_and_both_are_found():
    assert set(ZOO).isdisjoint(MNASNET_ZOO)
    assert all(entry.family == "nasnet" for entry in ZOO.values())
    assert get_zoo_model("nasnet_a_mobile") is ZOO["nasnet_a_mobile"]
    with pytest.raises(ValueError, match="mnasnet_small"):
        get_zoo_model("mnasnet_c1")


# -- LiteRT and JAX ---------------------------------------------------------------------------


def _check_litert_exports(model, tmp_path, depthwise_convs):
    """Float export equals Keras; int8 is full integer, rewritten for XNNPACK, and agrees."""
    from keras_nasnet import export

    shape = tuple(model.input_shape[1:])
    x = _images(shape, count=40, seed=1)
    float_file = export.to_tflite(model, str(tmp_path / "float.tflite"))
    np.testing.assert_allclose(
        export.predict(float_file, x), model.predict(x, verbose=0), atol=1e-4
    )
    assert not any(name.startswith("Flex") for name in export.op_names(float_file))
    int8_file = export.to_tflite(
        model,
        str(tmp_path / "int8.tflite"),
        quantize="int8",
        representative_data=_images(shape, count=50, seed=2),
    )
    runner = export.interpreter(int8_file)
    assert runner.get_input_details()[0]["dtype"] == np.int8
    assert runner.get_output_details()[0]["dtype"] == np.int8
    assert not {"RELU", "AVERAGE_POOL_2D"} & export.op_names(int8_file)
    assert export.op_counts(int8_file)["DEPTHWISE_CONV_2D"] == depthwise_convs
    float_out, int8_out = export.predict(float_file, x), export.predict(int8_file, x)
    agreement = float(np.mean(float_out.argmax(1) == int8_out.argmax(1)))
    # Random weights, random images: a broken scale or zero point gives chance agreement
    # (0.2 with 5 classes) and probabilities far off.
    assert agreement >= 0.7, agreement
    assert np.abs(int8_out - float_out).max() < 0.2


def test_a_tiny_mnasnet_exports_to_float_and_int8_litert(tmp_path):
    model = MnasNet(
        [
            "r1_k3_s11_e1_i16_o16_noskip",
            "r2_k5_s22_e6_i16_o24_se0.25",
            "r1_k3_s11_e1_i24_o24_regular",
        ],
        stem_filters=16,
        head_filters=64,
        classes=5,
        input_shape=(32, 32, 3),
        seed=0,
    )
    _check_litert_exports(randomize(model), tmp_path, depthwise_convs=3)


@pytest.mark.slow  # about 40 s: the converter's time grows with the graph
def test_small_exports_to_float_and_int8_litert(tmp_path):
    model = keras_nasnet.MnasNetSmall(input_shape=(64, 64, 3), classes=5, seed=0)
    _check_litert_exports(randomize(model), tmp_path, depthwise_convs=15)  # 1+1+2+4+3+3+1


JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras
    import numpy as np
    import keras_nasnet

    assert keras.backend.backend() == "jax", keras.backend.backend()
    keras_nasnet.MnasNetModel  # imports (so registers) the class load_model looks up
    tf_file, expected_file, out_dir = sys.argv[1:4]
    expected = np.load(expected_file)
    loaded = keras.saving.load_model(tf_file)
    blocks = [str(b) for b in loaded.blocks]
    report = {"class": type(loaded).__name__, "blocks": blocks}
    report["tf_file_error"] = float(np.abs(np.asarray(loaded(expected["x"])) - expected["y"]).max())
    model = keras_nasnet.MnasNet(
        blocks, stem_filters=16, head_filters=64, input_shape=(32, 32, 3), classes=3, seed=0
    )
    x = expected["x"]
    report["probabilities_sum"] = np.asarray(model(x)).sum(axis=1).tolist()
    model.save(out_dir + "/jax.keras")
    restored = keras.saving.load_model(out_dir + "/jax.keras")
    report["jax_file_error"] = float(np.abs(np.asarray(restored(x)) - np.asarray(model(x))).max())
    print("REPORT " + json.dumps(report))
    """
)


def test_a_tiny_mnasnet_builds_runs_and_loads_on_jax(tmp_path):
    pytest.importorskip("jax")
    written_on_tf = randomize(MnasNet(TINY_BLOCKS, **TINY_MACRO, **TINY, seed=1))
    tf_file = str(tmp_path / "tf.keras")
    written_on_tf.save(tf_file)
    x = _images(count=4, seed=1)
    np.savez(tmp_path / "expected.npz", x=x, y=_numpy(written_on_tf(x)))
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, tf_file, str(tmp_path / "expected.npz"), str(tmp_path)],
        env=subprocess_env(
            KERAS_BACKEND="jax",
            JAX_PLATFORMS="cpu",
            XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
        ),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=os.getcwd(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line[len("REPORT ") :])
    assert report["class"] == "MnasNetModel"
    assert report["blocks"] == TINY_BLOCKS
    assert report["tf_file_error"] < 1e-5
    np.testing.assert_allclose(report["probabilities_sum"], 1.0, rtol=1e-5)
    assert report["jax_file_error"] < 1e-5

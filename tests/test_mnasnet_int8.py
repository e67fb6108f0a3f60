"""Full-integer LiteRT export of MnasNet models whose SE squeeze ReLU is dead on every
calibration image: XNNPACK refused them (a requantization scale over 256) until the collapsed
output scale is widened."""

import keras
import numpy as np
import pytest

from keras_nasnet import MnasNetModel, export

# One MBConv block with SE (two squeeze channels), as small as MnasNet builds.
BLOCKS = ["r1_k3_s11_e3_i16_o16_se0.25"]


def dead_se_model():
    """A tiny MnasNet whose SE squeeze conv outputs 0 for every image: its inputs (a global
    average after a ReLU) are >= 0 and its kernel and bias are negative."""
    model = MnasNetModel(
        BLOCKS,
        input_shape=(32, 32, 1),
        classes=3,
        stem_filters=16,
        head_filters=16,
        dropout_rate=0.0,
        min_depth=8,
        seed=0,
        name="dead_se",
    )
    (squeeze,) = [layer for layer in model.layers if layer.name.endswith("se_reduce")]
    kernel, bias = squeeze.get_weights()
    squeeze.set_weights([-np.abs(kernel) - 0.5, np.full_like(bias, -1.0)])
    return model


@pytest.fixture(scope="module")
def dead_se():
    model = dead_se_model()
    images = np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    return model, images


def test_collapsed_squeeze_scale_is_widened_and_xnnpack_runs_it(dead_se, tmp_path, monkeypatch):
    model, images = dead_se
    path = str(tmp_path / "raw.tflite")
    with monkeypatch.context() as patch:  # the converter's file as it comes
        patch.setattr(export, "widen_collapsed_scales", lambda path: [])
        export.to_tflite(model, path, "int8", images)
    with pytest.raises(RuntimeError, match="XNNPACK"):
        export.interpreter(path)

    widened = export.widen_collapsed_scales(path)
    assert len(widened) == 1 and "se_reduce" in widened[0]
    runner = export.interpreter(path)  # XNNPACK now prepares every node
    tensors = runner.get_tensor_details()
    (output,) = [t["index"] for t in tensors if t["name"] == widened[0]]
    (squeeze,) = [op for op in runner._get_ops_details() if op["outputs"][0] == output]
    scales = [
        tensors[i]["quantization_parameters"]["scales"] for i in (*squeeze["inputs"][:2], output)
    ]
    assert scales[0][0] * scales[1].max() / scales[2][0] == pytest.approx(128.0, rel=1e-5)
    assert export.widen_collapsed_scales(path) == []  # nothing left to widen

    # The widened tensor holds zeros, which every scale represents: the int8 file still agrees
    # with the float model (SE gate sigmoid(bias) for every image).
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(export.predict(path, images), expected, atol=0.05)


def test_to_tflite_int8_latency_of_dead_se_model(dead_se, tmp_path):
    model, images = dead_se
    path = export.to_tflite(model, str(tmp_path / "int8.tflite"), "int8", images)
    assert export.measure_latency(path, runs=2, warmup=0).median_ms > 0
    assert export.widen_collapsed_scales(path) == []


@pytest.mark.slow
def test_searched_point_that_xnnpack_refused_now_times():
    from keras_nasnet.search.spaces.mnasnet_blocks import (
        SMALL_IMAGE_STRIDES,
        MnasNetHyperModel,
        MnasNetSearchSpace,
    )

    space = MnasNetSearchSpace(strides=SMALL_IMAGE_STRIDES, depth_coefficient=0.5)
    hypermodel = MnasNetHyperModel(
        space, input_shape=(28, 28, 1), classes=10, depth_multiplier=0.35, latency="int8"
    )
    blocks = [
        "r2_k5_s11_e3_i32_o24_se0.25_noskip",
        "r1_k3_s22_e6_i24_o24_se0.25",
        "r3_k3_s22_e3_i24_o40_se0.25",
        "r2_k3_s11_e1_i40_o48",
        "r3_k3_s11_e1_i48_o96_se0.25_regular",
        "r3_k5_s11_e3_i96_o200_noskip",
        "r2_k3_s11_e1_i200_o240",
    ]
    keras.utils.set_random_seed(0)  # these weights left block 3's SE squeeze dead
    assert hypermodel.latency_ms(blocks) > 0

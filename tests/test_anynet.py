"""AnyNet points, the RegNet generator, the AnyNetX / RegNet spaces and the Keras model."""

import json

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nasnet.anynet import (
    AnyNetModel,
    AnyNetPoint,
    GroupConv2D,
    adjust_block_compatibility,
    complexity,
)
from keras_nasnet.anynet_spaces import (
    PAPER_SCALE,
    SMALL_SCALE,
    SPACE_NAMES,
    AnyNetXScale,
    AnyNetXSpace,
    ComplexityWindow,
    RegNetSpace,
)
from keras_nasnet.regnet import REGNET_PARAMS, RegNet, generate_widths, regnet, regnet_point
from tests.helpers import randomize

# Published stage depths and widths: MODEL_CONFIGS of keras.applications.regnet (Keras 2.9 to
# 2.15, keras/applications/regnet.py), which lists pycls' RegNetX/Y models stage by stage; the
# (d, w_0, w_a, w_m, g) they come from are pycls' configs/dds_baselines/regnet{x,y}/*.yaml,
# copied into REGNET_PARAMS.
PUBLISHED_STAGES = {
    "regnetx_002": ([1, 1, 4, 7], [24, 56, 152, 368]),
    "regnetx_004": ([1, 2, 7, 12], [32, 64, 160, 384]),
    "regnetx_006": ([1, 3, 5, 7], [48, 96, 240, 528]),
    "regnetx_008": ([1, 3, 7, 5], [64, 128, 288, 672]),
    "regnetx_016": ([2, 4, 10, 2], [72, 168, 408, 912]),
    "regnetx_032": ([2, 6, 15, 2], [96, 192, 432, 1008]),
    "regnetx_040": ([2, 5, 14, 2], [80, 240, 560, 1360]),
    "regnetx_064": ([2, 4, 10, 1], [168, 392, 784, 1624]),
    "regnetx_080": ([2, 5, 15, 1], [80, 240, 720, 1920]),
    "regnetx_120": ([2, 5, 11, 1], [224, 448, 896, 2240]),
    "regnetx_160": ([2, 6, 13, 1], [256, 512, 896, 2048]),
    "regnetx_320": ([2, 7, 13, 1], [336, 672, 1344, 2520]),
    "regnety_002": ([1, 1, 4, 7], [24, 56, 152, 368]),
    "regnety_004": ([1, 3, 6, 6], [48, 104, 208, 440]),
    "regnety_006": ([1, 3, 7, 4], [48, 112, 256, 608]),
    "regnety_008": ([1, 3, 8, 2], [64, 128, 320, 768]),
    "regnety_016": ([2, 6, 17, 2], [48, 120, 336, 888]),
    "regnety_032": ([2, 5, 13, 1], [72, 216, 576, 1512]),
    "regnety_040": ([2, 6, 12, 2], [128, 192, 512, 1088]),
    "regnety_064": ([2, 7, 14, 2], [144, 288, 576, 1296]),
    "regnety_080": ([2, 4, 10, 1], [168, 448, 896, 2016]),
    "regnety_120": ([2, 5, 11, 1], [224, 448, 896, 2240]),
    "regnety_160": ([2, 4, 11, 1], [224, 448, 1232, 3024]),
    "regnety_320": ([2, 5, 12, 1], [232, 696, 1392, 3712]),
}

# pycls MODEL_ZOO.md: flops (B) and params (M) at 224x224, 1000 classes, to one decimal.
MODEL_ZOO = {
    "regnetx_002": (0.2, 2.7),
    "regnetx_004": (0.4, 5.2),
    "regnetx_006": (0.6, 6.2),
    "regnetx_008": (0.8, 7.3),
    "regnetx_016": (1.6, 9.2),
    "regnetx_032": (3.2, 15.3),
    "regnetx_040": (4.0, 22.1),
    "regnetx_064": (6.5, 26.2),
    "regnetx_080": (8.0, 39.6),
    "regnetx_120": (12.1, 46.1),
    "regnetx_160": (15.9, 54.3),
    "regnetx_320": (31.7, 107.8),
    "regnety_002": (0.2, 3.2),
    "regnety_004": (0.4, 4.3),
    "regnety_006": (0.6, 6.1),
    "regnety_008": (0.8, 6.3),
    "regnety_016": (1.6, 11.2),
    "regnety_032": (3.2, 19.4),
    "regnety_040": (4.0, 20.6),
    "regnety_064": (6.4, 30.6),
    "regnety_080": (8.0, 39.2),
    "regnety_120": (12.1, 51.8),
    "regnety_160": (15.9, 83.6),
    "regnety_320": (32.3, 145.0),
}

TINY = AnyNetPoint(
    depths=(1, 2),
    widths=(16, 32),
    bottleneck_ratios=(1, 2),
    group_widths=(8, 4),
    strides=(1, 2),
    stem_width=8,
)


# -- the generator --------------------------------------------------------------------------


def test_generator_regnetx_200mf_by_hand():
    # u_j = 24 + 36.44 j; k_j = round(log(u_j / 24) / log 2.49): k = 0 for j = 0; 1 for j = 1
    # (60.44 / 24 = 2.52, log ratio 1.005); 2 for j = 2..5; 3 once u_j / 24 >= 2.49^2.5 = 9.78,
    # i.e. j >= 6. Widths 24 * 2.49^k quantized: 24, 59.76 -> 56, 148.8 -> 152, 370.5 -> 368.
    generated = generate_widths(13, 24, 36.44, 2.49)
    assert generated.block_widths == (24, 56) + (152,) * 4 + (368,) * 7
    assert generated.widths == (24, 56, 152, 368)
    assert generated.depths == (1, 1, 4, 7)
    assert generated.num_stages == generated.total_stages == 4
    assert generated.continuous_widths[1] == pytest.approx(60.44)


def test_generator_counts_empty_rungs_and_merges_equal_widths():
    # w_a = 0: every block stays at w_0, one stage.
    assert generate_widths(5, 32, 0.0, 2.0)[:4] == ((32,), (5,), 1, 1)
    # w_m = 4 and w_a = 100: u = 8, 108, 208 -> k = 0, round(1.88) = 2, round(2.35) = 2; the
    # blocks skip rung 1, so 2 stages of the 3 rungs they span.
    generated = generate_widths(3, 8, 100.0, 4.0)
    assert generated.widths == (8, 128)
    assert generated.depths == (1, 2)
    assert (generated.num_stages, generated.total_stages) == (2, 3)


@pytest.mark.parametrize("name", sorted(PUBLISHED_STAGES))
def test_regnet_matches_published_stages_and_model_zoo(name):
    point = regnet_point(name)
    depths, widths = PUBLISHED_STAGES[name]
    assert (list(point.depths), list(point.widths)) == (depths, widths)
    assert point.se_ratio == (0.25 if name.startswith("regnety") else 0.0)
    size = complexity(point)
    flops, params = MODEL_ZOO[name]
    assert round(size.params / 1e6, 1) == params
    assert round(size.flops / 1e9, 1) == flops


def test_every_preset_is_checked_against_the_published_tables():
    assert sorted(REGNET_PARAMS) == sorted(PUBLISHED_STAGES) == sorted(MODEL_ZOO)


def test_regnet_group_width_is_capped_at_a_narrow_stage():
    # RegNetX-8.0GF: g = 120 is wider than the first stage (80 channels), so that stage gets
    # g = 80 (pycls' adjust_block_compatibility); the others keep 120 and are multiples of it.
    point = regnet_point("regnetx_080")
    assert point.group_widths == (80, 120, 120, 120)
    assert point.groups == (1, 2, 6, 16)


def test_generator_refuses_bad_parameters():
    with pytest.raises(ValueError, match="`w_0` must be a multiple of 8; received 20"):
        generate_widths(10, 20, 10.0, 2.0)
    with pytest.raises(ValueError, match="`w_m`"):
        generate_widths(10, 24, 10.0, 1.0)
    with pytest.raises(ValueError, match="`w_a`"):
        generate_widths(10, 24, -1.0, 2.0)
    with pytest.raises(TypeError, match="`depth`"):
        generate_widths(10.0, 24, 10.0, 2.0)
    with pytest.raises(ValueError, match="Unknown `name` 'regnetx_999'"):
        regnet_point("regnetx_999")


# -- the point type ---------------------------------------------------------------------------


def test_compatibility_adjustment_by_hand():
    # v = w / b rounded to a multiple of g with Python's round (half to even), as pycls:
    # 56 / 16 = 3.5 -> 4 groups = 64; 40 / 16 = 2.5 -> 2 groups = 32; 24 / 4 = 6 < g = 32, so
    # g becomes 6 and the width stays; 200 / 2 = 100, 100 / 8 = 12.5 -> 12 -> 96 * 2 = 192.
    widths, groups = adjust_block_compatibility([56, 40, 24, 200], [1, 1, 4, 2], [16, 16, 32, 8])
    assert widths == (64, 32, 24, 192)
    assert groups == (16, 16, 6, 8)


def test_point_json_round_trip_and_derived_values():
    # Stage 1: 56 / 2 = 28 -> 28 / 16 = 1.75 -> 2 groups of 16 -> bottleneck 32, width 64.
    # Stage 2: 152 / 4 = 38 -> 38 / 32 = 1.19 -> 1 group of 32 -> bottleneck 32, width 128.
    point = AnyNetPoint.compatible(
        depths=[1, 2, 3, 4],
        widths=[24, 56, 152, 368],
        bottleneck_ratios=[1, 2, 4, 1],
        group_widths=[8, 16, 32, 8],
        se_ratio=0.25,
    )
    assert point.widths == (24, 64, 128, 368)
    assert point.bottleneck_widths == (24, 32, 32, 368)
    assert point.groups == (3, 2, 1, 46)
    assert point.strides == (2, 2, 2, 2)
    assert point.num_blocks == 10
    text = point.to_json()
    assert AnyNetPoint.from_json(text) == point
    assert hash(AnyNetPoint.from_dict(json.loads(text))) == hash(point)


@pytest.mark.parametrize(
    "fields, error, message",
    [
        (dict(widths=(16, 36)), ValueError, r"`widths\[1\]` must be a positive multiple of 8"),
        (dict(group_widths=(8, 3)), ValueError, "group width 3 does not divide"),
        (dict(bottleneck_ratios=(1, 3)), ValueError, "not divisible by its bottleneck ratio 3"),
        (dict(depths=(1, 0)), ValueError, r"`depths\[1\]` must be an int >= 1; received 0"),
        (dict(depths=(1, 2.0)), TypeError, r"`depths\[1\]` must be an int; received 2.0"),
        (dict(strides=(1, 3)), ValueError, r"`strides\[1\]` must be one of \(1, 2\)"),
        (dict(strides=(1,)), ValueError, "strides: 1"),
        (dict(se_ratio=1.0), ValueError, "`se_ratio`"),
        (dict(stem_width=0), ValueError, "`stem_width`"),
        (dict(widths="16"), TypeError, "`widths` must be a sequence of ints"),
    ],
)
def test_bad_points_are_refused(fields, error, message):
    with pytest.raises(error, match=message):
        AnyNetPoint(**{**TINY.to_dict(), **fields})


def test_bad_point_data_is_refused():
    with pytest.raises(ValueError, match="at least one stage"):
        AnyNetPoint((), (), (), ())
    with pytest.raises(ValueError, match=r"Unknown AnyNetPoint key\(s\) \['width'\]"):
        AnyNetPoint.from_dict({**TINY.to_dict(), "width": [8]})
    with pytest.raises(ValueError, match=r"\['group_widths'\] missing"):
        AnyNetPoint.from_dict({k: v for k, v in TINY.to_dict().items() if k != "group_widths"})
    with pytest.raises(ValueError, match="not valid JSON"):
        AnyNetPoint.from_json("{depths")


# -- the spaces ----------------------------------------------------------------------------------


def _check_in_scale(point, scale):
    assert point.num_stages == scale.num_stages
    assert all(1 <= d <= scale.max_depth for d in point.depths)
    assert all(w % 8 == 0 and 8 <= w <= scale.max_width for w in point.widths)
    assert set(point.bottleneck_ratios) <= set(scale.bottleneck_ratios)
    # The drawn g is capped at the bottleneck width and otherwise kept.
    assert all(
        g in scale.group_widths or g == v
        for g, v in zip(point.group_widths, point.bottleneck_widths)
    )
    assert point.stem_width == scale.stem_width


def _shares_group_width(point):
    # One drawn g, capped where a stage's bottleneck is narrower: g_i = min(g, w_i / b_i).
    g = max(point.group_widths)
    return all(gi == min(g, v) for gi, v in zip(point.group_widths, point.bottleneck_widths))


@pytest.mark.parametrize("scale", [PAPER_SCALE, SMALL_SCALE], ids=["paper", "small"])
def test_anynetx_samples_keep_their_constraints(scale):
    found = {name: AnyNetXSpace(name, scale).sample(7, 300) for name in SPACE_NAMES}
    for name, points in found.items():
        for point in points:
            _check_in_scale(point, scale)
            if name >= "B":
                assert len(set(point.bottleneck_ratios)) == 1
            if name >= "C":
                assert _shares_group_width(point)
            if name >= "D":
                assert list(point.widths) == sorted(point.widths)
            if name == "E":
                assert list(point.depths) == sorted(point.depths)
    # Each constraint binds only from its own space on: the space before breaks it.
    assert any(len(set(p.bottleneck_ratios)) > 1 for p in found["A"])
    assert any(not _shares_group_width(p) for p in found["B"])
    assert any(list(p.widths) != sorted(p.widths) for p in found["C"])
    assert any(list(p.depths) != sorted(p.depths) for p in found["D"])


def test_samples_are_seeded():
    space = AnyNetXSpace("C", SMALL_SCALE)
    assert space.sample(3, 20) == space.sample(np.random.default_rng(3), 20)
    assert space.sample(3, 20) != space.sample(4, 20)
    pairs = space.sample_with_values(3, 20)
    assert [point for _, point in pairs] == space.sample(3, 20)
    for values, point in pairs:
        assert all(isinstance(v, int) for v in values.values())  # JSON-ready decisions
        assert space.point(values) == point


def test_window_keeps_only_points_inside_and_gives_up_when_unmet():
    window = ComplexityWindow(
        min_params=20_000, max_params=60_000, input_size=32, stem="small", classes=10
    )
    points = AnyNetXSpace("E", SMALL_SCALE).sample(0, 20, window=window)
    sizes = [complexity(p, 32, "small", 10).params for p in points]
    assert all(20_000 <= s <= 60_000 for s in sizes)
    impossible = ComplexityWindow(max_params=100)
    with pytest.raises(ValueError, match="found only 0 of 3 points .* in 50 draws"):
        AnyNetXSpace("A", SMALL_SCALE).sample(0, 3, window=impossible, max_draws=50)


def test_declare_gives_one_hyperparameter_per_decision_and_its_point():
    space = AnyNetXSpace("D", SMALL_SCALE)
    hp = space.hyperparameters()
    names = sorted(h.name for h in hp.space)
    stages = [f"stage_{i}_{kind}" for i in range(4) for kind in ("depth", "width")]
    assert names == sorted(stages + ["bottleneck_ratio", "group_width"])
    widths = {"stage_0_width": 96, "stage_1_width": 16, "stage_2_width": 64, "stage_3_width": 32}
    for name, value in widths.items():
        hp.values[name] = value
    hp.values["group_width"] = 8
    point = space.declare(hp)
    assert point.widths == (16, 32, 64, 96)  # D sorts the declared widths
    assert point.group_widths == (8, 8, 8, 8)
    assert len(AnyNetXSpace("A", SMALL_SCALE).hyperparameters().space) == 16


def test_regnet_space_samples_and_declares():
    space = RegNetSpace()
    for point in space.sample(11, 40):
        assert point.num_stages == 4
        assert len(set(point.bottleneck_ratios)) == 1
        assert _shares_group_width(point)
        assert list(point.widths) == sorted(point.widths)
    small = RegNetSpace.small()
    for point in small.sample(5, 40):
        assert 2 <= point.num_stages <= 4 and point.num_blocks <= 12
    hp = keras_tuner.HyperParameters()
    point = small.declare(hp)
    assert sorted(h.name for h in hp.space) == sorted(
        ["depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_ratio"]
    )
    assert point == regnet(
        hp["depth"],
        hp["w_0"],
        hp["w_a"],
        hp["w_m"],
        hp["group_width"],
        hp["bottleneck_ratio"],
        stem_width=16,
    )
    with pytest.raises(ValueError, match="found only 0 of 2 points"):
        RegNetSpace(num_stages=9).sample(0, 2, max_draws=30)


def test_bad_space_settings_are_refused():
    with pytest.raises(ValueError, match="Unknown `name` 'F'"):
        AnyNetXSpace("F")
    with pytest.raises(ValueError, match="`max_width` must be a multiple of every"):
        AnyNetXScale(max_width=120)
    with pytest.raises(ValueError, match="`group_widths` must be powers of two or multiples"):
        AnyNetXScale(group_widths=(1, 12))
    with pytest.raises(ValueError, match="`depth` must be a \\(low, high\\) pair"):
        RegNetSpace(depth=5)
    with pytest.raises(ValueError, match="missing"):
        AnyNetXSpace("A").point({"stage_0_depth": 1})


# -- the Keras model --------------------------------------------------------------------------


def _train_save_load(model, tmp_path, input_shape, classes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, *input_shape)).astype("float32")
    y = rng.integers(0, classes, size=(4,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    randomize(model)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, AnyNetModel)
    assert loaded.point == model.point
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    return loaded


def test_tiny_anynet_trains_saves_and_loads(tmp_path):
    model = AnyNetModel(TINY, stem="small", input_shape=(28, 28, 1), classes=10, seed=1)
    assert model.output.shape == (None, 10)
    # The count by arithmetic is Keras' count: same layers, same shapes.
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == complexity(TINY, 28, "small", 10, input_channels=1).params
    # Stage 1 strides: 28 -> 14, with a projection; stage 0 keeps 28 but changes width.
    assert model.get_layer("s2_b1_proj").output.shape == (None, 14, 14, 32)
    assert model.get_layer("s1_b1_proj").output.shape == (None, 28, 28, 16)
    assert model.get_layer("s2_b1_b").groups == 4  # 32 / 2 = 16 channels, groups of 4
    _train_save_load(model, tmp_path, (28, 28, 1), 10)


def test_tiny_regnet_with_squeeze_excitation_trains_saves_and_loads(tmp_path):
    # u = 8, 11, 14, 17 -> k = round(log2(u / 8)) = 0, 0, 1, 1: two stages of two blocks.
    point = regnet(4, 8, 3.0, 2.0, group_width=4, se_ratio=0.25, stem_width=8)
    assert point.widths == (8, 16) and point.depths == (2, 2)
    model = AnyNetModel(point, stem="small", input_shape=(32, 32, 3), classes=5, name="regnet_tiny")
    # SE squeezes to a quarter of the block's input width: 8 -> 2 in s1_b1, 16 -> 4 after.
    assert model.get_layer("s1_b1_se_reduce").filters == 2
    assert model.get_layer("s2_b2_se_reduce").filters == 4
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == complexity(point, 32, "small", 5).params
    _train_save_load(model, tmp_path, (32, 32, 3), 5)


@pytest.mark.parametrize("name, published", [("regnetx_002", 2.7e6), ("regnetx_004", 5.2e6)])
def test_regnetx_parameter_count_at_224_is_pycls(name, published):
    model = RegNet(name)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == complexity(regnet_point(name)).params
    assert abs(trainable - published) / published < 0.01  # pycls MODEL_ZOO.md
    assert model.get_layer("stem_conv").output.shape == (None, 112, 112, 32)
    assert model.output.shape == (None, 1000)
    assert model.name == name


def test_model_options_and_errors():
    features = AnyNetModel(TINY, stem="small", include_top=False, input_shape=(32, 32, 3))
    assert features.output.shape == (None, 16, 16, 32)
    pooled = AnyNetModel(
        TINY, stem="small", include_top=False, pooling="max", input_shape=(32, 32, 3)
    )
    assert pooled.output.shape == (None, 32)
    from_dict = AnyNetModel(TINY.to_dict(), stem="small", classes=3, classifier_activation=None)
    assert from_dict.point == TINY and from_dict.get_config()["classifier_activation"] == "linear"
    with pytest.raises(ValueError, match="Unknown `stem` 'cifar'"):
        AnyNetModel(TINY, stem="cifar")
    with pytest.raises(ValueError, match="`pooling` must be None, 'avg' or 'max'"):
        AnyNetModel(TINY, include_top=False, pooling="sum")
    with pytest.raises(TypeError, match="`point` must be an AnyNetPoint"):
        AnyNetModel("regnetx_002")
    with pytest.raises(ValueError, match="at least 32x32"):
        AnyNetModel(TINY, input_shape=(16, 16, 3), include_top=False)


def test_strided_convs_pad_both_sides_as_pycls():
    # pycls pads a 3x3 stride-2 conv by 1 on every side, so output pixel (i, j) is centred on
    # input pixel (2i, 2j); TensorFlow's "same" would pad only after and centre it on
    # (2i + 1, 2j + 1).
    model = AnyNetModel(TINY, include_top=False, input_shape=(32, 32, 1), seed=0)
    stem = keras.Model(model.input, model.get_layer("stem_conv").output)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 1)).astype("float32")
    kernel = model.get_layer("stem_conv").get_weights()[0]  # (3, 3, 1, 8)
    padded = np.pad(x[0, :, :, 0], 1)
    expected = np.stack(
        [
            [
                np.einsum(
                    "ab,abc->c", padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3], kernel[:, :, 0]
                )
                for j in range(16)
            ]
            for i in range(16)
        ]
    )
    np.testing.assert_allclose(stem.predict(x, verbose=0)[0], expected, atol=1e-5)


@pytest.mark.parametrize(
    "space", [AnyNetXSpace("A"), AnyNetXSpace("E"), RegNetSpace()], ids=["A", "E", "regnet"]
)
def test_the_proposers_decision_space_decodes_to_points(space):
    # The proposers (random, evolution, the controller) act on any keras-tuner space through a
    # DecisionSpace: every action they draw or mutate must decode to values `point` accepts.
    from keras_nasnet.search.spaces.decisions import DecisionSpace

    decisions = DecisionSpace(space.hyperparameters())
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = decisions.sample_uniform(rng)
        mutated = [d.mutate(a, rng) for d, a in zip(decisions.dimensions, actions)]
        for drawn in (actions, mutated):
            assert isinstance(space.point(decisions.decode(drawn)), AnyNetPoint)


@pytest.mark.parametrize("strides, padding", [(1, "same"), (2, "valid")])
def test_group_conv_ways_agree_with_the_native_grouped_conv(strides, padding):
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 24)).astype("float32")
    native = GroupConv2D(24, 3, 4, strides, padding, implementation="native")
    expected = keras.ops.convert_to_numpy(native(x))
    assert native.kernel.shape == (3, 3, 4, 24)  # Conv2D(groups=6)'s kernel
    assert expected.shape == ((2, 9, 9, 24) if strides == 1 else (2, 4, 4, 24))
    for way in ("block_diagonal", "depthwise"):
        layer = GroupConv2D(24, 3, 4, strides, padding, implementation=way)
        layer.build(x.shape)
        layer.set_weights(native.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)
    # Each output group reads only its own input group: zeroing group 0's input changes
    # output channels 0..3 only.
    changed = x.copy()
    changed[..., :4] = 0
    difference = np.abs(keras.ops.convert_to_numpy(native(changed)) - expected).max(axis=(0, 1, 2))
    assert (difference[:4] > 0).all() and (difference[4:] == 0).all()


def test_group_conv_takes_any_image_size_and_round_trips():
    inputs = keras.Input((None, None, 16))
    model = keras.Model(inputs, GroupConv2D(16, 3, 2, implementation="depthwise")(inputs))
    assert model.predict(np.ones((1, 7, 5, 16), "float32"), verbose=0).shape == (1, 7, 5, 16)
    layer = GroupConv2D.from_config(model.layers[-1].get_config())
    assert (layer.group_width, layer.groups, layer.implementation) == (2, 8, "depthwise")
    with pytest.raises(ValueError, match="must be a multiple of `group_width`"):
        GroupConv2D(16, 3, 3)
    with pytest.raises(ValueError, match="Unknown `implementation` 'fast'"):
        GroupConv2D(16, 3, 2, implementation="fast")

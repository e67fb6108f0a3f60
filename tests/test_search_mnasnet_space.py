"""MnasNet's factorized hierarchical space: its decisions, values <-> blocks, the rules every
point keeps, MnasNet-A1 as a point, a latency-aware stock-tuner search, and the reward's order."""

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nasnet.applications.mnasnet import A1
from keras_nasnet.mnasnet import MnasNetModel
from keras_nasnet.mobile_blocks import parse_blocks
from keras_nasnet.search import ControllerOracle
from keras_nasnet.search.evaluators.reward import LATENCY_METRIC, MnasNetReward
from keras_nasnet.search.spaces.mnasnet_blocks import (
    SMALL_IMAGE_STRIDES,
    MnasNetHyperModel,
    MnasNetSearchSpace,
)

# Seven narrow one-layer blocks, two of them strided (28x28 padded to 32, stem 16 -> 4x4).
TINY_BASE = tuple((f, 1, s) for f, s in zip((16, 16, 24, 24, 32, 32, 40), SMALL_IMAGE_STRIDES))


def tiny_space() -> MnasNetSearchSpace:
    return MnasNetSearchSpace(TINY_BASE, stem_filters=16)


def tiny_hypermodel(space, **kw) -> MnasNetHyperModel:
    return MnasNetHyperModel(
        space,
        input_shape=(28, 28, 1),
        classes=3,
        head_filters=32,
        compile_options={"run_eagerly": True},
        **kw,
    )


def test_the_space_declares_one_scalar_per_decision_in_the_papers_order():
    space = MnasNetSearchSpace()
    hp = space.hyperparameters()
    names = [p.name for p in hp.space]
    assert names[:6] == [
        "block_0_op",
        "block_0_kernel",
        "block_0_se_ratio",
        "block_0_skip",
        "block_0_filters",
        "block_0_layers",
    ]
    assert len(names) == 7 * 6 and len(space.decision_space().names) == 42
    assert hp.get("block_0_op") in ("regular", "dw", "mbconv3", "mbconv6")
    # MobileNetV2's widths x (0.75, 1.0, 1.25) rounded to 8 (16 x 0.75 = 12 rounds to 16).
    assert space.filter_choices(0) == (16, 24)
    assert space.filter_choices(2) == (24, 32, 40)
    assert space.filter_choices(4) == (72, 96, 120)
    # Layers: base -1, 0, +1, at least 1.
    assert space.layer_choices(0) == (1, 2)
    assert space.layer_choices(3) == (3, 4, 5)
    third = MnasNetSearchSpace(depth_coefficient=0.34)
    assert third.layer_choices(3) == (1, 2, 3)  # ceil(4 x 0.34) = 2
    assert third.layer_choices(6) == (1, 2)


def test_values_and_blocks_round_trip_and_bad_points_are_named():
    space = MnasNetSearchSpace()
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = {
            f"block_{i}_{d}": allowed[rng.integers(len(allowed))]
            for i in range(7)
            for d, allowed in space.choices(i).items()
        }
        blocks = space.architecture(values)
        assert space.values(blocks) == values
        assert space.values([str(b) for b in blocks]) == values
    bad = list(blocks)
    bad[2] = bad[2].__class__(**{**bad[2].__dict__, "kernel_size": 7})
    with pytest.raises(ValueError, match=r"blocks\[2\] kernel=7"):
        space.values(bad)
    with pytest.raises(ValueError, match="block_0_op"):
        space.architecture({})
    with pytest.raises(ValueError, match="strides"):
        MnasNetSearchSpace(strides=(1, 2))


def test_mnasnet_a1_is_a_point_of_the_a1_skeleton_but_not_of_mobilenet_v2s():
    a1 = parse_blocks(A1["blocks"])
    values = MnasNetSearchSpace("a1").values(a1)
    assert MnasNetSearchSpace("a1").architecture(values) == a1
    assert values["block_0_op"] == "dw" and values["block_0_skip"] is False
    assert values["block_2_op"] == "mbconv3" and values["block_2_se_ratio"] == 0.25
    # A1's 112-filter fifth block is not 0.75, 1.0 or 1.25 x MobileNetV2's 96.
    with pytest.raises(ValueError, match=r"blocks\[4\] filters=112 .*\[72, 96, 120\]"):
        MnasNetSearchSpace().values(a1)


def test_sampled_points_build_and_keep_the_rules():
    space = tiny_space()
    hypermodel = tiny_hypermodel(space)
    x = np.zeros((2, 28, 28, 1), "float32")
    skipping = 0
    for seed in range(3):
        hp = keras_tuner.HyperParameters()
        values = space.declare(hp)
        for name, value in (
            space.decision_space()
            .decode(space.decision_space().sample_uniform(np.random.default_rng(seed)))
            .items()
        ):
            hp.values[name] = value
        blocks = space.architecture(hp)
        previous = space.stem_filters
        for block, (_, _, stride) in zip(blocks, space.skeleton):
            assert block.repeats >= 1 and block.output_filters % 8 == 0
            assert block.input_filters == previous and block.strides == (stride, stride)
            previous = block.output_filters
        model = hypermodel.build(hp)
        assert model.output_shape == (None, 3)
        assert model(x).shape == (2, 3)
        inner = model.layers[-1]
        assert isinstance(inner, MnasNetModel) and inner.blocks == blocks
        # An identity skip (one Add) only where a layer keeps stride 1 and its width.
        skips = [
            layer
            for block in blocks
            for layer in block.layers()
            if layer.skip
            and layer.strides == (1, 1)
            and layer.input_filters == layer.output_filters
        ]
        adds = [layer for layer in inner.layers if isinstance(layer, keras.layers.Add)]
        assert len(adds) == len(skips)
        skipping += len(skips)
        assert values.keys() == hp.values.keys()
    assert skipping > 0  # the samples exercise the rule, not only its absence


def tuner(directory, max_trials, reward):
    # SE blocks included: an int8 squeeze conv whose ReLU is dead on the calibration images
    # once made XNNPACK refuse the model (export.widen_collapsed_scales).
    space = MnasNetSearchSpace(TINY_BASE, stem_filters=16)
    oracle = ControllerOracle(
        objective="val_accuracy",
        max_trials=max_trials,
        seed=3,
        update_every=2,
        units=8,
        reward=reward.from_trial,
    )
    return keras_tuner.Tuner(
        oracle=oracle,
        hypermodel=tiny_hypermodel(space, latency="int8", latency_runs=3),
        directory=str(directory),
        project_name="mnasnet",
    )


def test_a_stock_tuner_searches_with_int8_latency_and_the_reward_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(12, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 3, size=12)
    fit = dict(x=x, y=y, validation_split=0.25, epochs=1, batch_size=6, verbose=0)
    reward = MnasNetReward(target_ms=1.0)
    tuner(tmp_path, 2, reward).search(**fit)
    resumed = tuner(tmp_path, 3, reward)
    assert len(resumed.oracle.trials) == 2
    resumed.search(**fit)
    trials = list(resumed.oracle.trials.values())
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    for trial in trials:
        latency = trial.metrics.get_last_value(LATENCY_METRIC)
        accuracy = trial.metrics.get_last_value("val_accuracy")
        assert latency > 0
        # The oracle scores each trial by the reward, not by the accuracy alone.
        assert trial.score == pytest.approx(reward.value(accuracy, latency))
    best = resumed.get_best_models(1)[0]
    assert isinstance(best, keras.Model) and isinstance(best.layers[-1], MnasNetModel)
    # Each trial's size, as the cell search's children report theirs.
    best_trial = resumed.oracle.get_best_trials(1)[0]
    assert best_trial.metrics.get_last_value("params") == best.count_params()


def test_the_latency_is_measured_once_per_block_list(monkeypatch):
    from keras_nasnet.search.spaces import mnasnet_blocks

    calls = []
    monkeypatch.setattr(
        mnasnet_blocks, "model_latency_ms", lambda model, **kw: calls.append(kw) or 2.5
    )
    space = tiny_space()
    hypermodel = tiny_hypermodel(space, latency="int8")
    blocks = space.architecture(space.hyperparameters())
    assert hypermodel.latency_ms(blocks) == 2.5
    assert hypermodel.latency_ms([str(b) for b in blocks]) == 2.5
    assert calls == [{"runs": 10, "threads": 1, "quantize": "int8"}]
    with pytest.raises(ValueError, match="latency"):
        tiny_hypermodel(space, latency="int4")


def test_a_model_litert_cannot_run_fails_its_trial_with_the_blocks_named(monkeypatch):
    from keras_nasnet.search.spaces import mnasnet_blocks

    def refuse(model, **kw):
        raise RuntimeError("Node number 65 (TfLiteXNNPackDelegate) failed to prepare.")

    monkeypatch.setattr(mnasnet_blocks, "model_latency_ms", refuse)
    space = tiny_space()
    blocks = space.architecture(space.hyperparameters())
    with pytest.raises(ValueError, match=r"int8 model of blocks \['r1_k3_s11_e1_i16_o16"):
        tiny_hypermodel(space, latency="int8").latency_ms(blocks)


def test_the_reward_orders_two_trials_as_the_formula_says():
    reward = MnasNetReward(target_ms=10.0)
    # Faster and slightly less accurate: 0.70 x 0.5^-0.07 = 0.7347 > 0.72 x 2^-0.07 = 0.6859.
    fast = {"val_accuracy": 0.70, LATENCY_METRIC: 5.0}
    slow = {"val_accuracy": 0.72, LATENCY_METRIC: 20.0}
    assert reward(fast) == pytest.approx(0.70 * 0.5**-0.07)
    assert reward(slow) == pytest.approx(0.72 * 2.0**-0.07)
    assert reward(fast) > reward(slow)
    # Under the hard constraint the slow one loses 1 / 2 of its accuracy.
    assert MnasNetReward.hard(10.0)(slow) == pytest.approx(0.36)
    assert MnasNetReward.hard(10.0)(fast) == pytest.approx(0.70)

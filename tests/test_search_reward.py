"""MnasNet's latency-aware reward, alone and driving `search.run`."""

import math

import numpy as np
import pytest

from keras_nasnet import search
from keras_nasnet.search.reward import MnasNetReward


def test_reward_follows_the_mnasnet_formula_on_both_sides_of_the_target():
    reward = MnasNetReward(10.0, alpha=-0.07, beta=-0.5)
    assert reward.value(0.8, 10.0) == pytest.approx(0.8)
    assert reward.value(0.8, 5.0) == pytest.approx(0.8 * 0.5**-0.07)  # faster: a small bonus
    assert reward.value(0.8, 20.0) == pytest.approx(0.8 * 2.0**-0.5)  # slower: beta applies
    assert reward({"val_accuracy": 0.8, "latency_ms": 20.0}) == pytest.approx(0.8 * 2.0**-0.5)


def test_hard_constraint_gives_no_bonus_under_the_target_and_falls_as_one_over_latency_past_it():
    hard = MnasNetReward.hard(4.0)
    assert (hard.alpha, hard.beta) == (0.0, -1.0)
    assert hard.value(0.9, 1.0) == pytest.approx(0.9)
    assert hard.value(0.9, 8.0) == pytest.approx(0.45)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_ms": 0}, "target_ms"),
        ({"target_ms": -1.0}, "target_ms"),
        ({"target_ms": 5, "alpha": math.nan}, "alpha"),
        ({"target_ms": 5, "beta": "x"}, "beta"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MnasNetReward(**kwargs)


def test_missing_metric_and_non_positive_latency_are_refused():
    reward = MnasNetReward(5.0)
    with pytest.raises(KeyError, match="latency_ms"):
        reward({"val_accuracy": 0.5})
    with pytest.raises(ValueError, match="latency_ms"):
        reward.value(0.5, 0.0)


def test_run_with_metrics_but_no_reward_function_is_a_usage_error():
    with pytest.raises(TypeError, match="reward"):
        search.run(
            lambda a: {"val_accuracy": 0.5, "latency_ms": 1.0},
            search.SearchSpace(num_blocks=1),
            max_trials=1,
        )


# Synthetic child: every separable conv adds accuracy and latency, as on a phone (they carry
# most of a NASNet cell's mult-adds). Accuracy alone therefore pushes towards all-sep-conv cells.
SPACE = search.SearchSpace(
    num_blocks=3, ops=("identity", "max_pool_3x3", "sep_conv_3x3", "sep_conv_5x5")
)


def sep_conv_fraction(architecture):
    ops = [
        op
        for cell in (architecture.normal, architecture.reduction)
        for block in cell.blocks
        for op in block.ops
    ]
    return sum(op.startswith("sep_conv") for op in ops) / len(ops)


def evaluate(architecture):
    fraction = sep_conv_fraction(architecture)
    return {"val_accuracy": 0.90 + 0.05 * fraction, "latency_ms": 1.0 + 9.0 * fraction}


def search_latencies(reward):
    history = search.run(
        evaluate,
        SPACE,
        "ppo",
        max_trials=32,
        seed=3,
        learning_rate=0.05,
        update_every=4,
        reward=reward,
    )
    assert all(status == "COMPLETED" for status in history.statuses)
    return np.array([m["latency_ms"] for m in history.metrics]), history


def test_a_latency_target_shifts_the_search_towards_faster_architectures():
    accuracy_only, _ = search_latencies(lambda metrics: metrics["val_accuracy"])
    with_target, history = search_latencies(MnasNetReward(2.0))
    # The metrics are recorded per trial beside the reward the controller learned from.
    assert history.rewards[5] == pytest.approx(MnasNetReward(2.0)(history.metrics[5]))
    # Same seed: the same samples until the first controller update (after 4 results).
    np.testing.assert_array_equal(accuracy_only[:4], with_target[:4])
    first, last = slice(0, 8), slice(-12, None)
    assert accuracy_only[last].mean() > accuracy_only[first].mean()
    assert with_target[last].mean() < with_target[first].mean()
    assert with_target[last].mean() < 0.5 * accuracy_only[last].mean()

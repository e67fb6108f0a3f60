import math

import numpy as np
import pytest

from keras_nasnet.validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_positive,
    check_probability,
    is_int,
)


def test_check_int_returns_plain_ints_and_accepts_numpy_integers():
    assert check_int(3, "n") == 3
    value = check_int(np.int64(5), "n", minimum=1)
    assert value == 5 and type(value) is int
    assert check_int(None, "n", allow_none=True) is None
    assert check_int(10, "n", minimum=10, maximum=10) == 10  # bounds are inclusive


@pytest.mark.parametrize(
    "value, kwargs, error, message",
    [
        (0, {"minimum": 1}, ValueError, "`max_trials` must be an int >= 1; received 0."),
        (-1, {"minimum": 1}, ValueError, "received -1"),
        (11, {"minimum": 1, "maximum": 10}, ValueError, r"an int in \[1, 10\]; received 11"),
        (11, {"maximum": 10}, ValueError, "an int <= 10"),
        (True, {}, TypeError, "must be an int; received True"),
        (3.0, {"minimum": 1}, TypeError, "received 3.0"),
        ("3", {}, TypeError, "received '3'"),
        (None, {}, TypeError, "received None"),
        (None, {"minimum": 0}, TypeError, "received None"),
    ],
)
def test_check_int_refusals_name_the_argument_value_and_range(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_int(value, "max_trials", **kwargs)


def test_check_int_mentions_none_when_allowed():
    with pytest.raises(TypeError, match="an int >= 1 or None"):
        check_int("x", "seed", minimum=1, allow_none=True)


def test_check_number_bounds_and_exclusivity():
    assert check_number(0.5, "lr", minimum=0, maximum=1) == 0.5
    assert check_number(np.float32(2.0), "x") == 2.0
    assert check_number(1, "x") == 1.0 and type(check_number(1, "x")) is float
    assert check_number(0, "x", minimum=0) == 0.0
    with pytest.raises(ValueError, match=r"`x` must be a finite number > 0; received 0"):
        check_number(0, "x", minimum=0, min_inclusive=False)
    with pytest.raises(ValueError, match=r"in \[0, 1\); received 1"):
        check_number(1, "x", minimum=0, maximum=1, max_inclusive=False)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        check_number(-0.1, "x", minimum=0, maximum=1, min_inclusive=False)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_number_refuses_non_finite_values(value):
    with pytest.raises(ValueError, match="finite"):
        check_number(value, "latency")


@pytest.mark.parametrize("value", [True, "1.0", [1.0], None, 1j])
def test_check_number_refuses_non_numbers(value):
    with pytest.raises(TypeError, match="`w` must be a finite number"):
        check_number(value, "w")


def test_check_positive_and_probability():
    assert check_positive(0.25, "timeout") == 0.25
    assert check_positive(None, "timeout", allow_none=True) is None
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="`timeout` must be a finite number > 0"):
            check_positive(bad, "timeout")
    assert check_probability(0.0, "p") == 0.0 and check_probability(1, "p") == 1.0
    with pytest.raises(ValueError, match=r"in \(0, 1\]; received 0"):
        check_probability(0, "keep_prob", allow_zero=False)
    with pytest.raises(ValueError, match="received 1.5"):
        check_probability(1.5, "p")


def test_check_bool_accepts_only_booleans():
    assert check_bool(True, "flag") is True
    assert check_bool(np.bool_(False), "flag") is False
    assert check_bool(None, "flag", allow_none=True) is None
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match="`flag` must be True or False"):
            check_bool(bad, "flag")


def test_check_choice_lists_what_is_allowed():
    assert check_choice("ppo", "algorithm", ("ppo", "random")) == "ppo"
    assert check_choice(None, "algorithm", ("ppo",), allow_none=True) is None
    with pytest.raises(ValueError, match=r"Unknown `algorithm` 'pop'; allowed: 'ppo', 'random'\."):
        check_choice("pop", "algorithm", ("ppo", "random"))
    with pytest.raises(ValueError, match=r"Unknown `algorithm` \['ppo'\]"):
        check_choice(["ppo"], "algorithm", {"ppo"})
    with pytest.raises(ValueError, match="Unknown `algorithm` None"):
        check_choice(None, "algorithm", ("ppo",))


def test_is_int_excludes_booleans_and_floats():
    assert is_int(1) and is_int(np.int8(1)) and is_int(-5)
    assert not any(is_int(v) for v in (True, np.bool_(True), 1.0, "1", None))


# -- the entry points that use these checks --------------------------------------------------


@pytest.mark.parametrize("max_trials", [0, -1, 2.0, None])
def test_max_trials_below_one_is_refused_before_any_work(max_trials, tmp_path):
    # keras-tuner reads 0 as "no limit": the search would never end.
    from keras_nasnet import search
    from keras_nasnet.search import NASOracle, SearchSpace
    from keras_nasnet.search.pipeline import search_dataset

    calls = []
    error = TypeError if max_trials in (2.0, None) else ValueError
    with pytest.raises(error, match=f"`max_trials` must be an int >= 1; received {max_trials}"):
        search.run(
            calls.append,
            SearchSpace(num_blocks=1),
            max_trials=max_trials,
            directory=str(tmp_path / "a"),
        )
    assert not calls and not (tmp_path / "a").exists()
    with pytest.raises(error, match="`max_trials`"):
        NASOracle(SearchSpace(num_blocks=1), max_trials=max_trials)
    with pytest.raises(error, match="`max_trials`"):
        search_dataset("fashion_mnist_sample", str(tmp_path / "b"), max_trials=max_trials)


@pytest.mark.parametrize("value", ["0.9", math.nan, 0, 1.5])
def test_training_settings_refuse_a_bad_keep_probability_by_name(value):
    from keras_nasnet.training import TrainingSettings

    with pytest.raises(
        (TypeError, ValueError), match="`drop_path_keep_prob` must be a finite number in"
    ):
        TrainingSettings(drop_path_keep_prob=value)

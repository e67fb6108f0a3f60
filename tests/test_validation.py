import math

import numpy as np
import pytest

from keras_nasnet.validation import (
    ArgumentTypeError,
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


def test_check_int_with_an_exclusive_maximum():
    assert check_int(11, "cell_index", minimum=0, maximum=12, max_inclusive=False) == 11
    with pytest.raises(ValueError, match=r"`cell_index` must be an int in \[0, 12\); received 12"):
        check_int(12, "cell_index", minimum=0, maximum=12, max_inclusive=False)
    with pytest.raises(ValueError, match="an int < 3; received 3"):
        check_int(3, "n", maximum=3, max_inclusive=False)


def test_a_wrong_type_is_caught_as_type_error_and_as_value_error():
    # The hand-written checks these replace raised ValueError for a wrong type: callers that
    # catch ValueError must keep catching it.
    for check, bad in ((check_int, "3"), (check_number, "0.5"), (check_bool, 1)):
        with pytest.raises(ArgumentTypeError) as caught:
            check(bad, "x")
        assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    with pytest.raises(ValueError) as caught:  # out of range: a ValueError only
        check_int(0, "x", minimum=1)
    assert not isinstance(caught.value, TypeError)


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


def _drop_path(**changes):
    from keras_nasnet.layers import ScheduledDropPath

    arguments = dict(
        drop_path_keep_prob=0.9, cell_index=0, total_num_cells=4, total_training_steps=10
    )
    return ScheduledDropPath(**{**arguments, **changes})


def _policy_learner(**changes):
    from keras_nasnet.search import SearchSpace
    from keras_nasnet.search.controller import Controller
    from keras_nasnet.search.policy import PolicyLearner

    return PolicyLearner(Controller(SearchSpace(num_blocks=1), units=4), **changes)


def _evolution(**changes):
    from keras_nasnet.search import SearchSpace
    from keras_nasnet.search.evolution import RegularizedEvolution

    return RegularizedEvolution(SearchSpace(num_blocks=1), **changes)


def _reward(**changes):
    from keras_nasnet.search.reward import MnasNetReward

    return MnasNetReward(**{"target_ms": 10.0, **changes})


@pytest.mark.parametrize(
    "build, changes, message",
    [
        (_drop_path, {"cell_index": 4}, r"`cell_index` must be an int in \[0, 4\); received 4"),
        (_drop_path, {"drop_path_keep_prob": 0}, r"`drop_path_keep_prob` .* in \(0, 1\]"),
        (_drop_path, {"total_training_steps": True}, "`total_training_steps` must be an int >= 1"),
        (_policy_learner, {"learning_rate": "0.1"}, "`learning_rate` must be a finite number > 0"),
        (_policy_learner, {"clip_epsilon": 1.0}, r"`clip_epsilon` .* in \(0, 1\); received 1.0"),
        (_policy_learner, {"ppo_epochs": 0}, "`ppo_epochs` must be an int >= 1; received 0"),
        (_policy_learner, {"algorithm": "a2c"}, "Unknown `algorithm` 'a2c'"),
        (_evolution, {"identity_probability": 1}, r"`identity_probability` .* in \[0, 1\)"),
        (_evolution, {"population_size": 2.0}, "`population_size` must be an int >= 1"),
        (_reward, {"target_ms": 0}, "`target_ms` must be a finite number > 0; received 0"),
        (_reward, {"alpha": math.nan}, "`alpha` must be a finite number; received nan"),
    ],
)
def test_entry_points_refuse_by_name_with_value_error(build, changes, message):
    # ValueError for every refusal, as these entry points raised before the checks were shared.
    with pytest.raises(ValueError, match=message):
        build(**changes)


def test_numpy_integers_are_accepted_and_stored_as_plain_ints():
    import json

    from keras_nasnet.genotypes import Block, Genotype

    block = Block(inputs=(np.int64(0), np.int32(1)), ops=("identity", "identity"))
    genotype = Genotype(blocks=(block,), num_inputs=np.int64(2), output=(np.int64(2),))
    assert json.loads(json.dumps(genotype.to_dict())) == genotype.to_dict()
    assert type(genotype.num_inputs) is int and all(type(i) is int for i in block.inputs)
    layer = _drop_path(cell_index=np.int64(3))
    assert type(layer.get_config()["cell_index"]) is int

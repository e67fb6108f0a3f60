"""Proxies inside the search (`evaluation="proxy:NAME"`, `prefilter=K`) and `max_time`."""

import json
import os

import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.search import proxies, run
from keras_nasnet.search.clock import parse_duration
from keras_nasnet.search.evaluation import (
    Evaluation,
    ProxyScorer,
    parse_evaluation,
    rank_reward,
)
from keras_nasnet.search.files import PROJECT_NAME, STATE_FILE
from keras_nasnet.search.oracles import NASOracle
from keras_nasnet.search.run import RUN_TUNER_ID, open_project
from keras_nasnet.search.space import SearchSpace
from keras_nasnet.training import TrainingSettings

TINY = TrainingSettings(num_blocks=1, filters=4)
SPACE = SearchSpace(ops=("identity", "sep_conv_3x3", "max_pool_3x3"), num_blocks=2)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(8, 8, 8, 1), dtype=np.uint8)
    return images, np.arange(8) % 4


def _saved_state(directory) -> dict:
    with open(os.path.join(directory, PROJECT_NAME, STATE_FILE), encoding="utf-8") as f:
        return json.load(f)


# -- the evaluation argument -----------------------------------------------------------------


def test_evaluation_values_parse_and_unknown_ones_are_refused_with_the_allowed_list():
    assert parse_evaluation("train") == Evaluation("train")
    assert parse_evaluation("proxy:naswot") == Evaluation("proxy", "naswot")
    assert str(parse_evaluation("proxy:synflow")) == "proxy:synflow"
    assert parse_evaluation("shared") == Evaluation("shared")
    for bad in ("sharing", "shared:4", "proxy", "proxy:", "proxy:accuracy", "train:5", "TRAIN"):
        with pytest.raises(ValueError, match="train") as error:
            parse_evaluation(bad)
        assert repr(bad) in str(error.value) or bad in str(error.value)
    with pytest.raises(ValueError, match="allowed: train, proxy:NAME, shared"):
        parse_evaluation("enas")
    with pytest.raises(TypeError, match="evaluation"):
        parse_evaluation(3)
    with pytest.raises(ValueError, match="allowed"):
        run(lambda a: 1.0, space=SPACE, max_trials=1, evaluation="bogus")
    with pytest.raises(ValueError, match="allowed"):
        NASOracle(space=SPACE, evaluation="proxy:nope:x")


def test_the_cli_refuses_an_unknown_evaluation_and_a_bad_max_time(capsys):
    for flag, value, message in (
        ("--evaluation", "enas", "allowed: train, proxy:NAME, shared"),
        ("--max-time", "10 minutes", "such as 600, 90s, 10m"),
        ("--max-time", "0", "positive"),
        ("--prefilter", "0", "--prefilter"),
    ):
        with pytest.raises(SystemExit) as exited:
            cli.main(["search", "--dataset", "d", "--directory", "x", flag, value])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err


def test_durations_parse_as_people_write_them():
    assert parse_duration(600) == 600.0
    assert parse_duration("600") == 600.0
    assert parse_duration("90s") == 90.0
    assert parse_duration("10m") == 600.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_duration("2D") == 172800.0
    assert parse_duration(None) is None
    for bad in ("", "-5", "5 min", "1h30m", 0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_time"):
            parse_duration(bad)
    with pytest.raises(TypeError, match="max_time"):
        parse_duration(True)


def test_rank_rewards_are_mid_ranks_among_the_earlier_ones():
    assert rank_reward(1e20, []) == 0.5
    assert rank_reward(5.0, [1.0, 2.0, 9.0, 10.0]) == 0.5
    assert rank_reward(11.0, [1.0, 2.0]) == 1.0
    assert rank_reward(0.0, [1.0, 2.0]) == 0.0
    assert rank_reward(2.0, [1.0, 2.0]) == 0.75


# -- proxy evaluation ------------------------------------------------------------------------


def test_a_proxy_evaluated_search_runs_in_seconds_and_its_best_has_the_highest_proxy(
    tmp_path, batch
):
    history = run(
        None,
        space=SPACE,
        algorithm="ppo",
        max_trials=15,
        directory=str(tmp_path),
        evaluation="proxy:params",
        proxy_batch=batch,
        proxy_settings=TINY,
        update_every=5,
    )
    assert len(history) == 15 and set(history.statuses) == {"COMPLETED"}
    best, best_reward = history.best()
    assert best_reward == max(history.rewards)
    images, labels = batch
    expected = proxies.params(best, images, labels, settings=TINY)
    assert best_reward == expected and expected > 100  # the raw score, not a rank
    state = _saved_state(tmp_path)
    assert state["evaluation"] == "proxy:params"
    # The controller learned from ranks in [0, 1], not from parameter counts.
    assert len(state["updates"]) == 3
    assert all(0.0 <= u["mean_reward"] <= 1.0 for u in state["updates"])
    with pytest.raises(ValueError, match="evaluated by 'proxy:params'"):
        run(lambda a: 1.0, space=SPACE, max_trials=16, directory=str(tmp_path))


def test_proxy_evaluation_takes_no_evaluate_and_needs_a_minibatch(batch):
    with pytest.raises(ValueError, match="evaluate=None"):
        run(lambda a: 1.0, space=SPACE, max_trials=1, evaluation="proxy:params", proxy_batch=batch)
    with pytest.raises(ValueError, match="proxy_batch"):
        run(None, space=SPACE, max_trials=1, evaluation="proxy:params")


def test_proxy_scorer_is_deterministic_and_ranks_non_finite_scores_last(batch):
    images, labels = batch
    architecture = SPACE.decode(SPACE.sample_uniform(np.random.default_rng(1)))
    scorer = ProxyScorer("naswot", images, labels, classes=4, settings=TINY, seed=3)
    assert scorer(architecture) == scorer(architecture)
    assert ProxyScorer(lambda *a, **k: float("nan"), images, labels)(architecture) == -np.inf
    with pytest.raises(ValueError, match="Unknown proxy"):
        ProxyScorer("accuracy", images, labels)


# -- prefilter -------------------------------------------------------------------------------


class FakeProxy:
    """Scores an architecture by the sum of its decision indices; remembers every call."""

    def __init__(self, space):
        self.space, self.calls = space, []

    def __call__(self, architecture):
        actions = self.space.encode(architecture)
        self.calls.append(list(actions))
        return float(sum(actions))


def _prefiltered_search(directory, algorithm, k, max_trials, **kwargs):
    proxy, trained = FakeProxy(SPACE), []

    def evaluate(architecture):
        trained.append(list(SPACE.encode(architecture)))
        return float(sum(a * (i % 3) for i, a in enumerate(trained[-1])))  # not the proxy

    oracle = NASOracle(
        space=SPACE,
        algorithm=algorithm,
        objective=run_objective(),
        max_trials=max_trials,
        prefilter=k,
        prefilter_score=proxy,
        **kwargs,
    )
    oracle.verbose = 0
    open_project(oracle, str(directory), overwrite=False)
    while True:
        trial = oracle.create_trial(RUN_TUNER_ID)
        if trial.status != "RUNNING":
            break
        from keras_nasnet.search.run import _evaluate_trial

        _evaluate_trial(oracle, trial, evaluate)
        oracle.end_trial(trial)
    return oracle, proxy, trained


def run_objective():
    import keras_tuner

    return keras_tuner.Objective("reward", direction="max")


@pytest.mark.parametrize("algorithm", ["random", "evolution", "ppo"])
def test_prefilter_trains_one_child_per_trial_the_proxy_best_of_k(tmp_path, algorithm):
    extra = {"population_size": 3, "tournament_size": 2} if algorithm == "evolution" else {}
    if algorithm == "ppo":
        extra["update_every"] = 100  # no update: the policy that sampled is the one checked
    oracle, proxy, trained = _prefiltered_search(tmp_path, algorithm, 4, 8, **extra)
    assert len(trained) == 8 and len(proxy.calls) == 32
    for i, actions in enumerate(trained):
        candidates = proxy.calls[4 * i : 4 * i + 4]
        best = max(range(4), key=lambda j: (sum(candidates[j]), -j))
        assert actions == candidates[best]
    if algorithm == "evolution":  # the population holds the trained children
        population = [m["actions"] for m in oracle.evolution.population]
        assert population == trained[-3:]
    if algorithm == "ppo":  # the learner holds each trained child with its own log-prob
        import tensorflow as tf

        buffer = oracle.learner.buffer
        assert [r["actions"] for r in buffer] == trained
        log_prob, _ = oracle.controller.log_prob_and_entropy(
            tf.constant([r["actions"] for r in buffer], dtype="int32")
        )
        np.testing.assert_allclose(log_prob.numpy(), [r["log_prob"] for r in buffer], atol=1e-4)


def test_a_prefiltered_search_is_deterministic_and_resumes_as_if_never_stopped(tmp_path):
    settings = {"population_size": 3, "tournament_size": 2}
    _, _, whole = _prefiltered_search(tmp_path / "whole", "evolution", 3, 10, **settings)
    _prefiltered_search(tmp_path / "split", "evolution", 3, 4, **settings)
    oracle, _, rest = _prefiltered_search(tmp_path / "split", "evolution", 3, 10, **settings)
    assert len(rest) == 6 and whole[4:] == rest
    _, _, again = _prefiltered_search(tmp_path / "again", "evolution", 3, 10, **settings)
    assert again == whole


def test_prefilter_needs_a_score_and_a_positive_k():
    with pytest.raises(ValueError, match="prefilter_score"):
        NASOracle(space=SPACE, prefilter=3)
    with pytest.raises(ValueError, match="prefilter"):
        NASOracle(space=SPACE, prefilter=0, prefilter_score=len)


def test_prefilter_by_a_named_proxy_through_run(tmp_path, batch):
    trained = []
    history = run(
        lambda a: trained.append(a) or 0.5,
        space=SPACE,
        algorithm="random",
        max_trials=3,
        prefilter=2,
        prefilter_proxy="params",
        proxy_batch=batch,
        proxy_settings=TINY,
    )
    assert len(history) == 3 and len(trained) == 3


# -- max_time --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_max_time_stops_new_trials_and_a_larger_budget_resumes(tmp_path):
    clock = FakeClock()

    def evaluate(architecture):
        clock.now += 10.0  # each trial takes 10 s
        return 1.0

    first = run(
        evaluate,
        space=SPACE,
        algorithm="random",
        max_trials=100,
        directory=str(tmp_path),
        max_time=35,
        clock=clock,
    )
    # Trials start at 0, 10, 20 and 30 s; the one started at 30 s finishes past the budget.
    assert len(first) == 4 and set(first.statuses) == {"COMPLETED"}
    assert _saved_state(tmp_path)["elapsed_seconds"] == pytest.approx(40.0)
    clock.now += 5000.0  # time between runs does not count
    second = run(
        evaluate,
        space=SPACE,
        algorithm="random",
        max_trials=100,
        directory=str(tmp_path),
        max_time="75s",
        clock=clock,
    )
    assert len(second) == 8 and second.architectures[:4] == first.architectures
    assert _saved_state(tmp_path)["elapsed_seconds"] == pytest.approx(80.0)
    again = run(
        evaluate,
        space=SPACE,
        algorithm="random",
        max_trials=100,
        directory=str(tmp_path),
        max_time="75s",
        clock=clock,
    )
    assert len(again) == 8  # the same budget again: nothing new starts


def test_behind_a_chief_max_time_stops_handing_out_trials_and_the_search_finishes(tmp_path):
    clock = FakeClock()
    oracle = NASOracle(
        space=SPACE,
        algorithm="random",
        objective=run_objective(),
        max_trials=100,
        max_time=60,
        clock=clock,
    )
    oracle.verbose = 0
    open_project(oracle, str(tmp_path), overwrite=False)
    first = oracle.create_trial("worker-1")
    second = oracle.create_trial("worker-2")
    assert first.status == second.status == "RUNNING"
    clock.now += 61.0
    assert oracle.create_trial("worker-3").status == "STOPPED"
    assert not oracle.search_finished()  # two trials still run
    for trial, worker in ((first, "worker-1"), (second, "worker-2")):
        oracle.update_trial(trial.trial_id, {"reward": 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        assert oracle.create_trial(worker).status == "STOPPED"
    assert oracle.search_finished() and len(oracle.trials) == 2


# -- the dataset pipeline and the CLI --------------------------------------------------------

SAMPLE_FLAGS = [
    "--dataset",
    "fashion_mnist_sample",
    "--cell-blocks",
    "2",
    "--ops",
    "identity,sep_conv_3x3,max_pool_3x3",
    "--validation-size",
    "500",
    "--blocks",
    "1",
    "--filters",
    "4",
    "--no-final",
]


def test_the_search_command_evaluates_by_proxy_and_reports_it(tmp_path, capsys):
    argv = ["search", "--directory", str(tmp_path), "--max-trials", "3"] + SAMPLE_FLAGS
    assert cli.main(argv + ["--evaluation", "proxy:params", "--algorithm", "random"]) == 0
    out = capsys.readouterr().out
    assert "scored untrained by params" in out
    with open(tmp_path / "report.md", encoding="utf-8") as f:
        report = f.read()
    assert "evaluation: proxy:params" in report
    assert _saved_state(tmp_path)["evaluation"] == "proxy:params"
    assert os.path.exists(tmp_path / "best_architecture.json")


def test_search_dataset_stops_at_max_time_then_resumes_with_more(tmp_path, monkeypatch, capsys):
    from keras_nasnet.search import evaluation
    from keras_nasnet.search.pipeline import search_dataset

    clock, score = FakeClock(), evaluation.ProxyScorer.__call__

    def slow_score(self, architecture):
        clock.now += 10.0  # each proxy score takes 10 s of the fake clock
        return score(self, architecture)

    monkeypatch.setattr(evaluation.ProxyScorer, "__call__", slow_score)
    kwargs = dict(
        dataset="fashion_mnist_sample",
        directory=str(tmp_path),
        max_trials=50,
        algorithm="evolution",
        space=SPACE,
        child=TINY,
        final=None,
        validation_size=500,
        evaluation="proxy:params",
        prefilter=2,
        prefilter_proxy="params",
        clock=clock,
    )
    first = search_dataset(max_time=35, **kwargs)
    # Each trial scores its 2 proposals, then the chosen one (the same proxy scores it again).
    assert len(first.history) == 2
    assert "time budget of 35 s spent" in capsys.readouterr().out
    second = search_dataset(max_time="95s", **kwargs)
    assert len(second.history) == 4
    assert second.history.architectures[:2] == first.history.architectures


def test_the_cli_gives_evolutions_population_and_tournament_to_the_oracle(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(tmp_path)  # the command holds its relative --directory there
    from keras_nasnet.search import pipeline

    received = {}
    monkeypatch.setattr(pipeline, "search_dataset", lambda *a, **kwargs: received.update(kwargs))
    base = ["search", "--dataset", "d", "--directory", "x", "--algorithm", "evolution"]
    given = ["--population-size", "4", "--tournament-size", "2"]
    assert cli.main(base + given + ["--update-every", "3", "--controller-lr", "0.01"]) == 0
    assert (received["population_size"], received["tournament_size"]) == (4, 2)
    assert (received["update_every"], received["learning_rate"]) == (3, 0.01)
    received.clear()
    assert cli.main(base) == 0
    unset = ("population_size", "tournament_size", "update_every", "learning_rate")
    assert not set(unset) & set(received)  # the preset's
    with pytest.raises(SystemExit) as exited:
        cli.main(base + ["--population-size", "0"])
    assert exited.value.code == 2 and "--population-size" in capsys.readouterr().err

"""Multi-fidelity search: the successive halving / Hyperband schedule by hand, the oracle's walk
of it (promotions, failures, minimized objectives, resume after a kill), promoted trials that
continue their parent's training under keras-tuner, and the worth of successive halving on a
synthetic landscape whose low fidelities are noisy versions of the high one."""

import json
import shutil

import keras
import keras_tuner
import numpy as np
import pytest
from keras_tuner.engine.trial import TrialStatus

from keras_nasnet import compat
from keras_nasnet.search.evaluators.fidelities import hyperband, max_halvings, successive_halving
from keras_nasnet.search.oracles import MultiFidelityTuner, RandomOracle, SuccessiveHalvingOracle
from keras_nasnet.search.oracles.multi_fidelity import (
    BRACKET,
    EPOCHS,
    INITIAL_EPOCH,
    PARENT_TRIAL,
    ROUND,
)

# -- the schedule ---------------------------------------------------------------------------


def rows(schedule):
    return [[(r.candidates, r.fidelity, r.promoted) for r in b.rungs] for b in schedule.brackets]


def test_hyperband_with_max_27_and_eta_3_by_hand():
    # s_max = 3; bracket s: n = ceil(4 / (s + 1) * 3^s), rung i: n // 3^i at 27 / 3^(s - i).
    schedule = hyperband(1, 27, eta=3)
    assert rows(schedule) == [
        [(27, 1, 9), (9, 3, 3), (3, 9, 1), (1, 27, 0)],
        [(12, 3, 4), (4, 9, 1), (1, 27, 0)],
        [(6, 9, 2), (2, 27, 0)],
        [(4, 27, 0)],
    ]
    assert [b.halvings for b in schedule.brackets] == [3, 2, 1, 0]
    # Continued: 27*1 + 9*(3-1) + 3*(9-3) + 1*(27-9) = 81; from scratch: 27 + 27 + 27 + 27.
    assert [b.cost() for b in schedule.brackets] == [81, 78, 90, 108]
    assert [b.cost(continued=False) for b in schedule.brackets] == [108, 99, 108, 108]
    assert schedule.cost() == 357 and schedule.trials == 69 and schedule.new_candidates == 49
    assert schedule.table().splitlines()[1] == "s=2: 12@3 -> 4@9 -> 1@27 (cost 78)"


def test_hyperband_with_max_81_is_the_papers_table():
    # Li et al. 2018, Table 1 (R = 81, eta = 3).
    schedule = hyperband(1, 81, eta=3)
    counts = [[r.candidates for r in b.rungs] for b in schedule.brackets]
    fidelities = [[r.fidelity for r in b.rungs] for b in schedule.brackets]
    assert counts == [[81, 27, 9, 3, 1], [34, 11, 3, 1], [15, 5, 1], [8, 2], [5]]
    assert fidelities == [[1, 3, 9, 27, 81], [3, 9, 27, 81], [9, 27, 81], [27, 81], [81]]
    assert rows(hyperband(1, 81, 3, brackets=2)) == rows(schedule)[:2]


def test_successive_halving_and_fidelities_that_are_not_powers_of_eta():
    assert rows(successive_halving(1, 16, eta=2)) == [
        [(16, 1, 8), (8, 2, 4), (4, 4, 2), (2, 8, 1), (1, 16, 0)]
    ]
    assert successive_halving(1, 16, eta=2).cost() == 16 + 8 + 8 + 8 + 8
    assert rows(successive_halving(1, 27, 3)) == rows(hyperband(1, 27, 3, brackets=1))
    # Fewer candidates than eta^s_max: later rungs keep one.
    assert rows(successive_halving(1, 27, 3, candidates=10)) == [
        [(10, 1, 3), (3, 3, 1), (1, 9, 1), (1, 27, 0)]
    ]
    # 100 / 3^k rounded half up: 3.7 -> 4, 11.1 -> 11, 33.3 -> 33; min 2 allows s_max = 3.
    assert max_halvings(2, 100, 3) == 3
    assert [r.fidelity for r in hyperband(2, 100, 3).brackets[0].rungs] == [4, 11, 33, 100]
    # 9 / 2^k: 1.125 -> 1, 2.25 -> 2, 4.5 -> 5 (half up), 9.
    assert [r.fidelity for r in hyperband(1, 9, 2).brackets[0].rungs] == [1, 2, 5, 9]
    # 16 / 3 = 5.3 rounds to 5, the minimum itself.
    assert [r.fidelity for r in hyperband(5, 16, 3).brackets[0].rungs] == [5, 16]
    assert rows(hyperband(4, 4)) == [[(1, 4, 0)]]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: hyperband(0, 27), ValueError, "min_fidelity"),
        (lambda: hyperband(5, 4), ValueError, r"`max_fidelity` \(4\) must be at least"),
        (lambda: hyperband(1, 27, eta=1), ValueError, "`eta` must be an int >= 2"),
        (
            lambda: hyperband(1, 27, brackets=5),
            ValueError,
            r"`brackets` must be an int in \[1, 4\]",
        ),
        (lambda: hyperband(1.0, 27), TypeError, "min_fidelity"),
        (lambda: successive_halving(1, 27, candidates=0), ValueError, "candidates"),
    ],
)
def test_bad_schedules_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- the oracle, driven directly ------------------------------------------------------------


def categorical_space(decisions=4, choices=4):
    hp = keras_tuner.HyperParameters()
    for i in range(decisions):
        hp.Choice(f"d{i}", list(range(choices)))
    return hp


def total(values):
    return float(sum(v for k, v in values.items() if k.startswith("d")))


def drive(oracle, evaluate, directory=None, metric="score", stop_after=None) -> list:
    """Runs `oracle` with `evaluate(values) -> float | None` (None: the trial fails) until it
    stops, or `stop_after` trials; returns [(trial_id, values)] in the order they ran."""
    if directory is not None:
        compat.set_project_dir(oracle, str(directory), "search")
    oracle.verbose = 0  # keras-tuner's table of every trial
    ran = []
    while stop_after is None or len(ran) < stop_after:
        trial = oracle.create_trial("tuner0")
        if trial.status != TrialStatus.RUNNING:
            assert trial.status == TrialStatus.STOPPED
            break
        values = dict(trial.hyperparameters.values)
        ran.append((trial.trial_id, values))
        value = evaluate(values)
        if value is None:
            trial.status = TrialStatus.FAILED
        else:
            oracle.update_trial(trial.trial_id, {metric: value})
            trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return ran


def oracle_for(proposer="evolution", objective=("score", "max"), **kwargs):
    kwargs.setdefault("hyperparameters", categorical_space())
    kwargs.setdefault("seed", 3)
    return SuccessiveHalvingOracle(
        proposer=proposer, objective=keras_tuner.Objective(*objective), **kwargs
    )


def by_round(ran) -> dict:
    found = {}
    for trial_id, values in ran:
        found.setdefault((values[BRACKET], values[ROUND]), []).append((trial_id, values))
    return found


def test_successive_halving_promotes_the_best_and_continues_them(tmp_path):
    oracle = oracle_for(min_fidelity=1, max_fidelity=9, eta=3)
    ran = drive(oracle, total, tmp_path)
    rungs = by_round(ran)
    assert [len(rungs[(2, i)]) for i in range(3)] == [9, 3, 1] and len(ran) == 13
    score = {trial_id: total(values) for trial_id, values in ran}
    for rung, (fidelity, before) in enumerate([(1, 0), (3, 1), (9, 3)]):
        for _, values in rungs[(2, rung)]:
            assert (values[EPOCHS], values[INITIAL_EPOCH]) == (fidelity, before)
            assert (PARENT_TRIAL in values) == (rung > 0)
    for rung in (1, 2):
        below = [t for t, _ in rungs[(2, rung - 1)]]
        best = sorted(below, key=lambda t: (-score[t], below.index(t)))[: len(rungs[(2, rung)])]
        parents = [values[PARENT_TRIAL] for _, values in rungs[(2, rung)]]
        assert sorted(parents) == sorted(best)
        for parent, (_, values) in zip(parents, rungs[(2, rung)]):
            decisions = {k: v for k, v in values.items() if not k.startswith("tuner/")}
            assert decisions == {k: v for k, v in dict(ran)[parent].items() if k in decisions}
    # The proposer was told about the 9 new candidates only, as mid-ranks within rung 0.
    assert set(oracle.learned) == {t for t, _ in rungs[(2, 0)]}
    assert oracle.learned[rungs[(2, 0)][0][0]] == 0.5
    assert oracle.proposer.num_added == 9
    # The best is the candidate that reached fidelity 9, whatever the lower rungs scored.
    final = rungs[(2, 2)][0][0]
    assert oracle.get_best_trials(1)[0].trial_id == final
    best = oracle.candidates()[0]
    assert (
        best["fidelity"] == 9 and best["result_trial_id"] == final and len(best["trial_ids"]) == 3
    )
    assert oracle.schedule_finished()


def test_hyperband_runs_every_bracket_as_scheduled(tmp_path):
    oracle = oracle_for(proposer="random", min_fidelity=1, max_fidelity=9, eta=3, brackets=None)
    ran = drive(oracle, total, tmp_path)
    rungs = by_round(ran)
    for bracket in oracle.schedule.brackets:
        for i, rung in enumerate(bracket.rungs):
            trials = rungs[(bracket.halvings, i)]
            assert len(trials) == rung.candidates, (bracket.halvings, i)
            assert {v[EPOCHS] for _, v in trials} == {rung.fidelity}
    assert len(ran) == oracle.schedule.trials == 9 + 3 + 1 + 5 + 1 + 3
    # Each bracket's first rung is ranked among its own fidelity's first-rung results.
    assert {k: len(v) for k, v in oracle.first_rung_rewards.items()} == {"1": 9, "3": 5, "9": 3}


def promoted_are_the_best(ran, bracket):
    """Asserts each rung > 0 of `bracket` holds the best of the rung below, by `total`."""
    rungs = by_round(ran)
    for rung in range(1, bracket + 1):
        below = [t for t, _ in rungs[(bracket, rung - 1)]]
        score = {t: total(v) for t, v in rungs[(bracket, rung - 1)]}
        best = sorted(below, key=lambda t: (-score[t], below.index(t)))[
            : len(rungs[(bracket, rung)])
        ]
        assert sorted(v[PARENT_TRIAL] for _, v in rungs[(bracket, rung)]) == sorted(best)


def test_parallel_workers_promote_what_synchronous_halving_would(tmp_path):
    # Three workers; the trial started last ends first, so results arrive out of order and a
    # worker must sometimes wait (IDLE) for a result that decides a promotion.
    oracle = oracle_for(proposer="random", min_fidelity=1, max_fidelity=9, eta=3)
    compat.set_project_dir(oracle, str(tmp_path), "search")
    oracle.verbose = 0
    running, stopped, ran, statuses, early = {}, set(), [], [], []
    while True:
        for worker in ("w0", "w1", "w2"):
            if worker in running or worker in stopped:
                continue
            trial = oracle.create_trial(worker)
            statuses.append(trial.status)
            if trial.status == TrialStatus.RUNNING:
                values = dict(trial.hyperparameters.values)
                if values[ROUND] > 0:  # was a trial of the rung below still running?
                    below = [o.hyperparameters.values[ROUND] for o in running.values()]
                    early.append(values[ROUND] - 1 in below)
                running[worker] = trial
                ran.append((trial.trial_id, values))
            elif trial.status == TrialStatus.STOPPED:
                stopped.add(worker)
        if not running:
            break
        trial = running.pop(max(running, key=lambda w: running[w].trial_id))
        oracle.update_trial(trial.trial_id, {"score": total(trial.hyperparameters.values)})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    assert len(ran) == 13 and stopped == {"w0", "w1", "w2"}
    assert TrialStatus.IDLE in statuses
    promoted_are_the_best(ran, bracket=2)
    # Some promotions did not wait for their whole rung.
    assert any(early), early
    assert oracle.schedule_finished()


def test_a_minimized_objective_promotes_the_lowest(tmp_path):
    oracle = oracle_for(objective=("loss", "min"), min_fidelity=1, max_fidelity=3, eta=3)
    ran = drive(oracle, total, tmp_path, metric="loss")
    rungs = by_round(ran)
    lowest = min(rungs[(1, 0)], key=lambda item: total(item[1]))[0]
    assert [v[PARENT_TRIAL] for _, v in rungs[(1, 1)]] == [lowest]
    assert oracle.rewards[lowest] == -total(dict(ran)[lowest])
    assert oracle.get_best_trials(1)[0].hyperparameters.values[EPOCHS] == 3


def test_failed_candidates_are_never_promoted_nor_learned_from(tmp_path):
    # The best values (d0 = 3) fail; the rung promotes the best of the others.
    def evaluate(values):
        return None if values["d0"] == 3 else total(values)

    oracle = oracle_for(
        min_fidelity=1, max_fidelity=9, eta=3, iterations=2, max_consecutive_failed_trials=20
    )
    ran = drive(oracle, evaluate, tmp_path)
    failed = {t for t, v in ran if v["d0"] == 3}
    assert failed, "no candidate drew d0 = 3"
    assert all(v.get(PARENT_TRIAL) not in failed for _, v in ran)
    assert all(oracle.rewards[t] is None and t not in oracle.learned for t in failed)
    assert len(oracle.learned) == 18 - len(failed)
    assert oracle.proposer.num_added == 18 - len(failed)
    assert oracle.schedule_finished()


def test_bad_oracle_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="Unknown `proposer` .bayes."):
        oracle_for(proposer="bayes")
    with pytest.raises(ValueError, match=r"unknown keys \['population'\]"):
        oracle_for(proposer_settings={"population": 4})
    with pytest.raises(ValueError, match="must bound the search"):
        oracle_for(iterations=None)
    with pytest.raises(ValueError, match="max_fidelity"):
        oracle_for(min_fidelity=9, max_fidelity=3)


@pytest.mark.parametrize("proposer", ["evolution", pytest.param("ppo", marks=pytest.mark.slow)])
def test_a_resumed_search_never_retrains_a_finished_rung(tmp_path, proposer):
    settings = {"update_every": 2} if proposer == "ppo" else {"population_size": 4}

    def make():
        return oracle_for(
            proposer=proposer,
            min_fidelity=1,
            max_fidelity=9,
            eta=3,
            iterations=2,
            proposer_settings=settings,
        )

    reference = make()
    whole = drive(reference, total, tmp_path / "whole")
    assert len(whole) == 26
    first = make()
    before = drive(first, total, tmp_path / "resumed", stop_after=11)
    killed = first.create_trial("tuner0")  # running when the process dies
    assert killed.status == TrialStatus.RUNNING
    resumed = make()
    compat.set_project_dir(resumed, str(tmp_path / "resumed"), "search")
    resumed.reload()
    after = drive(resumed, total)
    ended = {t for t, _ in before}
    assert not ended & {t for t, _ in after}  # no finished trial is trained again
    assert after[0] == (killed.trial_id, dict(killed.hyperparameters.values))
    assert before + after == whole  # as if never stopped: same candidates, same promotions
    assert resumed.learned == reference.learned


def test_a_promotion_saved_before_oracle_json_runs_as_promoted_after_a_kill(tmp_path):
    # Killed inside create_trial after nas_state.json held the promotion, before oracle.json.
    oracle = oracle_for(min_fidelity=1, max_fidelity=3, eta=3)
    before = drive(oracle, total, tmp_path, stop_after=3)  # rung 0: 3 candidates
    project = tmp_path / "search"
    shutil.copy(project / "oracle.json", tmp_path / "oracle.json")
    promoted = oracle.create_trial("tuner0")
    assert promoted.hyperparameters.values[PARENT_TRIAL] in dict(before)
    shutil.copy(tmp_path / "oracle.json", project / "oracle.json")
    resumed = oracle_for(min_fidelity=1, max_fidelity=3, eta=3)
    compat.set_project_dir(resumed, str(tmp_path), "search")
    resumed.reload()
    after = drive(resumed, total)
    assert after == [(promoted.trial_id, dict(promoted.hyperparameters.values))]
    assert resumed.schedule_finished()


def test_a_resume_with_another_schedule_or_proposer_is_refused(tmp_path):
    drive(oracle_for(min_fidelity=1, max_fidelity=3), total, tmp_path, stop_after=2)
    other = oracle_for(min_fidelity=1, max_fidelity=9)
    compat.set_project_dir(other, str(tmp_path), "search")
    with pytest.raises(ValueError, match="fidelity schedule"):
        other.reload()
    other = oracle_for(proposer="random", min_fidelity=1, max_fidelity=3)
    compat.set_project_dir(other, str(tmp_path), "search")
    with pytest.raises(ValueError, match="'successive-halving/evolution' search"):
        other.reload()
    state = json.load(open(tmp_path / "search" / "nas_state.json"))
    assert [len(r) for r in state["multi_fidelity"]["brackets"][0]["rungs"]] == [2, 0]


# -- keras-tuner: promoted trials continue training -----------------------------------------


class StepCounter(keras.layers.Layer):
    """Counts the training batches it has seen, in a weight that checkpoints carry."""

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="n")

    def call(self, inputs, training=False):
        if training:
            self.count.assign_add(1.0)
        return inputs


class CountingHyperModel(keras_tuner.HyperModel):
    """A tiny model whose score is its width; records each trial's start and end counts."""

    def __init__(self):
        super().__init__()
        self.runs = []

    def build(self, hp):
        units = hp.Choice("units", [1, 2, 3, 4])
        inputs = keras.Input((2,))
        hidden = keras.layers.Dense(units)(StepCounter(name="counter")(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile("sgd", "mse")
        return model

    def fit(self, hp, model, *args, **kwargs):
        counter = model.get_layer("counter").count
        start = float(counter.numpy())
        model.fit(*args, **kwargs)
        self.runs.append(
            {
                "values": dict(hp.values),
                "start": start,
                "end": float(counter.numpy()),
                "epochs": kwargs["epochs"],
                "initial_epoch": kwargs.get("initial_epoch", 0),
            }
        )
        # Not a Keras log: keras-tuner then saves the checkpoint after every epoch.
        return {"score": float(hp["units"])}


def counting_search(tmp_path, tuner_class, min_fidelity, max_fidelity):
    oracle = SuccessiveHalvingOracle(
        proposer="random",
        min_fidelity=min_fidelity,
        max_fidelity=max_fidelity,
        eta=2,
        objective=keras_tuner.Objective("score", "max"),
        seed=1,
    )
    hypermodel = CountingHyperModel()
    tuner = tuner_class(
        oracle=oracle, hypermodel=hypermodel, directory=str(tmp_path), project_name="mf"
    )
    x = np.zeros((4, 2), "float32")
    # One batch per epoch: a counter equals the epochs a model has been trained in all.
    tuner.search(x, np.zeros((4, 1), "float32"), epochs=1, batch_size=4, verbose=0)
    return oracle, tuner, hypermodel.runs


def test_promoted_trials_continue_their_parents_training(tmp_path):
    oracle, tuner, runs = counting_search(tmp_path, MultiFidelityTuner, 1, 4)
    assert sorted(r["values"][EPOCHS] for r in runs) == [1, 1, 1, 1, 2, 2, 4]
    by_trial = dict(zip(oracle.start_order, runs))
    for run in runs:
        values = run["values"]
        assert (run["initial_epoch"], run["epochs"]) == (values[INITIAL_EPOCH], values[EPOCHS])
        assert run["end"] == values[EPOCHS]  # trained from zero to its fidelity in all
        if PARENT_TRIAL in values:
            parent = by_trial[values[PARENT_TRIAL]]
            assert run["initial_epoch"] == parent["values"][EPOCHS] > 0
            assert run["start"] == parent["end"]  # the parent's weights, counter included
        else:
            assert run["start"] == 0
    best = tuner.get_best_models(1)[0]
    assert float(best.get_layer("counter").count.numpy()) == 4
    assert tuner.get_best_hyperparameters(1)[0].values[EPOCHS] == 4


def test_the_stock_tuner_ignores_the_fidelity(tmp_path):
    # Why MultiFidelityTuner exists: keras_tuner.Tuner trains every trial from scratch for the
    # epochs given to search(), whatever tuner/epochs and tuner/trial_id say.
    _, _, runs = counting_search(tmp_path, keras_tuner.Tuner, 1, 2)
    promoted = [r for r in runs if PARENT_TRIAL in r["values"]]
    assert len(runs) == 3 and len(promoted) == 1
    assert promoted[0]["values"][EPOCHS] == 2
    assert (promoted[0]["start"], promoted[0]["end"]) == (0, 1)


# -- a synthetic landscape: successive halving against full-fidelity random search -----------

DECISIONS, CHOICES, MAX_FIDELITY, NOISE = 8, 4, 27, 0.1


def landscape(seed):
    """Returns (quality, observe): a candidate's true quality, in standard deviations from the
    mean of the whole space, is the mean of one uniform weight per decision; `observe` adds
    noise of sd NOISE / sqrt(fidelity) to the raw mean (one draw per evaluation)."""
    weights = np.random.default_rng([seed, 100]).uniform(size=(DECISIONS, CHOICES))
    noise = np.random.default_rng([seed, 200])
    # The space's mean and sd, exactly: the decisions are independent and uniform.
    mean, sd = weights.mean(), np.sqrt(weights.var(axis=1).sum()) / DECISIONS

    def raw(values):
        return float(np.mean([weights[i, values[f"d{i}"]] for i in range(DECISIONS)]))

    def observe(values):
        fidelity = values.get(EPOCHS, MAX_FIDELITY)
        return raw(values) + float(noise.normal(0.0, NOISE / np.sqrt(fidelity)))

    return (lambda values: (raw(values) - mean) / sd), observe


def chosen_quality(seed, tmp_path, method, iterations=1):
    """Returns the true quality of the candidate `method` picks ("random": full-fidelity
    random search; "<proposer>-sh": successive halving from 1 to 27 epochs with that
    proposer) when it spends `iterations` x 81 epochs."""
    quality, observe = landscape(seed)
    objective = keras_tuner.Objective("score", "max")
    hp = categorical_space(DECISIONS, CHOICES)
    if method == "random":
        # 81 epochs of whole trainings: 3 candidates of 27 epochs per bracket's worth.
        oracle = RandomOracle(
            objective=objective, max_trials=3 * iterations, seed=seed, hyperparameters=hp
        )
    else:
        oracle = SuccessiveHalvingOracle(
            proposer=method.split("-")[0],
            min_fidelity=1,
            max_fidelity=MAX_FIDELITY,
            iterations=iterations,
            objective=objective,
            seed=seed,
            hyperparameters=hp,
        )
        assert oracle.schedule.cost() == 81
    drive(oracle, observe, tmp_path / f"{method}{seed}")
    return quality(oracle.get_best_trials(1)[0].hyperparameters.values)


def test_successive_halving_beats_full_fidelity_random_search_at_equal_cost(tmp_path):
    seeds = range(16)
    found = {m: [chosen_quality(s, tmp_path, m) for s in seeds] for m in ("random", "random-sh")}
    means = {m: round(float(np.mean(q)), 3) for m, q in found.items()}
    print(f"\nchosen quality (sd of the space), mean of {len(seeds)} seeds, 81 epochs: {means}")
    # Measured: 1.86 against 1.08 (docs/multi_fidelity.md).
    assert means["random-sh"] > means["random"] + 0.3, found


@pytest.mark.slow
def test_the_figures_of_the_docs(tmp_path):
    seeds = range(20)
    for iterations in (1, 2):
        print(f"\n{iterations * 81} epochs, {len(seeds)} seeds: chosen quality, mean +- sem")
        for method in ("random", "random-sh", "evolution-sh", "ppo-sh"):
            qualities = [
                chosen_quality(s, tmp_path / str(iterations), method, iterations) for s in seeds
            ]
            sem = np.std(qualities, ddof=1) / np.sqrt(len(qualities))
            print(f"{method:14s} {np.mean(qualities):.2f} +- {sem:.2f}")

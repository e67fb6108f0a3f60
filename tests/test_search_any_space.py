"""The proposers over any keras-tuner space: decisions from hyperparameters, the oracles behind
the stock keras_tuner.Tuner (contract, resume, distributed), learning on synthetic rewards."""

import json
import os
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest
from keras_tuner.engine.trial import TrialStatus

from keras_nasnet import compat
from keras_nasnet.search import (
    Controller,
    ControllerOracle,
    DecisionSpace,
    EvolutionOracle,
    RandomOracle,
    RegularizedEvolution,
)
from keras_nasnet.search.spaces.decisions import CategoricalDimension, ContinuousDimension

from .helpers import free_port, subprocess_env

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "any_space_tuner.py")


def mixed_hyperparameters():
    hp = keras_tuner.HyperParameters()
    hp.Choice("units", [16, 32, 64])
    hp.Boolean("batch_norm")
    hp.Fixed("classes", 10)
    hp.Int("layers", 1, 3)
    hp.Int("width", 1, 1000)  # too many values: a continuous dimension
    hp.Float("dropout", 0.0, 0.5, step=0.125)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Choice("model", ["linear", "mlp"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Choice("activation", ["relu", "gelu", "tanh"])
        hp.Int("depth", 2, 8, step=2)
    return hp


# -- the space ------------------------------------------------------------------------------


def test_each_hyperparameter_type_becomes_its_dimension():
    space = DecisionSpace(mixed_hyperparameters())
    kinds = {d.name: type(d) for d in space.dimensions}
    assert "classes" not in kinds  # Fixed: nothing to decide
    assert kinds["width"] is ContinuousDimension and kinds["lr"] is ContinuousDimension
    assert all(kinds[n] is CategoricalDimension for n in ("units", "batch_norm", "layers"))
    by_name = {d.name: d for d in space.dimensions}
    assert by_name["batch_norm"].values == (False, True)
    assert by_name["layers"].values == (1, 2, 3)
    assert by_name["dropout"].values == (0.0, 0.125, 0.25, 0.375, 0.5)
    assert by_name["depth"].values == (2, 4, 6, 8)
    assert space.choice_counts[[d.name for d in space.dimensions].index("lr")] == 10


def test_decoded_values_lie_in_their_declared_ranges_and_follow_the_conditions():
    space = DecisionSpace(mixed_hyperparameters())
    rng = np.random.default_rng(0)
    seen_models = set()
    for _ in range(300):
        actions = space.sample_uniform(rng)
        values = space.decode(actions)
        seen_models.add(values["model"])
        assert values["classes"] == 10
        assert 1e-4 <= values["lr"] <= 1e-1 and 1 <= values["width"] <= 1000
        assert isinstance(values["width"], int)
        assert ("activation" in values) == (values["model"] == "mlp")
        assert ("depth" in values) == (values["model"] == "mlp")
        mask = dict(zip(space.names, space.active_mask(actions)))
        assert mask["depth"] == (values["model"] == "mlp")
        # Values -> actions -> the same values (a continuous one within its rounding).
        again = space.decode(space.encode(values))
        assert again.keys() == values.keys()
        assert again["lr"] == pytest.approx(values["lr"], rel=1e-6)
        assert {k: v for k, v in again.items() if k != "lr"} == {
            k: v for k, v in values.items() if k != "lr"
        }
    assert seen_models == {"linear", "mlp"}


def test_log_sampling_is_uniform_on_the_log_scale():
    space = DecisionSpace(mixed_hyperparameters())
    index = space.names.index("lr")
    rng = np.random.default_rng(1)
    lrs = [space.decode(space.sample_uniform(rng))["lr"] for _ in range(2000)]
    below_1e3 = np.mean(np.array(lrs) < 1e-3)  # a third of the decades [1e-4, 1e-1]
    assert below_1e3 == pytest.approx(1 / 3, abs=0.04)
    assert space.dimensions[index].to_category(0.999) == 9


def test_bad_actions_and_values_are_refused_by_name():
    space = DecisionSpace(mixed_hyperparameters())
    actions = space.sample_uniform(np.random.default_rng(0))
    with pytest.raises(ValueError, match="Expected 9 actions"):
        space.decode(actions[:-1])
    bad = list(actions)
    bad[0] = 3
    with pytest.raises(ValueError, match="units: index 3"):
        space.decode(bad)
    with pytest.raises(ValueError, match="lr=0.5 is outside"):
        space.encode({"lr": 0.5, "model": "linear"})
    with pytest.raises(ValueError, match="nothing to search"):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("a", 1)
        DecisionSpace(hp)


def test_mutations_change_one_active_value_and_stay_in_the_space():
    space = DecisionSpace(mixed_hyperparameters())
    evolution = RegularizedEvolution(space, 4, 2, identity_probability=0.1, seed=0)
    rng = np.random.default_rng(3)
    changed_names = set()
    for _ in range(500):
        parent = space.sample_uniform(rng)
        child, kind = evolution.mutate(parent)
        before, after = space.decode(parent), space.decode(child)
        moved = [i for i, (a, b) in enumerate(zip(parent, child)) if a != b]
        if kind == "identity":
            assert moved == [] and before == after
            continue
        assert len(moved) == 1
        name = space.names[moved[0]]
        assert space.active_mask(parent)[moved[0]], name  # only active decisions mutate
        assert before[name] != after[name]
        changed_names.add(name)
    assert changed_names == set(space.names)


def test_the_controllers_log_probability_counts_only_active_decisions():
    space = DecisionSpace(mixed_hyperparameters())
    controller = Controller(space, units=16, seed=0)
    for _ in range(5):
        sample = controller.sample()
        mask = controller.active_mask([sample.actions])
        tf_log_prob, _ = controller.log_prob_and_entropy([sample.actions], mask)
        assert float(tf_log_prob[0]) == pytest.approx(sample.log_prob, abs=1e-4)
        probabilities = controller.probabilities(sample.actions)
        inactive = [p is None for p in probabilities]
        assert inactive == [not m for m in mask[0]]
        assert sample.architecture == space.decode(space.from_categories(sample.actions))


# -- the oracles, driven directly -----------------------------------------------------------


def hidden_target(space, seed=7):
    target = space.decode(space.sample_uniform(np.random.default_rng(seed)))
    return lambda values: float(np.mean([values.get(k) == v for k, v in target.items()]))


def categorical_space(decisions=6, choices=6):
    hp = keras_tuner.HyperParameters()
    for i in range(decisions):
        hp.Choice(f"d{i}", list(range(choices)))
    return hp


def drive(oracle, reward, directory) -> list:
    """Runs `oracle` to its end with `reward(values)`; returns the rewards in trial order."""
    compat.set_project_dir(oracle, str(directory), "search")
    rewards = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != TrialStatus.RUNNING:
            return rewards
        value = reward(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {"score": value})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
        rewards.append(value)


def test_evolution_beats_random_search_on_a_hidden_target_within_100_trials(tmp_path):
    hp = categorical_space()
    reward = hidden_target(DecisionSpace(hp))
    best = {"evolution": [], "random": []}
    for seed in range(4):
        for name, oracle_class in (("evolution", EvolutionOracle), ("random", RandomOracle)):
            oracle = oracle_class(
                objective=keras_tuner.Objective("score", "max"),
                max_trials=100,
                seed=seed,
                hyperparameters=hp.copy(),
            )
            rewards = drive(oracle, reward, tmp_path / f"{name}{seed}")
            assert len(rewards) == 100
            best[name].append(max(rewards))
    assert np.mean(best["evolution"]) > np.mean(best["random"]) + 0.1, best


def test_proposals_are_not_repeated_unless_allowed(tmp_path):
    hp = keras_tuner.HyperParameters()
    hp.Choice("a", [1, 2, 3])
    hp.Boolean("b")
    oracle = EvolutionOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=6,
        seed=0,
        hyperparameters=hp,
        population_size=2,
        tournament_size=1,
    )
    drive(oracle, lambda v: float(v["a"]), tmp_path)
    points = [tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()]
    assert len(set(points)) == 6  # the whole space, each point once


def test_a_controller_learns_a_synthetic_reward(tmp_path):
    hp = categorical_space(decisions=4, choices=4)
    reward = hidden_target(DecisionSpace(hp), seed=1)
    oracle = ControllerOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=120,
        seed=0,
        hyperparameters=hp,
        update_every=5,
        learning_rate=0.02,
        allow_duplicates=True,
    )
    rewards = drive(oracle, reward, tmp_path)
    assert len(oracle.updates) == 24
    assert np.mean(rewards[-30:]) > np.mean(rewards[:30]) + 0.2


# -- the stock keras_tuner.Tuner ------------------------------------------------------------


class ScoredHyperModel(keras_tuner.HyperModel):
    """A plain hypermodel (no NASNet) whose 'training' scores the values at once."""

    def __init__(self, fail_units=None, error=keras_tuner.errors.FailedTrialError):
        super().__init__()
        self.fail_units = fail_units
        self.error = error
        self.runs = []

    def build(self, hp):
        hp.Choice("units", [16, 32, 64, 128])
        hp.Int("layers", 1, 3)
        hp.Float("lr", 1e-4, 1e-2, sampling="log")
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    def fit(self, hp, model, *args, **kwargs):
        self.runs.append(dict(hp.values))
        if hp["units"] == self.fail_units:
            raise self.error("this width is not allowed")
        accuracy = hp["units"] / 128 + 0.1 * hp["layers"]
        metrics = {"val_accuracy": accuracy, "val_loss": 1.0 - accuracy, "size": hp["layers"]}
        history = keras.callbacks.History()  # keras-tuner reads a multi-objective from one
        history.history = {name: [value] for name, value in metrics.items()}
        return history


ORACLES = {
    "evolution": lambda **kw: EvolutionOracle(population_size=3, tournament_size=2, **kw),
    "ppo": lambda **kw: ControllerOracle(update_every=2, **kw),
}


def tuner_for(
    directory,
    algorithm,
    max_trials,
    overwrite=False,
    objective="val_accuracy",
    hypermodel=None,
    **kw,
):
    oracle = ORACLES[algorithm](objective=objective, max_trials=max_trials, seed=4, **kw)
    return keras_tuner.Tuner(
        oracle=oracle,
        hypermodel=hypermodel or ScoredHyperModel(),
        directory=str(directory),
        project_name="search",
        overwrite=overwrite,
    )


def values_of(tuner):
    return [tuner.oracle.trials[t].hyperparameters.values for t in sorted(tuner.oracle.trials)]


# The controller's variants run under `-m slow` (each over 40 s on 2 cores): the default run
# keeps evolution's, and the contract they check is the oracle base class's.
@pytest.mark.parametrize("algorithm", ["evolution", pytest.param("ppo", marks=pytest.mark.slow)])
def test_a_stock_tuner_runs_resumes_and_overwrites(tmp_path, algorithm):
    whole = tuner_for(tmp_path / "whole", algorithm, 8)
    whole.search(verbose=0)
    assert len(whole.oracle.trials) == 8
    assert all(t.status == "COMPLETED" for t in whole.oracle.trials.values())
    best = whole.oracle.get_best_trials(1)[0]
    assert best.score == max(t.score for t in whole.oracle.trials.values())
    assert whole.get_best_hyperparameters(1)[0].values == best.hyperparameters.values

    first = tuner_for(tmp_path / "resumed", algorithm, 4)
    first.search(verbose=0)
    resumed = tuner_for(tmp_path / "resumed", algorithm, 8)  # overwrite=False: reload
    assert len(resumed.oracle.trials) == 4
    resumed.search(verbose=0)
    assert values_of(resumed) == values_of(whole)  # as if never stopped
    state = json.load(open(tmp_path / "resumed" / "search" / "nas_state.json"))
    assert state["pending"] == {} and len(state["rewards"]) == 8

    again = tuner_for(tmp_path / "resumed", algorithm, 2, overwrite=True)
    again.search(verbose=0)
    assert len(again.oracle.trials) == 2


def test_a_resume_with_another_oracle_is_refused(tmp_path):
    tuner_for(tmp_path, "evolution", 2).search(verbose=0)
    with pytest.raises(ValueError, match="'evolution' search"):
        tuner_for(tmp_path, "ppo", 4)


@pytest.mark.parametrize("algorithm", ["evolution", pytest.param("ppo", marks=pytest.mark.slow)])
def test_min_and_multi_objectives_rank_as_keras_tuner_does(tmp_path, algorithm):
    minimized = tuner_for(tmp_path / "min", algorithm, 5, objective="val_loss")
    minimized.search(verbose=0)
    trials = minimized.oracle.trials.values()
    best = minimized.oracle.get_best_trials(1)[0]
    assert best.score == min(t.score for t in trials)
    # The proposer maximizes the negated loss.
    assert minimized.oracle.rewards[best.trial_id] == pytest.approx(-best.score)
    multi = tuner_for(
        tmp_path / "multi",
        algorithm,
        5,
        objective=[
            keras_tuner.Objective("val_accuracy", "max"),
            keras_tuner.Objective("size", "min"),
        ],
    )
    multi.search(verbose=0)
    best = multi.oracle.get_best_trials(1)[0]
    assert best.score == min(t.score for t in multi.oracle.trials.values())


@pytest.mark.parametrize(
    "algorithm, error",
    [("evolution", keras_tuner.errors.FailedTrialError), ("ppo", RuntimeError)],
)
def test_failed_trials_are_recorded_and_teach_nothing(tmp_path, algorithm, error):
    # FailedTrialError: FAILED at once; another error: INVALID, retried once, then FAILED.
    retries = 0 if error is keras_tuner.errors.FailedTrialError else 1
    hypermodel = ScoredHyperModel(fail_units=16, error=error)
    tuner = tuner_for(
        tmp_path,
        algorithm,
        8,
        hypermodel=hypermodel,
        max_consecutive_failed_trials=8,
        max_retries_per_trial=retries,
    )
    tuner.search(verbose=0)
    failed = [t for t in tuner.oracle.trials.values() if t.status == "FAILED"]
    assert failed, "no trial drew units=16"
    for trial in failed:
        assert trial.hyperparameters.values["units"] == 16
        assert tuner.oracle.rewards[trial.trial_id] is None
    assert len(hypermodel.runs) == 8 + retries * len(failed)  # a retry runs the same values
    proposer = tuner.oracle.proposer
    learned = proposer.num_added if algorithm == "evolution" else proposer.learner.num_rewards
    assert learned == 8 - len(failed)


def test_a_real_keras_model_is_tuned_and_the_best_one_reloaded(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def build(hp):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(hp.Choice("units", [2, 8]), "relu")]
            + [keras.layers.Dense(2, "softmax")]
        )
        model.compile(
            keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    oracle = EvolutionOracle(objective="val_accuracy", max_trials=3, seed=0)
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=build, directory=str(tmp_path), project_name="real"
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    model = tuner.get_best_models(1)[0]
    assert model.predict(x, verbose=0).shape == (64, 2)
    assert {d.name for d in oracle.decision_space.dimensions} == {"units", "lr"}


@pytest.mark.slow  # 49 s on 2 cores
def test_hyperparameters_declared_later_join_the_evolution(tmp_path):
    def build(hp):
        for i in range(hp.Int("layers", 1, 3)):
            hp.Choice(f"units_{i}", [8, 16])
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    class Scored(keras_tuner.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return {"val_accuracy": float(hp["layers"])}

    oracle = EvolutionOracle(
        objective="val_accuracy", max_trials=12, seed=1, population_size=2, tournament_size=1
    )
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=Scored(), directory=str(tmp_path), project_name="grow"
    )
    tuner.search(verbose=0)
    names = set(oracle.decision_space.names)
    assert {"layers", "units_0", "units_1"} <= names
    assert all(len(m["actions"]) == len(names) for m in oracle.proposer.population)


# -- behind keras-tuner's chief -------------------------------------------------------------


def run_cluster(directory, algorithm, max_trials, workers=("w0", "w1")):
    port = str(free_port())
    processes = {}
    for role in ("chief",) + tuple(workers):
        env = subprocess_env(
            KERASTUNER_TUNER_ID=role,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=port,
            TF_CPP_MIN_LOG_LEVEL="3",
        )
        processes[role] = subprocess.Popen(
            [sys.executable, SCRIPT, str(directory), algorithm, str(max_trials)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        return {role: p.communicate(timeout=240) for role, p in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("algorithm", ["evolution", pytest.param("ppo", marks=pytest.mark.slow)])
def test_a_chief_and_two_workers_share_a_search(tmp_path, algorithm):
    outputs = run_cluster(tmp_path, algorithm, 6)
    ran = [
        line
        for role in ("w0", "w1")
        for line in outputs[role][0].splitlines()
        if line.startswith("trial ")
    ]
    assert len(ran) == 6, outputs
    state = json.load(open(tmp_path / "search" / "nas_state.json"))
    assert state["algorithm"] == algorithm and state["pending"] == {}
    assert len([r for r in state["rewards"].values() if r is not None]) == 6

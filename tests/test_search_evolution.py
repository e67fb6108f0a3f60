"""Regularized evolution: mutations, aging, tournaments, state, and the search behind NASOracle."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_nasnet import search
from keras_nasnet.search import NASOracle, SearchSpace
from keras_nasnet.search.evolution import MUTATIONS, RegularizedEvolution
from keras_nasnet.search.space import FIELDS

from .helpers import subprocess_env

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "evolution_search.py")

SPACES = [
    SearchSpace(),
    SearchSpace(num_blocks=1, num_inputs=3),
    SearchSpace(num_blocks=4, num_inputs=4, ops=["identity", "max_pool_3x3"], combines=["add"]),
    SearchSpace(num_blocks=2, num_inputs=3, ops=["identity"], combines=["add", "concat"]),
    SearchSpace(num_blocks=3, num_inputs=2, ops=["identity"], combines=["add"]),
]


def hidden_target_reward(space, seed=123):
    """Reward = fraction of decisions equal to a hidden target architecture's."""
    target = np.array(space.sample_uniform(np.random.default_rng(seed)))
    return lambda architecture: float(np.mean(np.array(space.encode(architecture)) == target))


def evolution_with(rewards, population_size=None, tournament_size=2, seed=0):
    """An evolution whose population holds one member per reward, oldest first."""
    space = SearchSpace(num_blocks=1)
    size = population_size or len(rewards)
    evolution = RegularizedEvolution(space, size, tournament_size, seed=seed)
    rng = np.random.default_rng(0)
    for i, reward in enumerate(rewards):
        evolution.add(space.sample_uniform(rng), reward, trial_id=str(i))
    return evolution


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_every_mutation_decodes_to_a_valid_architecture_and_changes_one_decision(space):
    evolution = RegularizedEvolution(space, 4, 2, identity_probability=0.1, seed=1)
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(400):
        parent = space.sample_uniform(rng)
        child, kind = evolution.mutate(parent)
        architecture = space.decode(child)  # raises on an index out of its decision's range
        assert space.encode(architecture) == tuple(child)
        changed = [i for i, (a, b) in enumerate(zip(parent, child)) if a != b]
        seen.add(kind)
        if kind == "identity":
            assert changed == []
            continue
        assert len(changed) == 1
        field = FIELDS[changed[0] % len(FIELDS)]
        assert field.startswith(kind), (kind, field)
        # An input reads only states that exist before its block: no cycle, no dangling input.
        for genotype in (architecture.normal, architecture.reduction):
            for b, block in enumerate(genotype.blocks):
                assert all(0 <= i < space.num_inputs + b for i in block.inputs)
    possible = {"identity", "input"}
    possible |= {"op"} if len(space.ops) > 1 else set()
    possible |= {"combine"} if len(space.combines) > 1 else set()
    assert seen == possible


def test_mutations_reach_both_cells_every_block_and_both_operands():
    space = SearchSpace(num_blocks=3)
    evolution = RegularizedEvolution(space, 4, 2, identity_probability=0.0, seed=0)
    parent = space.sample_uniform(np.random.default_rng(0))
    touched = set()
    for _ in range(2000):
        child, _ = evolution.mutate(parent)
        touched |= {i for i, (a, b) in enumerate(zip(parent, child)) if a != b}
    assert touched == set(range(len(space)))  # every decision of both cells can change


def test_identity_mutations_occur_with_their_probability():
    space = SearchSpace()
    evolution = RegularizedEvolution(space, 4, 2, identity_probability=0.25, seed=0)
    parent = space.sample_uniform(np.random.default_rng(0))
    kinds = [evolution.mutate(parent)[1] for _ in range(4000)]
    assert kinds.count("identity") / len(kinds) == pytest.approx(0.25, abs=0.03)
    assert set(kinds) <= set(MUTATIONS)


def test_the_oldest_member_leaves_not_the_worst():
    evolution = evolution_with([0.9, 0.1, 0.5], population_size=3)
    space = evolution.space
    gone = evolution.add(space.sample_uniform(np.random.default_rng(9)), 0.2, trial_id="3")
    assert gone["trial_id"] == "0" and gone["reward"] == 0.9  # the best one ages out first
    assert [m["trial_id"] for m in evolution.population] == ["1", "2", "3"]
    assert [evolution.num_added - m["born"] for m in evolution.population] == [3, 2, 1]  # ages


def test_tournament_winner_follows_the_best_of_s_draws_distribution():
    # Four members ranked 1..4 (worst to best), S = 2 draws with replacement:
    # P(winner has rank k) = (k/4)^2 - ((k-1)/4)^2 = 1/16, 3/16, 5/16, 7/16.
    evolution = evolution_with([0.3, 0.1, 0.4, 0.2], tournament_size=2)
    counts = {m["trial_id"]: 0 for m in evolution.population}
    n = 8000
    for _ in range(n):
        counts[evolution.tournament()["trial_id"]] += 1
    expected = {"1": 1 / 16, "3": 3 / 16, "0": 5 / 16, "2": 7 / 16}
    for trial_id, p in expected.items():
        assert counts[trial_id] / n == pytest.approx(p, abs=0.02), counts


class FixedDraws:
    """Stands in for the generator: `integers` returns the given member indices."""

    def __init__(self, picks):
        self.picks = picks

    def integers(self, high, size=None):
        assert size == len(self.picks) and max(self.picks) < high
        return np.array(self.picks)


def test_tournament_takes_the_best_drawn_and_equal_rewards_go_to_the_younger():
    evolution = evolution_with([0.5, 0.9, 0.5, 0.5], tournament_size=3)
    evolution.rng = FixedDraws([0, 2, 0])
    assert evolution.tournament()["trial_id"] == "2"  # tie of 0.5: the younger one
    evolution.rng = FixedDraws([3, 1, 0])
    assert evolution.tournament()["trial_id"] == "1"  # the best drawn, though older
    evolution.rng = FixedDraws([0, 0, 0])
    assert evolution.tournament()["trial_id"] == "0"  # drawn with replacement


def test_random_until_the_population_is_full_then_children_of_tournament_winners():
    space = SearchSpace(num_blocks=2)
    evolution = RegularizedEvolution(space, population_size=3, tournament_size=2, seed=0)
    first = [evolution.propose() for _ in range(5)]  # nothing completed yet: all random
    assert all(p.info["parent"] is None and p.info["mutation"] is None for p in first)
    for i, proposal in enumerate(first[:3]):
        evolution.add(proposal.actions, float(i), trial_id=str(i))
    members = {m["trial_id"]: m["actions"] for m in evolution.population}
    for _ in range(20):
        child = evolution.propose()
        assert child.info["parent"] in members
        parent = members[child.info["parent"]]
        assert sum(a != b for a, b in zip(parent, child.actions)) <= 1


def test_state_round_trips_through_json_and_continues_identically():
    evolution = evolution_with([0.2, 0.7, 0.4, 0.6], population_size=3)
    restored = RegularizedEvolution(evolution.space, 3, 2, seed=99)
    restored.set_state(json.loads(json.dumps(evolution.get_state())))
    assert [evolution.propose() for _ in range(10)] == [restored.propose() for _ in range(10)]
    smaller = RegularizedEvolution(evolution.space, 2, 2)
    smaller.set_state(evolution.get_state())  # resumed with other settings: the newest stay
    assert [m["trial_id"] for m in smaller.population] == ["2", "3"]


def test_bad_settings_and_inputs_are_rejected():
    space = SearchSpace(num_blocks=1)
    with pytest.raises(ValueError, match="tournament_size"):
        RegularizedEvolution(space, population_size=3, tournament_size=4)
    with pytest.raises(ValueError, match="population_size"):
        RegularizedEvolution(space, population_size=0)
    with pytest.raises(ValueError, match="identity_probability"):
        RegularizedEvolution(space, 4, 2, identity_probability=1.0)
    with pytest.raises(TypeError, match="SearchSpace"):
        RegularizedEvolution("space")
    evolution = RegularizedEvolution(space, 4, 2)
    with pytest.raises(ValueError, match="finite"):
        evolution.add(space.sample_uniform(np.random.default_rng(0)), float("nan"))
    with pytest.raises(ValueError, match="empty"):
        evolution.tournament()
    with pytest.raises(ValueError, match="tournament_size"):  # given S > P is an error ...
        NASOracle(space, "evolution", max_trials=400, population_size=4, tournament_size=5)
    # ... while the preset's S (half its own P, here 13) shrinks to fit a smaller given P.
    oracle = NASOracle(space, "evolution", max_trials=400, population_size=4)
    assert oracle.evolution.tournament_size == 4


# -- behind NASOracle ----------------------------------------------------------------------


def test_failed_trials_never_join_the_population(tmp_path):
    space = SearchSpace(num_blocks=1)
    calls = []

    def evaluate(architecture):
        calls.append(architecture)
        if len(calls) % 3 == 0:
            raise RuntimeError("child crashed")
        return 0.1 * (len(calls) % 3)

    history = search.run(
        evaluate,
        space,
        "evolution",
        max_trials=12,
        seed=0,
        directory=str(tmp_path),
        population_size=4,
        tournament_size=2,
    )
    assert history.statuses == ["COMPLETED", "COMPLETED", "FAILED"] * 4
    with open(tmp_path / "search" / "nas_state.json") as f:
        state = json.load(f)["evolution"]
    completed = [t for t, s in zip(history.trial_ids, history.statuses) if s == "COMPLETED"]
    assert [m["trial_id"] for m in state["population"]] == completed[-4:]  # the 4 most recent
    assert state["num_added"] == 8  # the 4 failures never joined


def test_population_in_the_oracle_skips_failures_and_keys_pending_by_trial(tmp_path):
    import keras_tuner

    space = SearchSpace(num_blocks=1)
    oracle = NASOracle(
        space,
        "evolution",
        objective=keras_tuner.Objective("score", "max"),
        max_trials=8,
        population_size=2,
        tournament_size=2,
        worker_timeout=10,
    )
    oracle._set_project_dir(str(tmp_path), "search")
    trials = [oracle.create_trial(f"w{i}") for i in range(4)]  # four workers, nothing ended yet
    assert sorted(oracle.pending) == sorted(t.trial_id for t in trials)
    assert all(oracle.pending[t.trial_id]["parent"] is None for t in trials)
    # Results come back out of order; one worker's child fails.
    for trial, score in ((trials[2], 0.8), (trials[0], None), (trials[3], 0.3)):
        if score is None:
            trial.status = "FAILED"
        else:
            oracle.update_trial(trial.trial_id, {"score": score})
            trial.status = "COMPLETED"
        oracle.end_trial(trial)
    population = oracle.evolution.population
    assert [(m["trial_id"], m["reward"]) for m in population] == [
        (trials[2].trial_id, 0.8),
        (trials[3].trial_id, 0.3),
    ]
    child = oracle.create_trial("w0")  # full population: a mutant of a tournament winner
    assert oracle.pending[child.trial_id]["parent"] in {trials[2].trial_id, trials[3].trial_id}
    assert trials[1].trial_id in oracle.pending  # still out with w1
    with open(tmp_path / "search" / "nas_state.json") as f:
        assert json.load(f)["evolution"]["population"] == population


def test_resume_after_sigkill_loses_nothing_and_restores_the_population_exactly(tmp_path, reaped):
    def start(directory, progress, pause=0.0):
        process = subprocess.Popen(
            [sys.executable, SCRIPT, str(directory), "24", str(progress), str(pause)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=subprocess_env(),
            text=True,
        )
        return reaped(process)

    # The uninterrupted reference runs beside the search that is killed.
    reference = start(tmp_path / "reference", tmp_path / "reference.log")
    progress = tmp_path / "killed.log"
    victim = start(tmp_path / "killed", progress, pause=0.3)
    deadline = time.time() + 300
    while time.time() < deadline:  # past the random initial population of 6
        if progress.exists() and len(progress.read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert 10 <= len(progress.read_text().splitlines()) < 24
    expected = json.loads(reference.communicate(timeout=600)[0])

    got = json.loads(start(tmp_path / "killed", progress).communicate(timeout=600)[0])
    assert got == expected  # same architectures, same order, same rewards and failures
    assert "FAILED" in got["statuses"]
    states = []
    for name in ("reference", "killed"):
        with open(tmp_path / name / "search" / "nas_state.json") as f:
            states.append(json.load(f)["evolution"])
    assert states[0] == states[1]  # population with ages, counts and random state


def test_evolution_beats_random_search_on_a_synthetic_reward():
    space = SearchSpace()
    reward = hidden_target_reward(space)
    budget = 300  # default settings: P = 20, S = 10
    evolved = search.run(reward, space, "evolution", max_trials=budget, seed=0)
    random = search.run(reward, space, "random", max_trials=budget, seed=0)
    evolved_last, random_last = np.mean(evolved.rewards[-50:]), np.mean(random.rewards[-50:])
    assert random_last < 0.3  # chance level
    assert evolved_last > random_last + 0.2
    assert evolved.best()[1] > random.best()[1] + 0.1


def test_evolution_runs_behind_a_distributed_chief(tmp_path, monkeypatch):
    """A chief serves the evolution oracle over keras-tuner's gRPC; two worker threads search."""
    import threading

    import keras_tuner

    # keras-tuner's own worker-side client (what a worker's tuner wraps the oracle in).
    from keras_tuner.src.distribute.oracle_client import OracleClient

    from keras_nasnet.search.distributed import serve

    from .helpers import free_port

    space = SearchSpace(num_blocks=2)
    reward = hidden_target_reward(space)
    oracle = NASOracle(
        space,
        "evolution",
        objective=keras_tuner.Objective("score", "max"),
        max_trials=16,
        population_size=4,
        tournament_size=2,
        worker_timeout=30,
    )
    oracle._set_project_dir(str(tmp_path), "search")
    oracle.monitors = []
    port = free_port()
    chief = threading.Thread(target=serve, args=(oracle, f"127.0.0.1:{port}", 0.05), daemon=True)
    chief.start()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "w0")
    done = {"w0": [], "w1": []}

    def work(worker):
        client = OracleClient(oracle)
        while True:
            trial = client.create_trial(worker)
            if trial.status == "STOPPED":
                return
            if trial.status == "IDLE":
                time.sleep(0.05)
                continue
            score = reward(space.from_values(trial.hyperparameters.values))
            client.update_trial(trial.trial_id, {"score": score})
            trial.status = "COMPLETED"
            client.end_trial(trial)
            done[worker].append(trial.trial_id)

    workers = [threading.Thread(target=work, args=(w,), daemon=True) for w in done]
    for thread in workers:
        thread.start()
    for thread in workers + [chief]:
        thread.join(timeout=120)
        assert not thread.is_alive(), "the distributed search did not finish"
    assert all(done.values())  # both workers evaluated children
    assert sorted(done["w0"] + done["w1"]) == sorted(oracle.trials) and len(oracle.trials) == 16
    assert oracle.pending == {} and len(oracle.rewards) == 16
    with open(tmp_path / "search" / "nas_state.json") as f:
        state = json.load(f)["evolution"]
    assert state["num_added"] == 16 and len(state["population"]) == 4
    assert {m["trial_id"] for m in state["population"]} <= set(oracle.rewards)


def test_the_cli_offers_evolution_and_the_presets(capsys):
    from keras_nasnet import cli

    parser = cli.build_parser()
    base = ["search", "--dataset", "fashion_mnist_sample", "--directory", "runs/x"]
    args = parser.parse_args(base + ["--algorithm", "evolution", "--preset", "paper"])
    assert (args.algorithm, args.preset, args.update_every) == ("evolution", "paper", None)
    assert parser.parse_args(base).preset == "budget"
    with pytest.raises(SystemExit):
        parser.parse_args(base + ["--preset", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err

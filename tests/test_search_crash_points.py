"""A search killed at any write of its state resumes into the search that was never killed.

The oracle writes trial.json, nas_state.json, oracle.json (and controller weights) one file at
a time; a kill between two of them leaves files from two moments. Every such moment is tried
here by stopping the search at each write, before or after it lands.
"""

import json

import numpy as np
import pytest

from keras_nasnet import search
from keras_nasnet.search import SearchSpace
from keras_nasnet.search.oracles import base as oracle_module

SPACE = SearchSpace(num_blocks=2)
TARGET = np.array(SPACE.sample_uniform(np.random.default_rng(3)))
MAX_TRIALS = 5


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no `except Exception` catches it)."""


def reward(architecture):
    return float(np.mean(np.array(SPACE.encode(architecture)) == TARGET))


def searched(directory, algorithm, **kwargs):
    history = search.run(
        reward,
        SPACE,
        algorithm,
        max_trials=MAX_TRIALS,
        seed=11,
        directory=str(directory),
        **kwargs,
    )
    return {
        "trial_ids": history.trial_ids,
        "architectures": [a.to_json() for a in history.architectures],
        "rewards": history.rewards,
        "statuses": history.statuses,
    }


def saved_state(directory):
    with open(directory / "search" / "nas_state.json") as f:
        state = json.load(f)
    state.pop("elapsed_seconds")  # wall time, different in every run
    return state


class WriteCounter:
    """Counts the oracle's file writes and kills the search at write `kill_at` (None: never)."""

    def __init__(self, real_write, kill_at=None, after=False):
        self.real_write, self.kill_at, self.after, self.count = real_write, kill_at, after, 0

    def __call__(self, path, data):
        self.count += 1
        if self.count == self.kill_at and not self.after:
            raise Killed(path)
        self.real_write(path, data)
        if self.count == self.kill_at:
            raise Killed(path)


@pytest.mark.parametrize(
    "algorithm, kwargs",
    [("random", {}), ("evolution", {"population_size": 3, "tournament_size": 2})],
)
def test_a_kill_at_any_state_write_resumes_into_the_uninterrupted_search(
    tmp_path, monkeypatch, algorithm, kwargs
):
    real_write = oracle_module.atomic_write
    counter = WriteCounter(real_write)
    monkeypatch.setattr(oracle_module, "atomic_write", counter)
    expected = searched(tmp_path / "reference", algorithm, **kwargs)
    expected_state = saved_state(tmp_path / "reference")
    writes = counter.count
    assert writes >= 5 * MAX_TRIALS  # trial.json, nas_state.json and oracle.json per start and end

    mismatches = []
    for kill_at in range(1, writes + 1):
        for after in (False, True):
            directory = tmp_path / f"killed-{kill_at}-{after}"
            monkeypatch.setattr(
                oracle_module, "atomic_write", WriteCounter(real_write, kill_at, after)
            )
            with pytest.raises(Killed):
                searched(directory, algorithm, **kwargs)
            monkeypatch.setattr(oracle_module, "atomic_write", real_write)
            got = searched(directory, algorithm, **kwargs)
            if got != expected or saved_state(directory) != expected_state:
                mismatches.append((kill_at, "after" if after else "before"))
    assert not mismatches, f"resumed searches differ when killed at writes {mismatches}"

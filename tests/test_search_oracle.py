import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time

import keras_tuner
import numpy as np
import pytest

from keras_nasnet import search
from keras_nasnet.search import NASOracle, SearchSpace, files
from keras_nasnet.search.oracles import base as oracle_module
from keras_nasnet.search.run import open_project

from .helpers import subprocess_env

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "synthetic_search.py")


def run_script(directory, max_trials, progress, pause=0.0, **popen):
    return subprocess.Popen(
        [sys.executable, SCRIPT, str(directory), str(max_trials), str(progress), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
        text=True,
        **popen,
    )


def saved_controller(directory):
    project = os.path.join(directory, "search")
    with open(os.path.join(project, "nas_state.json")) as f:
        state = json.load(f)
    with np.load(os.path.join(project, state["weights_file"])) as data:
        arrays = {k: data[k] for k in data.files}
    return state, arrays


def test_resume_after_sigkill_loses_nothing_and_restores_the_controller_exactly(tmp_path, reaped):
    max_trials = 24
    # The uninterrupted reference runs beside the search that is killed (2 cores, ~30 s saved).
    reference = reaped(run_script(tmp_path / "reference", max_trials, tmp_path / "reference.log"))
    progress = tmp_path / "killed.log"
    victim = reaped(run_script(tmp_path / "killed", max_trials, progress, pause=0.3))
    deadline = time.time() + 300
    while time.time() < deadline:  # kill mid-search, after two controller updates (update_every=4)
        if progress.exists() and len(progress.read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finished_before_kill = len(progress.read_text().splitlines())
    assert 10 <= finished_before_kill < max_trials
    expected = json.loads(reference.communicate(timeout=600)[0])

    resumed = reaped(run_script(tmp_path / "killed", max_trials, progress))
    got = json.loads(resumed.communicate(timeout=600)[0])

    assert got == expected  # same architectures, in the same order, with the same rewards
    expected_state, expected_arrays = saved_controller(tmp_path / "reference")
    got_state, got_arrays = saved_controller(tmp_path / "killed")
    assert got_state["learner"] == expected_state["learner"]  # baseline, buffer, rng, counts
    assert got_state["learner"]["num_updates"] == max_trials // 4
    assert sorted(got_arrays) == sorted(expected_arrays)
    for name in expected_arrays:  # controller weights and Adam slots
        np.testing.assert_array_equal(got_arrays[name], expected_arrays[name], err_msg=name)


def test_failed_trials_are_recorded_and_the_search_goes_on():
    space = SearchSpace(num_blocks=1)
    calls = []

    def evaluate(architecture):
        calls.append(architecture)
        if len(calls) % 3 == 1:
            raise RuntimeError("child crashed")
        if len(calls) % 3 == 2:
            return float("nan")  # diverged
        return 0.5

    history = search.run(evaluate, space, "reinforce", max_trials=9, seed=0, update_every=2)
    assert len(history) == 9
    assert history.statuses == ["FAILED", "FAILED", "COMPLETED"] * 3
    assert (
        np.isnan(history.rewards[0]) and np.isnan(history.rewards[1]) and history.rewards[2] == 0.5
    )
    assert history.best()[1] == 0.5


def test_too_many_consecutive_failures_stop_the_search_with_the_cause():
    def evaluate(architecture):
        raise RuntimeError("out of memory in child")

    with pytest.raises(RuntimeError, match="consecutive failures"):
        search.run(
            evaluate,
            SearchSpace(num_blocks=1),
            "random",
            max_trials=20,
            max_consecutive_failed_trials=3,
        )


def test_same_seed_gives_the_same_first_architectures():
    space = SearchSpace(num_blocks=2)

    def first(seed, algorithm):
        return search.run(lambda a: 0.0, space, algorithm, max_trials=3, seed=seed).architectures

    for algorithm in ("ppo", "random"):
        assert first(0, algorithm) == first(0, algorithm)
        assert first(0, algorithm) != first(1, algorithm)


def test_late_results_are_learned_from_in_any_order(tmp_path):
    objective = keras_tuner.Objective("reward", "max")
    oracle = NASOracle(
        SearchSpace(num_blocks=1), "ppo", objective=objective, max_trials=6, seed=0, update_every=3
    )
    oracle.verbose = 0
    open_project(oracle, str(tmp_path), overwrite=True)
    trials = [oracle.create_trial(f"worker{i}") for i in range(6)]
    assert len({t.trial_id for t in trials}) == 6
    for trial, reward in zip(reversed(trials), (0.1, 0.9, 0.3, 0.5, 0.7, 0.2)):  # ends out of order
        oracle.update_trial(trial.trial_id, {"reward": reward})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert oracle.learner.num_rewards == 6 and oracle.learner.num_updates == 2
    assert not oracle.pending
    assert oracle.rewards[trials[0].trial_id] == 0.2


def test_resuming_with_another_space_is_refused(tmp_path):
    search.run(lambda a: 0.0, SearchSpace(num_blocks=1), max_trials=2, directory=str(tmp_path))
    with pytest.raises(ValueError, match="another directory"):
        search.run(lambda a: 0.0, SearchSpace(num_blocks=2), max_trials=3, directory=str(tmp_path))


def test_a_weights_file_from_an_interrupted_save_is_rewritten_not_trusted(tmp_path, monkeypatch):

    space = SearchSpace(num_blocks=1)

    def reward(a):
        return float(np.mean(space.encode(a)))

    def run(directory):
        return search.run(
            reward,
            space,
            "reinforce",
            max_trials=4,
            seed=0,
            directory=str(directory),
            update_every=2,
        )

    run(tmp_path / "reference")
    real_write = oracle_module.atomic_write

    def crash_after_second_weights_file(path, data):
        if path.endswith(
            "controller-000002.npz"
        ):  # a file of the right name, other content, then a crash
            real_write(path, b"not the weights")
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(oracle_module, "atomic_write", crash_after_second_weights_file)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crashed")
    monkeypatch.setattr(oracle_module, "atomic_write", real_write)
    assert run(tmp_path / "crashed").rewards == run(tmp_path / "reference").rewards
    expected_state, expected = saved_controller(tmp_path / "reference")
    got_state, got = saved_controller(tmp_path / "crashed")
    assert got_state["weights_file"] == expected_state["weights_file"] == "controller-000002.npz"
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_write_gives_files_the_permissions_open_would(tmp_path, umask):
    # Reports and search state are read by other users and web servers: not private (0600)
    # unless the user's umask says so.
    old = os.umask(umask)
    try:
        files.atomic_write(str(tmp_path / "state.json"), b"{}")
        with open(tmp_path / "by_open.json", "w"):
            pass
    finally:
        os.umask(old)
    path = tmp_path / "state.json"
    assert path.read_bytes() == b"{}"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "by_open.json").stat().st_mode)
    assert mode == {0o022: 0o644, 0o077: 0o600}[umask]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_atomic_write_leaves_the_old_file_and_no_temporary_one_when_the_disk_is_full(
    tmp_path, monkeypatch
):
    path = tmp_path / "state.json"
    files.atomic_write(str(path), b"old")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, mode):
            self.file = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", FullDisk)
    with pytest.raises(OSError) as error:
        files.atomic_write(str(path), b"new")
    monkeypatch.undo()
    assert error.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]

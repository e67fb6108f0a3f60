"""Workers that train several runs one after another (`run_in_processes(runs_per_worker=...)`):
a worker keeps its process for that many runs, a failed run leaves its worker working, and a
worker that dies takes only its current run down."""

import os
import types

import pytest

from keras_nasnet.compare import runner

TARGET = f"{__name__}:worker_run"


def worker_run(name: str):
    """What the workers run here: the process id as the "parameter count"; "fail" raises,
    "die" ends the process without a word."""
    if name == "fail":
        raise ValueError("this run failed")
    if name == "die":
        os._exit(3)
    return types.SimpleNamespace(test_accuracy=0.5, metrics={"params": os.getpid()}, seconds=0.0)


def _run(names, jobs=1, runs_per_worker=3):
    done, failed = {}, {}
    runner.run_in_processes(
        [(i, {"name": name}) for i, name in enumerate(names)],
        jobs,
        lambda key, outcome: done.__setitem__(key, outcome["params"]),
        threads=1,
        target=TARGET,
        on_failed=lambda key, error: failed.__setitem__(key, error),
        runs_per_worker=runs_per_worker,
    )
    return done, failed


def test_a_worker_trains_its_runs_one_after_another_then_a_new_one_takes_over():
    done, failed = _run(["a"] * 5)
    assert not failed and sorted(done) == [0, 1, 2, 3, 4]
    pids = [done[i] for i in range(5)]
    assert len(set(pids[:3])) == 1 and len(set(pids[3:])) == 1 and pids[0] != pids[3]
    assert os.getpid() not in pids


def test_a_failed_run_keeps_its_worker_and_a_dead_worker_only_its_run():
    done, failed = _run(["a", "fail", "a", "die", "a"])
    assert isinstance(failed[1], ValueError) and "this run failed" in str(failed[1])
    assert isinstance(failed[3], runner.WorkerDiedError) and "exit code 3" in str(failed[3])
    assert done[0] == done[2]  # the failure did not cost the worker
    assert done[4] != done[0]  # the death did: a new worker for the last run


def test_without_on_failed_the_first_failure_is_raised_after_the_running_ones_end():
    with pytest.raises(ValueError, match="this run failed"):
        runner.run_in_processes(
            [(0, {"name": "fail"}), (1, {"name": "a"})],
            2,
            lambda *args: None,
            threads=1,
            target=TARGET,
            runs_per_worker=2,
        )


def test_runs_per_worker_is_checked():
    with pytest.raises(ValueError, match="runs_per_worker"):
        runner.run_in_processes([], 1, lambda *args: None, runs_per_worker=0)

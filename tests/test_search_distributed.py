"""Distributed search: NASOracle's worker bookkeeping, the role flags, and real chief/worker
processes.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from keras_tuner.engine.trial import TrialStatus

from keras_nasnet import cli, compat
from keras_nasnet.search import NASOracle, SearchSpace
from keras_nasnet.search.distributed import current_role, parse_address, role_environment

from .helpers import REPO_ROOT as ROOT
from .helpers import free_port, subprocess_env

SMALL = SearchSpace(num_blocks=1, ops=["identity", "max_pool_3x3"])


def oracle_in(tmp_path, **kwargs):
    kwargs.setdefault("algorithm", "random")
    oracle = NASOracle(SMALL, max_trials=3, worker_timeout=10, **kwargs)
    compat.set_project_dir(oracle, str(tmp_path), "search")
    return oracle


def finish(oracle, trial, score=0.5):
    oracle.update_trial(trial.trial_id, {"val_accuracy": score})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


# -- NASOracle behind a chief ---------------------------------------------------------------


def test_a_silent_workers_trial_is_requeued_for_another_worker(tmp_path):
    oracle = oracle_in(tmp_path)
    lost = oracle.create_trial("w0")
    kept = oracle.create_trial("w1")
    now = time.monotonic()
    oracle.update_trial(kept.trial_id, {})  # a heartbeat records nothing but keeps w1 alive
    assert not oracle.trials[kept.trial_id].metrics.exists("val_accuracy")
    assert oracle.requeue_lost_trials(now + 5) == []
    oracle._last_seen["w1"] = now + 9  # w1 keeps beating, w0 is silent
    assert oracle.requeue_lost_trials(now + 11) == ["w0"]
    assert "w0" not in oracle.ongoing_trials and "w0" not in oracle.tuner_ids
    retried = oracle.create_trial("w2")
    assert retried.trial_id == lost.trial_id  # the lost sample runs again, not a new one
    assert oracle.create_trial("w1").trial_id == kept.trial_id  # w1 keeps its own
    assert lost.trial_id in oracle.pending  # the controller still waits for its reward


def test_a_restarted_worker_gets_its_own_trial_back(tmp_path):
    oracle = oracle_in(tmp_path)
    first = oracle.create_trial("w0")
    assert oracle.create_trial("w0").trial_id == first.trial_id
    assert len(oracle.trials) == 1


def test_workers_wait_instead_of_stopping_while_a_trial_may_come_back(tmp_path):
    oracle = oracle_in(tmp_path)
    trials = [oracle.create_trial(f"w{i}") for i in range(3)]  # the whole budget is out
    finish(oracle, trials[0])
    assert oracle.create_trial("w0").status == TrialStatus.IDLE  # w1, w2 may still die
    for trial in trials[1:]:
        finish(oracle, trial)
    assert not oracle.search_finished()  # w1 and w2 were never told to stop
    assert all(oracle.create_trial(f"w{i}").status == TrialStatus.STOPPED for i in range(3))
    assert oracle.search_finished()


def test_a_late_second_end_of_a_requeued_trial_counts_once(tmp_path):
    oracle = oracle_in(tmp_path, algorithm="ppo", update_every=1)
    slow = oracle.create_trial("w0")
    oracle.requeue_lost_trials(time.monotonic() + 60)
    rerun = oracle.create_trial("w1")
    assert rerun.trial_id == slow.trial_id
    finish(oracle, slow, 0.25)  # the slow worker was alive after all and finishes first
    finish(oracle, rerun, 0.75)
    assert oracle.end_order == [slow.trial_id]
    assert oracle.rewards == {slow.trial_id: 0.25} and len(oracle.updates) == 1
    assert oracle.ongoing_trials == {} and compat.retry_queue(oracle) == []


def test_worker_timeout_must_be_positive():
    with pytest.raises(ValueError, match="worker_timeout"):
        NASOracle(SMALL, worker_timeout=0)


# -- roles -----------------------------------------------------------------------------------


def test_role_environment_is_keras_tuners():
    assert role_environment("chief", "0.0.0.0:8000") == {
        "KERASTUNER_TUNER_ID": "chief",
        "KERASTUNER_ORACLE_IP": "0.0.0.0",
        "KERASTUNER_ORACLE_PORT": "8000",
    }
    env = role_environment("worker", "10.0.0.1:8000", "gpu1")
    assert env["KERASTUNER_TUNER_ID"] == "gpu1" and current_role(env) == "worker"
    assert (
        current_role({}) == "single" and current_role({"KERASTUNER_TUNER_ID": "tuner0"}) == "single"
    )
    assert current_role(role_environment("chief", "h:1")) == "chief"
    # Without an address, the chief binds loopback and workers look for it there.
    for role, worker_id in (("chief", None), ("worker", "w0")):
        env = role_environment(role, None, worker_id)
        assert (env["KERASTUNER_ORACLE_IP"], env["KERASTUNER_ORACLE_PORT"]) == ("127.0.0.1", "8000")
    assert parse_address("[::1]:80") == ("::1", 80)


@pytest.mark.parametrize(
    "args, message",
    [
        (("worker", "localhost", "w0"), "HOST:PORT"),
        (("worker", "localhost:99999", "w0"), "HOST:PORT"),
        (("worker", "localhost:8000", None), "unique `worker_id`"),
        (("worker", "localhost:8000", "chief2"), "unique `worker_id`"),
        (("boss", "localhost:8000", None), "Unknown `role`"),
        (("single", "localhost:8000", None), "need role"),
    ],
)
def test_bad_roles_are_value_errors(args, message):
    with pytest.raises(ValueError, match=message):
        role_environment(*args)


def test_partial_keras_tuner_environment_is_an_error():
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        current_role({"KERASTUNER_TUNER_ID": "w0", "KERASTUNER_ORACLE_IP": "h"})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--oracle", "localhost:8000"], "need --role"),
        (
            ["--role", "worker", "--oracle", "localhost:8000", "--worker-id", "mychief"],
            "unique `worker_id`",
        ),
    ],
)
def test_search_role_flags_fail_with_status_2(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the command holds its relative --directory there
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    base = ["search", "--dataset", "fashion_mnist_sample", "--directory", "unused"]
    assert cli.main(base + argv) == 2
    assert message in capsys.readouterr().err


def test_train_devices_flag_fails_with_status_2(capsys):
    assert (
        cli.main(
            [
                "train",
                "--architecture",
                "nasnet_a",
                "--dataset",
                "fashion_mnist_sample",
                "--devices",
                "0",
            ]
        )
        == 2
    )
    assert "`devices` must be at least 1" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "train",
                "--architecture",
                "nasnet_a",
                "--dataset",
                "fashion_mnist_sample",
                "--devices",
                "2",
            ]
        )
        == 2
    )
    assert "default strategy uses one device" in capsys.readouterr().err


# -- real processes on 127.0.0.1 ------------------------------------------------------------

# Tiny children on 10% of the bundled sample's training split, the rest scores them.
SEARCH = [
    "search",
    "--dataset",
    "fashion_mnist_sample",
    "--max-trials",
    "4",
    "--algorithm",
    "ppo",
    "--epochs",
    "1",
    "--blocks",
    "1",
    "--filters",
    "4",
    "--validation-size",
    "0.9",
    "--no-final",
    "--update-every",
    "2",
    "--cell-blocks",
    "1",
    "--ops",
    "identity,sep_conv_3x3,max_pool_3x3",
]


class Cluster:
    """A chief and workers of one search as subprocesses; `close` kills whatever still runs."""

    def __init__(self, tmp_path, worker_timeout):
        self.tmp_path = tmp_path
        self.directory = str(tmp_path / "search_dir")
        self.address = f"127.0.0.1:{free_port()}"
        self.worker_timeout = worker_timeout
        self.processes = {}
        self.env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2")
        for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
            self.env.pop(name, None)

    def start(self, name, *role, stall_file=None):
        """Starts `keras-nasnet search` in `role`; with `stall_file`, a worker whose first
        trial never ends (tests/scripts/stalled_worker.py).
        """
        log = open(self.tmp_path / f"{name}.log", "w")
        program = ["-m", "keras_nasnet.cli"]
        if stall_file is not None:
            program = [os.path.join(ROOT, "tests", "scripts", "stalled_worker.py"), str(stall_file)]
        argv = [
            sys.executable,
            *program,
            *SEARCH,
            "--directory",
            self.directory,
            "--oracle",
            self.address,
            "--worker-timeout",
            str(self.worker_timeout),
            *role,
        ]
        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
        )
        return self.processes[name]

    def log(self, name):
        return (self.tmp_path / f"{name}.log").read_text()

    def oracle_state(self):
        try:
            with open(os.path.join(self.directory, "search", "oracle.json")) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait(self, name, timeout):
        try:
            return self.processes[name].wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} still running after {timeout}s; log:\n" + self.log(name)[-3000:])

    def close(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def finished_search(self):
        """Returns (trial statuses by id, nas_state) after checking the chief's files."""
        statuses = {}
        for path in glob.glob(os.path.join(self.directory, "search", "trial_*", "trial.json")):
            with open(path) as f:
                trial = json.load(f)
            statuses[trial["trial_id"]] = (trial["status"], trial["score"])
        with open(os.path.join(self.directory, "search", "nas_state.json")) as f:
            return statuses, json.load(f)


def trials_run_by(log):
    return [
        line.split()[1]
        for line in log.splitlines()
        if line.startswith("trial ") and " reward " in line
    ]


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path, worker_timeout=15)
    try:
        yield cluster
    finally:
        cluster.close()


# Slow (66 s): the killed-worker test below also runs a chief and two workers on one search.
@pytest.mark.slow
def test_chief_and_two_workers_share_a_ppo_search(cluster):
    cluster.start("chief", "--role", "chief")
    for worker in ("w0", "w1"):
        cluster.start(worker, "--role", "worker", "--worker-id", worker)
    assert cluster.wait("chief", 300) == 0, cluster.log("chief")[-3000:]
    for worker in ("w0", "w1"):
        assert cluster.wait(worker, 60) == 0, cluster.log(worker)[-3000:]
    by_worker = {w: trials_run_by(cluster.log(w)) for w in ("w0", "w1")}
    assert all(by_worker.values()), by_worker  # both workers trained children
    assert sorted(by_worker["w0"] + by_worker["w1"]) == ["0", "1", "2", "3"]
    statuses, state = cluster.finished_search()
    assert {t: s for t, (s, _) in statuses.items()} == {
        t: "COMPLETED" for t in ("0", "1", "2", "3")
    }
    # The controller learned from every reward: all of them recorded, 4 / update_every = 2 updates.
    assert state["pending"] == {}
    assert state["rewards"] == {t: pytest.approx(score) for t, (_, score) in statuses.items()}
    assert len(state["updates"]) == 2
    assert sorted(trials_run_by(cluster.log("chief"))) == [
        "0",
        "1",
        "2",
        "3",
    ]  # results streamed back
    assert os.path.exists(os.path.join(cluster.directory, "best_architecture.json"))
    assert "| 3 | COMPLETED |" in open(os.path.join(cluster.directory, "report.md")).read()


def test_search_completes_when_a_worker_is_killed_mid_trial(cluster, tmp_path):
    stall_file = tmp_path / "w0_trial"
    cluster.start("chief", "--role", "chief")
    victim = cluster.start("w0", "--role", "worker", "--worker-id", "w0", stall_file=stall_file)
    cluster.start("w1", "--role", "worker", "--worker-id", "w1")
    deadline = time.monotonic() + 240
    while True:  # kill w0 inside its (endless) trial once w1 has finished one
        state = cluster.oracle_state()
        if stall_file.exists() and state and state["end_order"]:
            break
        assert time.monotonic() < deadline and victim.poll() is None, cluster.log("chief")[-3000:]
        time.sleep(0.5)
    lost_trial = stall_file.read_text()
    finished_before = {t: _score(cluster, t) for t in state["end_order"]}
    assert lost_trial not in finished_before
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert cluster.wait("chief", 300) == 0, cluster.log("chief")[-3000:]
    assert cluster.wait("w1", 60) == 0
    assert "worker w0 lost" in cluster.log("chief")
    assert sorted(trials_run_by(cluster.log("w1"))) == ["0", "1", "2", "3"]  # the lost one too
    statuses, state = cluster.finished_search()
    assert {t: s for t, (s, _) in statuses.items()} == {
        t: "COMPLETED" for t in ("0", "1", "2", "3")
    }
    assert {
        t: statuses[t][1] for t in finished_before
    } == finished_before  # nothing finished is lost
    assert state["pending"] == {} and set(state["rewards"]) == {"0", "1", "2", "3"}


def _score(cluster, trial_id):
    with open(os.path.join(cluster.directory, "search", f"trial_{trial_id}", "trial.json")) as f:
        return json.load(f)["score"]

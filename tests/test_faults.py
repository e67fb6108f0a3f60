"""Fault injection: concurrent searches, full and read-only disks, truncated state files.

Each test drives `search.run` with a synthetic reward (no child training) and asserts that no
finished trial is lost or evaluated again and that the error names its cause. Disk faults are
real where the platform allows a tmpfs in a private mount namespace (`unshare -m`), else
simulated by making os.open / os.replace fail under the search directory.
"""

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

from keras_nasnet import cli, search
from keras_nasnet.search import SearchSpace
from keras_nasnet.search.integrity import CorruptStateError
from keras_nasnet.search.lock import DirectoryLock, DirectoryLockedError, holder

from .helpers import REPO_ROOT, subprocess_env

SPACE = SearchSpace(num_blocks=1)


def score(architecture) -> float:
    """A deterministic reward in [0, 1) from the architecture alone."""
    digest = hashlib.sha256(architecture.to_json().encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


class Counting:
    """An evaluate function that counts how often it saw each architecture."""

    def __init__(self):
        self.calls = {}

    def __call__(self, architecture):
        key = architecture.to_json()
        self.calls[key] = self.calls.get(key, 0) + 1
        return score(architecture)


def state_files(directory):
    project = os.path.join(directory, "search")
    patterns = ("oracle.json", "nas_state.json", "controller-*.npz", "trial_*/trial.json")
    return sorted(p for pattern in patterns for p in glob.glob(os.path.join(project, pattern)))


def snapshot(directory):
    result = {}
    for path in state_files(directory):
        with open(path, "rb") as f:
            result[path] = f.read()
    return result


def completed_architectures(directory):
    """Architectures of the trials whose trial.json says COMPLETED."""
    done = set()
    for path in glob.glob(os.path.join(directory, "search", "trial_*", "trial.json")):
        with open(path) as f:
            state = json.load(f)
        if state["status"] == "COMPLETED":
            values = state["hyperparameters"]["values"]
            done.add(SPACE.from_values(values).to_json())
    return done


# -- one search per directory ----------------------------------------------------------------


def test_a_second_search_on_a_directory_in_use_is_refused_and_the_first_keeps_its_results(tmp_path):
    directory = str(tmp_path / "run")
    started, release = threading.Event(), threading.Event()

    def slow(architecture):
        started.set()
        assert release.wait(120)
        return score(architecture)

    first = {}
    thread = threading.Thread(
        target=lambda: first.update(
            history=search.run(slow, SPACE, "random", max_trials=3, directory=directory)
        )
    )
    thread.start()
    try:
        assert started.wait(60)
        with pytest.raises(
            DirectoryLockedError, match=f"'{directory}' is in use .*pid {os.getpid()}"
        ):
            search.run(score, SPACE, "random", max_trials=5, seed=1, directory=directory)
        # Another process, through the command line: refused at once, exit status 2, one line.
        other = subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_nasnet.cli",
                "search",
                "--dataset",
                "fashion_mnist_sample",
                "--directory",
                directory,
                "--max-trials",
                "1",
                "--no-final",
            ],
            cwd=REPO_ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert other.returncode == 2
        last = other.stderr.strip().splitlines()[-1]
        assert last.startswith("keras-nasnet: error: Directory") and f"pid {os.getpid()}" in last
    finally:
        release.set()
        thread.join(120)
    history = first["history"]
    assert len(history) == 3 and history.statuses == ["COMPLETED"] * 3
    resumed = search.run(score, SPACE, "random", max_trials=3, directory=directory)
    assert resumed.trial_ids == history.trial_ids and resumed.rewards == history.rewards


def test_the_lock_dies_with_a_killed_holder(tmp_path):
    directory = str(tmp_path / "run")
    code = (
        "import sys, time; from keras_nasnet.search.lock import DirectoryLock; "
        "DirectoryLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, directory],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=REPO_ROOT,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        assert holder(directory)["pid"] == child.pid
        with pytest.raises(DirectoryLockedError, match=f"pid {child.pid}"):
            DirectoryLock(directory).acquire()
    finally:
        child.kill()
        child.wait()
    assert holder(directory) is None  # the kernel released it; the stale file blocks nothing
    with DirectoryLock(directory) as lock:
        assert lock.held and holder(directory)["pid"] == os.getpid()
    assert holder(directory) is None


def test_one_process_may_not_hold_a_directory_twice_and_compare_directories_lock_too(tmp_path):
    with DirectoryLock(str(tmp_path), purpose="compare"):
        with pytest.raises(DirectoryLockedError, match="in use by another compare"):
            DirectoryLock(str(tmp_path), purpose="search").acquire()
    with DirectoryLock(str(tmp_path)):  # released on exit
        pass


def test_a_shared_weight_search_refuses_a_directory_another_search_holds(tmp_path):
    from keras_nasnet.search.enas import search_shared

    directory = str(tmp_path / "run")
    held, release = threading.Event(), threading.Event()

    def hold():
        with DirectoryLock(directory):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(60)
        with pytest.raises(DirectoryLockedError, match="is in use"):
            search_shared("fashion_mnist_sample", directory, epochs=1, final=False, verbose=0)
    finally:
        release.set()
        thread.join(60)
    assert not os.path.exists(os.path.join(directory, "enas"))


def test_a_nested_lock_is_joined_by_calls_inside_it_and_refuses_other_threads(tmp_path):
    directory = str(tmp_path / "run")
    refused = []

    def other_thread():
        try:
            DirectoryLock(directory).acquire()
        except DirectoryLockedError:
            refused.append(True)

    with DirectoryLock(directory, purpose="compare", nested=True):
        with DirectoryLock(directory) as inner:  # what `compare(...)` takes under the command
            assert inner.held
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(30)
        assert refused == [True]
        assert holder(directory)["purpose"] == "compare"  # the inner release kept the lock
    assert not os.path.exists(directory)  # created by the lock, nothing written: removed
    with DirectoryLock(directory):  # and free again
        pass


# -- truncated state files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("finished") / "run")
    history = search.run(
        score, SPACE, "reinforce", max_trials=4, directory=directory, update_every=2
    )
    return directory, history


STATE_KINDS = {
    "oracle.json": "oracle state",
    "nas_state.json": "controller state",
    "controller-*.npz": "controller weights",
    "trial_1/trial.json": "trial",
}


@pytest.mark.parametrize("cut", ["half", "empty"])
@pytest.mark.parametrize("pattern", list(STATE_KINDS))
def test_each_truncated_state_file_is_named_and_nothing_is_overwritten(
    finished_search, tmp_path, pattern, cut
):
    source, history = finished_search
    directory = str(tmp_path / "copy")
    shutil.copytree(source, directory)
    (path,) = glob.glob(os.path.join(directory, "search", pattern))
    with open(path, "rb") as f:
        content = f.read()
    with open(path, "wb") as f:
        f.write(content[: len(content) // 2] if cut == "half" else b"")
    before = snapshot(directory)
    with pytest.raises(CorruptStateError, match=f"{STATE_KINDS[pattern]} file '{path}'"):
        search.run(score, SPACE, "reinforce", max_trials=6, directory=directory, update_every=2)
    assert snapshot(directory) == before  # the refused resume wrote nothing
    with open(path, "wb") as f:  # restored, the search resumes with every finished trial
        f.write(content)
    counting = Counting()
    resumed = search.run(
        counting, SPACE, "reinforce", max_trials=6, directory=directory, update_every=2
    )
    assert resumed.trial_ids[:4] == history.trial_ids and resumed.rewards[:4] == history.rewards
    assert sum(counting.calls.values()) == 2


def _edit_json(path, change):
    with open(path) as f:
        data = json.load(f)
    data = change(data)
    with open(path, "w") as f:
        json.dump(data, f)


def _without(*keys):
    """A change that deletes the key at the path `keys` (nested objects)."""

    def change(data):
        inner = data
        for key in keys[:-1]:
            inner = inner[key]
        del inner[keys[-1]]
        return data

    return change


def _setting(value, *keys):
    def change(data):
        inner = data
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = value
        return data

    return change


# (state file, change, what the error says): valid JSON of the wrong shape for every key
# the resume reads, keras-tuner's files included.
WRONG_SHAPES = [
    (
        "nas_state.json",
        lambda data: {},
        "'algorithm' should be the algorithm's name; it is missing",
    ),
    ("nas_state.json", _without("seed"), "'seed' should be an integer seed; it is missing"),
    ("nas_state.json", _setting([], "pending"), "'pending' should be the proposals"),
    (
        "nas_state.json",
        _setting({"0": "x"}, "rewards"),
        re.escape("\"rewards['0']\" should be a number or null"),
    ),
    ("nas_state.json", _setting({}, "updates"), "'updates' should be a list"),
    ("nas_state.json", _setting(3, "space"), "'space' should be a search space's config"),
    ("nas_state.json", _without("learner"), "'learner' should be the controller learner's"),
    ("nas_state.json", _setting("x", "learner", "num_updates"), "'learner.num_updates'"),
    ("nas_state.json", _setting({}, "learner", "rng"), "'learner.rng.bit_generator'"),
    ("nas_state.json", _setting({"x": 1}, "extra_random_state"), "'extra_random_state.bit"),
    ("oracle.json", lambda data: {}, "'ongoing_trials' should be the running trials"),
    ("oracle.json", _without("display", "trial_start"), "'display.trial_start'"),
    ("oracle.json", _setting(["9"], "retry_queue"), "lists trial '9' in 'retry_queue'"),
    ("trial_1/trial.json", _without("trial_id"), "'trial_id' should be a trial id; it is missing"),
    ("trial_1/trial.json", _setting("0", "trial_id"), "holds trial '0', not the trial of its"),
    ("trial_1/trial.json", _setting("DONE", "status"), "'status' should be one of RUNNING"),
    ("trial_1/trial.json", _setting({}, "metrics"), "'metrics.metrics' should be the metric"),
    ("trial_1/trial.json", _without("hyperparameters", "values"), "'hyperparameters.values'"),
]


@pytest.mark.parametrize(
    "name, change, message",
    WRONG_SHAPES,
    ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(WRONG_SHAPES)],
)
def test_a_state_file_of_the_wrong_shape_is_named_and_nothing_is_overwritten(
    finished_search, tmp_path, name, change, message
):
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    path = os.path.join(directory, "search", name)
    _edit_json(path, change)
    before = snapshot(directory)
    with pytest.raises(CorruptStateError) as raised:
        search.run(score, SPACE, "reinforce", max_trials=6, directory=directory, update_every=2)
    assert f"file '{path}'" in str(raised.value) and re.search(message, str(raised.value)), str(
        raised.value
    )
    assert snapshot(directory) == before


def test_the_command_and_the_report_name_a_wrong_shaped_state_file_in_one_line(
    finished_search, tmp_path, capsys
):
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    path = os.path.join(directory, "search", "trial_0", "trial.json")
    _edit_json(path, _without("trial_id"))
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", directory]
    assert cli.main([*argv, "--max-trials", "6", "--no-final"]) == 2
    assert cli.main(["report", directory, "--no-mult-adds"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(path in line and "'trial_id'" in line for line in lines)


def test_an_unreadable_tensorboard_marker_only_means_the_events_are_written_again(
    finished_search, tmp_path
):
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    marker = os.path.join(directory, "search", "tensorboard.json")
    with open(marker, "w") as f:
        f.write('{"updates": 1, "tri')
    history = search.run(
        score, SPACE, "reinforce", max_trials=5, directory=directory, update_every=2
    )
    assert len(history) == 5
    with open(marker) as f:
        assert sorted(json.load(f)["trials"]) == sorted(history.trial_ids)


def test_a_saved_search_without_its_tuner_file_is_not_started_over(
    finished_search, tmp_path, capsys
):
    # search.run writes no tuner0.json; keras-tuner alone would start a new search on top.
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    before = snapshot(directory)
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", directory]
    assert cli.main([*argv, "--max-trials", "6", "--no-final", "--algorithm", "reinforce"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "This directory holds a 'reinforce' search over" in line
    assert snapshot(directory) == before


@pytest.mark.parametrize("algorithm", ["evolution", "random"])
def test_each_proposers_own_state_entry_is_checked(tmp_path, algorithm):
    directory = str(tmp_path / algorithm)
    options = {"population_size": 2, "tournament_size": 2} if algorithm == "evolution" else {}
    search.run(score, SPACE, algorithm, max_trials=3, directory=directory, **options)
    path = os.path.join(directory, "search", "nas_state.json")
    entry = {"evolution": "evolution", "random": "random_state"}[algorithm]
    _edit_json(path, _setting([], entry))
    with pytest.raises(CorruptStateError, match=f"'{path}' is of the wrong shape: '{entry}'"):
        search.run(score, SPACE, algorithm, max_trials=4, directory=directory, **options)


@pytest.mark.parametrize("content", [b'{"trun', b"[]"])
def test_a_truncated_or_wrong_tuner_file_is_named(tmp_path, content):
    import keras_tuner

    from keras_nasnet.search.child import NASNetHyperModel, NASTuner
    from keras_nasnet.training import TrainingSettings

    project = tmp_path / "search"
    project.mkdir()
    (project / "tuner0.json").write_bytes(content)
    hypermodel = NASNetHyperModel(
        SPACE, (8, 8, 1), 3, TrainingSettings(num_blocks=1, filters=4, epochs=1)
    )
    oracle = search.NASOracle(
        SPACE, "random", objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=1
    )
    with pytest.raises(CorruptStateError, match=f"tuner state file '{project}/tuner0.json'"):
        NASTuner(oracle, hypermodel, directory=str(tmp_path), project_name="search", verbose=0)


def test_a_missing_weights_file_is_named(finished_search, tmp_path):
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    (weights,) = glob.glob(os.path.join(directory, "search", "controller-*.npz"))
    os.remove(weights)
    with pytest.raises(CorruptStateError, match=f"controller weights file '{weights}' is missing"):
        search.run(score, SPACE, "reinforce", max_trials=6, directory=directory, update_every=2)


# -- full and read-only disks, simulated -----------------------------------------------------


def fail_writes_under(monkeypatch, directory, code, names=None, after=0):
    """Makes creating or replacing files under `directory` fail with OSError(`code`); with
    `names`, only replacing files of those base names (an atomic write's commit), letting the
    first `after` such replacements through."""
    directory = os.path.abspath(directory)
    passed = [0]
    real_open, real_replace, real_mkdir = os.open, os.replace, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(path):
        return os.path.abspath(os.fsdecode(path)).startswith(directory + os.sep)

    def fake_open(path, flags, *args, **kwargs):
        if names is None and flags & writing and inside(path):
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_replace(src, dst, *args, **kwargs):
        if inside(dst) and (names is None or os.path.basename(dst) in names):
            passed[0] += 1
            if passed[0] > after:
                raise OSError(code, os.strerror(code), os.fsdecode(dst))
        return real_replace(src, dst, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if names is None and inside(path):
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "replace", fake_replace)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_directory_is_refused_with_its_cause_and_left_untouched(
    finished_search, tmp_path, monkeypatch, code, capsys
):
    if os.geteuid() != 0:  # a real read-only directory where permissions bind
        pytest.skip("simulated below for root; chmod covers other users in practice")
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    before = snapshot(directory)
    with monkeypatch.context() as patch:
        fail_writes_under(patch, directory, code)
        with pytest.raises(OSError) as raised:
            search.run(score, SPACE, "reinforce", max_trials=6, directory=directory, update_every=2)
        assert raised.value.errno == code and raised.value.filename.startswith(directory)
        assert (
            cli.main(
                [
                    "search",
                    "--dataset",
                    "fashion_mnist_sample",
                    "--directory",
                    directory,
                    "--max-trials",
                    "6",
                    "--no-final",
                ]
            )
            == 2
        )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert os.strerror(code) in line and directory in line
    assert ("read-only" if code == errno.EROFS else "permission denied") in line.lower()
    assert snapshot(directory) == before


def test_a_full_disk_mid_search_stops_with_the_cause_and_loses_no_saved_trial(
    tmp_path, monkeypatch
):
    directory = str(tmp_path / "run")
    counting = Counting()
    search.run(counting, SPACE, "random", max_trials=3, directory=directory)
    with monkeypatch.context() as patch:
        fail_writes_under(patch, directory, errno.ENOSPC)
        with pytest.raises(OSError) as raised:
            search.run(counting, SPACE, "random", max_trials=6, directory=directory)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename.startswith(directory)
    saved = completed_architectures(directory)
    assert len(saved) == 3
    resumed = search.run(counting, SPACE, "random", max_trials=6, directory=directory)
    assert len(resumed) == 6 and resumed.statuses == ["COMPLETED"] * 6
    assert all(counting.calls[key] == 1 for key in saved)  # no finished trial evaluated twice


def test_a_trial_saved_as_ended_is_not_retrained_when_oracle_json_could_not_be_written(
    tmp_path, monkeypatch
):
    directory = str(tmp_path / "run")
    counting = Counting()
    search.run(counting, SPACE, "random", max_trials=2, directory=directory)
    with monkeypatch.context() as patch:
        # oracle.json is written when the trial is created, then when it ends: fail the second.
        fail_writes_under(patch, directory, errno.ENOSPC, names={"oracle.json"}, after=1)
        with pytest.raises(OSError):
            search.run(counting, SPACE, "random", max_trials=4, directory=directory)
    saved = completed_architectures(directory)
    assert len(saved) == 3  # trial.json of the third trial says COMPLETED
    search.run(counting, SPACE, "random", max_trials=4, directory=directory)
    assert all(counting.calls[key] == 1 for key in saved)


# -- full and read-only disks, real (a tmpfs in a private mount namespace) -------------------


def _can_mount_tmpfs() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


TMPFS_SCRIPT = textwrap.dedent("""
    import errno, glob, json, os, sys, subprocess
    sys.path.insert(0, {repo!r})
    from tests.test_faults import Counting, SPACE, completed_architectures, snapshot
    from keras_nasnet import search
    mount, out = sys.argv[1], {{}}
    directory = os.path.join(mount, "run")
    counting = Counting()
    try:
        search.run(counting, SPACE, "random", max_trials=400, directory=directory)
    except OSError as error:
        out["full_errno"], out["full_file"] = error.errno, error.filename
    saved = completed_architectures(directory)
    out["saved"] = len(saved)
    subprocess.run(["mount", "-o", "remount,size=8m", mount], check=True)
    more = out["saved"] + 3
    history = search.run(counting, SPACE, "random", max_trials=more, directory=directory)
    out["resumed"] = len(history)
    out["retrained"] = sum(counting.calls[key] > 1 for key in saved)
    before = snapshot(directory)
    subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
    try:
        search.run(counting, SPACE, "random", max_trials=out["resumed"] + 3, directory=directory)
    except OSError as error:
        out["ro_errno"], out["ro_file"] = error.errno, error.filename
    out["ro_untouched"] = snapshot(directory) == before
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="no private mount namespace with tmpfs here")
def test_a_real_full_then_read_only_tmpfs(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = tmp_path / "tmpfs_search.py"
    script.write_text(TMPFS_SCRIPT.format(repo=REPO_ROOT))
    command = f"mount -t tmpfs -o size=48k tmpfs {mount} && exec {sys.executable} {script} {mount}"
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", command],
        env=subprocess_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["full_errno"] == errno.ENOSPC and out["full_file"].startswith(str(mount))
    assert out["saved"] >= 1 and out["resumed"] == out["saved"] + 3
    assert out["retrained"] == 0
    assert out["ro_errno"] == errno.EROFS and out["ro_file"].startswith(str(mount))
    assert out["ro_untouched"]


def test_report_on_a_truncated_trial_file_names_it_in_one_line(finished_search, tmp_path, capsys):
    directory = str(tmp_path / "copy")
    shutil.copytree(finished_search[0], directory)
    path = os.path.join(directory, "search", "trial_0", "trial.json")
    with open(path, "r+b") as f:
        f.truncate(10)
    assert cli.main(["report", directory, "--no-mult-adds"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "trial_0/trial.json' is truncated or corrupt" in line and "--debug" in line

"""The commands' own protections: one process per directory, taken before TensorFlow loads and
left without a trace when refused; SIGTERM and SIGHUP handled as Ctrl-C; outputs and devices
checked before any work; a full disk during compare."""

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from keras_nasnet import cli, training
from keras_nasnet.cli.parser import COMMANDS
from keras_nasnet.compare import runner
from keras_nasnet.data import IDX_FILES, SAMPLE_DIR, read_idx, write_idx
from keras_nasnet.directory_lock import DirectoryLock, holder

from .helpers import REPO_ROOT, subprocess_env
from .test_faults import _can_mount_tmpfs, fail_writes_under
from .test_search_compare import FakeTrain, cli_arguments

# What a compare worker runs instead of `training.train` (it imports it by name).
FAKE_RUN = "tests.test_search_compare:train_in_worker"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A Fashion-MNIST folder with the first 64 train and 32 test images of the sample."""
    folder = tmp_path_factory.mktemp("fashion")
    for split, count in (("train", 64), ("test", 32)):
        for name in IDX_FILES[split]:
            write_idx(str(folder / name), read_idx(os.path.join(SAMPLE_DIR, name))[:count])
    return str(folder)


@pytest.fixture
def worker_runs(tmp_path, monkeypatch):
    """Runs of `jobs > 1` go to `FAKE_RUN`; returns the folder of its notes."""
    folder = tmp_path / "worker_runs"
    folder.mkdir()
    monkeypatch.setenv("FAKE_RUNS", str(folder))
    monkeypatch.setattr(runner, "TRAIN_TARGET", FAKE_RUN)
    return folder


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.startswith("keras-nasnet:")]
    assert len(lines) == 1 and "Traceback" not in text, text[-3000:]
    return lines[0]


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(name))
            except OSError:
                pass
    return found


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- one process per directory ---------------------------------------------------------------


def test_every_command_with_a_directory_flag_holds_its_directory():
    # A command added later declares its lock or fails here.
    for command in COMMANDS:
        if any(f.name == "--directory" for f in command.flags):
            assert command.locks is not None, command.name


# A command in a fresh interpreter that reports whether it loaded TensorFlow.
_REPORTS_TENSORFLOW = """
import sys
from keras_nasnet.cli import main
code = main(sys.argv[1:])
print("TENSORFLOW", "tensorflow" in sys.modules)
sys.exit(code)
"""


def _run_command(argv, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", _REPORTS_TENSORFLOW, *argv],
        cwd=REPO_ROOT,
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "--dataset", "fashion_mnist_sample", "--max-trials", "1"],
        ["search", "--dataset", "fashion_mnist_sample", "--evaluation", "shared"],
        ["compare", "nasnet_a", "--dataset", "fashion_mnist_sample"],
    ],
    ids=["search", "shared", "compare"],
)
def test_a_directory_in_use_is_refused_before_tensorflow_loads(tmp_path, argv):
    directory = tmp_path / "run"
    with DirectoryLock(str(directory), purpose="search"):
        done = _run_command([*argv, "--directory", str(directory)])
        assert sorted(os.listdir(directory)) == [".keras-nasnet.lock"]  # nothing written
    assert done.returncode == 2, done.stderr[-2000:]
    line = _one_line(done.stderr)
    assert f"Directory '{directory}' is in use by another search (pid {os.getpid()}" in line
    assert "TENSORFLOW False" in done.stdout


def test_a_refused_command_leaves_no_directory_behind(tmp_path, capsys):
    search = ["search", "--dataset", "nope", "--directory"]
    for argv in (
        [*search, str(tmp_path / "s")],
        [*search, str(tmp_path / "e"), "--evaluation", "shared"],
        ["compare", "nasnet_q", "--dataset", "x", "--directory", str(tmp_path / "c")],
    ):
        assert cli.main(argv) == 2
        _one_line(capsys.readouterr().err)
    assert os.listdir(tmp_path) == []
    kept = tmp_path / "kept"
    (kept / "mine").mkdir(parents=True)
    assert cli.main(["compare", "nasnet_q", "--dataset", "x", "--directory", str(kept)]) == 2
    assert os.listdir(kept) == ["mine"]  # a directory that was there stays as it was


# Tiny weight-sharing search: one epoch over the sample's held-out 10%, no final model.
_SHARED = [
    "search",
    "--dataset",
    "fashion_mnist_sample",
    "--evaluation",
    "shared",
    "--shared-epochs",
    "1",
    "--ops",
    "sep_conv_3x3,identity",
    "--combines",
    "add",
    "--cell-blocks",
    "1",
    "--shared-filters",
    "4",
    "--shared-cells",
    "1",
    "--shared-batch-size",
    "64",
    "--controller-steps",
    "2",
    "--derive-samples",
    "2",
    "--no-final",
]


@pytest.mark.slow  # the first search trains (about 40 s); the refusal alone is tested above
def test_two_shared_searches_on_one_directory_the_second_refused_at_once(tmp_path, reaped):
    directory = tmp_path / "run"
    argv = [*_SHARED, "--directory", str(directory)]
    first = reaped(
        subprocess.Popen(
            [sys.executable, "-m", "keras_nasnet.cli", *argv],
            cwd=REPO_ROOT,
            env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    assert _wait_for(lambda: (holder(str(directory)) or {}).get("pid") == first.pid, 120)
    start = time.monotonic()
    second = _run_command(argv)
    refused_in = time.monotonic() - start
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"in use by another search (pid {first.pid}" in _one_line(second.stderr)
    assert "TENSORFLOW False" in second.stdout and refused_in < 60
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    written = set(os.listdir(directory))
    assert {"best_architecture.json", "derive.json", "enas", "report_enas.html"} <= written
    with open(directory / "enas" / "state.json") as f:
        assert json.load(f)["epoch"] == 1  # the first search's own state, whole
    assert holder(str(directory)) is None


# -- stop signals ----------------------------------------------------------------------------


def test_sigterm_stops_compare_jobs_2_keeps_finished_runs_and_leaves_no_process(
    tmp_path, tiny_data, worker_runs, monkeypatch, capsys
):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Python runs signal handlers in the main thread only")
    monkeypatch.setenv("FAKE_FAIL", "hang:1")  # seed 0 ends, seed 1 trains "forever"
    directory = tmp_path / "cmp"
    runs = directory / "runs"
    workers, ended = [], threading.Event()

    def stop_once_seed_0_is_saved():
        if _wait_for(lambda: runs.exists() and len(list(runs.glob("*.json"))) >= 2, 240):
            _wait_for(lambda: len(multiprocessing.active_children()) >= 2, 30)
            workers.extend(p.pid for p in multiprocessing.active_children())
        if not ended.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    # Should the command end before the signal comes, the signal must not end the tests.
    before = signal.signal(signal.SIGTERM, lambda *args: None)
    try:
        threading.Thread(target=stop_once_seed_0_is_saved, daemon=True).start()
        arguments = cli_arguments(directory, tiny_data, "nasnet_a", "nasnet_c")
        code = cli.main([*arguments, "--jobs", "2"])
    finally:
        ended.set()
        signal.signal(signal.SIGTERM, before)
    assert code == 128 + signal.SIGTERM
    assert "keras-nasnet: stopped by SIGTERM" in capsys.readouterr().err
    assert len(workers) == 2 and not any(_alive(pid) for pid in workers)
    assert multiprocessing.active_children() == []
    assert sorted(p.name for p in runs.iterdir()) == ["nasnet_a-seed0.json", "nasnet_c-seed0.json"]
    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    assert cli.main(arguments) == 0
    assert sorted(seed for _, _, seed in fake.calls) == [1, 1]  # only what was not saved


# `compare --jobs 2` in its own process, its runs `train_in_worker` (tests/test_search_compare).
_COMPARE_WITH_FAKE_RUNS = f"""
import sys
from keras_nasnet.compare import runner
runner.TRAIN_TARGET = {FAKE_RUN!r}
from keras_nasnet.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # a compare in a fresh interpreter, and its workers' (about a minute)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_signal_from_outside_leaves_no_worker_running(tmp_path, tiny_data, reaped, stop):
    directory = tmp_path / "cmp"
    notes = tmp_path / "notes"
    notes.mkdir()
    arguments = cli_arguments(directory, tiny_data, "nasnet_a", "nasnet_c")
    victim = reaped(
        subprocess.Popen(
            [sys.executable, "-c", _COMPARE_WITH_FAKE_RUNS, *arguments, "--jobs", "2"],
            cwd=REPO_ROOT,
            env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3", FAKE_RUNS=str(notes), FAKE_FAIL="hang:1"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    runs = directory / "runs"
    assert _wait_for(lambda: runs.exists() and len(list(runs.glob("*.json"))) >= 2, 300)
    assert _wait_for(lambda: len(_children(victim.pid)) >= 2, 60)
    workers = _children(victim.pid)
    victim.send_signal(stop)
    _, err = victim.communicate(timeout=60)
    if stop == signal.SIGKILL:  # no clean-up possible: each worker notices its parent is gone
        assert victim.returncode == -signal.SIGKILL
    else:
        assert victim.returncode == 128 + stop
        assert f"stopped by {signal.Signals(stop).name}" in _one_line(err)
    assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 10)
    assert sorted(p.name for p in runs.iterdir()) == ["nasnet_a-seed0.json", "nasnet_c-seed0.json"]


# -- a full disk during compare --------------------------------------------------------------


def test_a_full_disk_during_compare_keeps_the_finished_runs_and_says_so_in_one_line(
    tmp_path, tiny_data, monkeypatch, capsys
):
    monkeypatch.setattr(training, "train", FakeTrain())
    directory = tmp_path / "cmp"
    arguments = cli_arguments(directory, tiny_data, "nasnet_a", "nasnet_c")
    with monkeypatch.context() as patch:  # the disk fills up once seed 0 is saved
        later = {"nasnet_a-seed1.json", "nasnet_c-seed1.json"}
        fail_writes_under(patch, str(directory), errno.ENOSPC, names=later)
        assert cli.main(arguments) == 2
    line = _one_line(capsys.readouterr().err)
    run = directory / "runs" / "nasnet_a-seed1.json"
    assert f"No space left on device: '{run}' (the disk is full)" in line
    saved = sorted(p.name for p in (directory / "runs").iterdir())
    assert saved == ["nasnet_a-seed0.json", "nasnet_c-seed0.json"]  # no temporary file either
    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    assert cli.main(arguments) == 0
    assert sorted(seed for _, _, seed in fake.calls) == [1, 1]


def test_a_comparison_file_of_the_wrong_shape_is_named_in_one_line(
    tmp_path, tiny_data, monkeypatch, capsys
):
    monkeypatch.setattr(training, "train", FakeTrain())
    directory = tmp_path / "cmp"
    arguments = cli_arguments(directory, tiny_data, "nasnet_a", "nasnet_c")
    assert cli.main(arguments) == 0
    capsys.readouterr()
    run = directory / "runs" / "nasnet_c-seed1.json"
    record = json.loads(run.read_text())
    del record["accuracy"]
    run.write_text(json.dumps(record))
    assert cli.main(arguments) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"The comparison run file '{run}' is of the wrong shape: 'accuracy'" in line
    assert "delete it to compute it (or train that run) again" in line
    run.unlink()  # as the message says: only that run trains again
    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    assert cli.main(arguments) == 0 and len(fake.calls) == 1


# Fills the tmpfs while the third run trains, then runs `compare` again once there is room.
_TMPFS_COMPARE = """
import json, os, sys
from keras_nasnet import cli, training
from keras_nasnet.genotypes import NASNET_A
mount, data_dir = sys.argv[1], sys.argv[2]
calls = []

def train(architecture, dataset, settings, data_dir=None, seed=0, **kwargs):
    calls.append(seed)
    if len(calls) == 3:
        with open(os.path.join(mount, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"x" * 65536)
                    f.flush()
            except OSError:
                pass
    return training.TrainResult(None, {{}}, 0.5 + seed / 100, None, 1.0, {{"params": 1}})

training.train = train
arguments = {arguments}
first = cli.main(arguments)
saved = sorted(os.listdir(os.path.join(mount, "cmp", "runs")))
os.remove(os.path.join(mount, "filler"))
calls.clear()
second = cli.main(arguments)
print("RESULT " + json.dumps({{"first": first, "saved": saved, "second": second,
                              "retrained": len(calls)}}))
"""


@pytest.mark.slow  # a compare in a fresh interpreter inside a private mount namespace
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="no private mount namespace with tmpfs here")
def test_a_real_full_tmpfs_during_compare(tmp_path, tiny_data):
    mount = tmp_path / "mnt"
    mount.mkdir()
    arguments = cli_arguments(mount / "cmp", tiny_data, "nasnet_a", "nasnet_c")
    script = tmp_path / "tmpfs_compare.py"
    script.write_text(textwrap.dedent(_TMPFS_COMPARE).format(arguments=arguments))
    command = f"mount -t tmpfs -o size=1m tmpfs {mount} && exec {sys.executable} {script} {mount}"
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{command} {tiny_data}"],
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and results, done.stderr[-3000:]
    out = json.loads(results[-1][len("RESULT ") :])
    assert out["first"] == 2 and out["second"] == 0
    assert out["saved"] == ["nasnet_a-seed0.json", "nasnet_c-seed0.json"]
    assert out["retrained"] == 2  # the two saved runs were not trained again
    line = _one_line(done.stderr)
    assert "No space left on device" in line and "(the disk is full)" in line


# -- outputs and devices, before any work ----------------------------------------------------


@pytest.fixture
def never_trained(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(training, "build_model", fail)
    monkeypatch.setattr(training, "fit", fail)


def test_train_refuses_an_output_it_could_not_write_before_training(
    tmp_path, never_trained, capsys
):
    (tmp_path / "taken.keras").mkdir()
    argv = ["train", "--architecture", "nasnet_a", "--dataset", "fashion_mnist_sample"]
    for output, message in (
        (tmp_path / "model.txt", "must be a file name ending with '.keras'"),
        (tmp_path / "taken.keras", "is a directory"),
        ("/proc/model.keras", "cannot be written: '/proc' takes no new file"),
    ):
        assert cli.main([*argv, "--output", str(output)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "`--output`" in line and str(output) in line and message in line
        with pytest.raises(ValueError, match=message):
            training.train("nasnet_a", "fashion_mnist_sample", output=str(output))
    assert sorted(os.listdir(tmp_path)) == ["taken.keras"]


def test_devices_that_do_not_exist_are_refused_before_any_work(never_trained, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU; /gpu:5 may exist")
    argv = ["train", "--architecture", "nasnet_a", "--dataset", "fashion_mnist_sample"]
    assert cli.main([*argv, "--strategy", "mirrored", "--devices", "/gpu:5"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "`devices` names /gpu:5, which this machine does not have: it has 0 GPU" in line


def test_export_refuses_an_output_it_could_not_write_before_loading_a_model(tmp_path, capsys):
    assert cli.main(["export", "nasnet_a_cifar", str(tmp_path / "m.txt")]) == 2
    assert "`output` must be a file name ending with '.tflite'" in _one_line(
        capsys.readouterr().err
    )
    assert os.listdir(tmp_path) == []

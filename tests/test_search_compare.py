"""`keras_nasnet.compare` and `keras-nasnet compare`: matched parameters, the interval, resuming."""

import glob
import inspect
import itertools
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

from keras_nasnet import training
from keras_nasnet.compare import (
    NoFinishedSeedError,
    compare,
    core,
    match_filters,
    resolve_architectures,
    runner,
)
from keras_nasnet.compare.directory import ARCHITECTURES_DIR, SETTINGS_FILE, run_path
from keras_nasnet.compare.stats import t_quantile, welch_interval
from keras_nasnet.data import IDX_FILES, SAMPLE_DIR, DatasetNotFoundError, read_idx, write_idx
from keras_nasnet.genotypes import NASNET_A, NASNET_C
from keras_nasnet.search.space import SearchSpace
from keras_nasnet.training import TrainingSettings

from .helpers import subprocess_env

TINY = TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A Fashion-MNIST folder with the first 64 train and 32 test images of the sample."""
    folder = tmp_path_factory.mktemp("fashion")
    for split, count in (("train", 64), ("test", 32)):
        for name in IDX_FILES[split]:
            write_idx(str(folder / name), read_idx(os.path.join(SAMPLE_DIR, name))[:count])
    return str(folder)


def fake_result(seed, filters):
    """What FakeTrain and train_in_worker return: an accuracy from the seed and F."""
    return training.TrainResult(
        None, {}, 0.5 + 0.01 * seed + 0.001 * filters, None, 0.01, {"params": 1}
    )


class FakeTrain:
    """Stands in for `training.train`: counts calls, returns an accuracy from the seed and F,
    and raises KeyboardInterrupt (a kill, as far as the caller can tell) at call `kill_at`."""

    signature = inspect.signature(training.train)

    def __init__(self, kill_at=None):
        self.calls = []
        self.kill_at = kill_at

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)  # the real function accepts the call
        bound.apply_defaults()
        architecture, settings, seed = (
            bound.arguments[k] for k in ("architecture", "settings", "seed")
        )
        assert bound.arguments["evaluate_on"] == "test"
        if self.kill_at is not None and len(self.calls) + 1 == self.kill_at:
            raise KeyboardInterrupt
        self.calls.append((architecture, settings.filters, seed))
        return fake_result(seed, settings.filters)


# -- the interval ------------------------------------------------------------------------------


def test_welch_interval_matches_a_hand_computed_value():
    # Means 0.72 and 0.82, sample variances 0.0004 each, n = 3: se = sqrt(2 * 0.0004 / 3),
    # Welch df = 4, t(0.975, 4) = 2.7764451051977987 (tables), half-width 0.0453391587.
    interval = welch_interval([0.72, 0.74, 0.70], [0.80, 0.82, 0.84])
    assert interval.difference == pytest.approx(0.10)
    assert interval.df == pytest.approx(4.0)
    assert interval.low == pytest.approx(0.10 - 0.0453391587, abs=1e-9)
    assert interval.high == pytest.approx(0.10 + 0.0453391587, abs=1e-9)
    # Unequal variances and sizes: df = 2.6565 by the Welch-Satterthwaite formula.
    uneven = welch_interval([0.5, 0.6], [0.7, 0.7, 0.71, 0.69])
    va, vb = 0.005 / 2, (0.0002 / 3) / 4
    assert uneven.df == pytest.approx((va + vb) ** 2 / (va**2 / 1 + vb**2 / 3))


def test_t_quantile_matches_tables():
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174707, rel=1e-9)
    assert t_quantile(0.975, 10) == pytest.approx(2.2281388519649385, rel=1e-9)
    assert t_quantile(0.025, 4) == pytest.approx(-2.7764451051977987, rel=1e-9)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959963984540054, rel=1e-12)
    with pytest.raises(ValueError, match="df"):
        t_quantile(0.975, 0)


def test_one_seed_gives_a_difference_without_interval():
    interval = welch_interval([0.7], [0.8, 0.9])
    assert interval.difference == pytest.approx(0.15)
    assert interval.low is None and interval.high is None
    same = welch_interval([0.7, 0.7], [0.8, 0.8])
    assert same.low == same.high == pytest.approx(0.1)


# -- naming architectures ----------------------------------------------------------------------


def test_names_files_and_random_cells_resolve(tmp_path):
    path = tmp_path / "best_architecture.json"
    path.write_text(NASNET_C.to_json())
    candidates = resolve_architectures(["nasnet_a", str(path), "random:2"], seed=3)
    assert [c.label for c in candidates] == ["nasnet_a", str(path), "random-1", "random-2"]
    assert candidates[0].architecture == NASNET_A and candidates[1].architecture == NASNET_C
    assert len({c.key for c in candidates}) == 4
    again = resolve_architectures(["random:2"], seed=3)
    assert [c.architecture for c in again] == [c.architecture for c in candidates[2:]]
    other = resolve_architectures(["random:2"], seed=4)
    assert [c.architecture for c in other] != [c.architecture for c in again]
    space = SearchSpace()
    for c in candidates[2:]:
        space.encode(c.architecture)  # a cell of the default space


@pytest.mark.parametrize(
    "items, message",
    [
        (["nasnt_a"], "Unknown architecture 'nasnt_a' \\(did you mean 'nasnet_a'\\?\\)"),
        (["random:0"], "random:K needs a count K from 1"),
        (["random:two"], "random:K needs a count K from 1"),
        (["nasnet_a", "nasnet_a"], "given twice"),
        ([], "empty"),
    ],
)
def test_bad_architectures_are_refused(items, message):
    with pytest.raises(ValueError, match=message):
        resolve_architectures(items)


def test_bad_files_are_refused_with_their_name(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"normal": {"blocks": []}')
    with pytest.raises(ValueError, match="broken.json"):
        resolve_architectures([str(broken)])
    with pytest.raises(ValueError, match="is a directory"):
        resolve_architectures([str(tmp_path)])


# -- matching parameters -----------------------------------------------------------------------


def quadratic(f):
    return 1113 * f * f + 5373 * f + 10, 7 * f * f  # NASNet-A 2@F on 28x28x1, measured


def test_match_filters_finds_the_closest_filter_count_in_few_builds():
    calls = []

    def count(f):
        calls.append(f)
        return quadratic(f)

    match = match_filters(count, quadratic(37)[0] + 5000, start=12)
    assert match.filters == 37 and match.mult_adds == 7 * 37 * 37
    assert len(calls) == len(set(calls)) <= 4
    # Not a quadratic: still the closest count, by refitting.
    match = match_filters(lambda f: (int(f**2.5), 0), 30**2.5, start=12)
    assert match.filters == 30


def test_match_filters_names_the_architecture_when_no_filter_count_fits():
    target = (quadratic(4)[0] + quadratic(5)[0]) // 2  # 17% from either neighbour
    with pytest.raises(ValueError, match=r"'random-1' within 5% .* F=4 gives 39,310 \(-"):
        match_filters(quadratic, target, start=12, label="random-1")
    assert match_filters(quadratic, target, start=12, tolerance=0.2).filters in (4, 5)


# -- compare -----------------------------------------------------------------------------------


def test_compare_matches_parameters_and_writes_the_table(tmp_path, tiny_data, monkeypatch):
    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    path = tmp_path / "cell.json"
    path.write_text(NASNET_C.to_json())
    directory = tmp_path / "cmp"
    result = compare(
        ["nasnet_a", "random:1", str(path)],
        "fashion_mnist",
        str(directory),
        seeds=2,
        recipe=TINY.replace(filters=12),
        data_dir=tiny_data,
    )
    first = result.rows[0]
    assert first.filters == 12 and result.target_params == first.params
    for row in result.rows:
        assert abs(row.params - result.target_params) <= 0.05 * result.target_params
        assert row.mult_adds > 0 and row.seeds == (0, 1)
    assert result.rows[1].filters != 12 or result.rows[2].filters != 12
    assert len(fake.calls) == 6
    assert {(f, s) for _, f, s in fake.calls} >= {(12, 0), (12, 1)}
    # The difference of row 2 is its accuracies' minus the first's (FakeTrain: F-dependent).
    expected = 0.001 * (result.rows[2].filters - 12)
    assert result.rows[2].difference.difference == pytest.approx(expected)
    table = result.table()
    assert "| nasnet_a | F=12 |" in table and "(reference)" in table and "random-1" in table
    saved = json.loads((directory / "compare.json").read_text())
    assert [row["label"] for row in saved["rows"]] == ["nasnet_a", "random-1", str(path)]
    page = (directory / "compare.html").read_text()
    assert '<table id="compare">' in page and "data:image/png;base64" in page
    assert (directory / "compare.md").read_text() == table


def test_a_killed_comparison_resumes_without_retraining(tmp_path, tiny_data, monkeypatch):
    directory = str(tmp_path / "cmp")
    cells = ["nasnet_a", ("copy", NASNET_A)]  # one model to count: the test is about the runs
    arguments = dict(recipe=TINY, data_dir=tiny_data, seeds=2)
    monkeypatch.setattr(training, "train", FakeTrain(kill_at=3))
    with pytest.raises(KeyboardInterrupt):
        compare(cells, "fashion_mnist", directory, **arguments)
    # Seed by seed: both architectures' seed 0 finished and were saved.
    assert sorted(os.listdir(os.path.join(directory, "runs"))) == [
        "copy-seed0.json",
        "nasnet_a-seed0.json",
    ]

    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    result = compare(cells, "fashion_mnist", directory, **arguments)
    assert sorted(seed for _, _, seed in fake.calls) == [1, 1]
    assert [row.seeds for row in result.rows] == [(0, 1), (0, 1)]
    assert result.rows[1].accuracies == pytest.approx((0.504, 0.514))

    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    compare(cells, "fashion_mnist", directory, **arguments)
    assert fake.calls == []
    arguments["seeds"] = 3  # more seeds: only the new ones train
    compare(cells, "fashion_mnist", directory, **arguments)
    assert sorted(seed for _, _, seed in fake.calls) == [2, 2]


# A comparison in its own process, whose training sleeps: it can be SIGKILLed mid-run.
_SLOW_COMPARISON = """
import sys, time
from keras_nasnet import training
from keras_nasnet.genotypes import NASNET_A
from keras_nasnet.compare import compare

def train(architecture, dataset, settings, data_dir=None, seed=0, **kwargs):
    time.sleep(1.0)
    return training.TrainResult(None, {}, 0.5 + seed / 100, None, 1.0, {"params": 1})

training.train = train
compare(["nasnet_a", ("copy", NASNET_A)], "fashion_mnist", sys.argv[1], seeds=3,
        recipe=training.TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32),
        data_dir=sys.argv[2])
"""


@pytest.mark.slow  # a real kill; the KeyboardInterrupt test above covers the logic by default
def test_a_sigkilled_comparison_resumes_without_retraining(tmp_path, tiny_data, monkeypatch):
    directory = tmp_path / "cmp"
    victim = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SLOW_COMPARISON), str(directory), tiny_data],
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = directory / "runs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and victim.poll() is None:
        if runs.exists() and len(list(runs.glob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finished = sorted(p.name for p in runs.iterdir())
    assert 2 <= len(finished) < 6 and all(name.endswith(".json") for name in finished)

    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    result = compare(
        ["nasnet_a", ("copy", NASNET_A)],
        "fashion_mnist",
        str(directory),
        seeds=3,
        recipe=TINY,
        data_dir=tiny_data,
    )
    assert len(fake.calls) == 6 - len(finished)  # the saved runs are not trained again
    assert [row.seeds for row in result.rows] == [(0, 1, 2), (0, 1, 2)]


def test_changed_settings_are_refused(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(training, "train", FakeTrain())
    directory = str(tmp_path / "cmp")
    compare(["nasnet_a"], "fashion_mnist", directory, seeds=1, recipe=TINY, data_dir=tiny_data)
    with pytest.raises(ValueError, match="other settings \\(recipe: .* use another directory"):
        compare(
            ["nasnet_a"],
            "fashion_mnist",
            directory,
            seeds=1,
            recipe=TINY.replace(epochs=2),
            data_dir=tiny_data,
        )
    with pytest.raises(ValueError, match="other settings \\(seed: 0 there, 1 now\\)"):
        compare(
            ["nasnet_a"],
            "fashion_mnist",
            directory,
            seeds=1,
            recipe=TINY,
            data_dir=tiny_data,
            seed=1,
        )
    # A different cell under a name already compared there.
    record = os.path.join(directory, ARCHITECTURES_DIR, "nasnet_a.json")
    data = json.loads(open(record).read())
    data["architecture"] = NASNET_C.to_dict()
    with open(record, "w") as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="holds another architecture than 'nasnet_a'"):
        compare(["nasnet_a"], "fashion_mnist", directory, seeds=1, recipe=TINY, data_dir=tiny_data)
    assert os.path.exists(run_path(directory, "nasnet_a", 0))


def test_unknown_dataset_or_architecture_is_refused_before_anything_is_written(tmp_path):
    directory = tmp_path / "cmp"
    with pytest.raises(DatasetNotFoundError, match="'no_such_dataset' not found"):
        compare(["nasnet_a"], "no_such_dataset", str(directory))
    with pytest.raises(ValueError, match="Unknown architecture 'nasnet_z'"):
        compare(["nasnet_a", "nasnet_z"], "fashion_mnist_sample", str(directory))
    with pytest.raises(ValueError, match="seeds"):
        compare(["nasnet_a"], "fashion_mnist_sample", str(directory), seeds=0)
    assert not directory.exists()


@pytest.mark.slow  # a LiteRT conversion per architecture
def test_latency_is_measured_once_per_architecture(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(training, "train", FakeTrain())
    directory = str(tmp_path / "cmp")
    arguments = dict(seeds=1, recipe=TINY, data_dir=tiny_data, latency=True, latency_runs=3)
    result = compare(["nasnet_a"], "fashion_mnist", directory, **arguments)
    assert result.rows[0].latency_ms > 0 and "| float latency (ms) |" in result.table()
    import keras_nasnet.search.latency as latency

    monkeypatch.setattr(latency, "architecture_latency_ms", None)  # not measured again
    again = compare(["nasnet_a"], "fashion_mnist", directory, **arguments)
    assert again.rows[0].latency_ms == result.rows[0].latency_ms


# -- the command line --------------------------------------------------------------------------


def cli_arguments(directory, data_dir, *architectures):
    return [
        "compare",
        *architectures,
        "--dataset",
        "fashion_mnist",
        "--data-dir",
        data_dir,
        "--directory",
        str(directory),
        "--seeds",
        "2",
        "--blocks",
        "1",
        "--filters",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--tolerance",
        "0.5",  # F = 4 is coarse: one step of F moves the count by about 40%
    ]


def test_cli_compare_prints_the_table_and_refuses_bad_input(
    tmp_path, tiny_data, capsys, monkeypatch
):
    from keras_nasnet.cli import main

    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    directory = tmp_path / "cmp"
    assert main(cli_arguments(directory, tiny_data, "nasnet_a", "nasnet_c")) == 0
    out = capsys.readouterr().out
    assert "| nasnet_a | F=4 |" in out and "| nasnet_c |" in out and "compare.html" in out
    assert "nasnet_c seed 1: test accuracy" in out  # progress, one line per run
    assert [s for _, _, s in fake.calls] == [0, 0, 1, 1] and fake.calls[0][1] == 4
    settings = json.loads((directory / SETTINGS_FILE).read_text())
    assert settings["recipe"]["num_blocks"] == 1 and settings["recipe"]["batch_size"] == 32

    assert main(["compare", "nasnet_q", "--dataset", "x", "--directory", str(directory)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Unknown architecture 'nasnet_q'" in err[0]
    assert main(["compare", "nasnet_a", "--dataset", "nope", "--directory", str(directory)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Dataset 'nope' not found" in err[0]
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses it, as for every command
        main(["compare", "nasnet_a", "--dataset", "x", "--directory", "d", "--seeds", "0"])
    assert exit_info.value.code == 2
    assert "--seeds" in capsys.readouterr().err


def train_in_worker(architecture, dataset, settings, data_dir=None, seed=0, **kwargs):
    """`training.train` for the worker processes of `jobs > 1` (they import it by name): notes
    its process and time span in $FAKE_RUNS, scores as FakeTrain does, and fails, kills its
    process or hangs when $FAKE_FAIL says so ("diverge:SEED", "die:SEED", "hang:SEED")."""
    start = time.time()
    # Noted before any failure: a run that fails or hangs has started too, and the runs beside
    # it need not wait out the deadline below for a second start.
    folder = os.environ["FAKE_RUNS"]
    open(os.path.join(folder, f"started-{os.getpid()}"), "w").close()
    failure = os.environ.get("FAKE_FAIL", "")
    if failure == f"diverge:{seed}":
        raise training.DivergenceError("Training diverged: loss per epoch [nan].")
    if failure == f"die:{seed}":
        os._exit(3)
    if failure == f"hang:{seed}":
        time.sleep(300)
    # Waits (a minute at most) until a second run has started: run at once, they overlap
    # whatever their processes' start-up times.
    deadline = time.monotonic() + 60
    while len(glob.glob(os.path.join(folder, "started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    span = {"pid": os.getpid(), "start": start, "end": time.time()}
    note = os.path.join(folder, f"span-{os.getpid()}.json")
    with open(note, "w") as f:
        json.dump(span, f)
    return fake_result(seed, settings.filters)


@pytest.fixture
def worker_runs(tmp_path, monkeypatch):
    """Runs of `jobs > 1` go to `train_in_worker`; returns the folder of its notes."""
    folder = tmp_path / "worker_runs"
    folder.mkdir()
    monkeypatch.setenv("FAKE_RUNS", str(folder))
    monkeypatch.setattr(runner, "TRAIN_TARGET", f"{__name__}:train_in_worker")
    return folder


def test_parallel_runs_train_in_other_processes_at_once_and_give_the_serial_table(
    tmp_path, tiny_data, capsys, monkeypatch, worker_runs
):
    from keras_nasnet.cli import main

    monkeypatch.setattr(training, "train", FakeTrain())
    assert main(cli_arguments(tmp_path / "serial", tiny_data, "nasnet_a", "nasnet_c")) == 0
    serial = (tmp_path / "serial" / "compare.md").read_text()
    capsys.readouterr()
    monkeypatch.setattr(training, "train", None)  # jobs > 1 never trains in this process

    arguments = cli_arguments(tmp_path / "parallel", tiny_data, "nasnet_a", "nasnet_c")
    assert main([*arguments, "--jobs", "2"]) == 0
    assert (tmp_path / "parallel" / "compare.md").read_text() == serial
    assert "nasnet_c seed 1: test accuracy" in capsys.readouterr().out
    spans = [json.loads(p.read_text()) for p in worker_runs.glob("span-*.json")]
    assert len(spans) == 4
    assert len({s["pid"] for s in spans}) == 4  # a fresh process for every run
    assert os.getpid() not in {s["pid"] for s in spans}
    first, second = sorted(spans, key=lambda s: s["start"])[:2]
    assert second["start"] < first["end"]  # two runs at once


@pytest.mark.parametrize(
    "failure, error",
    [
        # Slow (19 s on 2 cores): tests/test_runner_workers.py keeps a worker after its run
        # failed, and the dead-worker case below runs the same keep-the-finished-runs path.
        pytest.param("diverge:1", training.DivergenceError, marks=pytest.mark.slow),
        ("die:1", runner.WorkerDiedError),
    ],
)
def test_a_failed_run_in_a_worker_keeps_the_finished_ones(
    tmp_path, tiny_data, monkeypatch, worker_runs, failure, error
):
    monkeypatch.setenv("FAKE_FAIL", failure)
    directory = str(tmp_path / "cmp")
    cells = ["nasnet_a", ("copy", NASNET_A)]
    arguments = dict(recipe=TINY, data_dir=tiny_data, seeds=3, jobs=2)
    with pytest.raises(error):
        compare(cells, "fashion_mnist", directory, **arguments)
    saved = sorted(os.listdir(os.path.join(directory, "runs")))
    # The run beside the failed one (seed 0) ended and was saved; no run started after it.
    assert saved == ["copy-seed0.json", "nasnet_a-seed0.json"]

    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    compare(cells, "fashion_mnist", directory, **dict(arguments, jobs=1))
    assert len(fake.calls) == 6 - len(saved)  # only what is missing trains again


def test_an_interrupt_stops_the_worker_processes_at_once(monkeypatch, worker_runs):
    monkeypatch.setenv("FAKE_FAIL", "hang:1")
    runs = [
        (seed, {"architecture": NASNET_A, "dataset": "x", "settings": TINY, "seed": seed})
        for seed in range(3)
    ]

    def interrupt(key, outcome):
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run_in_processes(runs, 2, interrupt)  # seed 0 ends while seed 1 hangs
    assert time.monotonic() - start < 120  # not the 300 s the hanging run would take
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_cli_compare_trains_for_real(tmp_path, tiny_data, capsys):
    # Each training costs about 35 CPU-seconds of graph building and tracing, however few images.
    from keras_nasnet.cli import main

    directory = tmp_path / "cmp"
    assert main(cli_arguments(directory, tiny_data, "nasnet_a", "random:1")) == 0
    out = capsys.readouterr().out
    assert "| nasnet_a | F=4 |" in out and "| random-1 |" in out
    assert sorted(os.listdir(directory / "runs")) == [
        "nasnet_a-seed0.json",
        "nasnet_a-seed1.json",
        "random-1-seed0.json",
        "random-1-seed1.json",
    ]
    record = json.loads((directory / "runs" / "random-1-seed1.json").read_text())
    assert 0.0 <= record["accuracy"] <= 1.0 and record["seed"] == 1
    matched = json.loads((directory / ARCHITECTURES_DIR / "random-1.json").read_text())
    assert record["params"] == matched["params"]  # the trained model is the one counted


# -- last_start: no run starts after it ---------------------------------------------------------

LAST_START_CELLS = ["nasnet_a", ("copy", NASNET_A)]


def ticking_clock(monkeypatch):
    """Makes the comparison's clock read 0, 1, 2, ...: one tick per run it asks to start."""
    ticks = itertools.count()
    monkeypatch.setattr(core, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))


@pytest.mark.parametrize("jobs", [1, 2])
def test_runs_stop_starting_at_last_start_and_the_table_keeps_whole_seeds(
    tmp_path, tiny_data, monkeypatch, worker_runs, jobs
):
    monkeypatch.setattr(training, "train", FakeTrain())
    ticking_clock(monkeypatch)
    directory = str(tmp_path / "cmp")
    arguments = dict(recipe=TINY, data_dir=tiny_data, seeds=3, jobs=jobs)
    result = compare(LAST_START_CELLS, "fashion_mnist", directory, last_start=1.5, **arguments)
    # Two runs started (ticks 0 and 1): seed 0 of both cells; seeds 1 and 2 were left.
    assert sorted(os.listdir(os.path.join(directory, "runs"))) == [
        "copy-seed0.json",
        "nasnet_a-seed0.json",
    ]
    assert [row.seeds for row in result.rows] == [(0,), (0,)]
    assert result.unfinished == 4
    assert "4 runs left untrained" in result.table()
    # Run again without the limit: only what is missing trains.
    fake = FakeTrain()
    monkeypatch.setattr(training, "train", fake)
    again = compare(LAST_START_CELLS, "fashion_mnist", directory, **dict(arguments, jobs=1))
    assert len(fake.calls) == 4 and again.unfinished == 0
    assert [row.seeds for row in again.rows] == [(0, 1, 2), (0, 1, 2)]


def test_no_seed_finished_for_every_cell_is_an_error_that_keeps_the_runs(
    tmp_path, tiny_data, monkeypatch
):
    monkeypatch.setattr(training, "train", FakeTrain())
    ticking_clock(monkeypatch)
    directory = str(tmp_path / "cmp")
    with pytest.raises(NoFinishedSeedError, match="1 runs that finished are saved"):
        compare(
            LAST_START_CELLS,
            "fashion_mnist",
            directory,
            recipe=TINY,
            data_dir=tiny_data,
            last_start=0.5,
        )
    assert os.listdir(os.path.join(directory, "runs")) == ["nasnet_a-seed0.json"]

"""`keras_nasnet.design_spaces.sampling` / `study` and `keras-nasnet spaces`: sampling, one
recipe per model, resuming, failures, narrowed files and the report."""

import inspect
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser

import numpy as np
import pytest

from keras_nasnet import cli, training
from keras_nasnet.compare import runner
from keras_nasnet.design_spaces import load_records, study
from keras_nasnet.design_spaces.sampling import (
    CellSpace,
    named_space,
    narrowed_spaces,
    resolve_spaces,
    sample_points,
    space_rng,
)
from keras_nasnet.genotypes import Architecture
from keras_nasnet.search.enas.supernet import ENAS_OPS
from keras_nasnet.search.spaces.nasnet_cells import SearchSpace
from keras_nasnet.training import DivergenceError, TrainingSettings

from .helpers import REPO_ROOT, subprocess_env

DATASET = "fashion_mnist_sample"
TINY = TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32, epoch_examples=128)
# The command line of a tiny study: two blocks per cell, N = 1, F = 4, 128 images an epoch.
TINY_FLAGS = (
    "--dataset",
    DATASET,
    "--epochs",
    "1",
    "--blocks",
    "1",
    "--filters",
    "4",
    "--batch-size",
    "32",
    "--epoch-examples",
    "128",
    "--cell-blocks",
    "2",
)


def _ops(architecture):
    return [
        op
        for cell in (architecture.normal, architecture.reduction)
        for b in cell.blocks
        for op in b.ops
    ]


def fake_accuracy(architecture) -> float:
    """The accuracy the fakes give: 0.5 + 0.4 x the share of separable convolutions."""
    ops = _ops(architecture)
    return 0.5 + 0.4 * sum(op.startswith("sep_conv") for op in ops) / len(ops)


class FakeRuns:
    """Stands in for `runner.run_in_processes` in this process: checks each run's arguments
    against `training.train`, fails the keys in `fail` (a DivergenceError), and raises
    KeyboardInterrupt (a kill, as far as the study can tell) once `stop_after` runs ended."""

    signature = inspect.signature(training.train)

    def __init__(self, stop_after=None, fail=()):
        self.trained, self.stop_after, self.fail = [], stop_after, set(fail)

    def __call__(
        self,
        runs,
        jobs,
        on_done,
        threads=None,
        target=None,
        may_start=None,
        on_failed=None,
        runs_per_worker=1,
    ):
        for point, kwargs in runs:
            self.signature.bind(**kwargs)  # the real function accepts the call
            assert kwargs["settings"].filters == 4 and kwargs["evaluate_on"] == "test"
            if self.stop_after is not None and len(self.trained) >= self.stop_after:
                raise KeyboardInterrupt
            self.trained.append(point.key)
            if point.key in self.fail:
                on_failed(point, DivergenceError("Training diverged: loss per epoch [nan]."))
                continue
            accuracy = fake_accuracy(kwargs["architecture"])
            on_done(
                point,
                {
                    "test_accuracy": accuracy,
                    "params": point.params,
                    "train_seconds": 0.5,
                    "seconds": 0.6,
                    "cpu_seconds": 0.6,
                },
            )


def fake_count(architecture) -> tuple:
    """(parameters, mult-adds) the `fake_counts` fixture gives: 1,000 + 100 per separable conv."""
    params = 1000 + 100 * sum(op.startswith("sep_conv") for op in _ops(architecture))
    return params, 50 * params


@pytest.fixture
def fake_counts(monkeypatch):
    """Counts parameters with `fake_count` instead of building each model (about a second)."""
    monkeypatch.setattr(CellSpace, "counter", lambda self, shape, classes, recipe: fake_count)


@pytest.fixture
def fake_runs(monkeypatch):
    """Replaces the worker processes by a `FakeRuns`; returns a function to set a new one."""

    def use(fake):
        monkeypatch.setattr(runner, "run_in_processes", fake)
        return fake

    use(FakeRuns())
    return use


class _Page(HTMLParser):
    """Collects the figure ids, svg count and table ids of a page."""

    def __init__(self):
        super().__init__()
        self.figures, self.svgs, self.tables = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.figures.append(attrs.get("id"))
        elif tag == "svg":
            self.svgs += 1
        elif tag == "table":
            self.tables.append(attrs.get("id"))


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.startswith("keras-nasnet:")]
    assert len(lines) == 1 and "Traceback" not in text, text[-3000:]
    return lines[0]


# -- sampling ----------------------------------------------------------------------------------


def test_named_spaces_are_nasnets_and_enass_decisions():
    nasnet, enas = named_space("nasnet", 2), named_space("enas", 2)
    assert nasnet.search_space == SearchSpace(num_blocks=2)
    assert len(nasnet.search_space.decisions) == 2 * 2 * 5
    assert enas.search_space.ops == ENAS_OPS and enas.search_space.combines == ("add",)
    assert set(ENAS_OPS) == {
        "sep_conv_3x3",
        "sep_conv_5x5",
        "avg_pool_3x3",
        "max_pool_3x3",
        "identity",
    }
    # inputs are numbers but categorical: the bootstrap narrows them to values
    assert enas.categorical == tuple(
        d.name for d in enas.search_space.decisions if "/input_" in d.name
    )
    with pytest.raises(ValueError, match="Unknown space 'darts'; allowed: nasnet, enas"):
        named_space("darts")


def test_sampling_is_seeded_per_space_and_records_every_decision_as_a_scalar():
    space = named_space("enas", 2)

    def count(architecture):
        return len(set(_ops(architecture))), 1

    first, draws = sample_points(space, 5, space_rng(3, "enas"), count)
    again, _ = sample_points(space, 5, space_rng(3, "enas"), count)
    other, _ = sample_points(space, 5, space_rng(4, "enas"), count)
    assert draws == 5 and [p.values for p in first] == [p.values for p in again]
    assert [p.values for p in first] != [p.values for p in other]
    for p in first:
        assert set(p.values) == {d.name for d in space.search_space.decisions}
        assert all(isinstance(v, (int, str)) for v in p.values.values())
        assert space.search_space.from_values(p.values) == p.point
        assert p.key == f"enas-{p.index:04d}"
    assert [p.index for p in first] == [0, 1, 2, 3, 4]


def test_a_params_window_keeps_only_points_inside_it_and_an_unreachable_one_fails_clearly():
    space = named_space("nasnet", 2)

    def count(architecture):  # a stand-in count: 100 per separable conv
        return 100 * sum(op.startswith("sep_conv") for op in _ops(architecture)), 0

    points, draws = sample_points(space, 6, space_rng(0, "nasnet"), count, (100, 200))
    assert all(100 <= p.params <= 200 for p in points) and len(points) == 6
    assert draws > 6  # some draws fell outside and were redrawn
    with pytest.raises(
        ValueError, match=r"only 0 of 2 points within params_window \[5,000, 6,000\] after 6 draws"
    ):
        sample_points(space, 2, space_rng(0, "nasnet"), count, (5000, 6000), max_draws_per_point=3)
    with pytest.raises(ValueError, match="low <= high"):
        sample_points(space, 2, space_rng(0, "nasnet"), count, (200, 100))


def test_a_narrowing_file_restricts_the_decisions_it_names(tmp_path):
    path = tmp_path / "narrowing.json"
    restricted = {"normal/block_0/op_a": ["sep_conv_3x3"], "normal/block_1/input_b": [2, 0]}
    path.write_text(json.dumps({"nasnet": restricted}))
    (space,) = resolve_spaces([f"file:{path}"], num_blocks=2)
    assert space.name == "nasnet-narrowed"
    assert space.allowed["normal/block_1/input_b"] == (0, 2)  # in the base space's order
    points, _ = sample_points(space, 20, space_rng(0, space.name), lambda a: (1, 1))
    assert {p.values["normal/block_0/op_a"] for p in points} == {"sep_conv_3x3"}
    assert {p.values["normal/block_1/input_b"] for p in points} == {0, 2}
    assert len({p.values["normal/block_0/op_b"] for p in points}) > 1  # not named: all values


@pytest.mark.parametrize(
    "content, message",
    [
        (
            {"nasnet": {"normal/block_7/op_a": ["identity"]}},
            "'normal/block_7/op_a' is not a decision of its base space",
        ),
        (
            {"enas": {"normal/block_0/op_a": ["conv_3x3"]}},
            "has no value 'conv_3x3' in its base space",
        ),
        ({"nasnet": {"normal/block_0/op_a": []}}, "needs a non-empty list"),
        ({"darts": {"normal/block_0/op_a": ["identity"]}}, "space 'darts' narrows no known space"),
        (["nasnet"], "must be a JSON object"),
    ],
)
def test_a_bad_narrowing_file_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message) as raised:
        narrowed_spaces(str(path), num_blocks=2)
    assert str(path) in str(raised.value)


def test_two_spaces_of_one_name_are_refused():
    with pytest.raises(ValueError, match="Space 'enas' is named twice"):
        resolve_spaces(["enas", "nasnet", "enas"])
    with pytest.raises(ValueError, match="A space name must be letters"):
        CellSpace("a/b", named_space("enas").search_space)


# -- the study ---------------------------------------------------------------------------------


def _study(directory, spaces=("nasnet", "enas"), models=3, **options):
    options = {"recipe": TINY, "num_blocks": 2, "bins": 2, **options}
    return study.run_study(list(spaces), models, DATASET, str(directory), **options)


def test_the_command_writes_records_points_and_a_report_that_parses(tmp_path, fake_runs, capsys):
    directory = tmp_path / "study"
    arguments = ["spaces", "nasnet", "enas", "--models", "2", "--directory", str(directory)]
    assert cli.main([*arguments, *TINY_FLAGS]) == 0
    out = capsys.readouterr().out
    assert "4 models recorded (4 trained now, 0 resumed, 0 failed); 0 left to train" in out
    records = load_records(directory / "records.jsonl")
    assert [r.space for r in records] == ["nasnet", "nasnet", "enas", "enas"]
    points = json.loads((directory / "points.json").read_text())
    for record in records:
        point = points[record.space]["points"][records.index(record) % 2]
        assert record.decisions == point["values"] and record.params == point["params"]
        architecture = Architecture.from_dict(point["point"])
        assert record.error == pytest.approx(1 - fake_accuracy(architecture))
        assert record.params > 1000 and record.mult_adds > record.params
        assert record.seconds == 0.5
    page = _Page()
    page.feed((directory / "design_spaces.html").read_text(encoding="utf-8"))
    assert {"edf", "efficiency", "error_vs_complexity"} <= set(page.figures) and page.svgs >= 3
    assert {"spaces", "ks", "bootstrap-nasnet", "bootstrap-enas"} <= set(page.tables)
    narrowing = json.loads((directory / "narrowing.json").read_text())
    assert set(narrowing) == {"nasnet", "enas"}
    for space, allowed in narrowing.items():  # every value listed is one a model held
        held = [r.decisions for r in records if r.space == space]
        for decision, values in allowed.items():
            assert set(values) <= {d[decision] for d in held}, decision
    assert sorted(p.name for p in (directory / "runs").iterdir()) == [
        "enas-0000-seed0.json",
        "enas-0001-seed0.json",
        "nasnet-0000-seed0.json",
        "nasnet-0001-seed0.json",
    ]


def test_the_narrowing_a_study_writes_is_a_space_the_next_study_samples(
    tmp_path, fake_runs, fake_counts
):
    first = _study(tmp_path / "first", spaces=("enas",), models=4)
    narrowing = first.paths["narrowing"]
    second = _study(tmp_path / "second", spaces=(f"file:{narrowing}",), models=3)
    allowed = json.loads(open(narrowing).read())["enas"]
    assert {r.space for r in second.records} == {"enas-narrowed"}
    for record in second.records:
        for decision, value in record.decisions.items():
            assert decision not in allowed or value in allowed[decision]


def test_a_study_stopped_after_its_first_model_resumes_training_only_the_rest(
    tmp_path, fake_runs, fake_counts
):
    directory = tmp_path / "study"
    with pytest.raises(KeyboardInterrupt):
        fake_runs(FakeRuns(stop_after=1))
        _study(directory)
    assert [p.name for p in (directory / "runs").iterdir()] == ["nasnet-0000-seed0.json"]
    saved_points = (directory / "points.json").read_text()
    fake = fake_runs(FakeRuns())
    result = _study(directory)
    # the other five, model 1 of every space before model 2 of any
    assert fake.trained == ["enas-0000", "nasnet-0001", "enas-0001", "nasnet-0002", "enas-0002"]
    assert (result.trained, result.resumed, result.unfinished) == (5, 1, 0)
    assert (directory / "points.json").read_text() == saved_points  # the same models
    fake = fake_runs(FakeRuns())
    assert _study(directory).resumed == 6 and fake.trained == []


def test_more_models_later_extend_the_same_draws(tmp_path, fake_runs, fake_counts):
    small = _study(tmp_path / "a", spaces=("enas",), models=2)
    grown = _study(tmp_path / "a", spaces=("enas",), models=4)
    fresh = _study(tmp_path / "b", spaces=("enas",), models=4)
    assert [r.decisions for r in grown.records] == [r.decisions for r in fresh.records]
    assert [r.decisions for r in grown.records[:2]] == [r.decisions for r in small.records]
    assert (grown.trained, grown.resumed) == (2, 2)


def test_a_failed_model_is_recorded_with_a_nan_error_and_the_others_train(
    tmp_path, fake_runs, fake_counts
):
    fake_runs(FakeRuns(fail={"nasnet-0001"}))
    result = _study(tmp_path / "study")
    failed = [r for r in result.records if r.failed]
    assert len(result.records) == 6 and result.failed == 1 and len(failed) == 1
    assert failed[0].decisions == result.records[1].decisions and math.isnan(failed[0].error)
    saved = json.loads((tmp_path / "study" / "failed" / "nasnet-0001-seed0.json").read_text())
    assert saved["error"].startswith("DivergenceError: Training diverged")
    assert (tmp_path / "study" / "design_spaces.html").exists()
    fake = fake_runs(FakeRuns())
    again = _study(tmp_path / "study")
    assert fake.trained == [] and again.failed == 1  # a failure is a result: not retrained


def test_a_resume_with_another_recipe_or_space_list_is_refused_in_one_line(
    tmp_path, fake_runs, fake_counts, capsys
):
    directory = tmp_path / "study"
    arguments = ["spaces", "enas", "--models", "1", "--directory", str(directory), *TINY_FLAGS]
    assert cli.main(arguments) == 0
    capsys.readouterr()
    assert cli.main([*arguments, "--lr", "0.1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "holds a design-space study with other settings (recipe:" in line
    arguments[1:2] = ["enas", "nasnet"]
    assert cli.main(arguments) == 2
    assert "other settings (spaces:" in _one_line(capsys.readouterr().err)


def test_a_window_no_model_meets_is_one_line_and_leaves_the_directory_free(
    tmp_path, fake_runs, fake_counts, capsys
):
    directory = tmp_path / "study"
    arguments = ["spaces", "enas", "--models", "3", "--directory", str(directory), *TINY_FLAGS]
    assert cli.main([*arguments, "--params-window", "5000:6000"]) == 2
    assert "only 0 of 3 points within params_window [5,000, 6,000]" in _one_line(
        capsys.readouterr().err
    )
    assert cli.main([*arguments, "--params-window", "1200:1500"]) == 0
    records = load_records(directory / "records.jsonl")
    assert len(records) == 3 and all(1200 <= r.params <= 1500 for r in records)


def test_bad_spaces_and_flags_are_refused_in_one_line_with_exit_2(tmp_path, capsys):
    directory = tmp_path / "study"
    base = ["spaces", "--directory", str(directory), *TINY_FLAGS]
    assert cli.main([*base, "darts"]) == 2
    assert "Unknown space 'darts'" in _one_line(capsys.readouterr().err)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"enas": {"normal/block_9/op_a": ["identity"]}}))
    assert cli.main([*base, f"file:{bad}"]) == 2
    assert "not a decision of its base space" in _one_line(capsys.readouterr().err)
    for flag, value in (("--params-window", "9:3"), ("--params-window", "x"), ("--models", "0")):
        with pytest.raises(SystemExit) as exited:
            cli.main([*base, "enas", flag, value])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and flag in err
    assert not directory.exists()


def test_the_help_shows_the_studys_recipe_and_imports_no_tensorflow():
    from keras_nasnet.cli.spaces import SPACE_NAMES, STUDY_DEFAULTS
    from keras_nasnet.design_spaces.sampling import NAMED_SPACES

    fields = {name: getattr(study.STUDY_RECIPE, name) for name in STUDY_DEFAULTS}
    assert STUDY_DEFAULTS == fields and SPACE_NAMES == NAMED_SPACES
    probe = textwrap.dedent(
        """
        import contextlib, io, sys
        from keras_nasnet import cli
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                cli.build_parser().parse_args(["spaces", "--help"])
            except SystemExit:
                pass
        assert "--params-window" in out.getvalue()
        heavy = ("tensorflow", "keras", "keras_tuner", "numpy")
        print(sorted({m.split(".")[0] for m in sys.modules} & set(heavy)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- real processes ----------------------------------------------------------------------------


def worker_outcome(architecture, settings, seed, dataset, data_dir=None, evaluate_on="test"):
    """What the study's workers run instead of `training.train` in the tests below: a short
    sleep and an accuracy from the cell; the process dies where the normal cell's first op is
    $FAKE_DIE."""
    time.sleep(0.5)
    if _ops(architecture)[0] == os.environ.get("FAKE_DIE"):
        os._exit(3)  # the process dies without a word
    accuracy = fake_accuracy(architecture)
    return training.TrainResult(None, {}, accuracy, None, 0.5, {"params": 1})


_KILLABLE_STUDY = """
import sys
from keras_nasnet.compare import runner
runner.TRAIN_TARGET = "tests.test_design_spaces_study:worker_outcome"
from keras_nasnet.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # a study in a fresh interpreter, with a worker process per model (~1 min)
def test_a_sigkilled_study_resumes_training_only_the_models_not_saved(tmp_path, fake_runs):
    directory = tmp_path / "study"
    arguments = ["spaces", "nasnet", "enas", "--models", "3", "--directory", str(directory)]
    victim = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE_STUDY, *arguments, *TINY_FLAGS, "--bins", "2"],
        cwd=REPO_ROOT,
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = directory / "runs"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and victim.poll() is None:
        if runs.exists() and list(runs.glob("*.json")):
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    saved = {p.name.rsplit("-seed", 1)[0] for p in runs.glob("*.json")}
    assert 1 <= len(saved) < 6
    fake = fake_runs(FakeRuns())
    result = _study(directory)
    assert len(fake.trained) == 6 - len(saved) and not saved & set(fake.trained)
    assert result.resumed == len(saved) and len(result.records) == 6


@pytest.mark.slow  # a worker process per model
def test_a_worker_that_dies_is_a_failed_model_and_the_others_still_train(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "TRAIN_TARGET", f"{__name__}:worker_outcome")
    points, _ = sample_points(named_space("enas", 2), 4, space_rng(0, "enas"), lambda a: (1, 1))
    op = points[1].values["normal/block_0/op_a"]
    dying = [p.index for p in points if p.values["normal/block_0/op_a"] == op]
    monkeypatch.setenv("FAKE_DIE", op)
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    result = _study(tmp_path / "study", spaces=("enas",), models=4, jobs=2)
    assert len(result.records) == 4 and len(dying) < 4
    assert [i for i, r in enumerate(result.records) if r.failed] == dying
    note = json.loads((tmp_path / "study" / "failed" / "enas-0001-seed0.json").read_text())
    assert note["error"].startswith("WorkerDiedError: The process training run")


@pytest.mark.slow  # real training of six tiny models (~1-2 min on two cores)
def test_the_command_trains_real_models_on_the_bundled_sample(tmp_path, capsys):
    directory = tmp_path / "study"
    arguments = ["spaces", "nasnet", "enas", "--models", "2", "--directory", str(directory)]
    assert cli.main([*arguments, *TINY_FLAGS, "--bins", "2", "--jobs", "2"]) == 0
    records = load_records(directory / "records.jsonl")
    assert len(records) == 4 and not any(r.failed for r in records)
    assert all(0.0 <= r.error <= 1.0 and r.params > 0 for r in records)
    assert (directory / "design_spaces.html").exists() and (directory / "narrowing.json").exists()
    assert np.isfinite([r.seconds for r in records]).all()

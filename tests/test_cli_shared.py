"""`keras-nasnet search --evaluation shared`: every flag it has no use for is refused, its own
flags are checked under their names, and its saved state is read with care."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.search.enas import EnasSearch, SharedSettings
from keras_nasnet.search.enas import loop as enas
from keras_nasnet.search.integrity import CorruptStateError
from keras_nasnet.search.space import SearchSpace
from tests.helpers import only_error_line

BASE = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
SHARED = [*BASE, "--evaluation", "shared"]
SMALLEST = SearchSpace(ops=("sep_conv_3x3", "identity"), num_blocks=1, combines=("add",))
TINY_SETTINGS = SharedSettings(filters=4, batch_size=16, controller_steps=2, derive_samples=2)
# The CLI flags of SMALLEST and TINY_SETTINGS (the algorithm: the CLI's default).
SMALLEST_FLAGS = [
    "--ops",
    "sep_conv_3x3,identity",
    "--combines",
    "add",
    "--cell-blocks",
    "1",
    "--shared-filters",
    "4",
    "--shared-batch-size",
    "16",
    "--controller-steps",
    "2",
    "--derive-samples",
    "2",
]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    # The commands hold "somewhere" (a relative --directory) while they run: each test in a
    # folder of its own, so that tests run side by side never share one.
    monkeypatch.chdir(tmp_path)


def _toy_data(n, seed, size=8):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype("int32")
    images = rng.normal(scale=0.3, size=(n, size, size, 1)).astype("float32")
    for i, label in enumerate(labels):
        images[i, :, label * size // 3 : (label + 1) * size // 3] += 1.0
    return images, labels


@pytest.fixture
def never_searched(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(enas, "search_shared", fail)


@pytest.fixture
def received(monkeypatch):
    seen = {}
    monkeypatch.setattr(enas, "search_shared", lambda *a, **k: seen.update(k, args=a))
    return seen


@pytest.fixture
def toy_dataset(monkeypatch):
    """`enas.load_dataset` returns a toy task of 8x8 images: no real dataset is read."""
    monkeypatch.setattr(
        enas, "load_dataset", lambda *a, **k: (_toy_data(32, 4), _toy_data(16, 5), 3)
    )


@pytest.mark.parametrize(
    "given",
    [
        ["--max-trials", "20"],  # the default value, given: still refused
        ["--max-trial", "5"],  # an abbreviation
        ["--preset", "budget"],
        ["--update-every", "3"],
        ["--population-size", "4"],
        ["--tournament-size", "2"],
        ["--prefilter", "1"],
        ["--prefilter-proxy", "naswot"],
        ["--worker-timeout", "30"],
        ["--no-tflite"],
        ["--latency-target-ms", "5"],
        ["--latency-alpha", "-0.07"],
        ["--latency-beta", "0"],
        ["--latency-quantize", "int8"],
        ["--epochs", "2"],
        ["--blocks", "1"],
        ["--filters", "4"],
        ["--batch-size", "32"],
        ["--lr", "0.1"],
        ["--drop-path-keep-prob", "0.9"],
        ["--cutout", "4"],
    ],
)
def test_flags_that_do_not_apply_to_shared_are_refused(given, never_searched, capsys):
    assert cli.main([*SHARED, *given]) == 2
    line = only_error_line(capsys)
    flag = {"--max-trial": "--max-trials"}.get(given[0], given[0])
    assert line.startswith(f"keras-nasnet: error: {flag} does not apply to --evaluation shared")


@pytest.mark.parametrize(
    "flag",
    [
        "--shared-epochs",
        "--shared-filters",
        "--shared-cells",
        "--shared-batch-size",
        "--controller-steps",
        "--derive-samples",
    ],
)
def test_shared_flags_are_checked_under_their_names_and_only_with_shared(flag, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([*SHARED, flag, "0"])
    assert exited.value.code == 2
    assert f"argument {flag}: must be an int >= 1; received 0" in only_error_line(capsys)
    from keras_nasnet.search import pipeline

    monkeypatch.setattr(pipeline, "search_dataset", lambda *a, **k: pytest.fail("searched"))
    assert cli.main([*BASE, flag, "3"]) == 2
    assert f"{flag} applies to --evaluation shared only" in only_error_line(capsys)


def test_overwrite_cell_blocks_and_controller_lr_reach_the_shared_search(received):
    assert cli.main([*SHARED, "--overwrite", "--cell-blocks", "3", "--controller-lr", "0.01"]) == 0
    assert received["overwrite"] is True
    assert received["space"].num_blocks == 3 and received["space"].ops == enas.enas_space().ops
    assert received["settings"].controller_learning_rate == 0.01
    assert cli.main(SHARED) == 0
    assert received["overwrite"] is False and received["space"] is None
    assert (
        received["settings"].controller_learning_rate == SharedSettings().controller_learning_rate
    )
    # --combines given, even at its default, asks for that space (which cannot share weights).
    assert cli.main([*SHARED, "--combines", "add,concat"]) == 0
    assert received["space"].combines == ("add", "concat")


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """A directory holding the state of a one-epoch search (made once: tracing takes seconds)."""
    directory = str(tmp_path_factory.mktemp("enas") / "run")
    search = EnasSearch(_toy_data(32, 4), _toy_data(16, 5), 3, directory, SMALLEST, TINY_SETTINGS)
    search.run(1)
    return directory


@pytest.fixture
def saved_state(one_epoch, tmp_path):
    """A copy of `one_epoch`; returns (directory, state file path)."""
    directory = str(tmp_path / "run")
    shutil.copytree(one_epoch, directory)
    return directory, os.path.join(directory, "enas", "state.json")


def test_overwrite_starts_the_shared_search_over(saved_state, toy_dataset, monkeypatch):
    directory, path = saved_state
    written = []
    real_write = enas.atomic_write
    monkeypatch.setattr(
        enas, "atomic_write", lambda path, data: written.append(path) or real_write(path, data)
    )
    options = dict(epochs=2, space=SMALLEST, final=False, verbose=0)
    other = dataclasses.replace(TINY_SETTINGS, controller_steps=3)
    with pytest.raises(ValueError, match="another space or settings.*--overwrite"):
        enas.search_shared("toy", directory, settings=other, **options)
    again = enas.search_shared("toy", directory, settings=other, overwrite=True, **options)
    assert [record["epoch"] for record in again.history] == [1, 2]  # not resumed after 1
    with open(path) as f:
        state = json.load(f)
    assert state["settings"]["controller_steps"] == 3
    assert state["data_source"] == {"dataset": "toy", "validation_size": 0.1}
    assert os.path.join(directory, "best_architecture.json") in written  # never half-written
    with pytest.raises(ValueError, match="other data.*validation_size 0.1 there, 0.25 here"):
        enas.search_shared("toy", directory, settings=other, validation_size=0.25, **options)


def _resume(directory):
    return EnasSearch(_toy_data(32, 4), _toy_data(16, 5), 3, directory, SMALLEST, TINY_SETTINGS)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda text: text[: len(text) // 2], "truncated or corrupt"),
        (lambda text: "[]", "not an object"),
        (lambda text: json.dumps({**json.loads(text), "epoch": "one"}), "'epoch' should be"),
        (lambda text: json.dumps({**json.loads(text), "learner": {}}), "does not fit"),
        (lambda text: json.dumps({**json.loads(text), "arrays": "../x.npz"}), "weights file"),
        (lambda text: json.dumps({**json.loads(text), "history": [1]}), "'history' should"),
    ],
)
def test_a_bad_state_file_is_named(saved_state, corrupt, message):
    directory, path = saved_state
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(corrupt(text))
    with pytest.raises(CorruptStateError, match=message) as raised:
        _resume(directory)
    assert repr(path) in str(raised.value) or path in str(raised.value)


def test_a_truncated_weights_file_is_named(saved_state):
    directory, path = saved_state
    with open(path) as f:
        arrays = os.path.join(directory, "enas", json.load(f)["arrays"])
    with open(arrays, "r+b") as f:
        f.truncate(100)
    with pytest.raises(CorruptStateError, match="truncated or corrupt") as raised:
        _resume(directory)
    assert arrays in str(raised.value)
    os.remove(arrays)
    with pytest.raises(CorruptStateError, match="missing"):
        _resume(directory)


def test_the_command_names_a_truncated_state_file_in_one_line(
    saved_state, toy_dataset, monkeypatch, capsys
):
    directory, path = saved_state
    with open(path, "w") as f:
        f.write('{"epoch": 1, "arr')
    argv = ["search", "--dataset", "toy", "--directory", directory, "--evaluation", "shared"]
    assert cli.main([*argv, *SMALLEST_FLAGS, "--algorithm", "reinforce", "--no-final"]) == 2
    line = only_error_line(capsys)
    assert path in line and "truncated" in line and "--overwrite" in line


def test_an_epoch_without_a_full_batch_is_printed(tmp_path, capsys):
    search = EnasSearch(
        _toy_data(8, 4), _toy_data(16, 5), 3, str(tmp_path), SMALLEST, TINY_SETTINGS, verbose=1
    )
    record = search.run_epoch()
    assert record["shared_loss"] is None and record["train_steps"] == 0
    assert "shared loss n/a accuracy n/a" in capsys.readouterr().out

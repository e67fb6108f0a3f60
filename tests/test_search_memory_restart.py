"""A search past its memory bound stops once the trial is saved, and resumes as if it never
stopped: each trial trains on the data of its own seed, not on what the process trained before
it; `keras-nasnet search --max-memory` restarts its own process and goes on."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nasnet import cli, data, process_memory
from keras_nasnet.process_memory import (
    MemoryBoundReached,
    check_bound,
    default_bound,
    machine_memory,
    parse_size,
    resident_bytes,
    restart_command,
)
from keras_nasnet.search import SearchSpace
from keras_nasnet.search.evaluators.child import seed_trial, trial_seed
from keras_nasnet.search.network_search import search_network_space
from keras_nasnet.search.pipeline import search_dataset
from keras_nasnet.training import TrainingSettings
from tests.helpers import TINY_CHILD_SEARCH, only_error_line

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Children of one-block cells at N = 1, F = 4 on 256 images: a second or two each.
CHILD = TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32, epoch_examples=256)


def _scores(directory: str) -> dict:
    """Returns {trial id: (hyperparameter values, score)} of a search's saved trials."""
    search = os.path.join(directory, "search")
    scores = {}
    for name in sorted(os.listdir(search)):
        if name.startswith("trial_"):
            with open(os.path.join(search, name, "trial.json")) as f:
                trial = json.load(f)
            scores[trial["trial_id"]] = (trial["hyperparameters"]["values"], trial["score"])
    return scores


def test_sizes_parse_as_people_write_them_and_bad_ones_are_named():
    assert parse_size("512M") == 512 * 2**20
    assert parse_size("8G") == parse_size("8GiB") == parse_size("8 gb") == 8 * 2**30
    assert parse_size("1.5g") == int(1.5 * 2**30)
    assert parse_size(4096) == 4096 and parse_size(None) is None
    for bad in ("0", "-1G", "8X", "", "G"):
        with pytest.raises(ValueError, match="max_memory"):
            parse_size(bad)
    for bad in (True, 1.5, [8]):
        with pytest.raises(TypeError, match="max_memory"):
            parse_size(bad)


def test_the_bound_is_checked_against_what_the_process_holds():
    resident = resident_bytes()
    assert 10 * 2**20 < resident < 2**40  # this process, with TensorFlow loaded
    check_bound(None, "0")
    check_bound(2**50, "0")
    with pytest.raises(MemoryBoundReached, match="after trial 7, above its bound") as caught:
        check_bound(2**20, "7")
    assert caught.value.bound == 2**20 and caught.value.resident > 2**20


def test_the_default_bound_is_half_the_memory_the_process_may_use(tmp_path, monkeypatch):
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < default_bound() <= physical // 2 + 1
    limit = tmp_path / "memory.max"
    limit.write_text("1073741824\n")  # a container of 1 GiB
    monkeypatch.setattr(process_memory, "_CGROUP_LIMITS", (str(limit),))
    assert machine_memory() == 2**30 and default_bound() == 2**29
    limit.write_text("max\n")  # no limit: the machine's memory
    assert machine_memory() == physical


def test_a_restart_runs_the_same_command_and_only_it_knows_it_is_one(monkeypatch):
    argv = ["search", "--directory", "d", "--overw", "--seed", "0"]
    assert restart_command(argv) == [sys.executable, "-m", "keras_nasnet.cli", *argv]
    monkeypatch.setenv(process_memory.RESTART_ENV, "1")
    assert process_memory.is_restart()
    assert process_memory.RESTART_ENV not in os.environ  # the processes it starts are not
    assert not process_memory.is_restart()


def test_a_seeded_loader_gives_each_seed_its_batches_whatever_ran_before():
    loader = data.seeded_loader("fashion_mnist_sample", "train[:256]", batch_size=32, augment=True)

    def first_batch(dataset):
        return next(iter(dataset))[1].numpy().tolist()

    # As `load` with that seed: the same pipeline.
    reference = first_batch(
        data.load("fashion_mnist_sample", "train[:256]", batch_size=32, augment=True, seed=5)
    )
    shared = loader(5)
    assert first_batch(shared) == reference
    # One dataset reshuffles at each new iteration (what a process's later children got)...
    assert first_batch(shared) != reference
    # ...the loader's pipeline of a seed starts from the same batches every time.
    assert first_batch(loader(5)) == reference
    assert first_batch(loader(6)) != reference
    assert trial_seed(0, "1") == trial_seed(0, "1") != trial_seed(0, "2")
    assert trial_seed(0, "1") != trial_seed(1, "1")
    assert 0 <= trial_seed(123, "0042") < 2**31
    ds = data.load("fashion_mnist_sample", "train[:64]")
    assert seed_trial(0, "1", ds) is ds  # a plain dataset is used as given
    assert seed_trial(3, "1", lambda seed: seed) == trial_seed(3, "1")
    # The global generators are seeded with the trial's seed, whatever drew before.
    draws = [np.random.random(), float(keras.random.uniform(()))]
    assert seed_trial(3, "2") is None
    assert [np.random.random(), float(keras.random.uniform(()))] != draws
    keras.utils.set_random_seed(trial_seed(3, "2"))
    expected = [np.random.random(), float(keras.random.uniform(()))]
    seed_trial(3, "2")
    assert [np.random.random(), float(keras.random.uniform(()))] == expected


def _cell_search(directory, **kwargs):
    return search_dataset(
        "fashion_mnist_sample",
        directory,
        max_trials=2,
        algorithm="random",
        seed=0,
        space=SearchSpace(num_blocks=1),
        child=CHILD,
        final=None,
        validation_size=64,
        verbose=0,
        **kwargs,
    )


def test_a_cell_search_stopped_at_its_bound_after_each_trial_resumes_with_the_same_rewards(
    tmp_path,
):
    keras.utils.set_random_seed(7)  # what ran before in the process must not matter
    _cell_search(str(tmp_path / "straight"))
    straight = _scores(str(tmp_path / "straight"))
    assert len(straight) == 2
    stopped = str(tmp_path / "stopped")
    for done in (1, 2):  # each call a resume in new objects, as a new process would be
        keras.utils.set_random_seed(100 + done)
        with pytest.raises(MemoryBoundReached, match=f"after trial {done - 1}"):
            _cell_search(stopped, max_memory="1M")
        assert len(_scores(stopped)) == done  # the trial was saved before the stop
    _cell_search(stopped)  # nothing left to train: the search ends
    assert _scores(stopped) == straight


def _macro_search(directory, **kwargs):
    return search_network_space(
        "macro",
        "fashion_mnist_sample",
        directory,
        max_trials=2,
        algorithm="random",
        seed=0,
        epoch_examples=64,
        batch_size=32,
        final_epochs=0,
        space_options={"layers": 3},
        validation_size=64,
        verbose=False,
        **kwargs,
    )


def test_a_network_search_stopped_at_its_bound_resumes_with_the_same_rewards(tmp_path):
    keras.utils.set_random_seed(7)
    _macro_search(str(tmp_path / "straight"))
    stopped = str(tmp_path / "stopped")
    for done in (1, 2):
        keras.utils.set_random_seed(100 + done)
        with pytest.raises(MemoryBoundReached):
            _macro_search(stopped, max_memory=2**20)
        assert len(_scores(stopped)) == done
    _macro_search(stopped)
    assert _scores(stopped) == _scores(str(tmp_path / "straight"))


def test_a_search_called_in_process_past_its_bound_fails_in_one_line(tmp_path, capsys):
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", str(tmp_path / "s")]
    argv += [*TINY_CHILD_SEARCH, "--max-trials", "2", "--epoch-examples", "64"]
    assert cli.main([*argv, "--max-memory", "1M"]) == 2
    assert "after trial 0, above its bound of 1 MiB" in only_error_line(capsys)
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--max-memory", "abc"])
    assert exited.value.code == 2 and "--max-memory" in capsys.readouterr().err
    shared = ["--evaluation", "shared", "--max-memory", "1G"]
    assert cli.main([*argv[:5], *shared]) == 2
    assert "--max-memory" in only_error_line(capsys)


def test_the_search_command_restarts_its_process_and_finishes_the_search(tmp_path):
    directory = str(tmp_path / "restarted")
    flags = [*TINY_CHILD_SEARCH, "--max-trials", "2", "--epoch-examples", "256", "--seed", "0"]
    command = [sys.executable, "-m", "keras_nasnet.cli", "search", "--dataset"]
    command += ["fashion_mnist_sample", "--directory", directory, *flags]
    environment = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run(
        [*command, "--max-memory", "1M", "--overw"],  # --overwrite, abbreviated
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    restarts = [line for line in done.stderr.splitlines() if "restarting it" in line]
    assert len(restarts) == 2, done.stderr  # after each trial, the last one included
    assert "after trial 0, above --max-memory 1 MiB" in restarts[0]
    # The restarted processes resumed (--overwrite left out): one line per trial in all.
    assert [line.split()[1] for line in done.stdout.splitlines() if line.startswith("trial ")] == [
        "0",
        "1",
    ], done.stdout
    assert os.path.exists(os.path.join(directory, "best_architecture.json"))
    # The same trials as a search that never stopped, in this process.
    straight = str(tmp_path / "straight")
    assert (
        cli.main(["search", "--dataset", "fashion_mnist_sample", "--directory", straight, *flags])
        == 0
    )
    assert _scores(directory) == _scores(straight)

"""The main job (`keras-nasnet main-job`): its budget is split, printed and respected."""

import json
import os
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.main_job.deadline import StopAt

from .helpers import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the job may run past its budget: 5%, and the interpreter's start before its clock.
MARGIN = 0.05
START_SECONDS = 3.0


def test_stop_at_ends_training_at_the_first_step_past_its_deadline():
    now = [0.0]

    def clock():
        now[0] += 1.0  # one second a step
        return now[0]

    said = []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    stop = StopAt(3.0, lambda text, **_: said.append(text), clock)
    x = np.zeros((20, 2), "float32")
    model.fit(x, x[:, :1], batch_size=2, epochs=3, verbose=0, callbacks=[stop])
    assert stop.steps == 3 and stop.stopped
    assert int(model.optimizer.iterations) == 3
    assert said and "stopped after 3 steps" in said[0]


@pytest.mark.parametrize(
    "argv, environment, message",
    [
        (["--budget", "0"], {}, "`--budget` must be a positive duration"),
        (["--budget", "soon"], {}, "`--budget` must be a duration such as"),
        ([], {"KERAS_NASNET_MAIN_BUDGET": "-5m"}, "`KERAS_NASNET_MAIN_BUDGET` must be"),
    ],
)
def test_a_bad_budget_is_refused_in_one_line(
    tmp_path, monkeypatch, capsys, argv, environment, message
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    directory = tmp_path / "job"
    assert cli.main(["main-job", "--directory", str(directory), *argv]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not directory.exists()


# A main job on the bundled sample with small models (N = 1, F = 4) in its own process, timed
# from the process's start as `time ./scripts/main.sh` would.
_JOB = """
import time
start = time.monotonic()
from keras_nasnet.main_job.job import MainJobModels, run_main_job
from keras_nasnet.training import TrainingSettings

tiny = TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=64)
startup = time.monotonic() - start
run_main_job(
    {directory!r},
    budget={budget},
    spent=startup,
    startup=startup,
    models=MainJobModels(child=tiny, final=tiny.replace(epochs=3), compare=tiny),
)
"""


@pytest.mark.slow
@pytest.mark.parametrize("budget", [180])
def test_a_tiny_budget_is_split_respected_and_its_cuts_printed(tmp_path, budget):
    directory = tmp_path / "main"
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_JOB.format(directory=str(directory), budget=budget)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=budget * 3,
    )
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert seconds <= budget * (1 + MARGIN) + START_SECONDS, out
    # The plan: each step's share, then what was cut from the full job and why.
    plan = [line for line in out.splitlines() if line.startswith("plan: ")]
    assert plan[0].startswith("plan: search: ") and "children of" in plan[0]
    assert plan[1].startswith("plan: final model: ")
    assert plan[2].startswith("plan: comparison: ")
    cuts = [line for line in plan if line.startswith("plan: cut: ")]
    assert cuts and all(" s" in line for line in cuts), plan
    assert any("comparison: left out" in line or "comparison: each run" in line for line in cuts)
    # The search ran, the final model and its files exist, the end names the cuts again.
    assert "trial 00" in out and (directory / "final_model.keras").exists()
    assert (directory / "final_model.tflite").exists() and (directory / "report.md").exists()
    assert [line for line in out.splitlines() if line.startswith("main job: cut: ")] == [
        "main job: " + line[len("plan: ") :] for line in cuts
    ]
    saved = json.loads((directory / "plan.json").read_text())
    assert saved["budget"] == budget and saved["plan"]["cuts"] == [
        c[len("plan: cut: ") :] for c in cuts
    ]


class _Rows:
    """A comparison result as `_with_random_cell` reads it: rows whose first holds `seeds`."""

    def __init__(self, cells, seeds):
        self.cells = cells
        self.rows = [type("Row", (), {"seeds": tuple(range(seeds))})() for _ in cells]


def _fake_compare(random_seeds):
    """Returns a `compare` stand-in where the pair finishes 2 seeds and the random cell
    `random_seeds` (0: no seed, the error compare raises), and the list of its calls."""
    from keras_nasnet.compare import NoFinishedSeedError

    calls = []

    def run(cells, **kwargs):
        calls.append((list(cells), kwargs))
        if len(cells) == 2:
            return _Rows(cells, 2)
        if random_seeds == 0:
            raise NoFinishedSeedError("no seed finished")
        return _Rows(cells, min(2, random_seeds))

    return run, calls


@pytest.mark.parametrize("random_seeds", [0, 1])
def test_the_random_cell_is_left_out_when_its_seeds_do_not_fit(random_seeds):
    from keras_nasnet.main_job.job import _with_random_cell

    run, calls = _fake_compare(random_seeds)
    said = []
    cells = ["nasnet_a", "best.json", "random:1"]
    result = _with_random_cell(run, cells, run(cells[:2]), lambda line, **_: said.append(line))
    # The pair's table (2 seeds, an interval) is kept, written again without training output.
    assert result.cells == cells[:2] and len(result.rows[0].seeds) == 2
    assert [c for c, _ in calls] == [cells[:2], cells, cells[:2]]
    assert calls[-1][1] == {"verbose": False}
    assert len(said) == 1 and "random cell left out" in said[0] and "2 seeds" in said[0]


def test_the_random_cell_joins_the_table_when_its_seeds_fit():
    from keras_nasnet.main_job.job import _with_random_cell

    run, calls = _fake_compare(2)
    said = []
    cells = ["nasnet_a", "best.json", "random:1"]
    result = _with_random_cell(run, cells, run(cells[:2]), lambda line, **_: said.append(line))
    assert result.cells == cells and said == [] and len(calls) == 2

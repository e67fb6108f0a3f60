"""`keras-nasnet search --space macro`: a search over whole networks from the command line runs
on the bundled sample, writes the best point, a trained `.keras` and a `.tflite`, resumes
without retraining a finished trial, and refuses the flags it has no use for in one line."""

import json
import os
import re

import keras
import pytest

from keras_nasnet import cli
from keras_nasnet.macro import MacroArchitecture, MacroNetModel
from tests.helpers import only_error_line

BASE = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
MACRO = [*BASE, "--space", "macro"]
# Tiny trials: 3 layers, 2 batches of 32 images per epoch.
TINY = [
    "--macro-layers",
    "3",
    "--epochs",
    "1",
    "--epoch-examples",
    "64",
    "--batch-size",
    "32",
    "--validation-size",
    "200",
]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _trial_lines(out: str) -> list:
    return [line for line in out.splitlines() if line.startswith("trial ")]


def test_a_macro_search_runs_trains_exports_and_resumes(capsys):
    assert (
        cli.main([*MACRO, *TINY, "--max-trials", "2", "--algorithm", "evolution", "--no-final"])
        == 0
    )
    out = capsys.readouterr().out
    assert len(_trial_lines(out)) == 2, out
    # As the cell search prints its trials: parameters and time too.
    assert all(re.search(r"params [\d,]+  time [\d.]+s  best", line) for line in _trial_lines(out))
    best = json.loads(open(os.path.join("somewhere", "best_architecture.json")).read())
    assert best["space"] == "macro" and 0 <= best["reward"] <= 1
    point = MacroArchitecture.from_dict(best["point"])
    assert len(point.layers) == 3
    assert not os.path.exists(os.path.join("somewhere", "final_model.keras"))

    # Resumed with a larger budget: only the third trial trains; then the final model, on 64
    # images of the training split (the final flags may differ from the first run's).
    resumed = [*MACRO, *TINY, "--max-trials", "3", "--algorithm", "evolution"]
    assert cli.main([*resumed, "--final-epochs", "1", "--final-epoch-examples", "64"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in _trial_lines(out)] == ["2"], out
    assert "for 1 epochs of 64 images of the training split" in out
    model = keras.saving.load_model(os.path.join("somewhere", "final_model.keras"))
    assert isinstance(model, MacroNetModel)
    best = json.loads(open(os.path.join("somewhere", "best_architecture.json")).read())
    assert model.architecture == MacroArchitecture.from_dict(best["point"])
    summary = json.loads(open(os.path.join("somewhere", "final_model.keras.json")).read())
    assert summary["space"] == "macro" and 0 <= summary["test_accuracy"] <= 1
    assert summary["epoch_examples"] == 64
    assert summary["params"] == model.count_params()
    assert os.path.getsize(os.path.join("somewhere", "final_model.tflite")) > 0
    # The search report, as a cell search writes it: the best point as best_architecture.json
    # writes it too, and TensorBoard events.
    page = open(os.path.join("somewhere", "report.html")).read()
    assert "As best_architecture.json writes it (macro space)" in page
    assert "<h2>Best cells</h2>" not in page
    first_row = re.search(r'<table id="top">.*?</tr>\n<tr>(.*?)</tr>', page, re.S).group(1)
    assert f"<td>{summary['params']:,}</td>" in first_row  # the best trial's parameters
    assert sorted(os.listdir(os.path.join("somewhere", "tensorboard", "trials"))) == ["0", "1", "2"]

    # Resumed with networks trained otherwise: refused in one line, before any training.
    other = [a if a != "64" else "96" for a in TINY]
    assert cli.main([*MACRO, *other, "--max-trials", "4", "--algorithm", "evolution"]) != 0
    assert "epoch_examples: 64 saved, 96 now" in only_error_line(capsys)
    deeper = [a if a != "3" else "4" for a in TINY]
    assert cli.main([*MACRO, *deeper, "--max-trials", "4", "--algorithm", "evolution"]) != 0
    assert "holds a 'evolution' search over" in only_error_line(capsys)  # its space differs
    trials = [n for n in os.listdir(os.path.join("somewhere", "search")) if n.startswith("trial_")]
    assert len(trials) == 3


@pytest.mark.parametrize(
    "given, named",
    [
        (["--ops", "sep_conv_3x3"], "--ops"),
        (["--cell-blocks", "2"], "--cell-blocks"),
        (["--filters", "8"], "--filters"),
        (["--latency-target-ms", "5"], "--latency-target-ms"),
        (["--prefilter", "4"], "--prefilter"),
        (["--role", "chief"], "--role"),
        (["--final-lr", "0.1"], "--final-lr"),
    ],
)
def test_a_cell_flag_is_refused_for_the_macro_space_in_one_line(capsys, given, named):
    assert cli.main([*MACRO, *given]) == 2
    line = only_error_line(capsys)
    assert named in line and "--space macro" in line
    assert not os.path.exists(os.path.join("somewhere", "search"))  # nothing searched


def test_macro_flags_need_the_macro_space_and_evaluations_need_cells(capsys):
    assert cli.main([*BASE, "--macro-layers", "3"]) == 2
    assert "--space macro" in only_error_line(capsys)
    assert cli.main([*MACRO, "--evaluation", "proxy:naswot"]) == 2
    line = only_error_line(capsys)
    assert "--evaluation" in line and "--space nasnet" in line


def test_the_command_lines_spaces_are_the_librarys():
    from keras_nasnet.cli.network_spaces import SPACES
    from keras_nasnet.search.network_search import NETWORK_SPACES

    assert SPACES == ("nasnet", *NETWORK_SPACES)


def test_the_mnasnet_multiplier_flags_reach_the_space_and_only_its(capsys, monkeypatch):
    from keras_nasnet.search import network_search

    calls = []
    monkeypatch.setattr(
        network_search, "search_network_space", lambda *a, **k: calls.append((a, k))
    )
    mnasnet = [*BASE, "--space", "mnasnet", "--no-final"]
    assert cli.main(mnasnet) == 0
    unset = {"base": None, "depth_multiplier": None, "depth_coefficient": None}
    assert calls[-1][1]["space_options"] == unset
    given = [
        "--mnasnet-depth-multiplier",
        "0.25",
        "--mnasnet-depth-coefficient",
        "1",
        "--mnasnet-base",
        "a1",
    ]
    assert cli.main([*mnasnet, *given]) == 0
    assert calls[-1][1]["space_options"] == {
        "base": "a1",
        "depth_multiplier": 0.25,
        "depth_coefficient": 1.0,
    }
    assert cli.main([*MACRO, "--macro-layers", "3", "--no-final"]) == 0
    assert calls[-1][1]["space_options"] == {"layers": 3}
    for flags in (given[:2], given[2:4], given[4:]):
        assert cli.main([*MACRO, *flags]) == 2
        assert f"{flags[0]} applies to --space mnasnet only" in only_error_line(capsys)
    with pytest.raises(SystemExit):  # argparse's own refusal of a bad value
        cli.main([*mnasnet, "--mnasnet-depth-multiplier", "0"])
    assert "--mnasnet-depth-multiplier: must be a finite number > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*mnasnet, "--mnasnet-base", "b1"])
    assert "invalid choice: 'b1'" in capsys.readouterr().err
    assert len(calls) == 3


def test_the_a1_base_searches_around_mnasnet_a1_and_only_a_given_base_is_recorded():
    from keras_nasnet.search.network_search import NETWORK_SPACES

    entry = NETWORK_SPACES["mnasnet"]
    options = {"base": "a1", "depth_multiplier": 0.5, "depth_coefficient": 1.0}
    space, _ = entry.make(options, (28, 28, 1), 10, None, None)
    # The searched values vary around A1's widths and layers (ratio 1.0, layers +0).
    widths, layers = [16, 24, 40, 80, 112, 160, 320], [1, 2, 3, 4, 2, 3, 1]
    assert [(f, n) for f, n, _ in space.skeleton] == list(zip(widths, layers))
    assert all(widths[i] in space.filter_choices(i) for i in range(7))
    assert all(layers[i] in space.layer_choices(i) for i in range(7))
    mobilenet_v2, _ = entry.make({**options, "base": "mobilenet_v2"}, (28, 28, 1), 10, None, None)
    assert 112 not in mobilenet_v2.filter_choices(4) and 96 in mobilenet_v2.filter_choices(4)
    # A search saved before the option existed recorded no base: the default is left out of
    # the recipe so that it resumes; another base is recorded (and refused on such a resume).
    default = {**options, "base": "mobilenet_v2"}
    assert entry.recipe_options(default) == {"depth_multiplier": 0.5, "depth_coefficient": 1.0}
    assert entry.recipe_options(options) == options


def test_the_mnasnet_options_set_the_network_s_size():
    from keras_nasnet.search.network_search import NETWORK_SPACES

    entry = NETWORK_SPACES["mnasnet"]
    params = {}
    for multiplier, coefficient in ((0.5, 0.5), (0.25, 0.5), (0.5, 1.0)):
        options = {
            **entry.options,
            "depth_multiplier": multiplier,
            "depth_coefficient": coefficient,
        }
        space, hypermodel = entry.make(options, (28, 28, 1), 10, None, None)
        # The defaults of every decision: the same point at each size.
        params[(multiplier, coefficient)] = hypermodel.build(space.hyperparameters()).count_params()
    assert params[(0.25, 0.5)] < params[(0.5, 0.5)] < params[(0.5, 1.0)]


@pytest.mark.slow  # 50-80 s on 2 cores; the space's stock-tuner test with the reward is fast
def test_a_mnasnet_search_with_the_latency_reward_runs_and_resumes(capsys):
    from keras_nasnet.mobile_blocks import parse_blocks

    mnasnet = [
        *BASE,
        "--space",
        "mnasnet",
        *TINY[2:],  # the recipe, without --macro-layers
        "--latency-target-ms",
        "1",
        "--algorithm",
        "random",
        "--no-final",
    ]
    assert cli.main([*mnasnet, "--max-trials", "2"]) == 0
    assert len(_trial_lines(capsys.readouterr().out)) == 2
    best = json.loads(open(os.path.join("somewhere", "best_architecture.json")).read())
    assert best["space"] == "mnasnet" and len(parse_blocks(best["point"])) == 7
    assert cli.main([*mnasnet, "--max-trials", "3"]) == 0
    assert [line.split()[1] for line in _trial_lines(capsys.readouterr().out)] == ["2"]
    # Networks of another width would not compare: refused, naming the option.
    assert cli.main([*mnasnet, "--max-trials", "4", "--mnasnet-depth-multiplier", "0.25"]) != 0
    assert "space_options.depth_multiplier: 0.5 saved, 0.25 now" in only_error_line(capsys)
    # Every trial measured its LiteRT latency, and its score is MnasNet's reward of it.
    trials = os.path.join("somewhere", "search")
    for name in sorted(os.listdir(trials)):
        if not name.startswith("trial_"):
            continue
        trial = json.loads(open(os.path.join(trials, name, "trial.json")).read())
        metrics = trial["metrics"]["metrics"]
        latency = metrics["latency_ms"]["observations"][-1]["value"][0]
        accuracy = metrics["val_accuracy"]["observations"][-1]["value"][0]
        assert latency > 0
        assert trial["score"] == pytest.approx(accuracy * (latency / 1.0) ** -0.07, rel=1e-4)

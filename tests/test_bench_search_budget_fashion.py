"""bench/search_budget_fashion.py: one search per method and seed, then the methods' figures."""

import json
import os
import pathlib
import statistics
import sys

import pytest

from keras_nasnet.compare.stats import welch_interval

_BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(_BENCH))
import search_budget_fashion as sbf  # noqa: E402

NASNET_A = [0.890, 0.893, 0.887]
ROWS = [
    {"label": "nasnet_a", "accuracies": NASNET_A},
    {"label": "evolution-seed0", "accuracies": [0.880, 0.884, 0.882]},
    {"label": "evolution-seed2", "accuracies": [0.889, 0.887, 0.891]},
    {"label": "random-seed0", "accuracies": [0.899, 0.899, 0.899]},  # a method, not random:K
    {"label": "random-1", "accuracies": [0.870, 0.872, 0.868]},
    {"label": "random-2", "accuracies": [0.881, 0.880, 0.879]},
    {"label": "random-3", "accuracies": [0.876, 0.877, 0.878]},
]


def test_each_search_has_its_directory_seed_and_the_extra_flags(tmp_path):
    args = sbf.build_parser().parse_args(
        ["--directory", str(tmp_path), "--search-flags", "--fidelity 1:9 --epoch-examples 6656"]
    )
    command = sbf.search_command("evolution", 2, args)
    assert command[command.index("--directory") + 1] == str(tmp_path / "evolution-seed2")
    assert command[command.index("--seed") + 1] == "2"
    assert command[-4:] == ["--fidelity", "1:9", "--epoch-examples", "6656"]
    assert command[command.index("--algorithm") + 1] == "evolution"


def test_a_methods_figure_is_over_its_searches_cells():
    summaries = sbf.method_rows(ROWS, ["evolution", "ppo", "random"], [0, 1, 2])
    assert [s["method"] for s in summaries] == ["evolution", "random"]  # ppo found nothing
    evolution = summaries[0]
    means = [statistics.fmean(ROWS[1]["accuracies"]), statistics.fmean(ROWS[2]["accuracies"])]
    assert evolution["cells"] == pytest.approx({0: means[0], 2: means[1]})
    assert evolution["mean_accuracy"] == pytest.approx(statistics.fmean(means))
    expected = welch_interval(NASNET_A, means)
    assert evolution["minus_reference"]["difference"] == pytest.approx(
        statistics.fmean(means) - statistics.fmean(NASNET_A)
    )
    assert evolution["minus_reference"]["low"] == pytest.approx(expected.low)
    # The median of random-1..3 by mean accuracy; "random-seed0" is random search's cell.
    assert evolution["median_random"] == "random-3"
    assert summaries[1]["cells"] == pytest.approx({0: 0.899})
    assert summaries[1]["minus_reference"]["low"] is None  # one search: no interval
    text = sbf.methods_markdown(summaries)
    assert "| evolution | 2 |" in text and "(no interval: one search)" in text


def test_the_reference_row_must_be_there():
    with pytest.raises(ValueError, match="No 'nasnet_a' row"):
        sbf.method_rows(ROWS[1:], ["evolution"], [0])


def test_the_bench_runs_searches_seed_by_seed_then_compares_and_writes_the_figures(
    tmp_path, monkeypatch
):
    calls = []

    def fake_call(command):
        directory = command[command.index("--directory") + 1]
        calls.append(os.path.basename(directory))
        os.makedirs(directory, exist_ok=True)
        if not directory.endswith("ppo-seed1"):  # one search leaves no cell
            with open(os.path.join(directory, "best_architecture.json"), "w") as f:
                f.write("{}")
        return 0

    compared = {}

    def fake_compare(architectures, dataset, directory, **kwargs):
        compared["architectures"] = architectures
        os.makedirs(directory, exist_ok=True)
        rows = [{"label": "nasnet_a", "accuracies": NASNET_A}]
        for entry in architectures[1:]:
            label = entry[0] if isinstance(entry, tuple) else "random-1"
            rows.append({"label": label, "accuracies": [0.88, 0.882, 0.884]})
        paths = {"markdown": os.path.join(directory, "compare.md")}
        paths["json"] = os.path.join(directory, "compare.json")
        with open(paths["markdown"], "w") as f:
            f.write("table\n")
        with open(paths["json"], "w") as f:
            json.dump({"rows": rows}, f)
        return type("Result", (), {"paths": paths})()

    import keras_nasnet.search

    monkeypatch.setattr(sbf.subprocess, "call", fake_call)
    monkeypatch.setattr(keras_nasnet.search, "compare", fake_compare)
    monkeypatch.setattr(sbf, "versions", lambda: {})
    sbf.main(
        ["--directory", str(tmp_path), "--methods", "random", "ppo", "--search-seeds", "0", "1"]
    )
    assert calls == ["random-seed0", "ppo-seed0", "random-seed1", "ppo-seed1"]
    labels = [a[0] for a in compared["architectures"][1:-1]]
    assert labels == ["random-seed0", "random-seed1", "ppo-seed0"]
    assert compared["architectures"][-1] == "random:3"
    summaries = json.loads((tmp_path / "methods.json").read_text())
    assert [(s["method"], len(s["cells"])) for s in summaries] == [("random", 2), ("ppo", 1)]
    entries = [json.loads(line) for line in open(tmp_path / "record.jsonl")]
    events = [entry["event"] for entry in entries]
    assert events.count("search ended") == 4 and events[-1] == "compare ended"
    # Each search names its CPU: budgets of wall clock are compared on one machine only.
    started = [entry for entry in entries if entry["event"] == "search started"]
    if sys.platform.startswith("linux"):
        assert all(entry["cpu"]["model"] and entry["cpu"]["cpus"] >= 1 for entry in started)

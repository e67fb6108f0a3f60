"""`keras_nasnet.design_spaces`: EDFs, KS, efficiency, the bootstrap and the report, checked
against hand computations on small inputs and planted optima on synthetic records."""

import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from keras_nasnet.design_spaces import (
    CategoricalWins,
    ModelRecord,
    NumericRange,
    bootstrap_decisions,
    choice_names,
    compare_spaces,
    edf,
    error_distribution,
    ks_distance,
    ks_interval,
    load_records,
    narrowing,
    normalized_weights,
    random_search_efficiency,
    save_records,
    shared_range,
    write_report,
)


def _records(space, errors, params=None, decisions=None):
    params = params or [1000] * len(errors)
    decisions = decisions or [{}] * len(errors)
    return [ModelRecord(space, d, e, p, 10 * p, 1.0) for e, p, d in zip(errors, params, decisions)]


# ---------------------------------------------------------------- EDF, weights, KS


def test_edf_is_the_share_strictly_below_each_grid_point():
    errors = [0.3, 0.1, 0.2, 0.2]
    grid = [0.1, 0.15, 0.2, 0.25, 0.35]
    assert edf(errors, grid).tolist() == [0.0, 0.25, 0.25, 0.75, 1.0]
    weighted = edf(errors, grid, weights=[0.4, 0.1, 0.25, 0.25])
    np.testing.assert_allclose(weighted, [0.0, 0.1, 0.1, 0.6, 1.0])


def test_edf_refuses_weights_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        edf([0.1, 0.2], [0.5], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="one weight per error"):
        edf([0.1, 0.2], [0.5], weights=[1.0])


def test_normalized_weights_give_each_bin_one_share():
    # Bins [0, 5) and [5, 10] (the last closed): three models, then two.
    weights = normalized_weights([1, 2, 3, 9, 10], bins=2, value_range=(0, 10))
    np.testing.assert_allclose(weights, [1 / 6, 1 / 6, 1 / 6, 1 / 4, 1 / 4])
    assert weights[:3].sum() == pytest.approx(0.5) and weights[3:].sum() == pytest.approx(0.5)


def test_normalized_weights_name_an_empty_bin():
    with pytest.raises(ValueError, match=r"Bin 2 of 3 \(\[4, 8\]\) holds no model.*fewer bins"):
        normalized_weights([1, 2, 9, 11], bins=3, value_range=(0, 12))
    with pytest.raises(ValueError, match="outside `value_range`"):
        normalized_weights([1, 20], bins=1, value_range=(0, 12))


def test_ks_distance_by_hand():
    a = error_distribution(_records("a", [0.1, 0.2, 0.3, 0.4]))
    b = error_distribution(_records("b", [0.25, 0.35, 0.45, 0.55]))
    # Just after 0.2: F_a = 0.5, F_b = 0; the gap never exceeds that.
    assert ks_distance(a, b) == pytest.approx(0.5)
    assert ks_distance(a, a) == 0.0
    far = error_distribution(_records("c", [0.7, 0.8]))
    assert ks_distance(a, far) == 1.0


def test_normalized_ks_by_hand():
    # Bins [0, 5) and [5, 10] of params. Space a weighs 0.1, 0.2 at 1/4 and 0.3 at 1/2;
    # space b weighs 0.25 at 1/2 and 0.15, 0.35 at 1/4 each.
    a_records = _records("a", [0.1, 0.2, 0.3], params=[1, 2, 8])
    b_records = _records("b", [0.15, 0.25, 0.35], params=[9, 1, 9])
    a = error_distribution(a_records, "params", bins=2, value_range=(0, 10))
    b = error_distribution(b_records, "params", bins=2, value_range=(0, 10))
    np.testing.assert_allclose(a.weights, [0.25, 0.25, 0.5])
    np.testing.assert_allclose(b.weights, [0.25, 0.5, 0.25])
    for d in (a, b):  # each bin carries 1/B
        totals = [d.weights[d.bin_index == i].sum() for i in range(2)]
        np.testing.assert_allclose(totals, [0.5, 0.5])
    # G_a at 0.1 .. 0.35: .25 .25 .5 .5 1 1; G_b: 0 .25 .25 .75 .75 1.
    assert ks_distance(a, b) == pytest.approx(0.25)
    plain = ks_distance(error_distribution(a_records), error_distribution(b_records))
    assert plain == pytest.approx(1 / 3)


def test_normalized_distribution_leaves_out_and_counts_models_outside_the_range():
    records = _records("a", [0.1, 0.2, 0.3, float("nan")], params=[1, 6, 50, 2])
    d = error_distribution(records, "params", bins=2, value_range=(0, 10))
    assert (d.size, d.outside_range, d.failed) == (2, 1, 1)
    assert d.errors.tolist() == [0.1, 0.2]
    with pytest.raises(ValueError, match="required with `normalize_by`"):
        error_distribution(records, "params")


def test_shared_range_is_the_overlap_and_refuses_disjoint_spaces():
    groups = {
        "a": _records("a", [0.1, 0.2], params=[10, 100]),
        "b": _records("b", [0.1, 0.2], params=[50, 500]),
    }
    assert shared_range(groups) == (50.0, 100.0)
    groups["c"] = _records("c", [0.1], params=[1000])
    with pytest.raises(ValueError, match="do not overlap"):
        shared_range(groups)


def test_ks_interval_is_seeded_and_brackets_resampled_distances():
    rng = np.random.default_rng(0)
    a = error_distribution(_records("a", list(rng.uniform(0.1, 0.3, 40))))
    b = error_distribution(_records("b", list(rng.uniform(0.15, 0.35, 40))))
    first = ks_interval(a, b, resamples=200, seed=3)
    assert first == ks_interval(a, b, resamples=200, seed=3)
    assert 0.0 <= first.low <= first.high <= 1.0
    assert first.low < first.distance < first.high
    # Disjoint spaces stay disjoint in every resample.
    c = error_distribution(_records("c", [0.8, 0.9, 0.95]))
    assert ks_interval(a, c, resamples=20).low == 1.0


def test_normalized_ks_interval_resamples_within_bins():
    params = [1, 2, 3, 6, 7, 8, 9, 10]
    rng = np.random.default_rng(1)
    a = error_distribution(
        _records("a", list(rng.uniform(0.1, 0.3, 8)), params), "params", 2, (0, 10)
    )
    b = error_distribution(
        _records("b", list(rng.uniform(0.1, 0.3, 8)), params), "params", 2, (0, 10)
    )
    # Resampling within bins keeps every bin's count, so no resample can leave a bin empty.
    result = ks_interval(a, b, resamples=100, seed=0)
    assert 0.0 <= result.low <= result.high <= 1.0


# ---------------------------------------------------------------- random-search efficiency


def _weighted_three():
    # Weights 1/2 (alone in bin 1), 1/4, 1/4 (together in bin 2).
    records = _records("s", [0.1, 0.2, 0.3], params=[1, 9, 10])
    return error_distribution(records, "params", bins=2, value_range=(0, 10))


def test_efficiency_matches_the_expected_minimum_by_hand():
    d = _weighted_three()
    curve = random_search_efficiency(d, max_power=1, repetitions=20000, seed=0)
    assert curve.sizes.tolist() == [1, 2]
    # k = 1: the weighted mean error.
    assert curve.mean[0] == pytest.approx(0.5 * 0.1 + 0.25 * 0.2 + 0.25 * 0.3, abs=0.002)
    # k = 2: P(min = .1) = 1 - .5^2, P(min = .2) = .5^2 - .25^2, P(min = .3) = .25^2.
    p = [0.75, 0.1875, 0.0625]
    mean = 0.1 * p[0] + 0.2 * p[1] + 0.3 * p[2]
    std = math.sqrt(0.01 * p[0] + 0.04 * p[1] + 0.09 * p[2] - mean**2)
    assert curve.mean[1] == pytest.approx(mean, abs=0.002)
    assert curve.std[1] == pytest.approx(std, abs=0.002)
    # k = 1024: the minimum, every time (P(missing it) = 0.5^1024).
    large = random_search_efficiency(d, max_power=10, repetitions=200, seed=0)
    assert large.sizes.tolist() == [2**p for p in range(11)]
    assert large.mean[-1] == pytest.approx(0.1) and large.std[-1] == pytest.approx(0.0)


def test_efficiency_default_sizes_stop_at_the_number_of_models():
    curve = random_search_efficiency(_weighted_three(), repetitions=10, seed=1)
    assert curve.sizes.tolist() == [1, 2]
    again = random_search_efficiency(_weighted_three(), repetitions=10, seed=1)
    assert curve.mean.tolist() == again.mean.tolist()


# ---------------------------------------------------------------- bootstrap and narrowing


def _planted(n=200, seed=0, failed=0):
    """Models whose best have op "b" and width 32; "rate" does not matter."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        op = ["a", "b", "c"][i % 3]
        width = int(rng.integers(8, 65))
        rate = float(rng.uniform(0, 1))
        error = 0.1 + 0.2 * (op != "b") + 0.005 * abs(width - 32) + rng.uniform(0, 0.02)
        if i < failed:
            error = float("nan")
        records.append(
            ModelRecord("planted", {"op": op, "width": width, "rate": rate}, error, 1000 + i, i)
        )
    return records


def test_bootstrap_recovers_the_planted_best_values():
    result = bootstrap_decisions(_planted(failed=3), resamples=500, seed=0)
    assert (result.models, result.failed, result.sample_size) == (197, 3, 49)
    op = result.decisions["op"]
    assert isinstance(op, CategoricalWins)
    assert op.best() == "b" and op.shares["b"] == 1.0 and op.shares["c"] == 0.0
    width = result.decisions["width"]
    assert isinstance(width, NumericRange) and width.integer
    assert width.low <= 32 <= width.high and width.high - width.low < 20
    assert abs(width.median - 32) <= 4
    widths = [r.decisions["width"] for r in _planted(failed=3) if not r.failed]
    assert (width.minimum, width.maximum) == (min(widths), max(widths))
    assert not result.decisions["rate"].integer
    assert bootstrap_decisions(_planted(failed=3), resamples=500, seed=0) == result


def test_bootstrap_can_treat_a_numeric_decision_as_categorical():
    result = bootstrap_decisions(
        _planted(), decisions=["width"], categorical=["width"], resamples=100
    )
    assert list(result.decisions) == ["width"]
    wins = result.decisions["width"]
    assert isinstance(wins, CategoricalWins) and sum(wins.shares.values()) == pytest.approx(1.0)
    assert abs(wins.best() - 32) <= 4


def test_choice_names_are_the_choice_hyperparameters():
    # Stand-ins for keras-tuner's classes (importing keras-tuner would load TensorFlow).
    class Choice:
        def __init__(self, name):
            self.name = name

    class Int(Choice):
        pass

    class HyperParameters:
        space = [Choice("filters"), Int("depth"), Choice("op")]

    assert choice_names(HyperParameters()) == ["filters", "op"]
    with pytest.raises(TypeError, match="must be a keras-tuner HyperParameters"):
        choice_names({"filters": [16, 32]})


def test_bootstrap_judges_an_inactive_decision_on_the_models_that_have_it():
    records = _records(
        "s", [0.1, 0.2, 0.3, 0.4], decisions=[{"x": 1}, {"x": 2, "y": "p"}, {"x": 3}, {"y": "q"}]
    )
    result = bootstrap_decisions(records, resamples=300, sample=1.0, seed=0)
    # Where model 2 is drawn, "p" (error 0.2) beats "q" (error 0.4).
    y = result.decisions["y"]
    assert y.shares["p"] > y.shares["q"] > 0
    assert y.resamples < 300  # resamples without either model have no winner for "y"


def test_narrowing_drops_values_that_never_win_and_keeps_good_ranges():
    result = bootstrap_decisions(_planted(), resamples=500, seed=0)
    narrowed = narrowing(result)
    assert narrowed["op"] == ["b"]
    low, high = narrowed["width"]
    assert isinstance(low, int) and isinstance(high, int)
    assert low <= result.decisions["width"].low and high >= result.decisions["width"].high
    assert json.loads(json.dumps(narrowed)) == narrowed
    # Asking more than any value won still keeps the best one.
    assert narrowing(result, min_share=0.999)["op"] == ["b"]


# ---------------------------------------------------------------- records


def test_records_round_trip_with_a_failed_model(tmp_path):
    records = _planted(n=5, failed=1)
    path = save_records(records, tmp_path / "r.jsonl")
    lines = open(path).read().splitlines()
    assert json.loads(lines[0])["error"] is None
    loaded = load_records(path)
    assert loaded[0].failed and not loaded[1].failed
    assert [r.to_dict() for r in loaded] == [r.to_dict() for r in records]


def test_bad_records_give_clear_errors(tmp_path):
    good = {"space": "s", "decisions": {"op": "a"}, "error": 0.2, "params": 10, "mult_adds": 5}
    assert ModelRecord.from_dict(good).seconds is None
    with pytest.raises(ValueError, match="lacks the field error"):
        ModelRecord.from_dict({k: v for k, v in good.items() if k != "error"})
    with pytest.raises(ValueError, match=r"`error` must be in \[0, 1\].*received 12.5"):
        ModelRecord.from_dict({**good, "error": 12.5})
    with pytest.raises(TypeError, match="`error` must be a number"):
        ModelRecord.from_dict({**good, "error": "0.2"})
    with pytest.raises(TypeError, match="decision 'op' must be a string, bool or finite"):
        ModelRecord.from_dict({**good, "decisions": {"op": [1, 2]}})
    with pytest.raises(ValueError, match="`params` must be an int >= 0; received -1"):
        ModelRecord.from_dict({**good, "params": -1})
    with pytest.raises(ValueError, match="unknown field colour"):
        ModelRecord.from_dict({**good, "colour": 1})
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "error": -0.1}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: .*`error` must be in \[0, 1\]"):
        load_records(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        load_records(path)


def test_statistics_refuse_mixed_or_all_failed_spaces():
    with pytest.raises(ValueError, match="of one space; received 2: a, b"):
        error_distribution(_records("a", [0.1]) + _records("b", [0.2]))
    with pytest.raises(ValueError, match="all 2 models failed"):
        bootstrap_decisions(_records("a", [float("nan")] * 2))


# ---------------------------------------------------------------- the report


class _Page(HTMLParser):
    """Collects the svg elements, figure ids and table cells (by table id) of a page."""

    def __init__(self):
        super().__init__()
        self.svgs, self.figures, self.tables = 0, [], {}
        self._table, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        elif tag == "figure":
            self.figures.append(attrs.get("id"))
        elif tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _two_spaces():
    rng = np.random.default_rng(7)
    records = []
    for space, shift in (("wide", 0.0), ("narrow", 0.05)):
        for i in range(48):
            params = int(rng.integers(1000, 5000))
            error = float(0.2 + shift + rng.uniform(0, 0.1) - 1e-5 * params)
            decisions = {"op": ["x", "y"][i % 2], "depth": int(rng.integers(1, 9))}
            records.append(ModelRecord(space, decisions, error, params, 3 * params, 2.0))
    records.append(ModelRecord("narrow", {"op": "x", "depth": 2}, float("nan"), 2000, 6000))
    return records


def test_report_writes_html_with_plots_and_tables_and_markdown(tmp_path):
    records = _two_spaces()
    comparison = compare_spaces(
        records, bins=4, ks_resamples=50, bootstrap_resamples=200, repetitions=50, seed=0
    )
    paths = write_report(comparison, tmp_path, command="python analyse.py")
    html = open(paths["html"], encoding="utf-8").read()
    parsed = _Page()
    parsed.feed(html)
    assert parsed.svgs == 4
    assert parsed.figures == ["edf", "normalized_edf", "efficiency", "error_vs_complexity"]
    assert "python analyse.py" in html

    spaces = parsed.tables["spaces"]
    assert spaces[0][:4] == ["space", "models", "failed", "outside range"]
    narrow = next(row for row in spaces if row[0] == "narrow")
    errors = [r.error for r in records if r.space == "narrow" and not r.failed]
    assert narrow[1:3] == ["49", "1"]
    assert narrow[4] == f"{min(errors):.4f}" and narrow[5] == f"{np.median(errors):.4f}"

    (_, ks_row) = parsed.tables["ks"]
    plain = ks_distance(comparison.plain["wide"], comparison.plain["narrow"])
    normalized = ks_distance(comparison.normalized["wide"], comparison.normalized["narrow"])
    assert ks_row[:2] == ["wide", "narrow"]
    assert re.fullmatch(rf"{plain:.3f} \[\d\.\d{{3}}, \d\.\d{{3}}\]", ks_row[2])
    assert ks_row[3].startswith(f"{normalized:.3f} [")

    boot = {row[0]: row for row in parsed.tables["bootstrap-wide"][1:]}
    assert boot["op"][1] == "categorical" and boot["depth"][1] == "integer"

    markdown = open(paths["markdown"], encoding="utf-8").read()
    assert "| wide | narrow |" in markdown and "## Bootstrap: good values" in markdown
    for name in ("edf", "normalized_edf", "efficiency", "error_vs_complexity"):
        assert f"(design_spaces_files/{name}.svg)" in markdown
        assert open(paths[name], encoding="utf-8").read().lstrip().startswith("<?xml")
    with open(paths["narrowing"], encoding="utf-8") as f:
        assert json.load(f) == comparison.narrowing


def test_report_of_one_space_without_normalizing(tmp_path):
    records = [r for r in _two_spaces() if r.space == "wide"]
    comparison = compare_spaces(
        records, normalize_by=None, ks_resamples=10, bootstrap_resamples=50, repetitions=10
    )
    paths = write_report(comparison, tmp_path)
    parsed = _Page()
    parsed.feed(open(paths["html"], encoding="utf-8").read())
    assert parsed.svgs == 3 and "normalized_edf" not in parsed.figures
    assert "ks" not in parsed.tables
    assert "One space: no pair to compare." in open(paths["markdown"]).read()


def test_report_files_are_the_same_bytes_for_the_same_records(tmp_path):
    records = [r for r in _two_spaces() if r.space == "narrow"]
    written = []
    for run in ("one", "two"):
        comparison = compare_spaces(
            records, normalize_by=None, ks_resamples=10, bootstrap_resamples=50, repetitions=10
        )
        paths = write_report(comparison, tmp_path / run)
        written.append({k: open(p, "rb").read() for k, p in paths.items() if k != "html"})
    assert written[0] == written[1]


def test_compare_spaces_names_the_space_with_an_empty_bin():
    with pytest.raises(ValueError, match=r"Space 'wide': Bin \d+ of 200 .*fewer bins"):
        compare_spaces(_two_spaces(), bins=200, ks_resamples=10, bootstrap_resamples=10)
    with pytest.raises(ValueError, match="Unknown `normalize_by` 'flops'"):
        compare_spaces(_two_spaces(), normalize_by="flops")


def test_the_package_imports_no_tensorflow_or_keras():
    code = (
        "import sys, keras_nasnet.design_spaces; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

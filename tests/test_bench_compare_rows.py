"""bench/compare_rows.py: a row known only by its summary gives the interval its runs give."""

import importlib.util
import pathlib
import statistics

import pytest

from keras_nasnet.compare.stats import welch_interval

_PATH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "compare_rows.py"
_SPEC = importlib.util.spec_from_file_location("compare_rows", _PATH)
compare_rows = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(compare_rows)


@pytest.mark.parametrize("runs", [[0.8905, 0.8833, 0.8842], [0.71, 0.74, 0.69, 0.73, 0.70]])
def test_summary_sample_has_the_mean_and_std_and_gives_the_runs_interval(runs):
    mean, std = statistics.fmean(runs), statistics.stdev(runs)
    sample = compare_rows.summary_sample(mean, std, len(runs))
    assert len(sample) == len(runs)
    assert statistics.fmean(sample) == pytest.approx(mean, abs=1e-12)
    assert statistics.stdev(sample) == pytest.approx(std, abs=1e-12)
    other = [0.8780, 0.8790, 0.8740]
    from_runs, from_summary = welch_interval(other, runs), welch_interval(other, sample)
    assert from_summary.low == pytest.approx(from_runs.low, abs=1e-12)
    assert from_summary.high == pytest.approx(from_runs.high, abs=1e-12)


@pytest.mark.parametrize(
    "text", ["nasnet_a=0.89,0.01", "nasnet_a=0.89,0.01,0", "nasnet_a=0.89,-0.01,3", "=0.89,0.01,3"]
)
def test_a_malformed_summary_is_refused_with_the_expected_form(text):
    with pytest.raises(SystemExit, match="LABEL=MEAN,STD,N"):
        compare_rows.parse_summary(text)


def test_a_summary_parses_to_its_label_and_sample():
    label, sample = compare_rows.parse_summary("nasnet_a=0.8919,0.0029,3")
    assert label == "nasnet_a"
    assert statistics.fmean(sample) == pytest.approx(0.8919, abs=1e-12)
    assert statistics.stdev(sample) == pytest.approx(0.0029, abs=1e-12)

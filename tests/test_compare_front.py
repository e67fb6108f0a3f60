"""The accuracy-latency front: dominance, the Pareto front and its figure."""

import io
import math
import random
import statistics
from dataclasses import dataclass
from typing import Optional

import pytest
from matplotlib.collections import LineCollection, PathCollection

from keras_nasnet.compare.front import (
    dominates,
    front_figure,
    mean_interval_half_width,
    pareto_front,
)

# Student's t 0.975 quantile with 2 degrees of freedom (tables; scipy.stats.t.ppf(0.975, 2)).
T_975_DF2 = 4.302652729911275


@dataclass
class FakeRow:
    label: str
    latency_ms: Optional[float]
    accuracies: tuple

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan


def _points(ax) -> list:
    """Returns the scattered (x, y) points of `ax`, over all its scatter collections."""
    return [
        tuple(float(v) for v in xy)
        for c in ax.collections
        if isinstance(c, PathCollection)
        for xy in c.get_offsets()
    ]


def _scatter(ax, label: str) -> list:
    (collection,) = [c for c in ax.collections if c.get_label() == label]
    return [tuple(float(v) for v in xy) for xy in collection.get_offsets()]


def _bars(ax) -> dict:
    """Returns {x: (low, high)} of the error bars of `ax`."""
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return {float(s[0][0]): (float(s[0][1]), float(s[1][1])) for s in bars.get_segments()}


# ---------------------------------------------------------------------------- dominance


def test_dominates_needs_no_worse_on_both_and_better_on_one():
    assert dominates((1.0, 0.9), (2.0, 0.8))
    assert dominates((1.0, 0.9), (1.0, 0.8))  # same latency, more accurate
    assert dominates((1.0, 0.9), (2.0, 0.9))  # same accuracy, faster
    assert not dominates((2.0, 0.8), (1.0, 0.9))
    assert not dominates((1.0, 0.9), (1.0, 0.9))  # equal points
    assert not dominates((1.0, 0.8), (2.0, 0.9))  # a trade-off
    assert not dominates((1.0, math.nan), (2.0, 0.1))
    assert not dominates((1.0, 0.9), (None, 0.1))


def test_dominates_refuses_what_is_not_a_pair():
    with pytest.raises(TypeError, match=r"`a` must be a \(latency_ms, accuracy\) pair"):
        dominates("ab", (1.0, 0.5))
    with pytest.raises(ValueError, match=r"`b` .* \(3 values\)"):
        dominates((1.0, 0.5), (1.0, 0.5, 0.1))


# ---------------------------------------------------------------------------- the front


def test_pareto_front_leaves_out_dominated_points_of_unsorted_input():
    points = [(2.0, 0.80), (1.0, 0.90), (3.0, 0.95), (4.0, 0.90), (0.5, 0.70)]
    # (2, .80) and (4, .90) are dominated by (1, .90); the rest trade latency for accuracy.
    assert pareto_front(points) == [4, 1, 2]


def test_pareto_front_keeps_the_first_of_equal_points_and_the_best_at_a_latency():
    points = [(1.0, 0.8), (1.0, 0.9), (1.0, 0.9), (2.0, 0.9), (2.0, 0.95)]
    assert pareto_front(points) == [1, 4]


def test_pareto_front_never_holds_a_point_with_a_missing_coordinate():
    points = [(math.nan, 0.99), (1.0, None), (2.0, 0.5), (None, None), (math.inf, 1.0)]
    # The missing points would dominate (2, .5) if they counted; they do not.
    assert pareto_front(points) == [2]
    assert pareto_front([(None, 0.5)]) == []


def test_pareto_front_of_one_point_and_of_none():
    assert pareto_front([(3.0, 0.5)]) == [0]
    assert pareto_front([]) == []


def test_pareto_front_agrees_with_pairwise_dominance():
    rng = random.Random(7)
    # Few distinct values, so ties in latency, accuracy and whole points are common.
    points = [(rng.choice([1, 2, 3, 4]), rng.choice([0.5, 0.6, 0.7])) for _ in range(40)]
    expected = [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for q in points) and p not in points[:i]
    ]
    front = pareto_front(points)
    assert sorted(front) == expected
    assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)


@pytest.mark.parametrize(
    "points, error, message",
    [
        ("ab", TypeError, r"`points` must be a sequence"),
        ([1.0, 2.0], TypeError, r"`points\[0\]` must be a \(latency_ms, accuracy\) pair"),
        ([(1.0, 0.5), (1.0, 0.5, 0.2)], ValueError, r"`points\[1\]` .* \(3 values\)"),
        ([(1.0, "high")], TypeError, r"`points\[0\]\[1\]` must be a number or None"),
        ([(True, 0.5)], TypeError, r"`points\[0\]\[0\]`"),
    ],
)
def test_pareto_front_refuses_bad_points(points, error, message):
    with pytest.raises(error, match=message):
        pareto_front(points)


def test_mean_interval_half_width_is_the_t_interval_of_the_mean():
    # n = 3, sample std 0.02: t(0.975, 2) * 0.02 / sqrt(3).
    half = mean_interval_half_width((0.80, 0.82, 0.84), 0.95)
    assert half == pytest.approx(T_975_DF2 * 0.02 / math.sqrt(3), rel=1e-9)
    assert mean_interval_half_width((0.8,), 0.95) == 0.0
    with pytest.raises(ValueError, match="`confidence`"):
        mean_interval_half_width((0.8, 0.9), 1.5)


# ---------------------------------------------------------------------------- the figure


ROWS = [
    FakeRow("nasnet_a", 2.0, (0.80, 0.82, 0.84)),
    FakeRow("random-1", 1.0, (0.70, 0.72, 0.74)),
    FakeRow("random-2", 3.0, (0.78, 0.79, 0.80)),  # slower and less accurate than nasnet_a
    FakeRow("unmeasured", None, (0.99, 0.99, 0.99)),
    FakeRow("one-seed", 4.0, (0.90,)),
]


def test_front_figure_plots_the_rows_with_a_latency_and_the_front():
    figure = front_figure(ROWS, "int8")
    (ax,) = figure.axes
    assert len(_points(ax)) == 4
    assert sorted(t.get_text() for t in ax.texts) == [
        "nasnet_a",
        "one-seed",
        "random-1",
        "random-2",
    ]
    assert _scatter(ax, "reference (first row)") == [(2.0, pytest.approx(0.82))]
    assert len(_scatter(ax, "architectures")) == 3
    (front,) = [line for line in ax.lines if line.get_label() == "Pareto front (of the means)"]
    assert list(front.get_xdata()) == [1.0, 2.0, 4.0]
    assert list(front.get_ydata()) == pytest.approx([0.72, 0.82, 0.90])
    assert front.get_drawstyle() == "steps-post"
    assert ax.get_xlabel() == "int8 latency, batch 1, 1 thread (ms)"
    assert ax.get_ylabel() == "test accuracy (mean of seeds, 95% interval)"
    assert ax.get_xscale() == "linear"


def test_front_figure_bars_are_the_t_intervals_of_the_means():
    (ax,) = front_figure(ROWS, "float").axes
    bars = _bars(ax)
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert bars[2.0] == pytest.approx((0.82 - half, 0.82 + half))
    half = T_975_DF2 * 0.01 / math.sqrt(3)
    assert bars[3.0] == pytest.approx((0.79 - half, 0.79 + half))
    assert bars[4.0] == pytest.approx((0.90, 0.90))  # one seed: no interval


def test_front_figure_without_the_reference_latency_has_no_reference_marker():
    rows = [FakeRow("ref", None, (0.8, 0.9)), FakeRow("b", 1.0, (0.7, 0.8))]
    (ax,) = front_figure(rows, "int8").axes
    assert [c.get_label() for c in ax.collections if isinstance(c, PathCollection)] == [
        "architectures"
    ]
    assert [t.get_text() for t in ax.texts] == ["b"]


@pytest.mark.parametrize("slowest, scale", [(10.0, "linear"), (10.5, "log")])
def test_front_figure_uses_a_log_axis_only_beyond_a_tenfold_span(slowest, scale):
    rows = [FakeRow("a", 1.0, (0.8, 0.9)), FakeRow("b", slowest, (0.85, 0.95))]
    (ax,) = front_figure(rows, "int8").axes
    assert ax.get_xscale() == scale


def test_front_figure_renders_as_png():
    buffer = io.BytesIO()
    front_figure(ROWS[:2], "int8").savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_front_figure_needs_a_row_with_a_latency():
    rows = [FakeRow("a", None, (0.8,)), FakeRow("b", 1.0, ())]
    with pytest.raises(ValueError, match="no row with a latency_ms"):
        front_figure(rows, "int8")


@pytest.mark.parametrize(
    "rows, kind, error, message",
    [
        ([FakeRow("a", -1.0, (0.8,))], "int8", ValueError, r"`rows\[0\]\.latency_ms`"),
        ([FakeRow("a", math.nan, (0.8,))], "int8", ValueError, r"`rows\[0\]\.latency_ms`"),
        ([FakeRow("a", 1.0, (0.8, math.nan))], "int8", ValueError, r"accuracies\[1\]"),
        ([object()], "int8", TypeError, r"`rows\[0\]` must have .*no \.label"),
        ([FakeRow("a", 1.0, (0.8,))], "", TypeError, r"`latency_kind`"),
        ("rows", "int8", TypeError, r"`rows` must be a sequence"),
    ],
)
def test_front_figure_refuses_bad_input(rows, kind, error, message):
    with pytest.raises(error, match=message):
        front_figure(rows, kind)

"""The accuracy-latency front of a comparison: which architectures no other one beats on both.

A point is a (latency in ms, accuracy) pair; lower latency and higher accuracy are better. One
point dominates another when it is no slower and no less accurate, and strictly better in one of
the two. The Pareto front is the set of points nothing dominates. `front_figure` plots each
architecture at its latency and mean test accuracy over seeds, with the t interval of that mean,
and draws the front through the means as a step line: at any latency, the line's height is the
best mean accuracy reached at that latency or less.

The t quantile comes from `stats.t_quantile`, so SciPy is not needed.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Optional, Sequence

from ..validation import ArgumentTypeError, check_number
from .stats import t_quantile

# Latencies spread over more than this factor are drawn on a logarithmic axis.
LOG_SCALE_SPAN = 10.0
DEFAULT_CONFIDENCE = 0.95
_POINT_COLOUR = "#1f77b4"
_REFERENCE_COLOUR = "#d62728"
_FRONT_COLOUR = "#2ca02c"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _coordinate(value: Any, name: str) -> Optional[float]:
    """Returns `value` as a float, or None when it is missing (None) or not finite."""
    if value is None:
        return None
    if not _is_number(value):
        raise ArgumentTypeError(f"`{name}` must be a number or None; received {value!r}.")
    number = float(value)
    return number if math.isfinite(number) else None


def _pair(point: Any, name: str) -> tuple[Optional[float], Optional[float]]:
    if isinstance(point, (str, bytes, Mapping)) or not isinstance(point, Iterable):
        raise ArgumentTypeError(
            f"`{name}` must be a (latency_ms, accuracy) pair of numbers; received {point!r}."
        )
    values = tuple(point)
    if len(values) != 2:
        raise ValueError(
            f"`{name}` must be a (latency_ms, accuracy) pair of numbers; received {point!r} "
            f"({len(values)} values)."
        )
    return _coordinate(values[0], f"{name}[0]"), _coordinate(values[1], f"{name}[1]")


def dominates(a: Sequence, b: Sequence) -> bool:
    """Returns whether point `a` dominates point `b`: a (latency_ms, accuracy) pair no slower
    and no less accurate than `b` and strictly better in one. A point with a missing coordinate
    (None, NaN or infinite) neither dominates nor is dominated.

    Raises:
        TypeError: `a` or `b` is not a pair, or holds something other than numbers and None.
        ValueError: `a` or `b` does not hold exactly two values.
    """
    (latency_a, accuracy_a), (latency_b, accuracy_b) = _pair(a, "a"), _pair(b, "b")
    if None in (latency_a, accuracy_a, latency_b, accuracy_b):
        return False
    no_worse = latency_a <= latency_b and accuracy_a >= accuracy_b
    return no_worse and (latency_a < latency_b or accuracy_a > accuracy_b)


def pareto_front(points: Sequence) -> list[int]:
    """Returns the indices of the (latency_ms, accuracy) `points` that no other point
    dominates, sorted by latency ascending. Of equal points only the first index is kept; a
    point with a missing coordinate (None, NaN or infinite) is never on the front.

    Raises:
        TypeError: `points` is not a sequence of pairs, or a pair holds something other than
            numbers and None.
        ValueError: a point does not hold exactly two values.
    """
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Iterable):
        raise ArgumentTypeError(
            f"`points` must be a sequence of (latency_ms, accuracy) pairs; received {points!r}."
        )
    pairs = [_pair(point, f"points[{i}]") for i, point in enumerate(points)]
    known = [
        (latency, -accuracy, i)
        for i, (latency, accuracy) in enumerate(pairs)
        if latency is not None and accuracy is not None
    ]
    # Fastest first; at equal latency the most accurate, then the first index. Sweeping in that
    # order, a point is undominated exactly when it is more accurate than every point before it.
    front, best = [], -math.inf
    for _, negative_accuracy, i in sorted(known):
        if -negative_accuracy > best:
            front.append(i)
            best = -negative_accuracy
    return front


def _row_value(row: Any, index: int, attribute: str) -> Any:
    if not hasattr(row, attribute):
        raise ArgumentTypeError(
            f"`rows[{index}]` must have .label, .latency_ms, .accuracies and .mean (a "
            f"ComparisonRow); received {row!r}, which has no .{attribute}."
        )
    return getattr(row, attribute)


class _Point(NamedTuple):
    index: int
    label: str
    latency: float
    mean: float
    accuracies: tuple


def _plotted_rows(rows: Sequence) -> list[_Point]:
    """Returns the rows that have a latency and at least one accuracy, as points to plot."""
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise ArgumentTypeError(f"`rows` must be a sequence of ComparisonRows; received {rows!r}.")
    plotted = []
    for i, row in enumerate(rows):
        label = _row_value(row, i, "label")
        if not isinstance(label, str):
            raise ArgumentTypeError(f"`rows[{i}].label` must be a str; received {label!r}.")
        latency = _row_value(row, i, "latency_ms")
        accuracies = _row_value(row, i, "accuracies")
        mean = _row_value(row, i, "mean")
        if isinstance(accuracies, (str, bytes)) or not isinstance(accuracies, Iterable):
            raise ArgumentTypeError(
                f"`rows[{i}].accuracies` must be a sequence of numbers; received {accuracies!r}."
            )
        accuracies = tuple(accuracies)
        for k, accuracy in enumerate(accuracies):
            check_number(accuracy, f"rows[{i}].accuracies[{k}]")
        if latency is None or not accuracies:
            continue  # not measured, or not trained yet: nothing to place
        latency = check_number(latency, f"rows[{i}].latency_ms", 0, min_inclusive=False)
        mean = check_number(mean, f"rows[{i}].mean")
        plotted.append(_Point(i, label, latency, mean, accuracies))
    return plotted


def mean_interval_half_width(accuracies: Sequence[float], confidence: float) -> float:
    """Returns the half width of the t interval at `confidence` of the mean of `accuracies`
    (sample standard deviation with n - 1, n - 1 degrees of freedom); 0 for fewer than two.

    Raises:
        ValueError: `confidence` not in (0, 1).
    """
    check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    n = len(accuracies)
    if n < 2:
        return 0.0
    quantile = t_quantile(0.5 + confidence / 2.0, n - 1)
    return quantile * statistics.stdev(accuracies) / math.sqrt(n)


def front_figure(rows: Sequence, latency_kind: str, confidence: float = DEFAULT_CONFIDENCE):
    """Returns a matplotlib Figure (Agg canvas, no pyplot state) of test accuracy against
    batch-1 `latency_kind` latency (e.g. "int8" or "float"): each row that has a latency and an
    accuracy as a labelled point at its mean over seeds with the t interval of that mean at
    `confidence` (no bar with one seed), the first row (the reference) as a star, and the
    Pareto front of the means as a step line. The latency axis is logarithmic when the
    latencies span more than 10x. Rows whose `latency_ms` is None or that have no accuracy yet
    are left out.

    Raises:
        TypeError: a row lacks .label, .latency_ms, .accuracies or .mean, or `latency_kind` is
            not a non-empty str.
        ValueError: no row has a latency and an accuracy, a latency is not a finite number
            > 0, an accuracy or a mean is not finite, or `confidence` is not in (0, 1).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(latency_kind, str) or not latency_kind.strip():
        raise ArgumentTypeError(
            f'`latency_kind` must be a non-empty str such as "int8" or "float"; received '
            f"{latency_kind!r}."
        )
    check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    plotted = _plotted_rows(rows)
    if not plotted:
        raise ValueError(
            "`rows` holds no row with a latency_ms and at least one accuracy: the front needs "
            "latencies (measure them with --latency)."
        )
    latencies = [p.latency for p in plotted]
    means = [p.mean for p in plotted]
    half_widths = [mean_interval_half_width(p.accuracies, confidence) for p in plotted]

    figure = Figure(figsize=(6.5, 4.5))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    ax.errorbar(latencies, means, yerr=half_widths, fmt="none", ecolor="#888888", capsize=4)
    reference = [k for k, p in enumerate(plotted) if p.index == 0]
    others = [k for k, p in enumerate(plotted) if p.index != 0]
    for chosen, marker, size, colour, name in (
        (others, "o", 30, _POINT_COLOUR, "architectures"),
        (reference, "*", 140, _REFERENCE_COLOUR, "reference (first row)"),
    ):
        if chosen:
            ax.scatter(
                [latencies[k] for k in chosen],
                [means[k] for k in chosen],
                marker=marker,
                s=size,
                color=colour,
                label=name,
                zorder=3,
            )
    for p in plotted:
        ax.annotate(
            p.label, (p.latency, p.mean), xytext=(5, 4), textcoords="offset points", fontsize=8
        )
    front = pareto_front(list(zip(latencies, means)))
    ax.step(
        [latencies[k] for k in front],
        [means[k] for k in front],
        where="post",
        color=_FRONT_COLOUR,
        linewidth=1.5,
        label="Pareto front (of the means)",
        zorder=2,
    )
    if max(latencies) > LOG_SCALE_SPAN * min(latencies):
        from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

        ax.set_xscale("log")
        # Plain numbers at 1-2-5 steps: the default minor labels (3x10^-2) overlap.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{latency_kind} latency, batch 1, 1 thread (ms)")
    ax.set_ylabel(f"test accuracy (mean of seeds, {confidence:.0%} interval)")
    ax.grid(alpha=0.4)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Accuracy-latency front: faster to the left, more accurate to the top", fontsize=9)
    figure.tight_layout()
    return figure

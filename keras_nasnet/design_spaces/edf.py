"""Error distributions of design spaces: EDFs, their complexity-normalized form, the KS
distance between two with a bootstrap interval, and random-search efficiency.

Radosavovic et al., "On Network Design Spaces for Visual Recognition" (ICCV 2019), compare
spaces by the error distribution of models sampled from each:

- the error EDF, F(e) = (1/n) sum_i [e_i < e], the share of models with error below e;
- the normalized EDF, F(e) = sum_i w_i [e_i < e] with w_i = 1 / (count of i's bin) / B over B
  equal bins of complexity (parameters or mult-adds) on one range shared by the spaces
  compared, so that every bin carries 1/B and a space is not favoured for holding more large
  models;
- the Kolmogorov-Smirnov distance D = sup_e |F_1(e) - F_2(e)| between two spaces' EDFs;
- random-search efficiency: the expected minimum error of k models drawn (with the weights)
  from a space, for k = 1, 2, 4, ...

Models outside the shared range are left out of a normalized EDF (counted, not hidden), as the
paper's code does. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..validation import ArgumentTypeError, check_choice, check_int, check_number
from .records import ModelRecord, finished, space_of

__all__ = [
    "COMPLEXITY",
    "EfficiencyCurve",
    "ErrorDistribution",
    "KSResult",
    "edf",
    "error_distribution",
    "ks_distance",
    "ks_interval",
    "normalized_weights",
    "random_search_efficiency",
    "shared_range",
]

# What a normalized EDF may bin: a record's field.
COMPLEXITY = ("params", "mult_adds")
# Random draws per chunk of the efficiency simulation.
_CHUNK = 1 << 20


def _vector(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"`{name}` must be a sequence of numbers; received {values!r}."
        ) from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence of numbers; received shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must hold finite numbers only; received {values!r}.")
    return array


def _weights(weights, size: int) -> np.ndarray:
    if weights is None:
        return np.full(size, 1.0 / size)
    weights = _vector(weights, "weights")
    if weights.size != size:
        raise ValueError(
            f"`weights` must have one weight per error ({size}); received {weights.size}."
        )
    if np.any(weights < 0) or not math.isclose(weights.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(
            f"`weights` must be >= 0 and sum to 1; received a sum of {weights.sum()!r}."
        )
    return weights


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """0, then the running sums of `weights`, scaled to end at exactly 1 (rounding would
    otherwise leave F a hair above or below 1)."""
    total = np.cumsum(weights)
    return np.concatenate([[0.0], total / total[-1]])


def edf(errors: Sequence[float], grid: Sequence[float], weights=None) -> np.ndarray:
    """Returns F(e) = sum_i w_i [errors_i < e] at each e of `grid` (w_i = 1/n when `weights`
    is None): the (weighted) share of models whose error is below e.

    Raises:
        TypeError: `errors`, `grid` or `weights` is not numeric.
        ValueError: an empty or non-finite input, or weights that are negative, of another
            length than `errors`, or that do not sum to 1.
    """
    errors = _vector(errors, "errors")
    grid = _vector(grid, "grid")
    weights = _weights(weights, errors.size)
    order = np.argsort(errors, kind="stable")
    cumulative = _cumulative(weights[order])
    # side="left": the number of errors strictly below each grid point.
    return cumulative[np.searchsorted(errors[order], grid, side="left")]


def normalized_weights(
    complexity: Sequence[float], bins: int, value_range: Sequence[float]
) -> np.ndarray:
    """Returns the normalized-EDF weights w_i = 1 / (count of i's bin) / `bins`, the bins being
    `bins` equal intervals of `value_range` (the last one closed), so each bin's weights total
    1/`bins`.

    Raises:
        ValueError: `bins` < 1, a range that is not (low, high) with low < high, a value outside
            the range, or an empty bin (the message names it and suggests fewer bins or another
            range).
    """
    complexity = _vector(complexity, "complexity")
    bins = check_int(bins, "bins", minimum=1)
    low, high = _check_range(value_range)
    outside = (complexity < low) | (complexity > high)
    if np.any(outside):
        raise ValueError(
            f"{int(outside.sum())} complexity values lie outside `value_range` "
            f"[{low:g}, {high:g}] (e.g. {complexity[outside][0]:g}); leave them out first."
        )
    counts, edges = np.histogram(complexity, bins=bins, range=(low, high))
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        first = int(empty[0])
        raise ValueError(
            f"Bin {first + 1} of {bins} ([{edges[first]:g}, {edges[first + 1]:g}]) holds no "
            f"model ({empty.size} empty bin{'s' * (empty.size > 1)} in all): every bin needs "
            f"models for the normalized EDF. Use fewer bins (`bins` < {bins}) or a narrower "
            "`value_range` where all spaces have models."
        )
    index = _bin_index(complexity, edges)
    return 1.0 / counts[index] / bins


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # np.histogram closes the last bin on the right; digitize does not, hence the clip.
    return np.clip(np.digitize(values, edges) - 1, 0, edges.size - 2)


def _check_range(value_range) -> tuple:
    try:
        low, high = value_range
    except (TypeError, ValueError):
        raise ValueError(
            f"`value_range` must be a pair (low, high); received {value_range!r}."
        ) from None
    low = check_number(low, "value_range[0]")
    high = check_number(high, "value_range[1]")
    if not low < high:
        raise ValueError(f"`value_range` must have low < high; received {value_range!r}.")
    return low, high


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class ErrorDistribution:
    """The errors of one space's trained models and their weights, ready for the statistics.

    Attributes:
        space: the space's name.
        errors: the models' errors, ascending.
        weights: each model's weight (1/n, or the normalized weights); they sum to 1.
        complexity: each model's parameters or mult-adds (`normalized_by`; params when None).
        bin_index: each model's complexity bin (all zeros when not normalized).
        failed: how many of the space's models failed to train (left out).
        outside_range: how many trained models lie outside the normalization range (left out).
        normalized_by: "params", "mult_adds" or None (plain EDF).
        bins: the number of complexity bins (1 when not normalized).
        value_range: the normalization range, or None.
    """

    space: str
    errors: np.ndarray
    weights: np.ndarray
    complexity: np.ndarray
    bin_index: np.ndarray
    failed: int
    outside_range: int
    normalized_by: Optional[str]
    bins: int
    value_range: Optional[tuple]

    @property
    def size(self) -> int:
        """Returns the number of models the distribution holds."""
        return int(self.errors.size)

    def edf(self, grid: Sequence[float]) -> np.ndarray:
        """Returns F(e) at each e of `grid` (see `edf`)."""
        return edf(self.errors, grid, self.weights)


def shared_range(groups, normalize_by: str = "params") -> tuple:
    """Returns the complexity range every space of `groups` (space -> records) covers: the
    largest of their smallest values to the smallest of their largest (failed models count).

    Raises:
        ValueError: an unknown `normalize_by`, an empty space, or spaces whose ranges do not
            overlap (the message names them).
    """
    check_choice(normalize_by, "normalize_by", COMPLEXITY)
    lows, highs = {}, {}
    for space, records in groups.items():
        values = [getattr(record, normalize_by) for record in records]
        if not values:
            raise ValueError(f"Space {space!r} has no records.")
        lows[space], highs[space] = min(values), max(values)
    low_space = max(lows, key=lows.get)
    high_space = min(highs, key=highs.get)
    low, high = lows[low_space], highs[high_space]
    if not low < high and low_space == high_space:
        raise ValueError(
            f"Space {low_space!r} has all its models at {low:,} {normalize_by}: there is no "
            "range to bin. Compare without normalizing."
        )
    if not low < high:
        raise ValueError(
            f"The spaces' {normalize_by} ranges do not overlap: {low_space!r} starts at "
            f"{low:,} and {high_space!r} ends at {high:,}. Compare them without normalizing, "
            "or sample more models of similar size."
        )
    return float(low), float(high)


def error_distribution(
    records: Sequence[ModelRecord],
    normalize_by: Optional[str] = None,
    bins: int = 20,
    value_range: Optional[Sequence[float]] = None,
) -> ErrorDistribution:
    """Returns the `ErrorDistribution` of one space's `records`: failed models left out and
    counted; with `normalize_by` ("params" or "mult_adds") the normalized weights over `bins`
    bins of `value_range` (required then, shared by the spaces compared: see `shared_range`),
    models outside it left out and counted; otherwise equal weights.

    Raises:
        TypeError: an item of `records` is not a `ModelRecord`.
        ValueError: no records, records of several spaces, no trained model (in the range),
            an unknown `normalize_by`, a missing or bad `value_range`, or an empty bin.
    """
    records = list(records)
    space = space_of(records)
    kept, failed = finished(records)
    if not kept:
        raise ValueError(f"Space {space!r}: all {failed} models failed; nothing to analyse.")
    field = check_choice(normalize_by or "params", "normalize_by", COMPLEXITY)
    errors = np.array([record.error for record in kept])
    complexity = np.array([float(getattr(record, field)) for record in kept])
    outside = 0
    if normalize_by is None:
        bins, value_range = 1, None
        weights = np.full(errors.size, 1.0 / errors.size)
        bin_index = np.zeros(errors.size, dtype=int)
    else:
        if value_range is None:
            raise ValueError(
                "`value_range` is required with `normalize_by`: the spaces compared must share "
                "one range (see `shared_range`)."
            )
        low, high = _check_range(value_range)
        inside = (complexity >= low) & (complexity <= high)
        outside = int((~inside).sum())
        if not inside.any():
            raise ValueError(
                f"Space {space!r}: none of its {errors.size} trained models lies in "
                f"`value_range` [{low:g}, {high:g}] of {field}."
            )
        errors, complexity = errors[inside], complexity[inside]
        try:
            weights = normalized_weights(complexity, bins, (low, high))
        except ValueError as error:
            raise ValueError(f"Space {space!r}: {error}") from None
        bin_index = _bin_index(complexity, np.linspace(low, high, bins + 1))
        value_range = (low, high)
    order = np.argsort(errors, kind="stable")
    return ErrorDistribution(
        space=space,
        errors=errors[order],
        weights=weights[order],
        complexity=complexity[order],
        bin_index=bin_index[order],
        failed=failed,
        outside_range=outside,
        normalized_by=normalize_by,
        bins=bins,
        value_range=value_range,
    )


def _ks(errors_a, weights_a, errors_b, weights_b) -> float:
    # Both EDFs are steps that move only at the errors, so the supremum is reached just
    # after one of them: compare G(u) = sum_i w_i [e_i <= u] at every error u of either.
    points = np.concatenate([errors_a, errors_b])
    cum_a, cum_b = _cumulative(weights_a), _cumulative(weights_b)
    g_a = cum_a[np.searchsorted(errors_a, points, side="right")]
    g_b = cum_b[np.searchsorted(errors_b, points, side="right")]
    return float(np.max(np.abs(g_a - g_b)))


def _check_distribution(value, name: str) -> ErrorDistribution:
    if not isinstance(value, ErrorDistribution):
        raise ArgumentTypeError(
            f"`{name}` must be an ErrorDistribution (see `error_distribution`); received "
            f"{type(value).__name__}."
        )
    return value


def ks_distance(a: ErrorDistribution, b: ErrorDistribution) -> float:
    """Returns the Kolmogorov-Smirnov distance sup_e |F_a(e) - F_b(e)| between the (weighted)
    EDFs of two spaces, in [0, 1].

    Raises:
        TypeError: `a` or `b` is not an `ErrorDistribution`.
    """
    a, b = _check_distribution(a, "a"), _check_distribution(b, "b")
    return _ks(a.errors, a.weights, b.errors, b.weights)


@dataclass(frozen=True)
class KSResult:
    """The KS distance of two spaces' EDFs and its percentile bootstrap interval."""

    distance: float
    low: float
    high: float
    confidence: float
    resamples: int


def _resamples(distribution: ErrorDistribution, count: int, rng: np.random.Generator) -> tuple:
    """`count` bootstrap resamples as rows of (errors ascending, weights): models drawn with
    replacement, within each complexity bin for a normalized distribution (so every bin keeps
    its count and its weights stay 1/count/B)."""
    index = np.empty((count, distribution.size), dtype=int)
    for b in range(distribution.bins):
        members = np.flatnonzero(distribution.bin_index == b)
        index[:, members] = members[rng.integers(0, members.size, size=(count, members.size))]
    errors = distribution.errors[index]
    order = np.argsort(errors, axis=1, kind="stable")
    weights = distribution.weights[index]
    return np.take_along_axis(errors, order, 1), np.take_along_axis(weights, order, 1)


def ks_interval(
    a: ErrorDistribution,
    b: ErrorDistribution,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> KSResult:
    """Returns the KS distance of `a` and `b` with a percentile bootstrap interval: each
    resample draws each space's models with replacement (within complexity bins when
    normalized) and recomputes the distance; the interval holds the middle `confidence` share.

    A resampled distance is never below 0, so for two equal spaces the interval sits above 0:
    read it as the spread of the distance at these sample sizes, not as a test of D = 0.

    Raises:
        TypeError: `a` or `b` is not an `ErrorDistribution`.
        ValueError: `resamples` < 1 or `confidence` not in (0, 1).
    """
    a, b = _check_distribution(a, "a"), _check_distribution(b, "b")
    resamples = check_int(resamples, "resamples", minimum=1)
    confidence = check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    seed = check_int(seed, "seed")
    rng = np.random.default_rng(seed)
    errors_a, weights_a = _resamples(a, resamples, rng)
    errors_b, weights_b = _resamples(b, resamples, rng)
    distances = np.array(
        [_ks(errors_a[r], weights_a[r], errors_b[r], weights_b[r]) for r in range(resamples)]
    )
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(distances, [tail, 100.0 - tail])
    return KSResult(ks_distance(a, b), float(low), float(high), confidence, resamples)


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class EfficiencyCurve:
    """Random-search efficiency of one space: for each experiment size k, the mean and standard
    deviation (over `repetitions` simulated experiments) of the best error among k models."""

    space: str
    sizes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    repetitions: int


def random_search_efficiency(
    distribution: ErrorDistribution,
    max_power: Optional[int] = None,
    repetitions: int = 1000,
    seed: int = 0,
) -> EfficiencyCurve:
    """Returns the `EfficiencyCurve` of a space: for k = 2^0 ... 2^`max_power` (by default the
    largest k <= the number of models), `repetitions` experiments each draw k models with
    replacement, with the distribution's weights, and keep the lowest error; the curve holds
    each k's mean and standard deviation (plot mean +- 2 std).

    Raises:
        TypeError: `distribution` is not an `ErrorDistribution`.
        ValueError: `max_power` < 0 or `repetitions` < 1.
    """
    distribution = _check_distribution(distribution, "distribution")
    if max_power is None:
        max_power = int(math.floor(math.log2(distribution.size)))
    max_power = check_int(max_power, "max_power", minimum=0, maximum=20)
    repetitions = check_int(repetitions, "repetitions", minimum=1)
    seed = check_int(seed, "seed")
    rng = np.random.default_rng(seed)
    sizes = 2 ** np.arange(max_power + 1)
    # Drawing from the cumulative weights by inverse transform is what random.choices does.
    cumulative = np.cumsum(distribution.weights)
    cumulative /= cumulative[-1]
    mean, std = np.empty(sizes.size), np.empty(sizes.size)
    for i, k in enumerate(sizes):
        best = np.empty(repetitions)
        # In chunks of about a million draws, so a large k x repetitions fits in memory.
        step = max(1, _CHUNK // int(k))
        for start in range(0, repetitions, step):
            count = min(step, repetitions - start)
            draws = np.searchsorted(cumulative, rng.random((count, int(k))), side="right")
            # Errors are ascending: the lowest index drawn is the best model drawn.
            best[start : start + count] = distribution.errors[
                np.minimum(draws.min(axis=1), distribution.size - 1)
            ]
        mean[i], std[i] = best.mean(), best.std()
    return EfficiencyCurve(distribution.space, sizes, mean, std, repetitions)

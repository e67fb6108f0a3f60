"""The empirical bootstrap of good decision values, and the narrowing of a space it suggests.

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020), find where a space's good
models lie with an empirical bootstrap (pycls `get_filters`): draw `resamples` subsets of 25%
of the models with replacement, keep the best model of each, and look at its decision values.
For a numeric decision the 2.5th, 50th and 97.5th percentiles of the winners' values are the
good range and its middle; for a categorical one, the share of resamples each value wins.
`narrowing` turns that into the restricted space: the categorical values that (almost) never
win dropped, numeric decisions held to their good range.

A decision a model does not have (a keras-tuner hyperparameter left inactive by a conditional
scope) is judged on the models that have it: its winner in a resample is the best of the
resample's models that have it. Pure numpy.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from ..validation import ArgumentTypeError, check_int, check_number
from .records import ModelRecord, finished, space_of

__all__ = [
    "BootstrapResult",
    "CategoricalWins",
    "NumericRange",
    "bootstrap_decisions",
    "choice_names",
    "narrowing",
]

DEFAULT_RESAMPLES = 2500
DEFAULT_SAMPLE = 0.25
# Percent outside the good range (half on each side): pycls' alpha.
DEFAULT_ALPHA = 5.0
# Share of resamples below which a categorical value counts as never winning.
DEFAULT_MIN_SHARE = 0.01


@dataclass(frozen=True)
class NumericRange:
    """A numeric decision's good range: percentiles of the resamples' winners' values.

    Attributes:
        low, median, high: the alpha/2, 50 and 100 - alpha/2 percentiles.
        minimum, maximum: the smallest and largest value among the models.
        integer: whether every model's value is an int.
        resamples: the resamples that had a winner with this decision.
    """

    low: float
    median: float
    high: float
    minimum: float
    maximum: float
    integer: bool
    resamples: int


@dataclass(frozen=True)
class CategoricalWins:
    """A categorical decision's wins: for each value the models hold (in first-seen order), the
    share of resamples whose best model has it."""

    shares: Mapping
    resamples: int

    def best(self):
        """Returns the value that won most often (the first seen among equals)."""
        return max(self.shares, key=self.shares.get)


@dataclass(frozen=True)
class BootstrapResult:
    """The bootstrap of one space: per decision a `NumericRange` or `CategoricalWins`."""

    space: str
    decisions: Mapping
    models: int
    failed: int
    resamples: int
    sample_size: int
    alpha: float


def _is_numeric(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _decision_names(records, decisions) -> list:
    seen = list(dict.fromkeys(name for record in records for name in record.decisions))
    if decisions is None:
        return seen
    if isinstance(decisions, str):
        raise ArgumentTypeError(
            f"`decisions` must be a list of decision names, not one string; received {decisions!r}."
        )
    names = list(decisions)
    unknown = [name for name in names if name not in seen]
    if unknown:
        raise ValueError(
            f"`decisions` names {', '.join(map(repr, unknown))}, which no trained model has; "
            f"the models have: {', '.join(map(repr, seen))}."
        )
    return names


def bootstrap_decisions(
    records: Sequence[ModelRecord],
    decisions: Optional[Iterable[str]] = None,
    resamples: int = DEFAULT_RESAMPLES,
    sample: float = DEFAULT_SAMPLE,
    alpha: float = DEFAULT_ALPHA,
    categorical: Iterable[str] = (),
    seed: int = 0,
) -> BootstrapResult:
    """Returns the `BootstrapResult` of one space's `records` (failed models left out and
    counted): `resamples` draws of max(1, int(`sample` x models)) models with replacement, the
    best (lowest error) of each, and per decision the winners' values summarized. A decision
    whose values are all numbers is numeric (percentiles alpha/2, 50, 100 - alpha/2) unless
    named in `categorical`; any other is categorical (the share each value wins).

    Args:
        records: one space's records.
        decisions: the decisions to analyse (default: every decision a trained model has).
        resamples: how many bootstrap resamples (pycls: 2,500).
        sample: the share of the models in each resample, in (0, 1] (pycls: 0.25).
        alpha: percent of winners outside a numeric good range, in (0, 100).
        categorical: numeric decisions to treat as categorical (e.g. a choice of filters).
        seed: the random seed.

    Raises:
        TypeError: an item is not a `ModelRecord`.
        ValueError: no records, several spaces, no trained model, a decision no model has, or
            an argument out of range.
    """
    records = list(records)
    space = space_of(records)
    kept, failed = finished(records)
    if not kept:
        raise ValueError(f"Space {space!r}: all {failed} models failed; nothing to bootstrap.")
    names = _decision_names(kept, decisions)
    categorical = set(categorical) if not isinstance(categorical, str) else {categorical}
    resamples = check_int(resamples, "resamples", minimum=1)
    sample = check_number(sample, "sample", minimum=0, maximum=1, min_inclusive=False)
    alpha = check_number(
        alpha, "alpha", minimum=0, maximum=100, min_inclusive=False, max_inclusive=False
    )
    seed = check_int(seed, "seed")
    rng = np.random.default_rng(seed)
    n = len(kept)
    size = max(1, int(n * sample))
    errors = np.array([record.error for record in kept])
    draws = rng.integers(0, n, size=(resamples, size))
    drawn_errors = errors[draws]
    rows = np.arange(resamples)
    results = {}
    for name in names:
        has = np.array([name in record.decisions for record in kept])
        masked = np.where(has[draws], drawn_errors, np.inf)
        column = np.argmin(masked, axis=1)
        valid = np.isfinite(masked[rows, column])
        winners = draws[rows, column][valid]
        values = [record.decisions[name] for record in kept if name in record.decisions]
        numeric = all(_is_numeric(value) for value in values) and name not in categorical
        if numeric:
            results[name] = _numeric(kept, name, winners, values, alpha)
        else:
            results[name] = _categorical(kept, name, winners, values)
    return BootstrapResult(space, results, n, failed, resamples, size, alpha)


def _numeric(kept, name, winners, values, alpha) -> NumericRange:
    won = np.array([float(kept[i].decisions[name]) for i in winners])
    integer = all(isinstance(value, numbers.Integral) for value in values)
    if won.size == 0:  # no resample held a model with this decision
        low = median = high = math.nan
    else:
        low, median, high = np.percentile(won, [alpha / 2, 50.0, 100.0 - alpha / 2])
    return NumericRange(
        float(low),
        float(median),
        float(high),
        float(min(values)),
        float(max(values)),
        integer,
        int(won.size),
    )


def _categorical(kept, name, winners, values) -> CategoricalWins:
    counts = dict.fromkeys(values, 0)
    for i in winners:
        counts[kept[i].decisions[name]] += 1
    total = max(1, len(winners))
    return CategoricalWins({value: count / total for value, count in counts.items()}, len(winners))


def _plain(value):
    """A decision value as plain JSON (numpy scalars become Python numbers)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def choice_names(hyperparameters) -> list:
    """Returns the names of the `Choice` hyperparameters of a keras-tuner `HyperParameters`
    (found by class name, so keras-tuner is not imported here): pass them as
    `bootstrap_decisions(..., categorical=...)` so a choice of numbers, such as filter counts,
    is narrowed to the values that win rather than to a range.

    Raises:
        TypeError: `hyperparameters` has no `space` list of hyperparameters.
    """
    space = getattr(hyperparameters, "space", None)
    if space is None or isinstance(space, (str, bytes)):
        raise ArgumentTypeError(
            "`hyperparameters` must be a keras-tuner HyperParameters (with a `space` list); "
            f"received {type(hyperparameters).__name__}."
        )
    return [hp.name for hp in space if type(hp).__name__ == "Choice"]


def narrowing(result: BootstrapResult, min_share: float = DEFAULT_MIN_SHARE) -> dict:
    """Returns the restricted space the bootstrap suggests, as JSON-ready
    `{decision: allowed values}` for a categorical decision (the values that won at least
    `min_share` of the resamples, in first-seen order) and `{decision: [low, high]}` for a
    numeric one (its good range; for an integer decision widened to the integers around it).
    A decision no resample could judge is left out. Which of the two a list is follows from
    the decision's kind in the space: a keras-tuner `Choice` reads allowed values, `Int` and
    `Float` read [low, high]; analyse a `Choice` of numbers as categorical (`choice_names`) so
    that its narrowing is a list of values too.

    Raises:
        TypeError: `result` is not a `BootstrapResult`.
        ValueError: `min_share` not in [0, 1).
    """
    if not isinstance(result, BootstrapResult):
        raise ArgumentTypeError(
            f"`result` must be a BootstrapResult (see `bootstrap_decisions`); received "
            f"{type(result).__name__}."
        )
    min_share = check_number(min_share, "min_share", minimum=0, maximum=1, max_inclusive=False)
    narrowed = {}
    for name, summary in result.decisions.items():
        if summary.resamples == 0:
            continue
        if isinstance(summary, NumericRange):
            if summary.integer:
                narrowed[name] = [int(math.floor(summary.low)), int(math.ceil(summary.high))]
            else:
                narrowed[name] = [summary.low, summary.high]
        else:
            kept = [_plain(v) for v, share in summary.shares.items() if share >= min_share]
            # The best value always stays, even where min_share asks more than it won.
            narrowed[name] = kept or [_plain(summary.best())]
    return narrowed

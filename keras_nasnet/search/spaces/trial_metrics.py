"""Metrics a network space's hypermodel adds to a trial beside its accuracy: keras-tuner reads
a trial's metrics from the History its hypermodel's `fit` returns, so they go there."""

from __future__ import annotations

from ..evaluators.reward import PARAMS_METRIC  # noqa: F401  (the hypermodels record it)


def record_each_epoch(history, name: str, value: float):
    """Returns `history` (a keras History) with `name` = `value` at each of its epochs."""
    epochs = max((len(values) for values in history.history.values()), default=1)
    history.history[name] = [float(value)] * epochs
    return history

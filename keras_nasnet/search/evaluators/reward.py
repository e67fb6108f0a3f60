"""Rewards beyond plain accuracy: MnasNet's latency-aware reward.

MnasNet (Tan et al., 2019) scores a child by ``accuracy * (latency / target) ** w`` with
``w = alpha`` when the latency meets the target and ``w = beta`` when it does not. With the
soft default alpha = beta = -0.07 a child twice as slow needs about 5% more accuracy
(2 ** 0.07 = 1.05) to score the same, on both sides of the target; alpha = 0, beta = -1 is the
hard constraint (no bonus for being faster, a reward falling like 1 / latency past the target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ...validation import check_number, check_positive

LATENCY_METRIC = "latency_ms"
# Every trained trial's parameter count (cells and whole networks): trial lines, reports and
# TensorBoard show it.
PARAMS_METRIC = "params"
# The accuracy the child tuner scores children by (its objective).
ACCURACY_METRIC = "val_accuracy"


@dataclass(frozen=True)
class MnasNetReward:
    """``accuracy * (latency / target_ms) ** (alpha if latency <= target_ms else beta)``.

    Use it with `search.run(evaluate, reward=MnasNetReward(...))` where `evaluate` returns a
    dict of metrics, or as `NASOracle(reward=MnasNetReward(...).from_trial)`.

    Attributes:
        target_ms: the latency target in milliseconds (> 0).
        alpha, beta: exponents at or under, and over, the target (defaults: MnasNet's soft -0.07).
        accuracy: name of the accuracy metric ("val_accuracy", the child tuner's objective).
        latency: name of the latency metric ("latency_ms").

    Raises:
        ValueError: a non-positive target or a non-finite exponent.
    """

    target_ms: float
    alpha: float = -0.07
    beta: float = -0.07
    accuracy: str = ACCURACY_METRIC
    latency: str = LATENCY_METRIC

    def __post_init__(self):
        check_positive(self.target_ms, "target_ms")
        check_number(self.alpha, "alpha")
        check_number(self.beta, "beta")

    @classmethod
    def hard(cls, target_ms: float, **kwargs) -> "MnasNetReward":
        """Returns the hard-constraint reward (alpha = 0, beta = -1)."""
        return cls(target_ms, alpha=0.0, beta=-1.0, **kwargs)

    def value(self, accuracy: float, latency_ms: float) -> float:
        """Returns the reward of one child. Raises ValueError for a latency that is not > 0."""
        latency_ms = check_positive(latency_ms, "latency_ms")
        exponent = self.alpha if latency_ms <= self.target_ms else self.beta
        return float(accuracy) * (latency_ms / self.target_ms) ** exponent

    def __call__(self, metrics: Mapping) -> float:
        """Returns the reward of a dict of metrics holding `accuracy` and `latency`.

        Raises:
            KeyError: a metric is missing.
        """
        for name in (self.accuracy, self.latency):
            if name not in metrics:
                raise KeyError(
                    f"MnasNetReward needs the metric {name!r}; received {sorted(metrics)}."
                )
        return self.value(metrics[self.accuracy], metrics[self.latency])

    def from_trial(self, trial) -> Optional[float]:
        """Returns the reward of a keras-tuner trial (`NASOracle`'s `reward` hook), or None when
        the trial lacks one of the metrics."""
        values = {}
        for name in (self.accuracy, self.latency):
            if not trial.metrics.exists(name):
                return None
            values[name] = trial.metrics.get_last_value(name)
        return self(values)

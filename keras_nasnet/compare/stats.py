"""Welch's t interval for the difference of two means, with the t quantile computed here.

SciPy is not a dependency of the package, so Student's t distribution is computed from the
regularized incomplete beta function (its continued fraction, evaluated with the modified Lentz
method) and the quantile is found by bisection; both agree with `scipy.stats.t` to about 1e-10.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

from ..validation import check_int, check_number

_TINY = 1e-300
_EPSILON = 1e-15


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges for x < (a+1)/(a+b+2))."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            break
    return result


def regularized_beta(x: float, a: float, b: float) -> float:
    """Returns I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1, a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Returns P(T <= t) for Student's t distribution with `df` (> 0, may be fractional or
    infinite) degrees of freedom."""
    if math.isinf(df):
        return statistics.NormalDist().cdf(t)
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Returns the `p` quantile of Student's t with `df` degrees of freedom (t_cdf's inverse).

    Raises:
        ValueError: `p` not in (0, 1), or `df` not > 0 (infinity: the normal quantile).
    """
    check_number(p, "p", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False)
    if df == math.inf:
        return statistics.NormalDist().inv_cdf(p)
    check_number(df, "df", minimum=0, min_inclusive=False)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Interval:
    """A difference of means `b - a` and its confidence interval.

    `low` and `high` are None when a side has fewer than two values (no variance to estimate);
    `df` is Welch-Satterthwaite's degrees of freedom (None when both variances are zero: the
    interval is then the difference itself).
    """

    difference: float
    low: Optional[float]
    high: Optional[float]
    df: Optional[float]
    confidence: float


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Returns the difference mean(b) - mean(a) with its Welch t interval at `confidence`
    (unequal variances, unpaired samples; sample variances with n - 1).

    Raises:
        ValueError: an empty sample, or `confidence` not in (0, 1).
    """
    check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    for name, values in (("a", a), ("b", b)):
        if len(values) == 0:
            raise ValueError(f"`{name}` is empty: a mean needs at least one value.")
    difference = statistics.fmean(b) - statistics.fmean(a)
    if len(a) < 2 or len(b) < 2:
        return Interval(difference, None, None, None, confidence)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se2 = va + vb
    if se2 == 0.0:
        return Interval(difference, difference, difference, None, confidence)
    df = se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(0.5 + confidence / 2.0, df) * math.sqrt(se2)
    return Interval(difference, difference - half, difference + half, df, confidence)


def seeds_to_resolve(
    std_a: float,
    std_b: float,
    difference: float,
    confidence: float = 0.95,
    limit: int = 1000,
) -> Optional[int]:
    """Returns the smallest number of seeds per side (at least 2) at which Welch's interval of
    `difference` would exclude 0, were the two samples' standard deviations `std_a` and `std_b`
    at every count; None when `difference` is 0 or more than `limit` seeds would be needed.

    An estimate for planning: standard deviations from a few seeds are themselves uncertain.

    Raises:
        ValueError: a negative or non-finite standard deviation, a non-finite difference, or
            `confidence` not in (0, 1).
    """
    check_number(
        confidence, "confidence", minimum=0, maximum=1, min_inclusive=False, max_inclusive=False
    )
    for name, value in (("std_a", std_a), ("std_b", std_b)):
        check_number(value, name, minimum=0)
    check_number(difference, "difference")
    if difference == 0:
        return None
    sa2, sb2 = std_a**2, std_b**2
    if sa2 + sb2 == 0:
        return 2
    check_int(limit, "limit", minimum=2)

    def resolves(n: int) -> bool:
        df = (sa2 + sb2) ** 2 * (n - 1) / (sa2**2 + sb2**2)
        return t_quantile(0.5 + confidence / 2.0, df) * math.sqrt((sa2 + sb2) / n) < abs(difference)

    if not resolves(limit):
        return None
    # The interval narrows as n grows (a smaller t quantile over a larger count): bisect.
    low, high = 1, limit  # resolves(high); low stands for "not yet"
    while high - low > 1:
        middle = (low + high) // 2
        if middle >= 2 and resolves(middle):
            high = middle
        else:
            low = middle
    return high

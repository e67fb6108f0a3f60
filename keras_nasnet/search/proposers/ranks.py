"""Rewards as ranks, for evaluations whose scale is not an accuracy's."""

from __future__ import annotations

import numpy as np


def rank_reward(reward: float, earlier: list) -> float:
    """Returns `reward`'s mid-rank among the `earlier` rewards of a search, in [0, 1]: the
    fraction below it plus half the fraction equal to it (0.5 for the first reward).

    What the controller learns from under proxy evaluation: proxies are not accuracies (a
    log-determinant in the hundreds, products of weights up to 1e20), and a rank keeps the
    policy's advantage on the same scale as an accuracy's whatever the proxy.
    """
    if not earlier:
        return 0.5
    values = np.asarray(earlier, dtype=np.float64)
    below = float(np.sum(values < reward))
    equal = float(np.sum(values == reward))
    return (below + 0.5 * equal) / len(values)

"""Matching parameter counts: the filter count F at which an architecture (or the width
multiplier at which a network, `match_multiplier`) has about as many parameters
as a target, found in a few model builds."""

from __future__ import annotations

from typing import Callable

from ..filter_matching import (  # noqa: F401 (compare's names of them)
    TOLERANCE,
    Match,
    cell_counter,
    match_filters,
    relative_difference,
)
from ..training import TrainingSettings

# Width multipliers matching may choose: 0.10, 0.11, ..., 3.00. Coarser steps miss targets: at
# x0.2 one step of 0.05 moves a MobileNetV2's count by about 20%.
MULTIPLIERS = tuple(round(0.10 + 0.01 * i, 2) for i in range(291))
# Multipliers tried either side of the bisection's answer: rounding to multiples of 8 makes
# the count a staircase that is not strictly monotone.
_SCAN = 3


def model_counter(input_shape, classes: int, recipe: TrainingSettings) -> Callable:
    """Returns count(point, width) -> (parameters, mult-adds) of the inference model: for an
    Architecture and a filter count F, the one `training.train` builds with `recipe` at F; for
    a `networks.Network` and a width multiplier, the one `networks.train_network` trains; for
    `input_shape` images and `classes` classes."""
    import keras

    from ..mult_adds import count_mult_adds
    from .networks import Network, build_network

    cells = cell_counter(input_shape, classes, recipe)
    counted: dict = {}

    def count(point, width) -> tuple[int, int]:
        if not isinstance(point, Network):
            return cells(point, width)
        key = (point, width)
        if key not in counted:
            model = build_network(point, input_shape, classes, width)
            counted[key] = int(model.count_params()), int(count_mult_adds(model))
            del model
            keras.backend.clear_session()  # matching builds a few models each; keep memory flat
        return counted[key]

    return count


def match_multiplier(
    count: Callable[[float], tuple[int, int]],
    target_params: int,
    tolerance: float,
    label: str = "network",
):
    """Returns the `Match` of the multiplier in `MULTIPLIERS` whose parameter count
    `count(multiplier)` (parameters, mult-adds) is closest to `target_params`: a bisection
    (counts grow with the width, in steps of the rounding to multiples of 8), then the
    neighbours.

    Raises:
        ValueError: no multiplier gives a count within `tolerance` of the target (the closest
            ones are named with their counts).
    """
    measured: dict = {}

    def params(index: int) -> int:
        if index not in measured:
            measured[index] = count(MULTIPLIERS[index])
        return measured[index][0]

    low, high = 0, len(MULTIPLIERS) - 1
    while low < high:  # the first index whose count reaches the target
        middle = (low + high) // 2
        if params(middle) < target_params:
            low = middle + 1
        else:
            high = middle
    near = [i for i in range(low - _SCAN, low + _SCAN + 1) if 0 <= i < len(MULTIPLIERS)]
    best = min(near, key=lambda i: (abs(params(i) - target_params), i))
    if abs(relative_difference(params(best), target_params)) <= tolerance:
        return Match(None, *measured[best], multiplier=MULTIPLIERS[best])
    found = ", ".join(
        f"x{MULTIPLIERS[i]:.2f} gives {params(i):,} "
        f"({relative_difference(params(i), target_params):+.1%})"
        for i in (best - 1, best, best + 1)
        if 0 <= i < len(MULTIPLIERS)
    )
    raise ValueError(
        f"No width multiplier from x{MULTIPLIERS[0]:.2f} to x{MULTIPLIERS[-1]:.2f} brings "
        f"{label!r} within {tolerance:.0%} of the target {target_params:,} parameters: "
        f"{found}. Choose another target (--target-params), a larger recipe F or a looser "
        "--tolerance (the head's 1280 filters do not shrink with the multiplier)."
    )

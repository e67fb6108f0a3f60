"""Matching parameter counts: the filter count F at which an architecture (or the width
multiplier at which a network, `match_multiplier`) has about as many parameters
as a target, found in a few model builds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..training import TrainingSettings

TOLERANCE = 0.05
# Width multipliers matching may choose: 0.10, 0.11, ..., 3.00. Coarser steps miss targets: at
# x0.2 one step of 0.05 moves a MobileNetV2's count by about 20%.
MULTIPLIERS = tuple(round(0.10 + 0.01 * i, 2) for i in range(291))
# Multipliers tried either side of the bisection's answer: rounding to multiples of 8 makes
# the count a staircase that is not strictly monotone.
_SCAN = 3
# Beyond this many measurements the parameter count is not the quadratic in F it should be.
_MAX_MEASUREMENTS = 12


@dataclass(frozen=True)
class Match:
    """F chosen for an architecture (None for a network), with the parameters and mult-adds it
    gives; `multiplier` is the width multiplier chosen for a network (None for a cell)."""

    filters: Optional[int]
    params: int
    mult_adds: int
    multiplier: Optional[float] = None

    @property
    def width(self) -> str:
        """Returns the width as the table writes it: "F=16" for a cell, "x0.35" for a network."""
        return f"F={self.filters}" if self.multiplier is None else f"x{self.multiplier:.2f}"


def model_counter(input_shape, classes: int, recipe: TrainingSettings) -> Callable:
    """Returns count(point, width) -> (parameters, mult-adds) of the inference model: for an
    Architecture and a filter count F, the one `training.train` builds with `recipe` at F; for
    a `networks.Network` and a width multiplier, the one `networks.train_network` trains; for
    `input_shape` images and `classes` classes."""
    import keras

    from ..mult_adds import count_mult_adds
    from ..training import build_model
    from .networks import Network, build_network

    settings = recipe.replace(use_aux_head=False)
    counted: dict = {}

    def count(point, width) -> tuple[int, int]:
        key = (point, width)
        if key not in counted:
            if isinstance(point, Network):
                model = build_network(point, input_shape, classes, width)
            else:
                model = build_model(point, input_shape, classes, settings.replace(filters=width), 1)
            counted[key] = int(model.count_params()), int(count_mult_adds(model))
            del model
            keras.backend.clear_session()  # matching builds a few models each; keep memory flat
        return counted[key]

    return count


def relative_difference(params: int, target: int) -> float:
    """Returns how far `params` is from `target`, as a fraction of `target` (signed)."""
    return (params - target) / target


def _quadratic_guess(points: dict, target: int) -> int:
    """Returns the integer F >= 1 whose parameter count, by the quadratic through `points`
    ({F: (parameters, mult-adds)}, three of them), is closest to `target`."""
    xs = sorted(points)
    a, b, c = np.polyfit(np.array(xs, float), np.array([points[x][0] for x in xs], float), 2)
    if abs(a) < 1e-12:
        root = (target - c) / b if b else float(xs[-1])
    else:
        disc = max(b * b - 4 * a * (c - target), 0.0)
        root = (-b + math.sqrt(disc)) / (2 * a)
    low = max(1, math.floor(root))
    return min((low, low + 1), key=lambda f: abs(a * f * f + b * f + c - target))


def match_filters(
    count: Callable[[int], tuple[int, int]],
    target_params: int,
    start: int,
    tolerance: float = TOLERANCE,
    label: str = "architecture",
) -> Match:
    """Returns the F >= 1 whose parameter count is closest to `target_params`.

    `count(F)` returns (parameters, mult-adds). A NASNet's parameter count is a quadratic in F
    (every conv is F wide on both sides, BN and the classifier linear), so three measurements
    near `start` predict the answer and one more confirms it; when a measurement departs from
    the prediction, the three measured points nearest the guess are refitted.

    Raises:
        ValueError: no F gives a count within `tolerance` of the target (the message names
            `label`, the target, and the closest F and its neighbours with their counts).
    """
    measured: dict = {}

    def measure(f: int):
        if f not in measured:
            measured[f] = count(f)
        return measured[f]

    if abs(relative_difference(measure(start)[0], target_params)) <= 1e-12:
        return Match(start, *measured[start])
    for f in (start + 1, start + 2) if start == 1 else (start - 1, start + 1):
        measure(f)
    guess = None
    while len(measured) < _MAX_MEASUREMENTS:
        nearest = sorted(measured, key=lambda f: (abs(f - (guess or start)), f))[:3]
        guess = _quadratic_guess({f: measured[f] for f in nearest}, target_params)
        if guess in measured:
            break
        measure(guess)
    best = min(measured, key=lambda f: (abs(measured[f][0] - target_params), f))
    if abs(relative_difference(measured[best][0], target_params)) <= tolerance:
        return Match(best, *measured[best])
    found = ", ".join(
        f"F={f} gives {measure(f)[0]:,} ({relative_difference(measure(f)[0], target_params):+.1%})"
        for f in (best - 1, best, best + 1)
        if f >= 1
    )
    raise ValueError(
        f"No filter count F brings {label!r} within {tolerance:.0%} of the target "
        f"{target_params:,} parameters: {found}. Choose another target (--target-params), a "
        "larger recipe F (one step of F changes the count by about 2/F) or a looser --tolerance."
    )


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

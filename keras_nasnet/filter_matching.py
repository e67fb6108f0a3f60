"""The filter count F at which a NASNet architecture has about as many parameters as a target,
found in a few model builds: `compare` matches cells with it, and a search builds its children
at matched parameters (`search --child-params`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .training import TrainingSettings

# The default: within 5% of the target.
TOLERANCE = 0.05
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


def cell_counter(input_shape, classes: int, recipe: TrainingSettings) -> Callable:
    """Returns count(architecture, F) -> (parameters, mult-adds) of the inference model
    `training.train` builds with `recipe` at F for `input_shape` images and `classes` classes
    (cached per architecture and F)."""
    import keras

    from .mult_adds import count_mult_adds
    from .training import build_model

    settings = recipe.replace(use_aux_head=False)
    counted: dict = {}

    def count(architecture, filters) -> tuple[int, int]:
        key = (architecture, filters)
        if key not in counted:
            model = build_model(
                architecture, input_shape, classes, settings.replace(filters=filters), 1
            )
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

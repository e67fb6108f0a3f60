"""AnyNetX (spaces A-E) and RegNet as spaces of a design-space study (`PointSpace`s).

At the study's scale (`SMALL_SCALE`: 4 stages, depth <= 3, width <= 128, stem 16;
`RegNetSpace.small()`), trained with the small-image stem, so a point trains in seconds on
Fashion-MNIST. A point is an `AnyNetPoint`; its parameters and mult-adds are
`anynet.complexity`'s at the dataset's image shape (no model is built to count them).

Decision values (what the bootstrap reads, all numeric so it gives ranges):
- AnyNetX: per stage i (from 1, as the paper's d_i), the built network's ``d{i}``, ``w{i}``,
  ``b{i}``, ``g{i}``: after the space's sorting (D, E) and pycls' compatibility adjustment, so a
  value is what the model has, and shared b / g (B-E) show as equal per-stage values;
- RegNet: its six parameters ``depth``, ``w_0``, ``w_a``, ``w_m``, ``group_width``,
  ``bottleneck_ratio`` (the stage count varies, so per-stage values would be missing for some).

A narrowed space (a `file:` narrowing.json entry, `{decision: [low, high]}`) keeps the base
space's distribution restricted to the points whose values lie in every range: draws outside are
redrawn, at most `MAX_DRAWS_PER_POINT` per point.
"""

from __future__ import annotations

import numbers
from typing import Callable, Mapping, Optional

import numpy as np

from ..anynet import AnyNetPoint, complexity
from ..anynet_spaces import SMALL_SCALE, AnyNetXSpace, RegNetSpace
from .point_space import PointSpace, _check_name

__all__ = [
    "ANYNET_SPACES",
    "AnyNetStudySpace",
    "MAX_DRAWS_PER_POINT",
    "anynet_space",
]

# Space name -> AnyNetX letter (None: RegNet).
ANYNET_SPACES = {
    "anynetx-a": "A",
    "anynetx-b": "B",
    "anynetx-c": "C",
    "anynetx-d": "D",
    "anynetx-e": "E",
    "regnet": None,
}
# A narrowed space rejects draws outside its ranges; past this many per point it gives up
# (a range no draw of the base space reaches would otherwise loop forever).
MAX_DRAWS_PER_POINT = 1000
TRAIN_TARGET = "keras_nasnet.design_spaces.model_training:train_point"


def _values_of(point: AnyNetPoint) -> dict:
    values = {}
    for i in range(point.num_stages):
        values[f"d{i + 1}"] = point.depths[i]
        values[f"w{i + 1}"] = point.widths[i]
        values[f"b{i + 1}"] = point.bottleneck_ratios[i]
        values[f"g{i + 1}"] = point.group_widths[i]
    return values


class AnyNetStudySpace(PointSpace):
    """An AnyNetX space ("anynetx-a" .. "anynetx-e") or the RegNet space ("regnet") at the
    study's small scale, optionally narrowed to value ranges; a point is an `AnyNetPoint`
    trained by `model_training.train_point`.

    Args:
        base: one of `ANYNET_SPACES`.
        name: the space's name (default `base`; a narrowed space's "<key>-narrowed").
        allowed: {decision: [low, high]} ranges a point's values must lie in.

    Raises:
        ValueError: an unknown base, a bad name, or a range naming a decision the space does
            not record or that is not [low, high] with low <= high.
    """

    train_target = TRAIN_TARGET

    def __init__(self, base: str, name: Optional[str] = None, allowed: Optional[Mapping] = None):
        if base not in ANYNET_SPACES:
            raise ValueError(f"Unknown AnyNet space {base!r}; allowed: {', '.join(ANYNET_SPACES)}.")
        self.base = base
        self.name = _check_name(base if name is None else name)
        letter = ANYNET_SPACES[base]
        self.sampler = RegNetSpace.small() if letter is None else AnyNetXSpace(letter, SMALL_SCALE)
        self.allowed = _check_ranges(allowed or {}, self.decisions, self.name)

    @property
    def decisions(self) -> tuple:
        """Returns the names of the decision values a point records."""
        if ANYNET_SPACES[self.base] is None:
            return ("depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_ratio")
        stages = self.sampler.scale.num_stages
        return tuple(f"{kind}{i + 1}" for i in range(stages) for kind in "dwbg")

    def _draw(self, rng: np.random.Generator) -> tuple:
        drawn, point = self.sampler.sample_with_values(rng, 1)[0]
        values = drawn if ANYNET_SPACES[self.base] is None else _values_of(point)
        return point, {k: (v if isinstance(v, float) else int(v)) for k, v in values.items()}

    def sample(self, rng: np.random.Generator) -> tuple:
        """Returns `(AnyNetPoint, values)`: a draw of the base space (see the module), redrawn
        until its values lie in the allowed ranges.

        Raises:
            ValueError: no draw within the ranges after `MAX_DRAWS_PER_POINT` draws.
        """
        for _ in range(MAX_DRAWS_PER_POINT):
            point, values = self._draw(rng)
            if all(low <= values[k] <= high for k, (low, high) in self.allowed.items()):
                return point, values
        raise ValueError(
            f"Space {self.name!r}: no point of {self.base!r} within {dict(self.allowed)} after "
            f"{MAX_DRAWS_PER_POINT} draws; widen the ranges."
        )

    def config(self) -> dict:
        """Returns {"kind", "name", "base", "sampler", "allowed"} as JSON."""
        return {
            "kind": "anynet",
            "name": self.name,
            "base": self.base,
            "sampler": repr(self.sampler),
            "allowed": {k: list(v) for k, v in self.allowed.items()},
        }

    def point_from_dict(self, data: Mapping) -> AnyNetPoint:
        """Returns the AnyNetPoint of `data` (its `to_dict()`)."""
        return AnyNetPoint.from_dict(data)

    def counter(self, input_shape, classes: int, recipe) -> Callable:
        """Returns count(point) -> (parameters, mult-adds) by `anynet.complexity` on
        `input_shape` (square) images with the small-image stem (the recipe's N and F do not
        apply to AnyNets).

        Raises:
            ValueError: `input_shape` is not (size, size, channels).
        """
        from .model_training import SMALL_IMAGE_STEM

        shape = tuple(input_shape)
        if len(shape) != 3 or shape[0] != shape[1]:
            raise ValueError(
                f"AnyNet spaces count square images (size, size, channels); received "
                f"`input_shape` {shape}."
            )

        def count(point: AnyNetPoint) -> tuple:
            size = complexity(point, shape[0], SMALL_IMAGE_STEM, classes, input_channels=shape[2])
            return size.params, size.flops

        return count

    def train_kwargs(self, point) -> dict:
        """Returns {"point": point, "family": "anynet"} (for `model_training.train_point`)."""
        return {"point": point, "family": "anynet"}

    def __repr__(self) -> str:
        ranges = f", {len(self.allowed)} decisions restricted" if self.allowed else ""
        return f"AnyNetStudySpace({self.name!r}, base={self.base!r}{ranges})"


def _check_ranges(allowed, decisions: tuple, name: str) -> dict:
    if not isinstance(allowed, Mapping):
        raise ValueError(
            f"Space {name!r}: the restriction must be a dict of decision -> [low, high]; "
            f"received {allowed!r}."
        )
    checked = {}
    for decision, bounds in allowed.items():
        if decision not in decisions:
            raise ValueError(
                f"Space {name!r}: {decision!r} is not a decision of the space; allowed: "
                f"{', '.join(decisions)}."
            )
        if (
            not isinstance(bounds, (list, tuple))
            or len(bounds) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in bounds)
            or bounds[0] > bounds[1]
        ):
            raise ValueError(
                f"Space {name!r}: decision {decision!r} needs a range [low, high] of numbers "
                f"with low <= high; received {bounds!r}."
            )
        checked[decision] = (bounds[0], bounds[1])
    return checked


def anynet_space(name: str, allowed: Optional[Mapping] = None, base: Optional[str] = None):
    """Returns the `AnyNetStudySpace` named `name` (base `base`, default `name`), restricted
    to `allowed` ranges.

    Raises:
        ValueError: as `AnyNetStudySpace`.
    """
    return AnyNetStudySpace(base or name, name=name, allowed=allowed)

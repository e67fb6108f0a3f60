"""The AnyNetX design spaces A-E and the RegNet space: keras-tuner declarations and samplers.

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020), section 3. AnyNetX_A
leaves every stage free: depth d_i <= 16, width w_i <= 1024 (a multiple of 8), bottleneck
ratio b_i in {1, 2, 4}, group width g_i in {1, 2, 4, 8, 16, 32}. Each later space adds one
constraint to the one before: B shares b across stages, C shares g, D makes the widths
non-decreasing (w_{i+1} >= w_i), E the depths too (d_{i+1} >= d_i). The RegNet space draws
(d, w_0, w_a, w_m, g, b) and generates the stages (`keras_nasnet.regnet`).

Every space turns one set of decision values into a point the same way, whether keras-tuner
chose them (`declare(hp)`) or the seeded sampler drew them (`sample(rng, n)`): D and E sort the
drawn widths / depths, and the widths and group widths go through pycls' compatibility
adjustment (`AnyNetPoint.compatible`). A sampler draws every value uniformly from its set
(log-uniformly for RegNet's w_0, w_a, w_m, as pycls' sweeps) and can keep only the points inside
a `ComplexityWindow` (the paper samples 360-400 MF models); it makes a bounded number of draws and
raises a ValueError naming what it found when the window cannot be met.

`scale` keeps models small for Fashion-MNIST-sized runs: `SMALL_SCALE` (depth <= 3,
width <= 128, stem 16) or any `AnyNetXScale`; `RegNetSpace.small()` likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .anynet import STEMS, WIDTH_QUANTUM, AnyNetPoint, complexity
from .regnet import generate_widths, regnet
from .validation import check_choice, check_int, check_number

SPACE_NAMES: tuple[str, ...] = ("A", "B", "C", "D", "E")
BOTTLENECK_RATIOS: tuple[int, ...] = (1, 2, 4)
GROUP_WIDTHS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
# Draws per requested point before a sampler gives up on its window.
DRAWS_PER_POINT = 200


def _int_set(values: Any, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"`{name}` must be a non-empty sequence of ints; received {values!r}.")
    checked = tuple(check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(values))
    if len(set(checked)) != len(checked):
        raise ValueError(f"`{name}` repeats a value; received {list(values)}.")
    return checked


def _block_sets(ratios: Any, groups: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Returns the bottleneck ratios and group widths to draw from, checked so that pycls'
    adjustment keeps every width a multiple of 8."""
    ratios = _int_set(ratios, "bottleneck_ratios")
    if any(WIDTH_QUANTUM % b for b in ratios):
        raise ValueError(
            f"`bottleneck_ratios` must divide {WIDTH_QUANTUM} (1, 2, 4 or 8); "
            f"received {list(ratios)}."
        )
    groups = _int_set(groups, "group_widths")
    if any(g & (g - 1) and g % WIDTH_QUANTUM for g in groups):
        raise ValueError(
            f"`group_widths` must be powers of two or multiples of 8; received {list(groups)}."
        )
    return ratios, groups


@dataclass(frozen=True)
class AnyNetXScale:
    """The limits of an AnyNetX space: stages, the largest depth and width, the stem width and
    the bottleneck ratios and group widths to draw from.

    Raises:
        TypeError: a value that is not an int.
        ValueError: a value out of range; a bottleneck ratio that does not divide 8 or a group
            width that is neither a power of two nor a multiple of 8 (pycls' adjustment could
            then make a width that is not a multiple of 8); a `max_width` that is not a
            multiple of every b * g (its rounding to whole groups could then pass it).
    """

    num_stages: int = 4
    max_depth: int = 16
    max_width: int = 1024
    stem_width: int = 32
    bottleneck_ratios: tuple[int, ...] = BOTTLENECK_RATIOS
    group_widths: tuple[int, ...] = GROUP_WIDTHS

    def __post_init__(self):
        object.__setattr__(self, "num_stages", check_int(self.num_stages, "num_stages", minimum=1))
        object.__setattr__(self, "max_depth", check_int(self.max_depth, "max_depth", minimum=1))
        object.__setattr__(self, "stem_width", check_int(self.stem_width, "stem_width", minimum=1))
        max_width = check_int(self.max_width, "max_width", minimum=WIDTH_QUANTUM)
        if max_width % WIDTH_QUANTUM:
            raise ValueError(
                f"`max_width` must be a multiple of {WIDTH_QUANTUM}; received {max_width}."
            )
        object.__setattr__(self, "max_width", max_width)
        ratios, groups = _block_sets(self.bottleneck_ratios, self.group_widths)
        step = max(b * g for b in ratios for g in groups)
        if any(max_width % (b * g) for b in ratios for g in groups):
            raise ValueError(
                f"`max_width` must be a multiple of every bottleneck ratio x group width (here "
                f"of {step} at least), so that rounding a width to whole groups cannot pass it; "
                f"received {max_width}."
            )
        object.__setattr__(self, "bottleneck_ratios", ratios)
        object.__setattr__(self, "group_widths", groups)

    @property
    def widths(self) -> tuple[int, ...]:
        """Returns the widths to draw from: the multiples of 8 up to `max_width`."""
        return tuple(range(WIDTH_QUANTUM, self.max_width + 1, WIDTH_QUANTUM))


# The paper's AnyNetX limits, and a scale for 28x28 / 32x32 runs on a CPU.
PAPER_SCALE = AnyNetXScale()
SMALL_SCALE = AnyNetXScale(max_depth=3, max_width=128, stem_width=16)


@dataclass(frozen=True)
class ComplexityWindow:
    """Keeps the points whose `complexity` (parameters, multiply-adds) lies in
    [min, max] on `input_size` images with `stem` and `classes`; None leaves a side open.

    Raises:
        TypeError, ValueError: a bound that is not an int >= 0, min > max, a bad stem.
    """

    min_params: int = 0
    max_params: Optional[int] = None
    min_flops: int = 0
    max_flops: Optional[int] = None
    input_size: int = 224
    stem: str = "imagenet"
    classes: int = 1000

    def __post_init__(self):
        for kind in ("params", "flops"):
            low = check_int(getattr(self, f"min_{kind}"), f"min_{kind}", minimum=0)
            high = check_int(
                getattr(self, f"max_{kind}"), f"max_{kind}", minimum=0, allow_none=True
            )
            if high is not None and low > high:
                raise ValueError(f"`min_{kind}` {low} is above `max_{kind}` {high}.")
        check_int(self.input_size, "input_size", minimum=1)
        check_choice(self.stem, "stem", STEMS)
        check_int(self.classes, "classes", minimum=1)

    def contains(self, point: AnyNetPoint) -> bool:
        """Returns whether `point`'s parameters and multiply-adds lie in the window."""
        size = complexity(point, self.input_size, self.stem, self.classes)
        return all(
            getattr(self, f"min_{kind}") <= value
            and (getattr(self, f"max_{kind}") is None or value <= getattr(self, f"max_{kind}"))
            for kind, value in (("params", size.params), ("flops", size.flops))
        )


def _generator(rng: Union[np.random.Generator, int]) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(check_int(rng, "rng", minimum=0))


def _sample(space, rng, n: int, window: Optional[ComplexityWindow], max_draws: Optional[int]):
    """Returns `n` (values, point) pairs of `space` (its `draw_values`, `admits` and `point`),
    drawn until `max_draws`."""
    rng = _generator(rng)
    n = check_int(n, "n", minimum=0)
    if window is not None and not isinstance(window, ComplexityWindow):
        raise TypeError(f"`window` must be a ComplexityWindow or None; received {window!r}.")
    if max_draws is None:
        max_draws = DRAWS_PER_POINT * max(n, 1)
    max_draws = check_int(max_draws, "max_draws", minimum=1)
    found: list[tuple[dict, AnyNetPoint]] = []
    draws = 0
    while len(found) < n:
        if draws == max_draws:
            raise ValueError(
                f"{space!r} found only {len(found)} of {n} points within {window} in "
                f"{max_draws} draws; widen the window, change the space's limits or raise "
                "`max_draws`."
            )
        draws += 1
        values = space.draw_values(rng)
        if not space.admits(values):
            continue
        point = space.point(values)
        if window is None or window.contains(point):
            found.append((values, point))
    return found


class _Sampler:
    """The sampling methods every space shares, over its `draw_values`, `admits`, `point`."""

    def admits(self, values: Mapping[str, Any]) -> bool:
        """Returns whether the sampler keeps a draw of `values` (always, unless overridden)."""
        return True

    def sample(
        self,
        rng: Union[np.random.Generator, int],
        n: int,
        window: Optional[ComplexityWindow] = None,
        max_draws: Optional[int] = None,
    ) -> list[AnyNetPoint]:
        """Returns `n` points drawn from the space (`draw_values`), only those it admits and,
        when `window` is given, those within it.

        Args:
            rng: a `numpy.random.Generator`, or an int seed.
            n: the number of points.
            window: a `ComplexityWindow`, or None for any complexity.
            max_draws: draws before giving up; default `DRAWS_PER_POINT` per point.

        Raises:
            ValueError: fewer than `n` points admitted and within the window after
                `max_draws` draws.
        """
        return [point for _, point in _sample(self, rng, n, window, max_draws)]

    def sample_with_values(
        self,
        rng: Union[np.random.Generator, int],
        n: int,
        window: Optional[ComplexityWindow] = None,
        max_draws: Optional[int] = None,
    ) -> list[tuple[dict, AnyNetPoint]]:
        """Returns `n` (decision values, point) pairs, drawn as `sample` draws; the values are
        what a design-space record's "decisions" hold.

        Raises:
            ValueError: as `sample`.
        """
        return _sample(self, rng, n, window, max_draws)


class AnyNetXSpace(_Sampler):
    """AnyNetX design space `name` ("A" to "E") within `scale`.

    Decisions (keras-tuner names): per stage i, ``stage_{i}_depth`` and ``stage_{i}_width``;
    ``stage_{i}_bottleneck_ratio`` per stage in A, one ``bottleneck_ratio`` from B on;
    ``stage_{i}_group_width`` per stage in A and B, one ``group_width`` from C on.

    Raises:
        ValueError: an unknown space name. TypeError: `scale` is not an AnyNetXScale.
    """

    def __init__(self, name: str = "A", scale: AnyNetXScale = PAPER_SCALE):
        self.name = check_choice(name, "name", SPACE_NAMES)
        if not isinstance(scale, AnyNetXScale):
            raise TypeError(f"`scale` must be an AnyNetXScale; received {scale!r}.")
        self.scale = scale

    def __repr__(self) -> str:
        return f"AnyNetXSpace({self.name!r}, {self.scale})"

    @property
    def shared_bottleneck(self) -> bool:
        """Returns whether one bottleneck ratio serves every stage (B to E)."""
        return self.name >= "B"

    @property
    def shared_group_width(self) -> bool:
        """Returns whether one group width serves every stage (C to E)."""
        return self.name >= "C"

    @property
    def increasing_widths(self) -> bool:
        """Returns whether widths never decrease from stage to stage (D, E)."""
        return self.name >= "D"

    @property
    def increasing_depths(self) -> bool:
        """Returns whether depths never decrease from stage to stage (E)."""
        return self.name == "E"

    def declare(self, hp) -> AnyNetPoint:
        """Declares the space's decisions on `hp` (a `keras_tuner.HyperParameters`), one
        hyperparameter per decision, and returns the `AnyNetPoint` of the values it holds.

        Raises:
            ValueError: the values `hp` holds are not a point of this space.
        """
        scale = self.scale
        values = {}
        for i in range(scale.num_stages):
            values[f"stage_{i}_depth"] = hp.Int(f"stage_{i}_depth", 1, scale.max_depth)
            values[f"stage_{i}_width"] = hp.Int(
                f"stage_{i}_width", WIDTH_QUANTUM, scale.max_width, step=WIDTH_QUANTUM
            )
        for name, choices in self._choice_decisions():
            values[name] = hp.Choice(name, list(choices))
        return self.point(values)

    def _choice_decisions(self) -> list[tuple[str, tuple[int, ...]]]:
        stages = range(self.scale.num_stages)
        ratios, groups = self.scale.bottleneck_ratios, self.scale.group_widths
        decisions = (
            [("bottleneck_ratio", ratios)]
            if self.shared_bottleneck
            else [(f"stage_{i}_bottleneck_ratio", ratios) for i in stages]
        )
        decisions += (
            [("group_width", groups)]
            if self.shared_group_width
            else [(f"stage_{i}_group_width", groups) for i in stages]
        )
        return decisions

    def hyperparameters(self):
        """Returns a new `keras_tuner.HyperParameters` holding the space's decisions."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        return hp

    def point(self, values: Mapping[str, Any]) -> AnyNetPoint:
        """Returns the `AnyNetPoint` of decision `values` ({name: value}, see the class):
        D and E sort the widths (E the depths too), then pycls' compatibility adjustment.

        Raises:
            ValueError: a missing decision, or a value outside the space's sets.
        """
        scale = self.scale
        stages = range(scale.num_stages)

        def get(name, allowed):
            if name not in values:
                raise ValueError(f"AnyNetX_{self.name}: decision {name!r} is missing.")
            return check_choice(values[name], name, allowed)

        depths = [get(f"stage_{i}_depth", range(1, scale.max_depth + 1)) for i in stages]
        widths = [get(f"stage_{i}_width", scale.widths) for i in stages]
        if self.shared_bottleneck:
            ratios = [get("bottleneck_ratio", scale.bottleneck_ratios)] * scale.num_stages
        else:
            ratios = [get(f"stage_{i}_bottleneck_ratio", scale.bottleneck_ratios) for i in stages]
        if self.shared_group_width:
            groups = [get("group_width", scale.group_widths)] * scale.num_stages
        else:
            groups = [get(f"stage_{i}_group_width", scale.group_widths) for i in stages]
        if self.increasing_widths:
            widths = sorted(widths)
        if self.increasing_depths:
            depths = sorted(depths)
        return AnyNetPoint.compatible(
            depths=depths,
            widths=widths,
            bottleneck_ratios=ratios,
            group_widths=groups,
            stem_width=scale.stem_width,
        )

    def draw_values(self, rng: np.random.Generator) -> dict:
        """Returns {decision name: value} drawn uniformly and independently from each set."""
        scale = self.scale
        values: dict[str, Any] = {}
        for i in range(scale.num_stages):
            values[f"stage_{i}_depth"] = int(rng.integers(1, scale.max_depth + 1))
            values[f"stage_{i}_width"] = int(rng.choice(scale.widths))
        for name, choices in self._choice_decisions():
            values[name] = int(rng.choice(choices))
        return values


class RegNetSpace(_Sampler):
    """The RegNet design space: (d, w_0, w_a, w_m, g, b) drawn from the given ranges, the
    stages generated by `keras_nasnet.regnet.regnet`.

    Defaults are the paper's: d < 64, 8 <= w_0 < 256 (a multiple of 8), 0 < w_a < 256,
    1.5 <= w_m <= 3, g and b as AnyNetX. As pycls' sweeps, a draw counts only if no rung of
    the w_m ladder is empty (`num_stages == total_stages`) and its number of stages lies in
    `num_stages` (an int, an inclusive (low, high) pair, or None for any).

    Decisions (keras-tuner names): ``depth``, ``w_0``, ``w_a``, ``w_m``, ``group_width``,
    ``bottleneck_ratio``.

    Raises:
        TypeError, ValueError: a range that is not a (low, high) pair with low <= high within
            the generator's limits, or an invalid value set.
    """

    def __init__(
        self,
        depth: tuple[int, int] = (1, 63),
        w_0: tuple[int, int] = (8, 248),
        w_a: tuple[float, float] = (0.1, 255.9),
        w_m: tuple[float, float] = (1.5, 3.0),
        group_widths: Sequence[int] = GROUP_WIDTHS,
        bottleneck_ratios: Sequence[int] = BOTTLENECK_RATIOS,
        num_stages: Union[int, tuple[int, int], None] = 4,
        stem_width: int = 32,
        se_ratio: float = 0.0,
    ):
        self.depth = _int_range(depth, "depth", 1)
        self.w_0 = _int_range(w_0, "w_0", WIDTH_QUANTUM)
        if any(w % WIDTH_QUANTUM for w in self.w_0):
            raise ValueError(f"`w_0` bounds must be multiples of {WIDTH_QUANTUM}; received {w_0}.")
        self.w_a = _float_range(w_a, "w_a", 0.0)
        self.w_m = _float_range(w_m, "w_m", 1.0)
        self.bottleneck_ratios, self.group_widths = _block_sets(bottleneck_ratios, group_widths)
        if num_stages is None or isinstance(num_stages, tuple):
            self.num_stages = (
                None if num_stages is None else _int_range(num_stages, "num_stages", 1)
            )
        else:
            count = check_int(num_stages, "num_stages", minimum=1)
            self.num_stages = (count, count)
        self.stem_width = check_int(stem_width, "stem_width", minimum=1)
        self.se_ratio = check_number(
            se_ratio, "se_ratio", minimum=0, maximum=1, max_inclusive=False
        )

    @classmethod
    def small(cls, **kwargs) -> "RegNetSpace":
        """Returns a RegNet space of small models for 28x28 / 32x32 runs (d <= 12, w_0 <= 64,
        w_a <= 64, stem 16, 2 to 4 stages); keyword arguments override these."""
        settings = dict(
            depth=(2, 12), w_0=(8, 64), w_a=(4.0, 64.0), num_stages=(2, 4), stem_width=16
        )
        settings.update(kwargs)
        return cls(**settings)

    def __repr__(self) -> str:
        return (
            f"RegNetSpace(depth={self.depth}, w_0={self.w_0}, w_a={self.w_a}, w_m={self.w_m}, "
            f"num_stages={self.num_stages})"
        )

    def declare(self, hp) -> AnyNetPoint:
        """Declares the six decisions on `hp` (a `keras_tuner.HyperParameters`) and returns the
        `AnyNetPoint` they generate (the stage-count rule is the sampler's, not applied here).

        Raises:
            ValueError: the values `hp` holds generate no valid point.
        """
        values = {
            "depth": hp.Int("depth", *self.depth),
            "w_0": hp.Int("w_0", *self.w_0, step=WIDTH_QUANTUM),
            "w_a": hp.Float("w_a", *self.w_a, sampling="log"),
            "w_m": hp.Float("w_m", *self.w_m, sampling="log"),
            "group_width": hp.Choice("group_width", list(self.group_widths)),
            "bottleneck_ratio": hp.Choice("bottleneck_ratio", list(self.bottleneck_ratios)),
        }
        return self.point(values)

    def hyperparameters(self):
        """Returns a new `keras_tuner.HyperParameters` holding the space's decisions."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        return hp

    def point(self, values: Mapping[str, Any]) -> AnyNetPoint:
        """Returns the `AnyNetPoint` that decision `values` ({name: value}) generate.

        Raises:
            ValueError: a missing decision or an invalid value.
        """
        missing = [
            name
            for name in ("depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_ratio")
            if name not in values
        ]
        if missing:
            raise ValueError(f"RegNet decision(s) {missing} missing.")
        return regnet(
            values["depth"],
            values["w_0"],
            values["w_a"],
            values["w_m"],
            values["group_width"],
            values["bottleneck_ratio"],
            se_ratio=self.se_ratio,
            stem_width=self.stem_width,
        )

    def draw_values(self, rng: np.random.Generator) -> dict:
        """Returns {decision name: value} drawn as pycls' sweeps draw them: d uniform; w_0, w_a,
        w_m log-uniform, quantized to 8, 0.1 and 0.001; g and b uniform from their sets."""
        w_0 = WIDTH_QUANTUM * math.ceil(_log_uniform(rng, *self.w_0) / WIDTH_QUANTUM)
        return {
            "depth": int(rng.integers(self.depth[0], self.depth[1] + 1)),
            "w_0": min(self.w_0[1], max(self.w_0[0], w_0)),
            "w_a": min(self.w_a[1], max(self.w_a[0], round(_log_uniform(rng, *self.w_a), 1))),
            "w_m": min(self.w_m[1], max(self.w_m[0], round(_log_uniform(rng, *self.w_m), 3))),
            "group_width": int(rng.choice(self.group_widths)),
            "bottleneck_ratio": int(rng.choice(self.bottleneck_ratios)),
        }

    def admits(self, values: Mapping[str, Any]) -> bool:
        """Returns whether the sampler keeps `values`: as pycls' sweeps, no rung of the w_m
        ladder is empty and the number of stages lies in `num_stages`."""
        generated = generate_widths(values["depth"], values["w_0"], values["w_a"], values["w_m"])
        if generated.num_stages != generated.total_stages:
            return False
        low, high = self.num_stages or (1, generated.num_stages)
        return low <= generated.num_stages <= high


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _int_range(values: Any, name: str, minimum: int) -> tuple[int, int]:
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ValueError(f"`{name}` must be a (low, high) pair of ints; received {values!r}.")
    low = check_int(values[0], f"{name}[0]", minimum=minimum)
    high = check_int(values[1], f"{name}[1]", minimum=low)
    return low, high


def _float_range(values: Any, name: str, above: float) -> tuple[float, float]:
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ValueError(f"`{name}` must be a (low, high) pair of numbers; received {values!r}.")
    low = check_number(values[0], f"{name}[0]", minimum=above, min_inclusive=False)
    high = check_number(values[1], f"{name}[1]", minimum=low)
    return low, high

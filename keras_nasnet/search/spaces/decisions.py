"""Any keras-tuner hyperparameter space as the proposers see it: a sequence of decisions.

Each tunable hyperparameter becomes one `Dimension` (a `Fixed` one is none: it has nothing to
decide). A point of the space is a sequence of *actions*, one per dimension:

- a categorical dimension (`Choice`, `Boolean`, and `Int` / `Float` with a step and at most
  `MAX_CATEGORIES` values) acts by the index of its value;
- a continuous dimension (`Float` without a step, `Int` with more values than that) acts by a
  position in [0, 1), keras-tuner's own "prob" scale (`hp.value_to_prob`), so log and
  reverse-log sampling are uniform there. The controller sees `bins` categories of it.

Every dimension holds an action whether or not it is active: a dimension under a conditional
scope whose parent value deactivates it keeps its action as a latent gene, so that evolution can
switch a branch back on without forgetting it. Only active dimensions reach the hyperparameter
values (`decode`), the controller's log-probability (`active_mask`) and mutation.

Actions are JSON-ready (ints and floats), which is what the oracles save.

A space may also declare *skip sets* by its names (`skip_sets_of`): the Booleans
``layer_{i}_from_{j}`` (j < i) of a macro network, which the controller decides with its
attention over earlier layers instead of one softmax each. This light module holds that
convention so the proposers can read it without importing Keras.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

MAX_CATEGORIES = 64
DEFAULT_BINS = 10


def _is_fixed(hp) -> bool:
    return type(hp).__name__ == "Fixed"


class Dimension:
    """One tunable hyperparameter: its actions, values and random moves.

    Args:
        hp: the keras-tuner hyperparameter.
        group: the mutation group it belongs to (see `DecisionSpace`).
    """

    continuous = False

    def __init__(self, hp, group: str = "value"):
        self.hp = hp
        self.name = hp.name
        self.conditions = tuple(hp.conditions)
        self.group = group

    @property
    def num_choices(self) -> int:
        """Returns how many categories the controller chooses among."""
        raise NotImplementedError

    def is_active(self, values: Mapping[str, Any]) -> bool:
        """Returns whether every condition of the dimension holds for `values`."""
        return all(condition.is_active(values) for condition in self.conditions)

    def describe(self) -> dict:
        """Returns a JSON-ready description (what a saved search is checked against)."""
        return {"name": self.name, "kind": type(self.hp).__name__, "group": self.group}


class CategoricalDimension(Dimension):
    """A dimension with a finite list of values; an action is a value's index."""

    def __init__(self, hp, values: Sequence, ordered: bool, group: str = "value"):
        super().__init__(hp, group)
        self.values = tuple(values)
        self.ordered = bool(ordered)

    @property
    def num_choices(self) -> int:
        return len(self.values)

    placeholder = 0

    def value(self, action) -> Any:
        return self.values[int(action)]

    def action(self, value) -> int:
        if value not in self.values:
            raise ValueError(
                f"{self.name}={value!r} is outside this space; allowed: {self.values}."
            )
        return self.values.index(value)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.values)))

    def mutate(self, action, rng: np.random.Generator) -> int:
        """Returns another action: a neighbour half of the time when the values are ordered
        (a local move in a range), else any other value uniformly (AmoebaNet's redraw)."""
        action, count = int(action), len(self.values)
        if self.ordered and count > 2 and rng.random() < 0.5:
            step = 1 if rng.random() < 0.5 else -1
            if not 0 <= action + step < count:
                step = -step
            return action + step
        new = int(rng.integers(count - 1))
        return new + (new >= action)

    def to_category(self, action) -> int:
        return int(action)

    def from_category(self, category: int) -> int:
        return int(category)

    def check(self, action) -> None:
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise ValueError(f"{self.name}: action {action!r} is not an index.")
        if not 0 <= int(action) < len(self.values):
            raise ValueError(
                f"{self.name}: index {action} is out of range 0..{len(self.values) - 1}."
            )

    def describe(self) -> dict:
        return {**super().describe(), "values": list(self.values)}


class ContinuousDimension(Dimension):
    """A numeric range; an action is a position in [0, 1) on the range's own sampling scale.

    Args:
        hp: a keras-tuner `Int` or `Float`.
        bins: categories the controller sees; category i stands for the middle of its bin.
        mutation_scale: standard deviation of a mutation's step, on the [0, 1) scale.
    """

    continuous = True

    def __init__(self, hp, bins: int = DEFAULT_BINS, mutation_scale: float = 0.15, group="value"):
        super().__init__(hp, group)
        self.bins = int(bins)
        self.mutation_scale = float(mutation_scale)

    @property
    def num_choices(self) -> int:
        return self.bins

    placeholder = 0.5

    def value(self, action) -> Any:
        return self.hp.prob_to_value(min(max(float(action), 0.0), 1.0 - 1e-9))

    def action(self, value) -> float:
        low, high = self.hp.min_value, self.hp.max_value
        if not (isinstance(value, (int, float)) and low <= value <= high):
            raise ValueError(
                f"{self.name}={value!r} is outside this space; allowed: [{low}, {high}]."
            )
        return min(max(float(self.hp.value_to_prob(value)), 0.0), 1.0 - 1e-9)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.random())

    def mutate(self, action, rng: np.random.Generator) -> float:
        """Returns a position moved by a normal step and reflected into [0, 1), whose value
        differs from the old one's (when the range has another value at all)."""
        old = self.value(action)
        for _ in range(20):
            moved = float(action) + rng.normal(0.0, self.mutation_scale)
            moved = abs(moved) % 2.0
            moved = min(2.0 - moved if moved > 1.0 else moved, 1.0 - 1e-9)
            if self.value(moved) != old:
                return moved
        return moved

    def to_category(self, action) -> int:
        return min(int(float(action) * self.bins), self.bins - 1)

    def from_category(self, category: int) -> float:
        return (int(category) + 0.5) / self.bins

    def check(self, action) -> None:
        if isinstance(action, bool) or not isinstance(action, (int, float, np.floating)):
            raise ValueError(f"{self.name}: action {action!r} is not a number.")
        if not 0.0 <= float(action) < 1.0:
            raise ValueError(f"{self.name}: position {action} is outside [0, 1).")

    def describe(self) -> dict:
        hp = self.hp
        return {
            **super().describe(),
            "min_value": hp.min_value,
            "max_value": hp.max_value,
            "sampling": hp.sampling,
            "bins": self.bins,
        }


def dimension_of(hp, bins: int = DEFAULT_BINS, group: str = "value") -> Optional[Dimension]:
    """Returns the `Dimension` of keras-tuner hyperparameter `hp` (None for a `Fixed` one).

    Raises:
        TypeError: a hyperparameter type keras-tuner does not define.
    """
    kind = type(hp).__name__
    if _is_fixed(hp):
        return None
    if kind == "Boolean":
        return CategoricalDimension(hp, (False, True), ordered=False, group=group)
    if kind == "Choice":
        return CategoricalDimension(hp, hp.values, ordered=bool(hp.ordered), group=group)
    if kind in ("Int", "Float"):
        if hp.step is not None and hp._get_n_values() <= MAX_CATEGORIES:
            values = [int(round(v)) if kind == "Int" else float(v) for v in hp.values]
            return CategoricalDimension(hp, values, ordered=True, group=group)
        return ContinuousDimension(hp, bins=bins, group=group)
    raise TypeError(f"Unknown keras-tuner hyperparameter type {kind} ({hp!r}).")


class DecisionSpace:
    """A keras-tuner `HyperParameters` space as a sequence of decisions for the proposers.

    Args:
        hyperparameters: a `keras_tuner.HyperParameters` (its `space`, in declaration order:
            a conditional hyperparameter comes after the parent it depends on).
        groups: optional `{hyperparameter name: group}`; evolution first draws a group, then a
            dimension within it (default: one group, every dimension equally likely).
        bins: categories the controller sees of each continuous dimension.
        include: names of the hyperparameters to search (None: every tunable one); the others
            are left to the oracle (a resumed search keeps the dimensions it saved).

    Raises:
        ValueError: the space has no tunable hyperparameter.
    """

    def __init__(
        self,
        hyperparameters,
        groups: Optional[Mapping[str, str]] = None,
        bins: int = DEFAULT_BINS,
        include: Optional[Sequence[str]] = None,
    ):
        groups = dict(groups or {})
        self.fixed = {}
        dimensions = []
        for hp in hyperparameters.space:
            dimension = dimension_of(hp, bins=bins, group=groups.get(hp.name, "value"))
            if dimension is None:
                self.fixed[hp.name] = (hp.value, tuple(hp.conditions))
            elif include is None or hp.name in include:
                dimensions.append(dimension)
        if not dimensions:
            raise ValueError(
                f"The hyperparameter space has nothing to search: {hyperparameters.space!r}. "
                "Declare at least one Choice, Boolean, Int or Float."
            )
        self.dimensions = tuple(dimensions)
        self.conditional = any(d.conditions for d in self.dimensions)

    # -- description -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.dimensions)

    @property
    def decisions(self) -> tuple:
        return self.dimensions

    @property
    def choice_counts(self) -> tuple[int, ...]:
        """Returns the number of controller categories of each dimension, in order."""
        return tuple(d.num_choices for d in self.dimensions)

    @property
    def log10_size(self) -> float:
        """Returns log10 of the number of controller category sequences."""
        return sum(math.log10(n) for n in self.choice_counts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def get_config(self) -> list:
        """Returns a JSON-ready description of every dimension, in order."""
        return [d.describe() for d in self.dimensions]

    def __repr__(self) -> str:
        names = ", ".join(d.name for d in self.dimensions)
        return f"DecisionSpace({len(self)} dimensions: {names})"

    # -- actions <-> hyperparameter values ---------------------------------------------------

    def check(self, actions: Sequence) -> list:
        """Returns `actions` as a list after checking its length and each action's range.

        Raises:
            ValueError: wrong length or an action outside its dimension.
        """
        actions = list(actions)
        if len(actions) != len(self.dimensions):
            raise ValueError(f"Expected {len(self.dimensions)} actions; received {len(actions)}.")
        for dimension, action in zip(self.dimensions, actions):
            dimension.check(action)
        return actions

    def _fixed_values(self) -> dict:
        values: dict = {}
        for name, (value, conditions) in self.fixed.items():
            if all(c.is_active(values) for c in conditions):
                values[name] = value
        return values

    def _resolve(self, actions: Sequence) -> tuple[list, dict]:
        # (per dimension: active?, {name: value} of the active ones), in declaration order, so
        # that a parent's value is known before its conditional children are looked at.
        values = self._fixed_values()
        mask = []
        for dimension, action in zip(self.dimensions, actions):
            active = dimension.name not in values and dimension.is_active(values)
            if active:
                values[dimension.name] = dimension.value(action)
            mask.append(active)
        return mask, values

    def decode(self, actions: Sequence) -> dict:
        """Returns `{name: value}` of the active hyperparameters (fixed ones included).

        Raises:
            ValueError: wrong length or an action outside its dimension.
        """
        return self._resolve(self.check(actions))[1]

    def active_mask(self, actions: Sequence) -> tuple[bool, ...]:
        """Returns, per dimension, whether it is active given the earlier actions."""
        return tuple(self._resolve(actions)[0])

    def is_active(self, index: int, actions: Sequence) -> bool:
        """Returns whether dimension `index` is active given `actions[:index]`."""
        if not self.conditional:
            return True
        mask, values = self._resolve(actions[:index])
        dimension = self.dimensions[index]
        return dimension.name not in values and dimension.is_active(values)

    def encode(self, values: Mapping[str, Any], rng: Optional[np.random.Generator] = None) -> list:
        """Returns actions describing hyperparameter values `values` (a dict or
        HyperParameters); an inactive or missing dimension gets a random action from `rng`
        (or the first one).

        Raises:
            ValueError: a value outside its dimension.
        """
        if not isinstance(values, Mapping):
            values = values.values
        actions = []
        for dimension in self.dimensions:
            if dimension.name in values and dimension.is_active(values):
                actions.append(dimension.action(values[dimension.name]))
            elif rng is not None:
                actions.append(dimension.sample(rng))
            else:
                actions.append(dimension.placeholder)
        return actions

    def sample_uniform(self, rng: np.random.Generator) -> list:
        """Returns actions drawn independently, each uniform on its own scale."""
        return [d.sample(rng) for d in self.dimensions]

    # -- the controller's categories ---------------------------------------------------------

    def to_categories(self, actions: Sequence) -> list[int]:
        """Returns the controller's category of each action (a continuous one's bin)."""
        return [d.to_category(a) for d, a in zip(self.dimensions, actions)]

    def from_categories(self, categories: Sequence[int]) -> list:
        """Returns the actions the controller's categories stand for (a bin's middle)."""
        return [d.from_category(c) for d, c in zip(self.dimensions, categories)]

    # -- mutation ----------------------------------------------------------------------------

    def mutable(self, actions: Sequence) -> dict[str, list[int]]:
        """Returns `{group: [dimension indices]}` of the active dimensions with another value."""
        groups: dict[str, list[int]] = {}
        mask, _ = self._resolve(actions)
        for index, (dimension, active) in enumerate(zip(self.dimensions, mask)):
            if active and dimension.num_choices > 1:
                groups.setdefault(dimension.group, []).append(index)
        return groups


# -- skip sets: the Booleans a macro space names layer_{i}_from_{j} ----------------------------

_LAYER_NAME = re.compile(r"layer_(\d+)_(.+)")
_SKIP_SUFFIX = re.compile(r"from_(\d+)")


def skip_name(layer: int, source: int) -> str:
    """Returns the name of the Boolean saying whether layer `source` feeds layer `layer`."""
    return f"layer_{layer}_from_{source}"


@dataclass(frozen=True)
class SkipSet:
    """Layer `layer` of a macro space, as the controller's attention sees it.

    `anchor` is the index of the layer's last other decision (after which the controller takes
    its anchor step); `skips` are the indices of its Booleans ``layer_{layer}_from_{j}``,
    j = 0 .. layer - 1 in order, right after `anchor` (empty for layer 0).
    """

    layer: int
    anchor: int
    skips: tuple[int, ...]


def skip_sets_of(space: DecisionSpace) -> tuple[SkipSet, ...]:
    """Returns the `SkipSet` of every layer of `space`, or () when no decision is named
    ``layer_{i}_from_{j}``.

    The layout it reads: the decisions named ``layer_{i}_...`` come as one run per layer, layers
    in order from 0; each run holds at least one other decision, then the Booleans
    ``layer_{i}_from_{j}`` for j = 0 .. i-1 in order; none of them is conditional.

    Raises:
        ValueError: skip-named decisions that break that layout (the message says where).
    """
    dimensions = space.dimensions
    if not any(_skip_source(d.name) is not None for d in dimensions):
        return ()
    runs: list[tuple[int, list[int]]] = []  # (layer, dimension indices), in order
    for index, dimension in enumerate(dimensions):
        match = _LAYER_NAME.fullmatch(dimension.name)
        if match is None:
            continue
        layer = int(match.group(1))
        if dimension.conditions:
            raise ValueError(f"Skip layout: {dimension.name} is conditional; none may be.")
        if runs and runs[-1][0] == layer and runs[-1][1][-1] == index - 1:
            runs[-1][1].append(index)
        else:
            runs.append((layer, [index]))
    layers = [layer for layer, _ in runs]
    if layers != list(range(len(runs))):
        raise ValueError(
            f"Skip layout: the layers' decisions must come as one run per layer, layers 0, 1, "
            f"... in order; found runs of layers {layers}."
        )
    sets = []
    for layer, indices in runs:
        names = [dimensions[i].name for i in indices]
        sources = [_skip_source(name) for name in names]
        first_skip = next((k for k, s in enumerate(sources) if s is not None), len(names))
        if first_skip == 0:
            raise ValueError(
                f"Skip layout: layer {layer} needs a decision of its own before its skips; "
                f"found {names}."
            )
        if sources[first_skip:] != list(range(layer)):
            raise ValueError(
                f"Skip layout: layer {layer} must end with "
                f"{[skip_name(layer, j) for j in range(layer)]}; found {names}."
            )
        for i in indices[first_skip:]:
            if getattr(dimensions[i], "values", None) != (False, True):
                raise ValueError(f"Skip layout: {dimensions[i].name} must be a Boolean.")
        sets.append(SkipSet(layer, indices[first_skip - 1], tuple(indices[first_skip:])))
    return tuple(sets)


def _skip_source(name: str):
    match = _LAYER_NAME.fullmatch(name)
    if match is None:
        return None
    source = _SKIP_SUFFIX.fullmatch(match.group(2))
    return None if source is None else int(source.group(1))

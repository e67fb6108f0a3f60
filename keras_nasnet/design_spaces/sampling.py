"""The spaces a design-space study samples, and seeded sampling of their points.

A study needs little of a space: its name, a seeded draw of one point with the point's decision
values as scalars (what the bootstrap reads), the point's parameters and mult-adds at the
recipe, and what trains it. `PointSpace` is that interface; `CellSpace` implements it for
NASNet-style cells (the point an `Architecture`):

- "nasnet": the NASNet search space (`SearchSpace()`'s defaults: every op, add or concat);
- "enas": ENAS's micro space (`search.enas.enas_space`: five ops, add only);
- "anynetx-a" .. "anynetx-e", "regnet": the AnyNetX spaces and the RegNet space at a small
  scale (`anynet_study.AnyNetStudySpace`: a point is an `AnyNetPoint`);
- "file:PATH": the narrowed spaces of a `narrowing.json` (`{space: {decision: allowed values}}`,
  what `write_report` writes): each named space of the file with its decisions restricted.

Other point types (the NAS-2017 macro space) join by implementing `PointSpace`.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..genotypes import Architecture
from ..search.spaces.nasnet_cells import SearchSpace
from ..validation import ArgumentTypeError, check_int
from .point_space import PointSpace, _check_name

__all__ = [
    "ANYNET_SPACE_NAMES",
    "CELL_SPACES",
    "FILE_PREFIX",
    "NAMED_SPACES",
    "CellSpace",
    "PointSpace",
    "SampledPoint",
    "cell_search_space",
    "check_params_window",
    "named_space",
    "narrowed_spaces",
    "resolve_spaces",
    "rng_from_state",
    "rng_state",
    "sample_points",
    "space_rng",
]

FILE_PREFIX = "file:"
CELL_SPACES = ("nasnet", "enas")
# anynet_study.ANYNET_SPACES' names (copied: that module imports Keras).
ANYNET_SPACE_NAMES = ("anynetx-a", "anynetx-b", "anynetx-c", "anynetx-d", "anynetx-e", "regnet")
NAMED_SPACES = CELL_SPACES + ANYNET_SPACE_NAMES
NARROWED_SUFFIX = "-narrowed"
# Draws per wanted point before a parameter window counts as unreachable: each draw builds a
# model, so the bound keeps a window that (almost) nothing meets from running for hours.
MAX_DRAWS_PER_POINT = 50


class CellSpace(PointSpace):
    """A space of NASNet-style cell pairs: a `SearchSpace`, each decision optionally restricted
    to some of its values (a narrowed space); a point is an `Architecture`.

    Raises:
        TypeError: `search_space` is not a SearchSpace.
        ValueError: a bad name, or a restriction naming a decision or value `search_space`
            does not have (the message names both and what is allowed).
    """

    def __init__(
        self,
        name: str,
        search_space: SearchSpace,
        allowed: Optional[Mapping[str, Sequence]] = None,
    ):
        self.name = _check_name(name)
        allowed = {} if allowed is None else allowed
        if not isinstance(allowed, Mapping):
            raise ArgumentTypeError(
                f"Space {name!r}: the restriction must be a dict of decision -> allowed values; "
                f"received {allowed!r}."
            )
        if not isinstance(search_space, SearchSpace):
            raise ArgumentTypeError(
                f"`search_space` must be a SearchSpace; received {search_space!r}."
            )
        self.search_space = search_space
        try:
            # The restriction is the SearchSpace's own: `search` and compare's random:K draw
            # from the same narrowed space.
            self.restricted = SearchSpace(
                **{**search_space.get_config(), "allowed": {**search_space.allowed, **allowed}}
            )
        except ValueError as error:
            raise ValueError(f"Space {name!r}: {error}") from None
        self.allowed = self.restricted.allowed
        # Input indices are numbers but no scale: which state, not how much.
        self.categorical = tuple(
            d.name for d in search_space.decisions if d.name.rsplit("/", 1)[1].startswith("input")
        )

    def sample(self, rng: np.random.Generator) -> tuple:
        """Returns `(Architecture, values)`: each decision drawn uniformly from its allowed
        values, independently (`SearchSpace.sample_uniform`'s distribution when unrestricted)."""
        architecture = self.restricted.decode(self.restricted.sample_uniform(rng))
        return architecture, self.restricted.to_values(architecture)

    def config(self) -> dict:
        """Returns {"kind", "name", "search_space", "allowed"} as JSON."""
        return {
            "kind": "nasnet_cells",
            "name": self.name,
            "search_space": self.search_space.get_config(),
            "allowed": {name: list(values) for name, values in self.allowed.items()},
        }

    def point_from_dict(self, data: Mapping) -> Architecture:
        """Returns the Architecture of `data` (its `to_dict()`)."""
        return Architecture.from_dict(data)

    def counter(self, input_shape, classes: int, recipe) -> Callable:
        """Returns count(architecture) -> (parameters, mult-adds) at the recipe's N and F
        (compare's `model_counter`; builds a model, imports Keras)."""
        from ..compare.matching import model_counter

        count = model_counter(input_shape, classes, recipe)
        return lambda architecture: count(architecture, recipe.filters)

    def train_kwargs(self, point) -> dict:
        """Returns {"architecture": point} (for `training.train`)."""
        return {"architecture": point}

    def __repr__(self) -> str:
        restricted = f", {len(self.allowed)} decisions restricted" if self.allowed else ""
        return f"CellSpace({self.name!r}, {self.search_space!r}{restricted})"


def named_space(name: str, num_blocks: int = 5) -> PointSpace:
    """Returns the named space `name`: "nasnet" or "enas" (a `CellSpace` with `num_blocks`
    blocks per cell), or an AnyNet space of `ANYNET_SPACE_NAMES` (`num_blocks` unused).

    Raises:
        ValueError: an unknown name (the message lists the names) or a bad `num_blocks`.
    """
    num_blocks = check_int(num_blocks, "num_blocks", minimum=1)
    if name == "nasnet":
        return CellSpace(name, SearchSpace(num_blocks=num_blocks))
    if name == "enas":
        from ..search.enas.supernet import enas_space

        return CellSpace(name, enas_space(num_blocks))
    if name in ANYNET_SPACE_NAMES:
        from .anynet_study import anynet_space

        return anynet_space(name)
    raise ValueError(
        f"Unknown space {name!r}; allowed: {', '.join(NAMED_SPACES)}, or {FILE_PREFIX}PATH for "
        "the narrowed spaces of a narrowing.json."
    )


def _base_name(name: str) -> str:
    while name.endswith(NARROWED_SUFFIX):
        name = name[: -len(NARROWED_SUFFIX)]
    return name


def narrowed_spaces(path: str, num_blocks: int = 5) -> list:
    """Returns a space per space of the narrowing file at `path` ({space: {decision:
    allowed values}}, as `write_report` writes narrowing.json): the named space the key names
    ("nasnet", or "nasnet-narrowed" narrowed again) restricted to the file's values, named
    "<key>-narrowed". Decisions the file leaves out keep all their values. A cell space reads
    lists of allowed values, an AnyNet space [low, high] ranges (see `anynet_study`).

    Raises:
        OSError: the file cannot be read.
        ValueError: not JSON, not an object of objects, a key that names no named space, a
            decision or value the base space does not have; the message names the file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error}).") from None
    if (
        not isinstance(data, dict)
        or not data
        or not all(isinstance(v, dict) for v in data.values())
    ):
        raise ValueError(
            f"{path}: a narrowing file must be a JSON object {{space: {{decision: allowed "
            "values}}}} (the narrowing.json a study writes)."
        )
    spaces = []
    for key, allowed in data.items():
        base = _base_name(str(key))
        if base not in NAMED_SPACES:
            raise ValueError(
                f"{path}: space {key!r} narrows no known space; its name must be one of "
                f"{', '.join(NAMED_SPACES)} (optionally followed by {NARROWED_SUFFIX!r})."
            )
        try:
            if base in ANYNET_SPACE_NAMES:
                from .anynet_study import anynet_space

                spaces.append(anynet_space(f"{key}{NARROWED_SUFFIX}", allowed, base=base))
                continue
            spaces.append(
                CellSpace(
                    f"{key}{NARROWED_SUFFIX}", named_space(base, num_blocks).search_space, allowed
                )
            )
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    return spaces


def cell_search_space(spec: str, num_blocks: int = 5) -> SearchSpace:
    """Returns the cell `SearchSpace` that `spec` names, for `search` and compare's random:K:
    "nasnet", "enas", or "file:PATH" (the cell space of a narrowing.json, restricted to its
    values; "file:PATH#KEY" picks the file's space KEY when it narrows several).

    Raises:
        OSError: the file cannot be read.
        ValueError: an unknown name, a bad file, a file without a cell space, or one with
            several and no #KEY (the message lists them).
    """
    if not isinstance(spec, str) or not spec.startswith(FILE_PREFIX):
        if spec not in CELL_SPACES:
            raise ValueError(
                f"Unknown cell space {spec!r}; allowed: {', '.join(CELL_SPACES)}, or "
                f"{FILE_PREFIX}PATH[#KEY] for a narrowed space of a narrowing.json."
            )
        return named_space(spec, num_blocks).search_space
    path, _, key = spec[len(FILE_PREFIX) :].partition("#")
    cells = {
        space.name[: -len(NARROWED_SUFFIX)]: space
        for space in narrowed_spaces(path, num_blocks)
        if isinstance(space, CellSpace)
    }
    if key:
        if key not in cells:
            raise ValueError(
                f"{path}: no cell space {key!r}; its cell spaces: {', '.join(cells) or 'none'}."
            )
        return cells[key].restricted
    if len(cells) != 1:
        listed = ", ".join(f"{FILE_PREFIX}{path}#{name}" for name in cells)
        raise ValueError(
            f"{path}: {len(cells)} cell spaces"
            + (f"; name one: {listed}." if cells else " (only cell spaces can be searched here).")
        )
    return next(iter(cells.values())).restricted


def resolve_spaces(names: Sequence, num_blocks: int = 5) -> list:
    """Returns the `PointSpace`s that `names` name: a `NAMED_SPACES` name, "file:PATH" (every
    space of a narrowing file) or `PointSpace` values.

    Raises:
        ValueError: no names, an unknown name, a bad file, or two spaces of one name.
    """
    if isinstance(names, (str, PointSpace)) or not isinstance(names, Sequence) or not names:
        raise ValueError(
            f"`spaces` must be a non-empty list of space names or PointSpaces; received {names!r}."
        )
    spaces = []
    for item in names:
        if isinstance(item, PointSpace):
            spaces.append(item)
        elif isinstance(item, str) and item.startswith(FILE_PREFIX):
            spaces.extend(narrowed_spaces(item[len(FILE_PREFIX) :], num_blocks))
        elif isinstance(item, str):
            spaces.append(named_space(item, num_blocks))
        else:
            raise ArgumentTypeError(f"A space must be a name or a PointSpace; received {item!r}.")
    seen = set()
    for space in spaces:
        if space.name in seen:
            raise ValueError(
                f"Space {space.name!r} is named twice; each space of a study needs its own name."
            )
        seen.add(space.name)
    return spaces


def check_params_window(window) -> Optional[tuple]:
    """Returns `window` as (low, high) ints, or None for none.

    Raises:
        ValueError: not a pair of ints with 0 <= low <= high.
    """
    if window is None:
        return None
    try:
        low, high = window
        low = check_int(low, "params_window[0]", minimum=0)
        high = check_int(high, "params_window[1]", minimum=0)
    except (TypeError, ValueError):
        raise ValueError(
            f"`params_window` must be a pair (low, high) of parameter counts; received {window!r}."
        ) from None
    if low > high:
        raise ValueError(f"`params_window` must have low <= high; received {window!r}.")
    return low, high


def space_rng(seed: int, name: str) -> np.random.Generator:
    """Returns the generator of space `name`'s draws: from the seed and the name, so adding or
    reordering spaces leaves each space's points as they were."""
    seed = check_int(seed, "seed", minimum=0)
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


@dataclass(frozen=True)
class SampledPoint:
    """One point of a study: its space, index, the point, its decision values and its
    parameters and mult-adds at the recipe."""

    space: str
    index: int
    point: object
    values: Mapping
    params: int
    mult_adds: int

    @property
    def key(self) -> str:
        """Returns the point's file-name key, "<space>-<index>"."""
        return f"{self.space}-{self.index:04d}"

    def to_dict(self) -> dict:
        """Returns the point as JSON (its space is the file's key)."""
        return {
            "index": self.index,
            "values": dict(self.values),
            "point": self.point.to_dict(),
            "params": self.params,
            "mult_adds": self.mult_adds,
        }

    @classmethod
    def from_dict(cls, space: PointSpace, data: Mapping) -> "SampledPoint":
        """Returns the point of `space` that `to_dict` wrote."""
        return cls(
            space.name,
            int(data["index"]),
            space.point_from_dict(data["point"]),
            dict(data["values"]),
            int(data["params"]),
            int(data["mult_adds"]),
        )


def sample_points(
    space: PointSpace,
    count: int,
    rng: np.random.Generator,
    counter: Callable,
    params_window=None,
    start: int = 0,
    max_draws_per_point: int = MAX_DRAWS_PER_POINT,
) -> tuple:
    """Returns `(points, draws)`: `count` `SampledPoint`s of `space` (indices from `start`)
    drawn with `rng`, each counted with `counter(point) -> (parameters, mult-adds)`, and how
    many draws that took. With `params_window` (low, high) a draw outside it is redrawn.

    Raises:
        ValueError: a bad argument, or `params_window` not met by `count` points within
            `max_draws_per_point * count` draws (the message gives the counts seen).
    """
    count = check_int(count, "count", minimum=0)
    start = check_int(start, "start", minimum=0)
    max_draws = check_int(max_draws_per_point, "max_draws_per_point", minimum=1) * count
    window = check_params_window(params_window)
    points, draws, seen = [], 0, []
    while len(points) < count:
        if draws >= max_draws:
            raise ValueError(
                f"Space {space.name!r}: only {len(points)} of {count} points within "
                f"params_window [{window[0]:,}, {window[1]:,}] after {draws} draws (their "
                f"parameters ranged {min(seen):,} - {max(seen):,}). Widen the window or change "
                "the recipe's filters / blocks."
            )
        point, values = space.sample(rng)
        draws += 1
        params, mult_adds = counter(point)
        seen.append(params)
        if window is not None and not window[0] <= params <= window[1]:
            continue
        points.append(
            SampledPoint(space.name, start + len(points), point, values, params, mult_adds)
        )
    return points, draws


def rng_from_state(state: Mapping) -> np.random.Generator:
    """Returns a generator resumed at `state` (a `bit_generator.state` saved as JSON)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = dict(state)
    return rng


# The state of a generator as JSON: PCG64's 128-bit integers fit Python's json.
def rng_state(rng: np.random.Generator) -> dict:
    """Returns `rng`'s state, JSON-ready (see `rng_from_state`)."""
    return json.loads(json.dumps(rng.bit_generator.state))

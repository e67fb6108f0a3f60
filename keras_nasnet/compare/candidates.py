"""The architectures of a comparison: zoo cells and networks, JSON files, random:K, values and
labelled pairs, each turned into a `Candidate` with a label for the table and a key for file
names."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np

from ..genotypes import ARCHITECTURES, Architecture, read_architecture
from ..validation import check_int
from .networks import NETWORKS, Network, network_file

if TYPE_CHECKING:
    from ..search.spaces.nasnet_cells import SearchSpace

RANDOM_PREFIX = "random:"
MAX_RANDOM_CELLS = 100

ArchitectureSpec = Union[str, Architecture, Network, tuple]


@dataclass(frozen=True)
class Candidate:
    """One architecture to compare: its label in the table, its file-name key, and the cell
    pair (an `Architecture`) or the whole network (a `networks.Network`)."""

    label: str
    key: str
    architecture: Union[Architecture, Network]

    @property
    def is_network(self) -> bool:
        """Returns whether the candidate is a whole network (matched by width multiplier)."""
        return isinstance(self.architecture, Network)


def _random_count(identifier: str) -> int:
    text = identifier[len(RANDOM_PREFIX) :]
    if not text.isdigit() or not 1 <= int(text) <= MAX_RANDOM_CELLS:
        raise ValueError(
            f"Architecture {identifier!r}: random:K needs a count K from 1 to "
            f"{MAX_RANDOM_CELLS} (random:3 compares three random cells of the default space)."
        )
    return int(text)


def _named(identifier: str) -> Union[Architecture, Network]:
    if identifier in ARCHITECTURES:
        return ARCHITECTURES[identifier]
    if identifier in NETWORKS:
        return NETWORKS[identifier]
    if os.path.isdir(identifier):
        raise ValueError(f"Architecture {identifier!r} is a directory, not a JSON file.")
    if os.path.exists(identifier):
        network = network_file(identifier)  # a search of the mnasnet space wrote it
        # read_architecture's errors name the file and the key at fault.
        return read_architecture(identifier) if network is None else network
    hint = difflib.get_close_matches(identifier, [*ARCHITECTURES, *NETWORKS], n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ValueError(
        f"Unknown architecture {identifier!r}{suggestion}: give a zoo cell "
        f"({', '.join(ARCHITECTURES)}), a network ({', '.join(NETWORKS)}), random:K for K "
        "random cells, or an architecture JSON file (such as a search's "
        "best_architecture.json, of a cell search or of --space mnasnet)."
    )


def _file_key(label: str, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._-")[:80] or "architecture"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    taken.add(key)
    return key


def _default_space() -> SearchSpace:
    # Imported when random cells are drawn, not with this module: keras_nasnet.search re-exports
    # `compare`, so importing search here would make each package's import wait on the other's.
    from ..search.spaces.nasnet_cells import SearchSpace

    return SearchSpace()


def resolve_architectures(
    architectures: Sequence[ArchitectureSpec], seed: int = 0, space: Optional[SearchSpace] = None
) -> list[Candidate]:
    """Returns the `Candidate`s `architectures` name, in order.

    Each item is a zoo cell name ("nasnet_a"), a network name ("mnasnet-a1", "mobilenet_v2":
    see `networks.NETWORKS`), the path of an architecture JSON file (a cell, or a network of
    the "mnasnet" space),
    "random:K" (K cells drawn uniformly from `space`, default `SearchSpace()`, reproducibly from
    `seed`; labelled random-1, random-2, ... across the whole list), an `Architecture` or a
    `Network` (labelled "architecture-<position>"), or a pair (label, one of those but
    random:K).

    Raises:
        ValueError: an empty list, an unknown name, a bad random:K, an unreadable or invalid
            file (named), or the same name or label twice.
        TypeError: an item of another type.
    """
    if isinstance(architectures, (str, Architecture)) or not isinstance(architectures, Sequence):
        raise TypeError(
            "`architectures` must be a list of names, JSON paths, random:K or Architecture "
            f"values; received {architectures!r}."
        )
    if not architectures:
        raise ValueError("`architectures` is empty: give at least one architecture to train.")
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng([seed, 0xC0])
    candidates, labels, keys = [], set(), set()
    random_index = 0

    def add(label, architecture):
        if label in labels:
            raise ValueError(
                f"Architecture {label!r} is given twice; each architecture once (use random:K "
                "for several random cells)."
            )
        labels.add(label)
        candidates.append(Candidate(label, _file_key(label, keys), architecture))

    for position, item in enumerate(architectures, 1):
        if isinstance(item, (Architecture, Network)):
            add(f"architecture-{position}", item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            label, value = item
            add(label, value if isinstance(value, (Architecture, Network)) else _named(str(value)))
        elif isinstance(item, (str, os.PathLike)):
            identifier = os.fspath(item)
            if identifier.startswith(RANDOM_PREFIX):
                count = _random_count(identifier)
                space = _default_space() if space is None else space
                for _ in range(count):
                    random_index += 1
                    add(f"random-{random_index}", space.decode(space.sample_uniform(rng)))
            else:
                add(identifier, _named(identifier))
        else:
            raise TypeError(
                f"`architectures` item {position} must be a name, a JSON path, random:K, an "
                f"Architecture or a (label, architecture) pair; received {item!r}."
            )
    return candidates

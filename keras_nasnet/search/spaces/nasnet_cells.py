"""The search space: an Architecture as a sequence of discrete decisions, and back.

Each block of a cell is five decisions, in the paper's order (section 3, figure 3): the
hidden state for the first op, the one for the second op, the two ops, and the combine. The
normal cell's decisions come first, then the reduction cell's. An input decision of block `b`
only offers the states that exist when the block runs (``0 .. num_inputs + b - 1``), so every
sequence of decisions decodes to a valid Architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ...genotypes import (
    COMBINES,
    OPS,
    OUTPUT_RULES,
    SUPPORTED_NUM_INPUTS,
    Architecture,
    Block,
    Genotype,
)
from ...validation import check_int

CELLS = ("normal", "reduction")
# Per block, in the order the controller emits them.
FIELDS = ("input_a", "input_b", "op_a", "op_b", "combine")


@dataclass(frozen=True)
class Decision:
    """One categorical decision: its hyperparameter name and the scalar values it may take."""

    name: str
    choices: tuple

    @property
    def num_choices(self) -> int:
        return len(self.choices)


def _options(values, allowed: Sequence[str], argument: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(
            f"`{argument}` must be a non-empty sequence of names from {allowed}; received "
            f"{values!r}."
        )
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"Unknown {argument} {unknown!r}. Allowed: {', '.join(allowed)}.")
    if len(set(values)) != len(values):
        raise ValueError(f"`{argument}` repeats a value: {values!r}.")
    return values


def check_allowed(allowed: Mapping, decisions: Sequence[Decision], num_blocks: int) -> dict:
    """Returns `allowed` ({decision name: allowed values}) checked against `decisions`, each
    value list in the decisions' order and once each (a draw does not depend on the order a
    file lists them in).

    Raises:
        ValueError: not a dict, a decision `decisions` lacks, an empty list, or a value its
            decision does not offer (the message names both and what is allowed).
    """
    if not isinstance(allowed, Mapping):
        raise ValueError(
            f"The restriction must be a dict of decision -> allowed values; received {allowed!r}."
        )
    by_name = {d.name: d for d in decisions}
    checked = {}
    for name, values in allowed.items():
        if name not in by_name:
            example = next(iter(by_name))
            raise ValueError(
                f"{name!r} is not a decision of its base space ({len(by_name)} decisions such as "
                f"{example!r}, {num_blocks} blocks per cell)."
            )
        choices = by_name[name].choices
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"Decision {name!r} needs a non-empty list of allowed values from "
                f"{list(choices)}; received {values!r}."
            )
        unknown = [v for v in values if isinstance(v, bool) or v not in choices]
        if unknown:
            raise ValueError(
                f"Decision {name!r} has no value {unknown[0]!r} in its base space; allowed: "
                f"{list(choices)}."
            )
        checked[name] = tuple(c for c in choices if c in values)
    return checked


class SearchSpace:
    """The NASNet search space over one normal and one reduction cell.

    Args:
        ops: op names the controller may pick (default: all of `keras_nasnet.OPS`).
        num_blocks: blocks per cell, B (default 5 as in the paper).
        num_inputs: hidden states each cell takes in (2 for NASNet-A style cells).
        combines: how a block may merge its two results (default "add" and "concat").
        output: the cells' output rule, one of `keras_nasnet.genotypes.OUTPUT_RULES`.
        allowed: {decision name: allowed values}: a narrowed space, each named decision
            restricted to some of its values (the `narrowing.json` of a design-space study);
            the other decisions keep all theirs.

    Raises:
        ValueError: an unknown op, combine or output rule, a bad count, or a restriction
            naming a decision or value the space does not have (the message names both and
            what is allowed).
    """

    def __init__(
        self,
        ops: Sequence[str] = OPS,
        num_blocks: int = 5,
        num_inputs: int = 2,
        combines: Sequence[str] = ("add", "concat"),
        output: str = "concat_unused",
        allowed: Optional[Mapping[str, Sequence]] = None,
    ):
        self.ops = _options(ops, OPS, "ops")
        self.combines = _options(combines, COMBINES, "combines")
        num_blocks = check_int(num_blocks, "num_blocks", minimum=1)
        if num_inputs not in SUPPORTED_NUM_INPUTS:
            raise ValueError(
                f"`num_inputs`={num_inputs!r} is not supported; allowed: {SUPPORTED_NUM_INPUTS}."
            )
        if output not in OUTPUT_RULES:
            raise ValueError(
                f"Unknown `output` rule {output!r}. Allowed: {', '.join(OUTPUT_RULES)}."
            )
        self.num_blocks = num_blocks
        self.num_inputs = num_inputs
        self.output = output
        full = tuple(self._make_decisions())
        self.allowed = check_allowed(allowed or {}, full, num_blocks)
        self.decisions = tuple(Decision(d.name, self.allowed.get(d.name, d.choices)) for d in full)

    def _make_decisions(self):
        for cell in CELLS:
            for b in range(self.num_blocks):
                states = tuple(range(self.num_inputs + b))
                choices = (states, states, self.ops, self.ops, self.combines)
                for field, values in zip(FIELDS, choices):
                    yield Decision(f"{cell}/block_{b}/{field}", values)

    @property
    def unrestricted(self) -> "SearchSpace":
        """Returns this space without its `allowed` restriction."""
        return SearchSpace(**{**self.get_config(), "allowed": None})

    # -- description -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.decisions)

    @property
    def choice_counts(self) -> tuple[int, ...]:
        """Returns the number of choices of each decision, in order."""
        return tuple(d.num_choices for d in self.decisions)

    @property
    def log10_size(self) -> float:
        """Returns log10 of the number of distinct decision sequences in the space."""
        return sum(math.log10(n) for n in self.choice_counts)

    def get_config(self) -> dict:
        """Returns the constructor arguments as a JSON-ready dict ("allowed" only for a
        narrowed space, so an unrestricted space's configuration reads as before)."""
        config = {
            "ops": list(self.ops),
            "num_blocks": self.num_blocks,
            "num_inputs": self.num_inputs,
            "combines": list(self.combines),
            "output": self.output,
        }
        if self.allowed:
            config["allowed"] = {name: list(values) for name, values in self.allowed.items()}
        return config

    @classmethod
    def from_config(cls, config: Mapping) -> "SearchSpace":
        """Returns the space `get_config` described."""
        return cls(**config)

    def __eq__(self, other) -> bool:
        return isinstance(other, SearchSpace) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(repr(self.get_config()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SearchSpace({args})"

    # -- Architecture <-> decision indices ---------------------------------------------------

    def encode(self, architecture: Architecture) -> tuple[int, ...]:
        """Returns the decision indices that describe `architecture`.

        Raises:
            ValueError: the architecture is outside this space (block count, inputs, output
                rule, or an op / combine the space does not offer).
        """
        if not isinstance(architecture, Architecture):
            raise TypeError(f"Expected an Architecture; received {architecture!r}.")
        values = []
        for cell in CELLS:
            genotype = getattr(architecture, cell)
            self._check_cell(genotype, cell)
            for block in genotype.blocks:
                values.extend((*block.inputs, *block.ops, block.combine))
        indices = []
        for decision, value in zip(self.decisions, values):
            if value not in decision.choices:
                raise ValueError(
                    f"{decision.name}={value!r} is outside this search space; allowed: "
                    f"{decision.choices}."
                )
            indices.append(decision.choices.index(value))
        return tuple(indices)

    def _check_cell(self, genotype: Genotype, cell: str) -> None:
        if len(genotype.blocks) != self.num_blocks:
            raise ValueError(
                f"The {cell} cell has {len(genotype.blocks)} blocks; this space has "
                f"{self.num_blocks}."
            )
        if genotype.num_inputs != self.num_inputs:
            raise ValueError(
                f"The {cell} cell takes {genotype.num_inputs} inputs; this space has "
                f"{self.num_inputs}."
            )
        if genotype.output != self.output:
            raise ValueError(
                f"The {cell} cell's output rule is {genotype.output!r}; this space uses "
                f"{self.output!r}."
            )

    def decode(self, indices: Sequence[int]) -> Architecture:
        """Returns the Architecture that decision indices `indices` describe.

        Raises:
            ValueError: wrong length or an index out of range for its decision.
        """
        indices = [int(i) for i in indices]
        if len(indices) != len(self.decisions):
            raise ValueError(
                f"Expected {len(self.decisions)} decision indices; received {len(indices)}."
            )
        values = []
        for decision, index in zip(self.decisions, indices):
            if not 0 <= index < decision.num_choices:
                raise ValueError(
                    f"{decision.name}: index {index} is out of range 0..{decision.num_choices - 1}."
                )
            values.append(decision.choices[index])
        return self._architecture(values)

    def _architecture(self, values: Sequence[Any]) -> Architecture:
        per_cell = len(FIELDS) * self.num_blocks
        cells = []
        for c in range(len(CELLS)):
            cell_values = values[c * per_cell : (c + 1) * per_cell]
            blocks = []
            for b in range(self.num_blocks):
                in_a, in_b, op_a, op_b, combine = cell_values[
                    b * len(FIELDS) : (b + 1) * len(FIELDS)
                ]
                blocks.append(Block((in_a, in_b), (op_a, op_b), combine))
            cells.append(Genotype(tuple(blocks), num_inputs=self.num_inputs, output=self.output))
        return Architecture(*cells)

    def sample_uniform(self, rng: np.random.Generator) -> tuple[int, ...]:
        """Returns decision indices drawn uniformly and independently (the random-search
        baseline).
        """
        return tuple(int(rng.integers(n)) for n in self.choice_counts)

    # -- keras-tuner hyperparameters ---------------------------------------------------------

    def declare(self, hp) -> None:
        """Declares one `hp.Choice` per decision on keras-tuner HyperParameters `hp`.

        Values are scalars (int for inputs, str for ops and combines) so that they cross
        keras-tuner's distributed gRPC unchanged.
        """
        for decision in self.decisions:
            hp.Choice(decision.name, list(decision.choices), ordered=False)

    def hyperparameters(self):
        """Returns a new `keras_tuner.HyperParameters` holding this space's decisions."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        return hp

    def decision_space(self):
        """Returns this space's decisions as a `DecisionSpace` for the proposers, with
        evolution's mutation groups: a mutation redraws an input, an op or a combine first,
        then which block's (AmoebaNet's mutation)."""
        from .decisions import DecisionSpace

        groups = {d.name: d.name.rsplit("/", 1)[1].split("_")[0] for d in self.decisions}
        return DecisionSpace(self.hyperparameters(), groups=groups)

    def to_values(self, architecture: Architecture) -> dict:
        """Returns `{hyperparameter name: value}` for `architecture` (see `declare`)."""
        indices = self.encode(architecture)
        return {d.name: d.choices[i] for d, i in zip(self.decisions, indices)}

    def from_values(self, values: Mapping[str, Any]) -> Architecture:
        """Returns the Architecture in hyperparameter values `values` (a dict or HyperParameters).

        Raises:
            ValueError: a decision is missing or has a value outside the space.
        """
        if not isinstance(values, Mapping):  # keras_tuner.HyperParameters
            values = values.values
        ordered = []
        for decision in self.decisions:
            if decision.name not in values:
                raise ValueError(
                    f"Hyperparameter {decision.name!r} is missing; this space needs all of "
                    f"{len(self)}."
                )
            value = values[decision.name]
            if value not in decision.choices:
                raise ValueError(
                    f"{decision.name}={value!r} is outside this search space; allowed: "
                    f"{decision.choices}."
                )
            ordered.append(value)
        return self._architecture(ordered)

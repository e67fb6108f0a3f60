"""Regularized evolution (Real, Aggarwal, Huang, Le, AAAI 2019: "AmoebaNet") over a SearchSpace.

The population is the P most recent architectures that completed with a reward, oldest first.
Until it holds P members every proposal is drawn uniformly from the space (the paper's random
initial population). After that, each proposal is a tournament: S members drawn at random, the
best one is the parent, and the child is the parent with one mutation. When a reward arrives the
child joins the population and the OLDEST member leaves (aging), not the worst: a good
architecture survives only through its descendants, which keeps the search from settling on one
lucky evaluation. A failed trial never joins.

A mutation picks a cell (normal or reduction), a block of it and one of the block's two operands,
then redraws either the hidden state that operand reads (only among the states that exist before
the block, so no cycle can form) or its op; with probability `identity_probability` the child is
an unchanged copy. A space that offers several combines also lets a mutation redraw a block's
combine. A redrawn value always differs from the old one. Every child therefore decodes to a
valid architecture of the space.

Everything is decision indices (see `SearchSpace.encode`), and the whole state is JSON-ready
(`get_state` / `set_state`), random generator included, so a search resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..validation import check_int, check_number
from .space import CELLS, FIELDS, SearchSpace

MUTATIONS = ("identity", "input", "op", "combine")
_FIELD = {name: i for i, name in enumerate(FIELDS)}


class RegularizedEvolution:
    """Proposes architectures of `space` by regularized evolution and learns from their rewards.

    Args:
        space: the `SearchSpace` to search.
        population_size: P, the number of most recent completed architectures kept (paper: 100).
        tournament_size: S, members drawn per tournament (paper: 25); at most P.
        identity_probability: chance that a child is an unmutated copy of its parent.
        seed: seeds every random draw.

    Raises:
        TypeError: `space` is not a SearchSpace.
        ValueError: a size that is not a positive int, S > P, or a probability outside [0, 1).
    """

    def __init__(
        self,
        space: SearchSpace,
        population_size: int = 100,
        tournament_size: int = 25,
        identity_probability: float = 0.05,
        seed: int = 0,
    ):
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
        self.space = space
        self.population_size = check_int(population_size, "population_size", minimum=1)
        self.tournament_size = check_int(tournament_size, "tournament_size", minimum=1)
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"`tournament_size` ({tournament_size}) must not exceed `population_size` "
                f"({population_size})."
            )
        self.identity_probability = check_number(
            identity_probability,
            "identity_probability",
            minimum=0,
            maximum=1,
            max_inclusive=False,
        )
        self.rng = np.random.default_rng([seed, 3])
        # Oldest first; each {"actions", "reward", "born", "trial_id"}; "born" counts members
        # added before this one, so a member's age is `num_added - born`.
        self.population: list[dict] = []
        self.num_added = 0
        self.num_proposed = 0

    # -- proposing ---------------------------------------------------------------------------

    def propose(self) -> dict:
        """Returns the next proposal: {"actions", "parent", "mutation"}.

        "parent" is the tournament winner's trial id (None for a random member of the initial
        population) and "mutation" one of `MUTATIONS` (None for a random member).
        """
        self.num_proposed += 1
        if len(self.population) < self.population_size:
            actions = list(self.space.sample_uniform(self.rng))
            return {"actions": actions, "parent": None, "mutation": None}
        parent = self.tournament()
        actions, mutation = self.mutate(parent["actions"])
        return {"actions": actions, "parent": parent.get("trial_id"), "mutation": mutation}

    def tournament(self) -> dict:
        """Returns the best of S members drawn uniformly, with replacement, from the population.

        As in the paper's Algorithm 1 a member may be drawn twice. Equal rewards go to the
        younger member. Raises ValueError if the population is empty.
        """
        if not self.population:
            raise ValueError("The population is empty: no architecture has completed yet.")
        picks = self.rng.integers(len(self.population), size=self.tournament_size)
        return max((self.population[int(i)] for i in picks), key=lambda m: (m["reward"], m["born"]))

    def mutate(self, actions: Sequence[int]) -> tuple[list, str]:
        """Returns (child's decision indices, the mutation's name from `MUTATIONS`).

        Raises:
            ValueError: `actions` is not a valid decision sequence of the space.
        """
        self.space.decode(actions)  # validates length and ranges
        child = [int(a) for a in actions]
        kinds = self._possible_mutations()
        if not kinds or self.rng.random() < self.identity_probability:
            return child, "identity"
        kind = kinds[int(self.rng.integers(len(kinds)))]
        cell = int(self.rng.integers(len(CELLS)))
        block = int(self.rng.integers(self.space.num_blocks))
        if kind == "combine":
            field = "combine"
        else:
            operand = "ab"[int(self.rng.integers(2))]
            field = f"{kind}_{operand}"
        index = (cell * self.space.num_blocks + block) * len(FIELDS) + _FIELD[field]
        choices = self.space.decisions[index].num_choices
        # Draw among the other choices: 0..choices-2, shifted past the current one.
        new = int(self.rng.integers(choices - 1))
        child[index] = new + (new >= child[index])
        return child, kind

    def _possible_mutations(self) -> tuple:
        kinds = ["input"]  # every block reads from >= 2 states, so an input can always change
        if len(self.space.ops) > 1:
            kinds.append("op")
        if len(self.space.combines) > 1:
            kinds.append("combine")
        return tuple(kinds)

    # -- learning ----------------------------------------------------------------------------

    def observe(
        self, actions: Sequence[int], reward: float, trial_id: str | None = None
    ) -> dict | None:
        """Adds a completed architecture; returns the member that aged out, or None.

        Raises:
            ValueError: a non-finite reward (failed trials must not join the population) or
                actions outside the space.
        """
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"A reward must be finite; received {reward!r}.")
        self.space.decode(actions)
        self.population.append(
            {
                "actions": [int(a) for a in actions],
                "reward": reward,
                "born": self.num_added,
                "trial_id": trial_id,
            }
        )
        self.num_added += 1
        if len(self.population) > self.population_size:
            return self.population.pop(0)
        return None

    # -- state -------------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Returns the JSON-ready state: settings, population with ages, counts and the RNG."""
        return {
            "population_size": self.population_size,
            "tournament_size": self.tournament_size,
            "identity_probability": self.identity_probability,
            "population": [dict(m) for m in self.population],
            "num_added": self.num_added,
            "num_proposed": self.num_proposed,
            "rng": self.rng.bit_generator.state,
        }

    def set_state(self, state: dict) -> None:
        """Restores `get_state()` output.

        The settings are this object's, not the saved ones: resuming with a larger budget may
        scale P and S (see `policy.preset_settings`). A smaller P keeps the newest members.
        """
        population = [dict(m) for m in state["population"]]
        self.population = population[max(0, len(population) - self.population_size) :]
        self.num_added = int(state["num_added"])
        self.num_proposed = int(state["num_proposed"])
        self.rng.bit_generator.state = state["rng"]

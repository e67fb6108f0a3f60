"""Regularized evolution (Real, Aggarwal, Huang, Le, AAAI 2019: "AmoebaNet") over a SearchSpace.

The population is the P most recent architectures that completed with a reward, oldest first.
Until it holds P members every proposal is drawn uniformly from the space (the paper's random
initial population). After that, each proposal is a tournament: S members drawn at random, the
best one is the parent, and the child is the parent with one mutation. When a reward arrives the
child joins the population and the OLDEST member leaves (aging), not the worst: a good
architecture survives only through its descendants, which keeps the search from settling on one
lucky evaluation. A failed trial never joins.

A mutation picks one active decision and redraws it (see `DecisionSpace.mutable`): in the
NASNet cell space a kind of decision first (an input, an op or a combine, AmoebaNet's
mutations), then which cell, block and operand; an input is redrawn only among the states that
exist before its block, so no cycle can form. With probability `identity_probability` the child
is an unchanged copy. A categorical value is redrawn among the others (a neighbour half of the
time when its values are ordered), a continuous one moved by a normal step; a redrawn value
always differs from the old one, so every child is a valid point of the space.

Everything is actions (see `spaces.decisions`), and the whole state is JSON-ready
(`get_state` / `set_state`), random generator included, so a search resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...validation import check_int, check_number
from ..state import NUMBER, RANDOM_STATE, Field
from .base import Proposal, Proposer
from .spaces_of import decision_space_of

# A copy that changes nothing, and the NASNet cell space's mutation groups.
MUTATIONS = ("identity", "input", "op", "combine")


class RegularizedEvolution(Proposer):
    """Proposes architectures of `space` by regularized evolution and learns from their rewards.

    Args:
        space: a `DecisionSpace`, or a NASNet `SearchSpace` (searched through its decisions).
        population_size: P, the number of most recent completed architectures kept (paper: 100).
        tournament_size: S, members drawn per tournament (paper: 25); at most P.
        identity_probability: chance that a child is an unmutated copy of its parent.
        seed: seeds every random draw.

    Raises:
        TypeError: `space` is neither a DecisionSpace nor a SearchSpace.
        ValueError: a size that is not a positive int, S > P, or a probability outside [0, 1).
    """

    def __init__(
        self,
        space,
        population_size: int = 100,
        tournament_size: int = 25,
        identity_probability: float = 0.05,
        seed: int = 0,
    ):
        super().__init__(decision_space_of(space))
        self.population_size, self.tournament_size = self.check_sizes(
            population_size, tournament_size
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

    name = "evolution"
    STATE_FIELDS = {
        "evolution": Field(
            (dict,),
            "the evolution's state",
            fields={
                "population": Field(
                    (list,),
                    "a list of members",
                    items=Field(
                        (dict,),
                        "a member",
                        fields={
                            "actions": Field((list,), "a list of actions"),
                            "reward": Field(NUMBER, "a number"),
                            "born": Field((int,), "a birth count"),
                        },
                    ),
                ),
                "num_added": Field((int,), "a count"),
                "num_proposed": Field((int,), "a count"),
                "rng": RANDOM_STATE,
            },
        )
    }

    @staticmethod
    def check_sizes(population_size, tournament_size) -> tuple[int, int]:
        """Returns (P, S) checked. Raises ValueError: not positive ints, or S > P."""
        population_size = check_int(population_size, "population_size", minimum=1)
        tournament_size = check_int(tournament_size, "tournament_size", minimum=1)
        if tournament_size > population_size:
            raise ValueError(
                f"`tournament_size` ({tournament_size}) must not exceed `population_size` "
                f"({population_size})."
            )
        return population_size, tournament_size

    # -- proposing ---------------------------------------------------------------------------

    def propose(self) -> Proposal:
        """Returns the next proposal; its info holds "parent" (the tournament winner's trial id,
        None for a random member of the initial population) and "mutation" (the mutated group,
        "identity", or None for a random member)."""
        self.num_proposed += 1
        if len(self.population) < self.population_size:
            actions = list(self.space.sample_uniform(self.rng))
            return Proposal(actions, {"parent": None, "mutation": None})
        parent = self.tournament()
        actions, mutation = self.mutate(parent["actions"])
        return Proposal(actions, {"parent": parent.get("trial_id"), "mutation": mutation})

    def tournament(self) -> dict:
        """Returns the best of S members drawn uniformly, with replacement, from the population.

        As in the paper's Algorithm 1 a member may be drawn twice. Equal rewards go to the
        younger member. Raises ValueError if the population is empty.
        """
        if not self.population:
            raise ValueError("The population is empty: no architecture has completed yet.")
        picks = self.rng.integers(len(self.population), size=self.tournament_size)
        return max((self.population[int(i)] for i in picks), key=lambda m: (m["reward"], m["born"]))

    def mutate(self, actions: Sequence) -> tuple[list, str]:
        """Returns (the child's actions, the mutated group, or "identity").

        Raises:
            ValueError: `actions` is not a valid action sequence of the space.
        """
        child = self.space.check(actions)
        groups = self.space.mutable(child)
        if not groups or self.rng.random() < self.identity_probability:
            return child, "identity"
        kinds = list(groups)
        kind = kinds[int(self.rng.integers(len(kinds)))]
        index = groups[kind][int(self.rng.integers(len(groups[kind])))]
        child[index] = self.space.dimensions[index].mutate(child[index], self.rng)
        return child, kind

    def extend(self, space) -> None:
        """Goes on over `space` (see `Proposer.extend`); members get each new dimension's
        first value as a latent gene."""
        added = space.dimensions[len(self.space) :]
        super().extend(space)
        for member in self.population:
            member["actions"] = list(member["actions"]) + [d.placeholder for d in added]

    # -- learning ----------------------------------------------------------------------------

    def observe(self, actions, info, reward, trial_id=None) -> None:
        """Adds a completed point to the population (see `add`); evolution takes no learning
        step to report."""
        self.add(actions, reward, trial_id)

    def add(self, actions: Sequence, reward: float, trial_id: str | None = None) -> dict | None:
        """Adds a completed point; returns the member that aged out, or None.

        Raises:
            ValueError: a non-finite reward (failed trials must not join the population) or
                actions outside the space.
        """
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"A reward must be finite; received {reward!r}.")
        actions = self.space.check(actions)
        self.population.append(
            {"actions": actions, "reward": reward, "born": self.num_added, "trial_id": trial_id}
        )
        self.num_added += 1
        if len(self.population) > self.population_size:
            return self.population.pop(0)
        return None

    # -- state -------------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Returns the JSON-ready state under "evolution": settings, population with ages,
        counts and the RNG."""
        return {"evolution": self.evolution_state()}

    def evolution_state(self) -> dict:
        return {
            "population_size": self.population_size,
            "tournament_size": self.tournament_size,
            "identity_probability": self.identity_probability,
            "population": [dict(m) for m in self.population],
            "num_added": self.num_added,
            "num_proposed": self.num_proposed,
            "rng": self.rng.bit_generator.state,
        }

    def set_state(self, state: dict, arrays: dict | None = None) -> None:
        """Restores `get_state()` output.

        The settings are this object's, not the saved ones: resuming with a larger budget may
        scale P and S (see `policy.preset_settings`). A smaller P keeps the newest members.
        """
        if "evolution" not in state:
            raise ValueError("The saved search is not an evolution (no 'evolution' entry).")
        state = state["evolution"]
        population = [dict(m) for m in state["population"]]
        self.population = population[max(0, len(population) - self.population_size) :]
        self.num_added = int(state["num_added"])
        self.num_proposed = int(state["num_proposed"])
        self.rng.bit_generator.state = state["rng"]

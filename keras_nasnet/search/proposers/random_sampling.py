"""Random search: every decision drawn independently and uniformly (the papers' baseline)."""

from __future__ import annotations

import numpy as np

from ..state import RANDOM_STATE
from .base import Proposal, Proposer


class RandomProposer(Proposer):
    """Proposes actions of `space` uniformly at random; learns nothing.

    Args:
        space: a `DecisionSpace`.
        seed: seeds the generator (saved with the state, so a search resumes exactly).
    """

    name = "random"
    STATE_FIELDS = {"random_state": RANDOM_STATE}

    def __init__(self, space, seed: int = 0):
        super().__init__(space)
        self.rng = np.random.default_rng([seed, 2])

    def propose(self) -> Proposal:
        return Proposal(list(self.space.sample_uniform(self.rng)))

    def get_state(self) -> dict:
        return {"random_state": self.rng.bit_generator.state}

    def set_state(self, state: dict, arrays: dict) -> None:
        if "random_state" not in state:
            raise ValueError("The saved search is not a random search (no 'random_state').")
        self.rng.bit_generator.state = state["random_state"]

"""The proposer interface: what an oracle delegates proposing and learning to.

A proposer works over a `DecisionSpace` (see `spaces.decisions`): it proposes action sequences,
is told each evaluated one's reward, and saves and restores everything it needs to go on exactly
where it stopped. It does no I/O: its oracle writes the state it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence


@dataclass
class Proposal:
    """Actions to evaluate and what the proposer needs back with their reward (JSON-ready)."""

    actions: list
    info: dict = field(default_factory=dict)


class Proposer:
    """Base class of random search, regularized evolution and the controller.

    Subclasses implement `propose` and, when they learn, `observe`; a proposer with weights
    returns them from `get_arrays` and counts their versions in `arrays_version`, so the
    oracle rewrites the weights file only when they changed.
    """

    name = "proposer"
    # The keys of its state this proposer's `set_state` reads, as `state.Field`s: a resume
    # checks them first, so that a wrong-shaped state file is named, not a KeyError.
    STATE_FIELDS: dict = {}

    def __init__(self, space):
        self.space = space

    def propose(self) -> Proposal:
        """Returns the next `Proposal` (advances the proposer's random state)."""
        raise NotImplementedError

    def observe(
        self, actions: Sequence, info: dict, reward: float, trial_id: Optional[str] = None
    ) -> Optional[dict]:
        """Learns from the finite `reward` of `actions` proposed with `info`; returns
        statistics of a learning step it completed (a policy update), or None."""
        return None

    can_extend = True

    def extend(self, space) -> None:
        """Goes on over `space`, this one's dimensions followed by new ones (hyperparameters a
        hypermodel declared after the search began); raises ValueError if it cannot."""
        if not self.can_extend:
            raise ValueError(f"A {self.name} proposer cannot add dimensions once it has begun.")
        self.space = space

    def get_state(self) -> dict:
        """Returns the JSON-ready state (random generators included)."""
        return {}

    def get_arrays(self) -> dict:
        """Returns `{name: array}` of weights and optimizer slots ({} when it has none)."""
        return {}

    @property
    def arrays_version(self) -> Optional[int]:
        """Returns a number that changes whenever `get_arrays` would (None: no arrays)."""
        return None

    def set_state(self, state: dict, arrays: dict) -> None:
        """Restores `get_state()` and `get_arrays()` output.

        Raises:
            ValueError: the state belongs to another kind of proposer or setup.
        """

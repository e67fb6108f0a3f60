"""The decisions a proposer works over, from any space it is given."""

from __future__ import annotations

from ..spaces.decisions import DecisionSpace


def decision_space_of(space) -> DecisionSpace:
    """Returns `space` as a `DecisionSpace`: itself, or a NASNet `SearchSpace`'s decisions.

    Raises:
        TypeError: `space` is neither.
    """
    if isinstance(space, DecisionSpace):
        return space
    if hasattr(space, "decision_space"):
        return space.decision_space()
    raise TypeError(
        f"`space` must be a DecisionSpace or a SearchSpace (a NASNet cell space); received "
        f"{space!r}."
    )

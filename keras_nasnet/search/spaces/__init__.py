"""Spaces of the search: any keras-tuner space as decisions, and the NASNet cell space."""

from .decisions import CategoricalDimension, ContinuousDimension, DecisionSpace, Dimension
from .nasnet_cells import Decision, SearchSpace

__all__ = [
    "CategoricalDimension",
    "ContinuousDimension",
    "Decision",
    "DecisionSpace",
    "Dimension",
    "SearchSpace",
]

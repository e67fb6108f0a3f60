"""Spaces of the search: any keras-tuner space as decisions, the NASNet cell space, and the
NAS-2017 macro space (`MacroSearchSpace`, `MacroHyperModel`) and MnasNet's factorized space
(`MnasNetSearchSpace`, `MnasNetHyperModel`): those imported on first use, since they need Keras
and the decisions do not."""

from .decisions import (
    CategoricalDimension,
    ContinuousDimension,
    DecisionSpace,
    Dimension,
    SkipSet,
    skip_sets_of,
)
from .nasnet_cells import Decision, SearchSpace

_MACRO_NAMES = ("MacroHyperModel", "MacroSearchSpace", "macro_architecture")
_MNASNET_NAMES = ("MnasNetHyperModel", "MnasNetSearchSpace", "SMALL_IMAGE_STRIDES")

__all__ = [
    "CategoricalDimension",
    "ContinuousDimension",
    "Decision",
    "DecisionSpace",
    "Dimension",
    "MacroHyperModel",
    "MacroSearchSpace",
    "MnasNetHyperModel",
    "MnasNetSearchSpace",
    "SMALL_IMAGE_STRIDES",
    "SearchSpace",
    "SkipSet",
    "macro_architecture",
    "skip_sets_of",
]


def __getattr__(name):
    if name in _MACRO_NAMES:
        from . import macro

        return getattr(macro, name)
    if name in _MNASNET_NAMES:
        from . import mnasnet_blocks

        return getattr(mnasnet_blocks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

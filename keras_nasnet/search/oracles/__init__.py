"""keras-tuner Oracles whose trials a proposer proposes: any space, or NASNet cells."""

from .any_space import ControllerOracle, EvolutionOracle, RandomOracle
from .base import ProposerOracle, StateWriteError
from .nasnet import NASOracle

__all__ = [
    "ControllerOracle",
    "EvolutionOracle",
    "NASOracle",
    "ProposerOracle",
    "RandomOracle",
    "StateWriteError",
]

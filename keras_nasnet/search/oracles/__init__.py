"""keras-tuner Oracles whose trials a proposer proposes: any space, or NASNet cells; at one
fidelity, or by successive halving / Hyperband brackets (`multi_fidelity`)."""

from .any_space import ControllerOracle, EvolutionOracle, RandomOracle
from .base import ProposerOracle, StateWriteError
from .multi_fidelity import (
    MultiFidelityTuner,
    NASSuccessiveHalvingOracle,
    SuccessiveHalvingOracle,
)
from .nasnet import NASOracle

__all__ = [
    "ControllerOracle",
    "EvolutionOracle",
    "MultiFidelityTuner",
    "NASOracle",
    "NASSuccessiveHalvingOracle",
    "ProposerOracle",
    "RandomOracle",
    "StateWriteError",
    "SuccessiveHalvingOracle",
]

"""Proposers: random search, regularized evolution and the LSTM controller (PPO/REINFORCE),
one interface (`Proposer`) over any space's decisions."""

from .base import Proposal, Proposer
from .controller import Controller, ControllerSample
from .evolution import RegularizedEvolution
from .policy import ControllerProposer, PolicyLearner
from .random_sampling import RandomProposer
from .registry import PROPOSERS, make_proposer

__all__ = [
    "PROPOSERS",
    "Controller",
    "ControllerProposer",
    "ControllerSample",
    "PolicyLearner",
    "Proposal",
    "Proposer",
    "RandomProposer",
    "RegularizedEvolution",
    "make_proposer",
]

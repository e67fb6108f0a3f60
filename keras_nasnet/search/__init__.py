"""Architecture search through keras-tuner, over NASNet cells or any hyperparameter space.

The roles: spaces (`spaces`: `DecisionSpace` for any keras-tuner space, `SearchSpace` for NASNet
cells), proposers (`proposers`: random search, regularized evolution, the LSTM `Controller`
with PPO or REINFORCE), oracles that delegate to them (`oracles`: `EvolutionOracle`,
`ControllerOracle`, `RandomOracle` for any space, `NASOracle` for cells;
`SuccessiveHalvingOracle` with `MultiFidelityTuner` for multi-fidelity brackets). `run`
drives the oracle with a plain function; `NASTuner` and `NASNetHyperModel` train real children;
`compare` trains cells side by side at matched parameter counts.
"""

# First: importing it lets the module paths of earlier versions (search.space, ...) resolve.
from . import moved  # noqa: F401
from .compare import ComparisonResult, compare  # keras_nasnet.compare.core, through `moved`
from .evaluators.child import NASNetHyperModel, NASTuner
from .oracles import (
    ControllerOracle,
    EvolutionOracle,
    MultiFidelityTuner,
    NASOracle,
    ProposerOracle,
    RandomOracle,
    SuccessiveHalvingOracle,
)
from .proposers import (
    Controller,
    ControllerProposer,
    ControllerSample,
    PolicyLearner,
    Proposer,
    RandomProposer,
    RegularizedEvolution,
)
from .proposers.presets import ALGORITHMS
from .run import SearchHistory, run
from .spaces import Decision, DecisionSpace, SearchSpace
from .spaces.macro import MacroHyperModel, MacroSearchSpace

__all__ = [
    "ALGORITHMS",
    "ComparisonResult",
    "Controller",
    "ControllerOracle",
    "ControllerProposer",
    "ControllerSample",
    "Decision",
    "DecisionSpace",
    "EvolutionOracle",
    "MacroHyperModel",
    "MacroSearchSpace",
    "MultiFidelityTuner",
    "NASNetHyperModel",
    "NASOracle",
    "NASTuner",
    "PolicyLearner",
    "Proposer",
    "ProposerOracle",
    "RandomOracle",
    "RandomProposer",
    "RegularizedEvolution",
    "SearchHistory",
    "SearchSpace",
    "SuccessiveHalvingOracle",
    "compare",
    "run",
]

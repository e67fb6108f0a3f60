"""Neural Architecture Search as in the NASNet paper, through keras-tuner.

`SearchSpace` turns cells into decisions, `Controller` (an LSTM) proposes them, `PolicyLearner`
trains it with PPO or REINFORCE, and `NASOracle` wraps both as a keras-tuner Oracle. `run`
drives the oracle with a plain function; `NASTuner` and `NASNetHyperModel` train real children;
`compare` trains cells side by side at matched parameter counts.
"""

from .child import NASNetHyperModel, NASTuner
from .compare import ComparisonResult, compare
from .controller import Controller, ControllerSample
from .evolution import RegularizedEvolution
from .oracle import NASOracle
from .policy import ALGORITHMS, PolicyLearner
from .run import SearchHistory, run
from .space import Decision, SearchSpace

__all__ = [
    "ALGORITHMS",
    "ComparisonResult",
    "Controller",
    "ControllerSample",
    "Decision",
    "NASNetHyperModel",
    "NASOracle",
    "NASTuner",
    "PolicyLearner",
    "RegularizedEvolution",
    "SearchHistory",
    "SearchSpace",
    "compare",
    "run",
]

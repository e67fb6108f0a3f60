"""Fair comparison of fixed architectures: one recipe, matched parameter counts, several seeds,
and a Welch interval on each row's difference to the first.

`compare(["nasnet_a", "best_architecture.json", "random:2"], "fashion_mnist", "cmp")` is the
whole of it; its parts, each usable alone:

- `candidates`: what may be compared (zoo names, JSON files, random:K, values) and their labels;
- `networks`: whole networks (MnasNet-A1, MobileNetV2, a MnasNet-space search result), built,
  trained and matched by width multiplier;
- `matching`: the filter count F at which an architecture has the target parameter count;
- `directory`: the files a comparison keeps so that it resumes instead of starting over;
- `runner`: each training run in a fresh process, several at once;
- `stats`: Welch's t interval, with Student's t computed here (no SciPy);
- `report`: the table as Markdown, JSON and an HTML page with a chart;
- `core`: `compare` itself and its `ComparisonResult`.

Comparison draws random cells from a search space and shares search's file helpers, so it imports
`keras_nasnet.search` (where it runs, not on import); search itself never uses comparison:
`keras_nasnet.search.compare` and its siblings only keep the import paths of earlier versions.
"""

from .candidates import Candidate, resolve_architectures
from .core import (
    CONFIDENCE,
    DEFAULT_RECIPE,
    ComparisonResult,
    ComparisonRow,
    NoFinishedSeedError,
    compare,
)
from .matching import TOLERANCE, Match, match_filters, match_multiplier
from .networks import NETWORKS, Network
from .stats import Interval, welch_interval

__all__ = [
    "CONFIDENCE",
    "DEFAULT_RECIPE",
    "TOLERANCE",
    "Candidate",
    "ComparisonResult",
    "ComparisonRow",
    "Interval",
    "Match",
    "NETWORKS",
    "Network",
    "NoFinishedSeedError",
    "compare",
    "match_filters",
    "match_multiplier",
    "resolve_architectures",
    "welch_interval",
]

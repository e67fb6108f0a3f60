"""Design-space analysis: compare spaces by the errors of models sampled from them, and find
where a space's good models lie (Radosavovic et al., ICCV 2019 and CVPR 2020).

    from keras_nasnet.design_spaces import compare_spaces, load_records, write_report

    comparison = compare_spaces(load_records("records.jsonl"), normalize_by="params", bins=20)
    write_report(comparison, "runs/design_spaces")

Its parts, each usable alone:

- `records`: `ModelRecord` (space, decision values, error, params, mult-adds, seconds) and
  JSON-lines files of them; a failed model keeps a NaN error and is counted, not analysed;
- `edf`: the error EDF, the complexity-normalized EDF, the KS distance with a bootstrap
  interval, random-search efficiency;
- `bootstrap`: pycls' empirical bootstrap of good decision values, and `narrowing`, the
  restricted space it suggests as plain JSON;
- `report`: `compare_spaces` and the Markdown / HTML report with its plots;
- `sampling`: the spaces a study samples ("nasnet", "enas", narrowed files; `PointSpace` for
  other point types) and seeded sampling with a parameter window;
- `study`: `run_study`, which samples, trains each model once with one recipe (resumably) and
  writes the records and the report (`keras-nasnet spaces`).

The analysis is pure numpy and matplotlib: importing this package imports no TensorFlow or
Keras. `sampling` and `study` build and train models: their names are imported on first use.
"""

import importlib

from .bootstrap import (
    BootstrapResult,
    CategoricalWins,
    NumericRange,
    bootstrap_decisions,
    choice_names,
    narrowing,
)
from .edf import (
    EfficiencyCurve,
    ErrorDistribution,
    KSResult,
    edf,
    error_distribution,
    ks_distance,
    ks_interval,
    normalized_weights,
    random_search_efficiency,
    shared_range,
)
from .records import ModelRecord, by_space, finished, load_records, save_records, space_of
from .report import (
    SpaceComparison,
    SpaceSummary,
    compare_spaces,
    figures,
    html_report,
    markdown_report,
    write_report,
)

# Public name -> the submodule that defines it, imported on first use (it imports Keras).
_LAZY = {
    "CellSpace": "sampling",
    "cell_search_space": "sampling",
    "PointSpace": "sampling",
    "SampledPoint": "sampling",
    "named_space": "sampling",
    "narrowed_spaces": "sampling",
    "resolve_spaces": "sampling",
    "sample_points": "sampling",
    "STUDY_RECIPE": "study",
    "StudyResult": "study",
    "run_study": "study",
}

__all__ = [
    "BootstrapResult",
    "CategoricalWins",
    "EfficiencyCurve",
    "ErrorDistribution",
    "KSResult",
    "ModelRecord",
    "NumericRange",
    "SpaceComparison",
    "SpaceSummary",
    "bootstrap_decisions",
    "by_space",
    "cell_search_space",
    "choice_names",
    "compare_spaces",
    "edf",
    "error_distribution",
    "figures",
    "finished",
    "html_report",
    "ks_distance",
    "ks_interval",
    "load_records",
    "markdown_report",
    "narrowing",
    "normalized_weights",
    "random_search_efficiency",
    "save_records",
    "shared_range",
    "space_of",
    "write_report",
    *_LAZY,
]


def __getattr__(name: str):
    """Returns the public `name` of `sampling` or `study` (imported now).

    Raises:
        AttributeError: `name` is no public name of this package.
    """
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

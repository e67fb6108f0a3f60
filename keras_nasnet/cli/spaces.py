"""`keras-nasnet spaces`: sample models from design spaces, train each once with one recipe, and
write the design-space report (EDFs, KS distances, the bootstrap, narrowing.json)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from .argument_types import int_at_least, parsed
from .common import DATA_DIR, DATASET, SEED, training_flags, training_settings
from .flags import Command, flag
from .library_values import TRAINING_DEFAULTS

# keras_nasnet.design_spaces.study.STUDY_RECIPE's fields the flags set (copied: that module
# imports TensorFlow; tests/test_design_spaces_study.py checks the copy).
STUDY_DEFAULTS = {**TRAINING_DEFAULTS, "num_blocks": 1, "filters": 8, "epochs": 2}
# keras_nasnet.design_spaces.sampling.NAMED_SPACES and FILE_PREFIX
SPACE_NAMES = (
    "nasnet",
    "enas",
    "anynetx-a",
    "anynetx-b",
    "anynetx-c",
    "anynetx-d",
    "anynetx-e",
    "regnet",
)
NORMALIZE_CHOICES = ("params", "mult_adds", "none")


def params_window(text: str) -> tuple:
    """argparse type of --params-window: "LOW:HIGH", two parameter counts with LOW <= HIGH."""
    low, separator, high = text.partition(":")
    try:
        window = (int(low.replace("_", "")), int(high.replace("_", "")))
    except ValueError:
        window = None
    if not separator or window is None or not 0 <= window[0] <= window[1]:
        raise argparse.ArgumentTypeError(
            f"must be LOW:HIGH, two parameter counts with 0 <= LOW <= HIGH; received {text!r}"
        )
    return window


def _duration(text: str) -> float:
    from ..search.clock import parse_duration

    return parse_duration(text)


def run(args) -> int:
    """Samples, trains (or resumes) the study, prints the report's files; returns 0."""
    from ..design_spaces.sampling import resolve_spaces
    from ..design_spaces.study import STUDY_RECIPE, run_study

    spaces = resolve_spaces(args.spaces, args.cell_blocks)  # a bad file: one line, exit 2
    last_start = None if args.max_time is None else time.monotonic() + args.max_time
    result = run_study(
        spaces,
        args.models,
        args.dataset,
        args.directory,
        recipe=training_settings(args, STUDY_RECIPE),
        seed=args.seed,
        jobs=args.jobs,
        data_dir=args.data_dir,
        last_start=last_start,
        params_window=args.params_window,
        normalize_by=None if args.normalize == "none" else args.normalize,
        bins=args.bins,
        num_blocks=args.cell_blocks,
        verbose=True,
        command=shlex.join(["keras-nasnet", *sys.argv[1:]]),
    )
    print()
    print(
        f"{len(result.records)} models recorded ({result.trained} trained now, {result.resumed} "
        f"resumed, {result.failed} failed); {result.unfinished} left to train"
    )
    for note in result.notes:
        print(note)
    print(f"written: {', '.join(result.paths.values())}")
    return 0


COMMAND = Command(
    "spaces",
    "sample models from design spaces, train each once with one recipe, and write the "
    "design-space report: error EDFs, KS distances, the bootstrap and narrowing.json "
    "(resumes on the same directory)",
    (
        flag(
            "spaces",
            nargs="+",
            metavar="SPACE",
            help="nasnet, enas (ENAS's micro space), anynetx-a .. anynetx-e (the AnyNetX "
            "spaces), regnet (small scale, small-image stem; --blocks, --filters and "
            "--cell-blocks do not apply to them), or file:PATH for the narrowed spaces of a "
            "narrowing.json a study wrote",
        ),
        flag(
            "--models",
            type=int_at_least(1),
            default=100,
            help="models sampled and trained per space (default 100)",
        ),
        DATASET,
        flag("--directory", required=True, help="study directory (one file per trained model)"),
        flag(
            "--cell-blocks",
            type=int_at_least(1),
            default=5,
            help="blocks per cell B of the spaces (default 5)",
        ),
        flag(
            "--params-window",
            type=params_window,
            default=None,
            metavar="LOW:HIGH",
            help="keep only models whose parameter count at the recipe lies in [LOW, HIGH] "
            "(others are redrawn)",
        ),
        flag(
            "--normalize",
            choices=NORMALIZE_CHOICES,
            default="params",
            help="complexity of the normalized EDF (default params)",
        ),
        flag(
            "--bins",
            type=int_at_least(1),
            default=20,
            help="complexity bins of the normalized EDF (default 20, as NDS)",
        ),
        SEED.with_options(help="draws the models and seeds their training (default 0)"),
        flag(
            "--jobs",
            type=int_at_least(1),
            default=1,
            help="models trained at once, each in its own process (default 1)",
        ),
        flag(
            "--max-time",
            type=parsed(_duration, "--max-time"),
            default=None,
            help="no model starts after this much wall-clock time (600, 10m, 1.5h); running "
            "ones finish and the report covers the models trained: run again to train the rest",
        ),
        DATA_DIR,
        *training_flags(STUDY_DEFAULTS, what="every model's"),
    ),
    run,
    locks=lambda args: args.directory,
)

"""`keras-nasnet main-job`: a search, its best cell trained and compared, within one budget."""

from __future__ import annotations

import os
import time

from .argument_types import int_at_least, number
from .common import DATA_DIR, DATASET, SEED
from .flags import Command, flag

BUDGET_ENV = "KERAS_NASNET_MAIN_BUDGET"
DEFAULT_BUDGET = "15m"


def budget(args) -> float:
    """Returns the budget in seconds: --budget, else $KERAS_NASNET_MAIN_BUDGET, else 15 minutes.

    Raises:
        ValueError: not a duration (the message names --budget or the variable).
    """
    from ..search.clock import parse_duration  # imports TensorFlow

    if args.budget is not None:
        return parse_duration(args.budget, "--budget")
    return parse_duration(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET), BUDGET_ENV)


def run(args) -> int:
    """Runs the main job as the flags ask (`main_job.job.run_main_job`); returns 0.

    Raises:
        ValueError: a budget that is not a duration (named).
    """
    # --budget is parsed here, not by argparse, so that this process's import of TensorFlow
    # is timed: the budget includes it, and each comparison run's process pays as much.
    started = time.monotonic()
    seconds = budget(args)
    from ..main_job.job import run_main_job

    startup = time.monotonic() - started
    run_main_job(
        args.directory,
        args.dataset,
        budget=seconds,
        spent=args.spent + startup,
        startup=startup,
        seed=args.seed,
        jobs=args.jobs,
        data_dir=args.data_dir,
    )
    return 0


COMMAND = Command(
    "main-job",
    "search cells, train the best one and compare it with NASNet-A's and a random cell, all "
    "within one wall-clock budget split by measuring this machine (resumes on the same directory)",
    (
        DATASET.with_options(
            required=False,
            default="fashion_mnist_sample",
            help="fashion_mnist_sample (default), fashion_mnist, or a prepared TFDS name",
        ),
        flag(
            "--directory",
            default="runs/main",
            help="where the search, final model, plan.json and compare/ go (default runs/main)",
        ),
        flag(
            "--budget",
            default=None,
            help=f"wall clock for the whole job (900, 15m, 1h; default ${BUDGET_ENV}, else "
            f"{DEFAULT_BUDGET})",
        ),
        flag(
            "--spent",
            type=number(minimum=0),
            default=0.0,
            metavar="SECONDS",
            help="seconds of the budget already spent before this command (scripts/main.sh "
            "passes its set-up time; default 0)",
        ),
        SEED,
        flag(
            "--jobs",
            type=int_at_least(1),
            default=2,
            help="comparison runs trained at once, each in its own process (default 2)",
        ),
        DATA_DIR,
    ),
    run,
    locks=lambda args: args.directory,
)

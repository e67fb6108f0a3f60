"""`keras-nasnet compare`: architectures trained with one recipe at matched parameters."""

from __future__ import annotations

from .argument_types import int_at_least, number
from .common import DATA_DIR, DATASET, SEED, training_flags, training_settings
from .flags import Command, flag
from .library_values import COMPARE_DEFAULTS, COMPARE_TOLERANCE


def run(args) -> int:
    """Trains (or resumes) every run, prints the table and the files written; returns 0."""
    from ..compare import DEFAULT_RECIPE, compare
    from ..compare.candidates import RANDOM_PREFIX

    space = None
    if args.random_space is not None:
        if not any(a.startswith(RANDOM_PREFIX) for a in args.architectures):
            raise ValueError("--random-space applies to random:K architectures; none is given.")
        from ..design_spaces.sampling import cell_search_space

        space = cell_search_space(args.random_space)
    result = compare(
        args.architectures,
        args.dataset,
        args.directory,
        seeds=args.seeds,
        target_params=args.target_params,
        recipe=training_settings(args, DEFAULT_RECIPE),
        data_dir=args.data_dir,
        latency=args.latency,
        seed=args.seed,
        tolerance=args.tolerance,
        verbose=True,
        jobs=args.jobs,
        space=space,
    )
    print()
    print(result.table())
    print(f"written: {', '.join(result.paths.values())}")
    return 0


COMMAND = Command(
    "compare",
    "train architectures with one recipe at matched parameter counts, several seeds each, and "
    "tabulate test accuracy with confidence intervals (resumes on the same directory)",
    (
        flag(
            "architectures",
            nargs="+",
            metavar="ARCH",
            help="a zoo cell (nasnet_a, nasnet_b, nasnet_c), a network (mnasnet-a1, "
            "mnasnet-b1, mnasnet-small, mnasnet-d1, mobilenet_v2), an architecture JSON file (a "
            "search's best_architecture.json, of cells or of --space mnasnet) or random:K (K "
            "random cells); the first is the reference",
        ),
        DATASET,
        flag(
            "--directory",
            required=True,
            help="comparison directory (one file per finished run)",
        ),
        flag(
            "--seeds",
            type=int_at_least(1),
            default=3,
            help="training seeds per architecture (default 3)",
        ),
        flag(
            "--target-params",
            type=int_at_least(1),
            default=None,
            help="parameter count to match (default: the first architecture's at --filters, a "
            "network's at width x1.0)",
        ),
        flag(
            "--tolerance",
            type=number(minimum=0, maximum=1, min_inclusive=False),
            default=COMPARE_TOLERANCE,
            help=f"how far from the target a count may be (default {COMPARE_TOLERANCE}: 5%%)",
        ),
        flag(
            "--latency",
            nargs="?",
            const="float",
            default=None,
            choices=("float", "int8"),
            help="also measure each architecture's batch-1 LiteRT latency (1 thread): float "
            "(the default of a bare --latency) or int8 (full-integer model)",
        ),
        flag(
            "--random-space",
            default=None,
            metavar="SPACE",
            help="the cell space random:K draws from: nasnet (default), enas, or file:PATH[#KEY] "
            "(the narrowed cell space of a `keras-nasnet spaces` narrowing.json)",
        ),
        SEED.with_options(
            help="draws the random cells; the training seeds are SEED, SEED+1, ... (default 0)"
        ),
        flag(
            "--jobs",
            type=int_at_least(1),
            default=1,
            help="runs trained at once, each in its own process sharing the CPU cores (default 1)",
        ),
        DATA_DIR,
        *training_flags(COMPARE_DEFAULTS, what="every model's"),
    ),
    run,
    locks=lambda args: args.directory,
)

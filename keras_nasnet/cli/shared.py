"""`keras-nasnet search --evaluation shared`: the ENAS loop of `search.enas`, its `--shared-*`
flags, and the refusal of every flag of the trained-children search that it has no use for."""

from __future__ import annotations

from .argument_types import int_at_least
from .flags import flag, given_flags, refuse_given
from .library_values import SHARED_DEFAULTS, SHARED_EPOCHS

FLAGS = (
    flag("--shared-epochs", type=int_at_least(1), default=SHARED_EPOCHS, help="ENAS epochs"),
    flag("--shared-filters", type=int_at_least(1), default=SHARED_DEFAULTS["filters"]),
    flag("--shared-cells", type=int_at_least(1), default=SHARED_DEFAULTS["num_cells"]),
    flag("--shared-batch-size", type=int_at_least(1), default=SHARED_DEFAULTS["batch_size"]),
    flag(
        "--controller-steps",
        type=int_at_least(1),
        default=SHARED_DEFAULTS["controller_steps"],
        help="M per epoch",
    ),
    flag("--derive-samples", type=int_at_least(1), default=SHARED_DEFAULTS["derive_samples"]),
)
SHARED_DESTS = tuple(f.dest for f in FLAGS)

_CHILDREN = "no child is trained (the supernet's flags are --shared-*)"
_LATENCY = "the reward is the shared-weight accuracy alone"
# dest -> why --evaluation shared refuses the flag when the user gives it.
NOT_FOR_SHARED = {
    "max_trials": "the search runs --shared-epochs epochs, not trials",
    "space_file": "the supernet holds every op of its space, not a narrowed one",
    "preset": "the controller keeps ENAS's settings (--controller-lr sets its learning rate)",
    "update_every": "the controller learns from every reward",
    "population_size": "evolution does not run on shared weights",
    "tournament_size": "evolution does not run on shared weights",
    "prefilter": "every sampled architecture is scored on the shared weights",
    "prefilter_proxy": "every sampled architecture is scored on the shared weights",
    "worker_timeout": "the search runs in one process",
    "insecure": "the search runs in one process",
    "no_tflite": "the final model is not exported to TF-Lite",
    "latency_target_ms": _LATENCY,
    "latency_alpha": _LATENCY,
    "latency_beta": _LATENCY,
    "latency_quantize": _LATENCY,
    "epochs": "use --shared-epochs",
    "num_blocks": _CHILDREN,
    "filters": "use --shared-filters",
    "batch_size": "use --shared-batch-size",
    "learning_rate": _CHILDREN,
    "drop_path_keep_prob": _CHILDREN,
    "cutout": _CHILDREN,
    "epoch_examples": _CHILDREN,
    "child_params": "the supernet is trained at --shared-filters",
    "max_memory": "one supernet is trained, not a child per trial",
}
_SPACE_DESTS = ("ops", "combines", "cell_blocks")


def check_flags(args) -> None:
    """Returns None if every flag given fits `args.evaluation`.

    Raises:
        ValueError: with --evaluation shared, a flag it has no use for; without it, a
            --shared-* flag. The message names the flag.
    """
    given = given_flags(args)
    if args.evaluation == "shared":
        refuse_given(args, NOT_FOR_SHARED, "--evaluation shared")
        if args.role is not None:
            raise ValueError(
                "--evaluation shared runs in one process (--strategy mirrored spreads its "
                "training over local devices): --role is not supported with it."
            )
        return
    for dest in SHARED_DESTS:
        if dest in given:
            raise ValueError(
                f"{given[dest]} applies to --evaluation shared only; received --evaluation "
                f"{args.evaluation}."
            )


def settings(args):
    """Returns the `SharedSettings` the flags ask for.

    Raises:
        ValueError: an algorithm other than 'reinforce' or 'ppo' (ENAS trains the controller).
    """
    from ..search.enas.loop import SharedSettings

    if args.algorithm not in ("reinforce", "ppo"):
        raise ValueError(
            f"Weight-sharing search trains the controller: the algorithm must be 'reinforce' or "
            f"'ppo'; received {args.algorithm!r}."
        )
    changes = {}
    if args.controller_lr is not None:
        changes["controller_learning_rate"] = args.controller_lr
    return SharedSettings(
        filters=args.shared_filters,
        num_cells=args.shared_cells,
        batch_size=args.shared_batch_size,
        controller_steps=args.controller_steps,
        derive_samples=args.derive_samples,
        algorithm=args.algorithm,
        **changes,
    )


def space(args):
    """Returns the space the flags ask for: None (ENAS's) when --ops, --combines and
    --cell-blocks are all left out; ENAS's ops with B blocks for --cell-blocks B alone; else
    the space of --ops (default: all), --combines and --cell-blocks."""
    from ..search import SearchSpace
    from ..search.enas.supernet import enas_space

    given = given_flags(args)
    if not any(dest in given for dest in _SPACE_DESTS):
        return None
    if "ops" not in given and "combines" not in given:
        return enas_space(args.cell_blocks)
    return SearchSpace(
        ops=args.ops.split(",") if args.ops else SearchSpace().ops,
        num_blocks=args.cell_blocks,
        combines=args.combines.split(","),
    )


def run(args, strategy, final_defaults) -> int:
    """Runs `enas.search_shared` as the flags ask; returns 0.

    Raises:
        ValueError: a bad setting or directory (see `enas.search_shared`).
    """
    from ..search.enas import loop as enas
    from .common import training_settings

    final = False if args.no_final else training_settings(args, final_defaults, "final_")
    enas.search_shared(
        args.dataset,
        args.directory,
        epochs=args.shared_epochs,
        space=space(args),
        settings=settings(args),
        final=final,
        data_dir=args.data_dir,
        validation_size=args.validation_size,
        seed=args.seed,
        strategy=strategy,
        max_time=args.max_time,
        overwrite=args.overwrite,
    )
    return 0

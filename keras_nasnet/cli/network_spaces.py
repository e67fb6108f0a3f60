"""`keras-nasnet search --space macro|mnasnet`: a search over whole networks
(`search.network_search`), its flags, and the refusal of every flag of the NASNet-cell search
it has no use for."""

from __future__ import annotations

from .argument_types import int_at_least, positive
from .flags import flag, given_flags, refuse_given

# keras_nasnet.search.network_search.NETWORK_SPACES, after the NASNet cell space.
SPACES = ("nasnet", "macro", "mnasnet")
# The spaces that measure each trial's latency (MnasNet's reward: --latency-*).
LATENCY_SPACES = ("mnasnet",)

FLAGS = (
    flag(
        "--space",
        choices=SPACES,
        default="nasnet",
        help="what to search: nasnet (cells, default), macro (NAS-2017 whole networks, layer by "
        "layer with skip connections; docs/macro_search.md) or mnasnet (MnasNet's 7 blocks, "
        "with --latency-target-ms for its latency-aware reward; docs/mnasnet_search.md)",
    ),
    flag(
        "--macro-layers",
        type=int_at_least(1),
        default=None,
        help="--space macro: layers of the network (default 6)",
    ),
    flag(
        "--mnasnet-base",
        choices=("mobilenet_v2", "a1"),
        default=None,
        help="--space mnasnet: the skeleton the searched blocks vary around: MobileNetV2's "
        "(the paper's, default) or MnasNet-A1's widths and layers",
    ),
    flag(
        "--mnasnet-depth-multiplier",
        type=positive(),
        default=None,
        help="--space mnasnet: the networks' width multiplier (widths rounded to 8; default 0.5)",
    ),
    flag(
        "--mnasnet-depth-coefficient",
        type=positive(),
        default=None,
        help="--space mnasnet: scales the skeleton's layers per block before the searched "
        "deltas (default 0.5)",
    ),
)

_CELLS = "it searches whole networks, not cells"
_ONE_RECIPE = "each trial trains with --epochs, --batch-size, --lr and --epoch-examples"
# dest -> why a network space refuses the flag when the user gives it.
NOT_FOR_NETWORKS = {
    "cell_blocks": _CELLS,
    "ops": _CELLS,
    "combines": _CELLS,
    "space_file": _CELLS,
    "preset": "the oracle's defaults apply (--update-every, --controller-lr, "
    "--population-size and --tournament-size set them)",
    "prefilter": "no proxy ranks whole networks yet",
    "prefilter_proxy": "no proxy ranks whole networks yet",
    "role": "a distributed search of networks runs with keras-tuner's KERASTUNER_* variables",
    "oracle": "a distributed search of networks runs with keras-tuner's KERASTUNER_* variables",
    "worker_id": "a distributed search of networks runs with keras-tuner's KERASTUNER_* variables",
    "insecure": "a distributed search of networks runs with keras-tuner's KERASTUNER_* variables",
    "worker_timeout": "a distributed search of networks runs with keras-tuner's defaults",
    "strategy": "each trial trains on one device",
    "devices": "each trial trains on one device",
    "num_blocks": _CELLS,
    "filters": "the space decides every layer's filters",
    "child_params": "the space decides every layer's filters",
    "drop_path_keep_prob": _CELLS,
    "cutout": _ONE_RECIPE,
    "final_num_blocks": _CELLS,
    "final_filters": "the space decides every layer's filters",
    "final_batch_size": "the final model trains with --batch-size",
    "final_learning_rate": "the final model trains with --lr",
    "final_drop_path_keep_prob": _CELLS,
    "final_cutout": _ONE_RECIPE,
}
_LATENCY_DESTS = ("latency_target_ms", "latency_alpha", "latency_beta", "latency_quantize")
# A space's own flags: dest -> (the space they belong to, the option of
# `search_network_space(space_options=)` they set).
SPACE_FLAGS = {
    "macro_layers": ("macro", "layers"),
    "mnasnet_base": ("mnasnet", "base"),
    "mnasnet_depth_multiplier": ("mnasnet", "depth_multiplier"),
    "mnasnet_depth_coefficient": ("mnasnet", "depth_coefficient"),
}
# The flags of the cell search that set the oracle: (dest, oracle argument).
ORACLE_FLAGS = (
    ("update_every", "update_every"),
    ("controller_lr", "learning_rate"),
    ("population_size", "population_size"),
    ("tournament_size", "tournament_size"),
)


def check_flags(args) -> None:
    """Returns None if every flag given fits `args.space`.

    Raises:
        ValueError: with a network space, a flag it has no use for, or --evaluation other than
            train; with --space nasnet, a flag of another space. The message names the flag.
    """
    given = given_flags(args)
    for dest, (space, _) in SPACE_FLAGS.items():
        if dest in given and args.space != space:
            raise ValueError(f"{given[dest]} applies to --space {space} only.")
    if args.space == "nasnet":
        return
    for dest in _LATENCY_DESTS:
        if dest in given and args.space not in LATENCY_SPACES:
            raise ValueError(
                f"{given[dest]} does not apply to --space {args.space} (it measures no "
                f"latency; --space {' or '.join(LATENCY_SPACES)} does); leave it out."
            )
    refuse_given(args, NOT_FOR_NETWORKS, f"--space {args.space}")
    if args.evaluation != "train":
        raise ValueError(
            f"--space {args.space} trains every trial: --evaluation {args.evaluation} applies "
            "to --space nasnet only."
        )


def run(args) -> int:
    """Runs `search.network_search.search_network_space` as the flags ask; returns 0.

    Raises:
        ValueError: a bad setting (see `search_network_space`).
    """
    from ..search.network_search import search_network_space

    oracle_settings = {
        argument: getattr(args, dest)
        for dest, argument in ORACLE_FLAGS
        if getattr(args, dest) is not None
    }
    search_network_space(
        args.space,
        args.dataset,
        args.directory,
        max_trials=args.max_trials,
        algorithm=args.algorithm,
        seed=args.seed,
        epochs=args.epochs or 1,
        batch_size=args.batch_size or 64,
        learning_rate=args.learning_rate,
        epoch_examples=args.epoch_examples,
        final_epochs=0 if args.no_final else (args.final_epochs or 3),
        final_epoch_examples=args.final_epoch_examples,
        # Unset flags (None) keep the space's defaults.
        space_options={
            option: getattr(args, dest)
            for dest, (space, option) in SPACE_FLAGS.items()
            if space == args.space
        },
        data_dir=args.data_dir,
        validation_size=args.validation_size,
        max_time=args.max_time,
        max_memory=args.max_memory,
        overwrite=args.overwrite,
        export_tflite=not args.no_tflite,
        latency_target_ms=args.latency_target_ms,
        latency_alpha=args.latency_alpha,
        latency_beta=args.latency_beta,
        latency_quantize=args.latency_quantize,
        **oracle_settings,
    )
    return 0

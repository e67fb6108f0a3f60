"""Flags several commands share, declared once, and the helpers that read them."""

from __future__ import annotations

from .argument_types import int_at_least, number, positive
from .flags import flag

DATASET = flag(
    "--dataset",
    required=True,
    help="fashion_mnist_sample, fashion_mnist, or a prepared TFDS name",
)
DATA_DIR = flag(
    "--data-dir", default=None, help="folder holding the dataset files (or TFDS' data_dir)"
)
SEED = flag("--seed", type=int_at_least(0), default=0)

# (flag suffix, TrainingSettings field, type, help after "<what> ") of the training flags.
_TRAINING = (
    ("epochs", "epochs", int_at_least(1), "training epochs"),
    ("blocks", "num_blocks", int_at_least(1), "normal cells per stack, N"),
    ("filters", "filters", int_at_least(1), "filters F of the first stack"),
    ("batch-size", "batch_size", int_at_least(1), "global batch size"),
    ("lr", "learning_rate", positive(), "peak learning rate"),
    (
        "drop-path-keep-prob",
        "drop_path_keep_prob",
        number(minimum=0, maximum=1, min_inclusive=False),
        "ScheduledDropPath final keep probability",
    ),
    ("cutout", "cutout", int_at_least(0), "cutout size in pixels"),
    (
        "epoch-examples",
        "epoch_examples",
        int_at_least(1),
        "examples per epoch, in whole batches (fewer than the training split: a fraction of "
        "an epoch)",
    ),
)
TRAINING_FIELDS = tuple(field for _, field, _, _ in _TRAINING)


def training_flags(defaults: dict, prefix: str = "", what: str = "model") -> tuple:
    """Returns the flags of the training settings: --epochs ... (with `prefix` "final_":
    --final-epochs ...), defaulting to None (`defaults`' value, shown in the help)."""
    option = "--" + prefix.replace("_", "-")
    return tuple(
        flag(
            option + suffix,
            dest=prefix + field,
            type=kind,
            help=f"{what} {text} (default {_shown(defaults[field])})",
        )
        for suffix, field, kind, text in _TRAINING
    )


def _shown(default) -> str:
    return "the whole split" if default is None else str(default)


def training_settings(args, defaults, prefix: str = ""):
    """Returns `defaults` (a TrainingSettings) with the training flags named with `prefix`
    that the user gave applied."""
    changes = {}
    for field in TRAINING_FIELDS:
        value = getattr(args, prefix + field, None)
        if value is not None:
            changes[field] = value
    return defaults.replace(**changes)


def strategy_flags(choices: tuple, what: str) -> tuple:
    """Returns the --strategy and --devices flags: `choices` of strategies for `what`."""
    return (
        flag(
            "--strategy",
            choices=choices,
            default="default",
            help=f"tf.distribute strategy for {what} (default: one device)",
        ),
        flag(
            "--devices",
            default=None,
            help="for --strategy mirrored: a count N (the first N GPUs; without GPUs, N logical "
            "CPU devices) or comma-separated names (/gpu:0,/gpu:1); default: every visible GPU",
        ),
    )


def make_strategy(args, allowed=None):
    """Returns the strategy `--strategy/--devices` ask for, or None for one device.

    Raises:
        ValueError: a strategy not in `allowed`, or devices that do not exist.
    """
    from ..distribute import make_strategy as make

    if allowed is not None and args.strategy not in allowed:
        raise ValueError(
            f"--strategy {args.strategy} is not available here; allowed: {', '.join(allowed)}."
        )
    if args.strategy == "default" and args.devices is None:
        return None
    return make(args.strategy, args.devices)

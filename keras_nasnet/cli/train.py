"""`keras-nasnet train`: train a model from a genotype and save a .keras file."""

from __future__ import annotations

from .common import (
    DATA_DIR,
    DATASET,
    SEED,
    make_strategy,
    strategy_flags,
    training_flags,
    training_settings,
)
from .flags import Command, flag
from .library_values import TRAINING_DEFAULTS


def run(args) -> int:
    """Trains, saves and prints the test accuracy; returns 0.

    Raises:
        ValueError: an --output that cannot be written or --devices that do not exist, before
            any training.
    """
    from ..validation import check_output_file

    check_output_file(args.output, "--output", ".keras")
    strategy = make_strategy(args)  # before TensorFlow initializes
    from ..training import TrainingSettings, train

    result = train(
        args.architecture,
        args.dataset,
        training_settings(args, TrainingSettings()),
        data_dir=args.data_dir,
        output=args.output,
        seed=args.seed,
        verbose=2 if args.verbose else 0,
        strategy=strategy,
    )
    print(
        f"test accuracy {result.test_accuracy:.4f}, {result.metrics['params']:,} parameters, "
        f"{result.seconds:.0f}s of training -> {result.path}"
    )
    return 0


COMMAND = Command(
    "train",
    "train a model from a genotype and save a .keras file",
    (
        flag(
            "--architecture",
            required=True,
            help="an architecture JSON file or a name (nasnet_a)",
        ),
        DATASET,
        flag(
            "--output",
            default="model.keras",
            help="the .keras file to write (default model.keras)",
        ),
        DATA_DIR,
        SEED,
        flag("--verbose", action="store_true", help="print Keras' per-epoch progress"),
        *strategy_flags(
            ("default", "mirrored", "multi_worker"),
            "training (multi_worker reads TF_CONFIG; Keras 3.15.1 cannot fit under it, see "
            "docs/distributed.md)",
        ),
        *training_flags(TRAINING_DEFAULTS),
    ),
    run,
)

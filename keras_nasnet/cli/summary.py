"""`keras-nasnet summary`: the layer summary of a zoo model."""

from __future__ import annotations

from .flags import Command, flag
from .library_values import ZOO_MODELS


def run(args) -> int:
    """Prints the model's Keras summary; returns 0."""
    from ..applications.zoo import get_zoo_model

    model = get_zoo_model(args.model).make(weights=args.weights)
    model.summary(line_length=120)
    return 0


COMMAND = Command(
    "summary",
    "print the layer summary of a zoo model",
    (
        flag("model", choices=list(ZOO_MODELS)),
        flag("--weights", default=None, help="'imagenet' or a weights file path"),
    ),
    run,
)

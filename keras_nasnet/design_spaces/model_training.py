"""Training a point-keeping Keras model (an AnyNet or RegNet) with the study's recipe: the
worker target of design-space studies over spaces whose points are not NASNet cells.

The recipe is `keras_nasnet.training.train`'s (its data pipeline, SGD with cosine decay, weight
decay on kernels, `epoch_examples`, seed and test scoring, through `training.train_model`); only
the model differs. NASNet-only settings (the auxiliary head, ScheduledDropPath, N and F) do not
apply to these models.
"""

from __future__ import annotations

from typing import Mapping, Optional, Union

from ..training import (
    TrainingSettings,
    TrainResult,
    check_plain_recipe,
    compile_model,
    train_model,
)
from ..validation import ArgumentTypeError

__all__ = ["FAMILIES", "build_point_model", "train_point"]

# Model families a point can name; each keeps its point in the model's config.
FAMILIES = ("anynet",)
# 28x28 / 32x32 images: the stride-1 stem keeps the four stride-2 stages above 1x1.
SMALL_IMAGE_STEM = "small"


def _anynet_point(point):
    from ..anynet import AnyNetPoint

    if isinstance(point, Mapping):
        return AnyNetPoint.from_dict(point)
    if not isinstance(point, AnyNetPoint):
        raise ArgumentTypeError(
            f"`point` must be an AnyNetPoint or its dict; received {type(point).__name__}."
        )
    return point


def build_point_model(point, family: str, input_shape, classes: int, seed: Optional[int] = None):
    """Returns the uncompiled Keras model of `point` (an `AnyNetModel` with the small-image
    stem for family "anynet") for `input_shape` images and `classes` classes.

    Raises:
        ValueError: an unknown `family`. TypeError: `point` is not a point of the family.
    """
    if family != "anynet":
        raise ValueError(f"`family` must be one of {list(FAMILIES)}; received {family!r}.")
    from ..anynet import AnyNetModel

    return AnyNetModel(
        _anynet_point(point),
        stem=SMALL_IMAGE_STEM,
        input_shape=tuple(input_shape),
        classes=classes,
        seed=seed,
    )


def train_point(
    point: Union[Mapping, object],
    dataset: str,
    family: str = "anynet",
    settings: Optional[TrainingSettings] = None,
    data_dir: Optional[str] = None,
    seed: int = 0,
    evaluate_on: Optional[str] = "test",
    output: Optional[str] = None,
    verbose: int = 0,
) -> TrainResult:
    """Trains the model of `point` (see `build_point_model`) on `dataset` with `settings`, as
    `training.train` trains an architecture; returns its `TrainResult` (test_accuracy,
    metrics["params"], seconds), with the point in metrics["point"]. `settings` defaults to
    `TrainingSettings()`.

    Raises:
        ValueError: an unknown family, or settings these models cannot follow (an auxiliary
            head, ScheduledDropPath).
        TypeError: `settings` is not a TrainingSettings, or a bad point.
        keras_nasnet.training.DivergenceError, DatasetNotFoundError: as `training.train`.
    """
    settings = TrainingSettings() if settings is None else settings
    if not isinstance(settings, TrainingSettings):
        raise ArgumentTypeError(f"`settings` must be a TrainingSettings; received {settings!r}.")
    check_plain_recipe(settings, f"Models of family {family!r}")
    # Checked here, not in the worker's build: a bad point fails before the data loads.
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {list(FAMILIES)}; received {family!r}.")
    model_point = _anynet_point(point)

    def build(input_shape, classes, steps_per_epoch):
        model = build_point_model(model_point, family, input_shape, classes, seed=seed)
        compile_model(model, settings, settings.epochs * steps_per_epoch)
        return model

    return train_model(
        build,
        dataset,
        settings,
        data_dir=data_dir,
        output=output,
        seed=seed,
        evaluate_on=evaluate_on,
        verbose=verbose,
        describe={"family": family, "point": model_point.to_dict()},
    )

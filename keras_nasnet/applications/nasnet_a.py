"""NASNet-A models with keras.applications' signatures: NASNetMobile, NASNetLarge, NASNetCIFAR."""

from __future__ import annotations

import os

from ..genotypes import NASNET_A
from ..nasnet import (
    NASNet,
    NASNetModel,
    filters_for,
    obtain_input_shape,
    validate_classifier_activation,
)
from ..weights import load_weights
from .weights_registry import fetch_imagenet_weights

# keras.applications' settings of the two ImageNet models (N @ P, stem, skip_reduction, size),
# and the paper's CIFAR model (Table 1: 6 @ 768 with TF-slim's CIFAR BatchNormalization). The
# zoo table reads N @ P and the input size from these dicts.
MOBILE = dict(
    penultimate_filters=1056,
    num_blocks=4,
    stem="imagenet",
    stem_filters=32,
    skip_reduction=False,
    default_size=224,
)
LARGE = dict(
    penultimate_filters=4032,
    num_blocks=6,
    stem="imagenet",
    stem_filters=96,
    skip_reduction=True,
    default_size=331,
)
CIFAR = dict(
    penultimate_filters=768,
    num_blocks=6,
    stem="cifar",
    skip_reduction=False,
    default_size=32,
    bn_momentum=0.9,
    bn_epsilon=1e-5,
)


def check_weights_argument(weights, include_top: bool, classes: int, input_shape) -> None:
    """keras.applications' checks of `weights`, `classes` and `input_shape`.

    Raises:
        ValueError: `weights` is not None, "imagenet" or an existing file; ImageNet weights
            with the top but `classes` != 1000; ImageNet weights with a non-static input shape.
    """
    if not (
        weights in {"imagenet", None}
        or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))
    ):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), `imagenet` "
            "(pre-training on ImageNet), or the path to the weights file to be loaded. "
            f"Received: weights={weights!r}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            'If using `weights` as `"imagenet"` with `include_top` as true, '
            "`classes` should be 1000"
        )
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ValueError(
            "When specifying the input shape of a NASNet and loading `ImageNet` weights, the "
            "input_shape argument must be static (no None entries). "
            f"Got: `input_shape={input_shape}`."
        )


def _pretrained(
    variant,
    settings,
    *,
    input_shape,
    include_top,
    weights,
    input_tensor,
    pooling,
    classes,
    classifier_activation,
    name,
):
    check_weights_argument(weights, include_top, classes, input_shape)
    if weights == "imagenet":  # keras.applications' stricter shape checks for its weight files
        input_shape = obtain_input_shape(
            input_shape, settings["default_size"], 32, include_top, weights
        )
    if include_top:
        validate_classifier_activation(classifier_activation, weights)
    settings = dict(settings)
    filters = filters_for(NASNET_A, settings.pop("penultimate_filters"))  # P -> F, once
    model = NASNetModel(
        NASNET_A,
        filters=filters,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        **settings,
    )
    if weights == "imagenet":
        load_weights(model, fetch_imagenet_weights(variant, include_top))
    elif weights is not None:
        load_weights(model, weights)
    return model


def NASNetMobile(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_mobile",
):
    """Instantiates NASNet-A Mobile (4 @ 1056, 224x224), as `keras.applications.NASNetMobile`.

    Same arguments, defaults, checks, layer names and weight files as keras.applications;
    `weights="imagenet"` fetches the official file (cached in ~/.keras/models), `weights=PATH`
    loads a legacy h5, `.weights.h5` or `.keras` file. Inputs are expected in [-1, 1]
    (`keras_nasnet.preprocess_input`).

    Returns:
        A `keras_nasnet.NASNetModel`.

    Raises:
        ValueError: invalid arguments or an unreadable or mismatched weights file.
        OSError: ImageNet weights requested but neither cached nor downloadable.
    """
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return _pretrained(
        "mobile",
        MOBILE,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetLarge(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_large",
):
    """Instantiates NASNet-A Large (6 @ 4032, 331x331), as `keras.applications.NASNetLarge`.

    Same arguments, defaults, checks, layer names and weight files as keras.applications.

    Returns:
        A `keras_nasnet.NASNetModel`.

    Raises:
        ValueError: invalid arguments or an unreadable or mismatched weights file.
        OSError: ImageNet weights requested but neither cached nor downloadable.
    """
    return _pretrained(
        "large",
        LARGE,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetCIFAR(
    num_blocks=CIFAR["num_blocks"],
    penultimate_filters=CIFAR["penultimate_filters"],
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    drop_path_keep_prob=1.0,
    total_training_steps=None,
    use_aux_head=False,
    architecture=NASNET_A,
    name="nasnet_cifar",
    **kwargs,
):
    """Instantiates a NASNet for 32x32 images with the CIFAR stem (paper Table 1: 6 @ 768).

    The paper trains it with `drop_path_keep_prob=0.6` over 600 epochs and the auxiliary
    head; BatchNormalization uses TF-slim's CIFAR settings (momentum 0.9, epsilon 1e-5).
    No published weights exist: `weights` is None or a file path. Extra keyword arguments go
    to `keras_nasnet.NASNet`.

    Returns:
        A `keras_nasnet.NASNetModel` (two outputs when `use_aux_head`).

    Raises:
        ValueError: invalid arguments, `weights="imagenet"`, or an unusable weights file.
    """
    if weights == "imagenet":
        raise ValueError(
            "No ImageNet weights exist for NASNetCIFAR: use weights=None or a file path."
        )
    options = {key: CIFAR[key] for key in ("skip_reduction", "bn_momentum", "bn_epsilon")}
    options.update(kwargs)
    return NASNet(
        architecture,
        num_blocks=num_blocks,
        penultimate_filters=penultimate_filters,
        stem=CIFAR["stem"],
        drop_path_keep_prob=drop_path_keep_prob,
        total_training_steps=total_training_steps,
        use_aux_head=use_aux_head,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        **options,
    )

"""MnasNet-A1, B1, small and d1 with keras.applications' signatures.

The blocks and settings are tensorflow/tpu's (models/official/mnasnet/mnasnet_models.py).
No ImageNet weights are published for Keras (tensorflow/tpu's checkpoints are TF1 variables of
another layout), so `weights` is None or the path of a weights file.
"""

from __future__ import annotations

import os

from ..mnasnet import MIN_INPUT_SIZE, MnasNet, MnasNetModel
from ..nasnet import obtain_input_shape

# Each model's blocks and the settings that differ from `MnasNet`'s defaults. The zoo table
# reads the input size from these dicts.
A1 = dict(
    blocks=(
        "r1_k3_s11_e1_i32_o16_noskip",
        "r2_k3_s22_e6_i16_o24",
        "r3_k5_s22_e3_i24_o40_se0.25",
        "r4_k3_s22_e6_i40_o80",
        "r2_k3_s11_e6_i80_o112_se0.25",
        "r3_k5_s22_e6_i112_o160_se0.25",
        "r1_k3_s11_e6_i160_o320",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    default_size=224,
)
B1 = dict(
    blocks=(
        "r1_k3_s11_e1_i32_o16_noskip",
        "r3_k3_s22_e3_i16_o24",
        "r3_k5_s22_e3_i24_o40",
        "r3_k5_s22_e6_i40_o80",
        "r2_k3_s11_e6_i80_o96",
        "r4_k5_s22_e6_i96_o192",
        "r1_k3_s11_e6_i192_o320_noskip",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    default_size=224,
)
# The first block declares 16 input filters after the 8-filter stem, as the reference does:
# 16 != 8 means no identity skip there (and with e1 and no SE nothing else reads it).
SMALL = dict(
    blocks=(
        "r1_k3_s11_e1_i16_o8",
        "r1_k3_s22_e3_i8_o16",
        "r2_k3_s22_e6_i16_o16",
        "r4_k5_s22_e6_i16_o32_se0.25",
        "r3_k3_s11_e6_i32_o32_se0.25",
        "r3_k5_s22_e6_i32_o88_se0.25",
        "r1_k3_s11_e6_i88_o144",
    ),
    stem_filters=8,
    dropout_rate=0.0,
    default_size=224,
)
# The backbone searched jointly with MnasFPN (tensorflow/tpu's mnasnet_d1).
D1 = dict(
    blocks=(
        "r1_k3_s11_e9_i32_o24",
        "r3_k3_s22_e9_i24_o36",
        "r5_k3_s22_e9_i36_o48",
        "r4_k5_s22_e9_i48_o96",
        "r5_k7_s11_e3_i96_o96",
        "r3_k3_s22_e9_i96_o80",
        "r1_k7_s11_e6_i80_o320_noskip",
    ),
    stem_filters=32,
    dropout_rate=0.2,
    default_size=224,
)


def check_weights_argument(weights, include_top: bool, classes: int, input_shape, label: str):
    """keras.applications' checks of `weights`, `classes` and `input_shape`, then the refusal
    of ImageNet weights, which are not published for `label`.

    Raises:
        ValueError: `weights` is not None, "imagenet" or an existing file; ImageNet weights
            with the top and `classes` != 1000, or with a wrong input shape; ImageNet weights
            at all (the message says what to pass instead).
    """
    if not (
        weights in {"imagenet", None}
        or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))
    ):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), `imagenet` "
            "(pre-training on ImageNet), or the path to the weights file to be loaded. "
            f"Received `weights={weights!r}`"
        )
    if weights == "imagenet":
        if include_top and classes != 1000:
            raise ValueError(
                'If using `weights="imagenet"` with `include_top=True`, `classes` should be '
                f"1000. Received `classes={classes}`"
            )
        obtain_input_shape(input_shape, 224, MIN_INPUT_SIZE, include_top, weights)
        raise ValueError(
            f"No ImageNet weights are published for {label} in Keras (tensorflow/tpu's "
            "checkpoints are TF1 variables of another layout). Pass `weights=None` to train "
            "from scratch, or the path of a weights file (.weights.h5, .keras or h5) saved from "
            "this model."
        )


def _mnasnet(settings: dict, label: str, weights, include_top, input_shape, classes, **kwargs):
    check_weights_argument(weights, include_top, classes, input_shape, label)
    options = {key: value for key, value in settings.items() if key != "blocks"}
    options.update(kwargs)
    return MnasNet(
        list(settings["blocks"]),
        weights=weights,
        include_top=include_top,
        input_shape=input_shape,
        classes=classes,
        **options,
    )


def MnasNetA1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    depth_multiplier=1.0,
    dropout_rate=A1["dropout_rate"],
    name="mnasnet_a1",
    seed=None,
) -> MnasNetModel:
    """Instantiates MnasNet-A1 (paper: 3.9M parameters, 312M mult-adds at 224x224, with SE).

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation: as in keras.applications; `weights` is None (the default)
            or the path of a weights file: no ImageNet weights are published for Keras.
        depth_multiplier: scales every width but the head's (1.0: the paper's model; another
            value rounds the widths to multiples of 8).
        dropout_rate: dropout before the classifier (0.2).
        name, seed: the model's name; the seed of its initializers and dropout.

    Returns:
        A `keras_nasnet.MnasNetModel`.

    Raises:
        ValueError: an invalid argument, `weights="imagenet"`, or an unusable weights file.
    """
    return _mnasnet(
        A1,
        "MnasNet-A1",
        weights,
        include_top,
        input_shape,
        classes,
        input_tensor=input_tensor,
        pooling=pooling,
        classifier_activation=classifier_activation,
        depth_multiplier=depth_multiplier,
        dropout_rate=dropout_rate,
        name=name,
        seed=seed,
    )


def MnasNetB1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    depth_multiplier=1.0,
    dropout_rate=B1["dropout_rate"],
    name="mnasnet_b1",
    seed=None,
) -> MnasNetModel:
    """Instantiates MnasNet-B1 (about 4.4M parameters, no SE; torchvision's mnasnet1_0).

    Arguments, return value and errors as `MnasNetA1`.
    """
    return _mnasnet(
        B1,
        "MnasNet-B1",
        weights,
        include_top,
        input_shape,
        classes,
        input_tensor=input_tensor,
        pooling=pooling,
        classifier_activation=classifier_activation,
        depth_multiplier=depth_multiplier,
        dropout_rate=dropout_rate,
        name=name,
        seed=seed,
    )


def MnasNetSmall(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    depth_multiplier=1.0,
    dropout_rate=SMALL["dropout_rate"],
    name="mnasnet_small",
    seed=None,
) -> MnasNetModel:
    """Instantiates MnasNet-small (paper: 2.0M parameters, 68M mult-adds; 8-filter stem, no
    dropout by default).

    Arguments, return value and errors as `MnasNetA1`.
    """
    return _mnasnet(
        SMALL,
        "MnasNet-small",
        weights,
        include_top,
        input_shape,
        classes,
        input_tensor=input_tensor,
        pooling=pooling,
        classifier_activation=classifier_activation,
        depth_multiplier=depth_multiplier,
        dropout_rate=dropout_rate,
        name=name,
        seed=seed,
    )


def MnasNetD1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    depth_multiplier=1.0,
    dropout_rate=D1["dropout_rate"],
    name="mnasnet_d1",
    seed=None,
) -> MnasNetModel:
    """Instantiates MnasNet-d1, the backbone searched jointly with MnasFPN (expansion up to 9,
    7x7 kernels; its widths 36 and 48 are kept as declared at `depth_multiplier=1.0`).

    Arguments, return value and errors as `MnasNetA1`.
    """
    return _mnasnet(
        D1,
        "MnasNet-d1",
        weights,
        include_top,
        input_shape,
        classes,
        input_tensor=input_tensor,
        pooling=pooling,
        classifier_activation=classifier_activation,
        depth_multiplier=depth_multiplier,
        dropout_rate=dropout_rate,
        name=name,
        seed=seed,
    )

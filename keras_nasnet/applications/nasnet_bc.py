"""NASNet-B and NASNet-C models with keras.applications' signature (paper appendix B).

The cells are reconstructions (see `keras_nasnet.genotypes.NASNET_B` / `NASNET_C`) and no
weights were ever published: `weights` is None (the default) or the path of a weights file.
"""

from __future__ import annotations

from ..genotypes import NASNET_B, NASNET_C
from ..nasnet import NASNet

# NASNetMobile's macro settings, and TF-slim's CIFAR ones (as NASNetCIFAR).
_MOBILE = dict(stem="imagenet", stem_filters=32, skip_reduction=False, default_size=224)
_CIFAR = dict(stem="cifar", skip_reduction=False, default_size=32, bn_momentum=0.9, bn_epsilon=1e-5)

# The paper's sizes (Tables 1 and 2): N normal cells per stack @ P penultimate filters. The
# zoo table reads N @ P and the input size from these dicts.
B_MOBILE = dict(_MOBILE, num_blocks=4, penultimate_filters=1536)
C_MOBILE = dict(_MOBILE, num_blocks=3, penultimate_filters=960)
B_CIFAR = dict(_CIFAR, num_blocks=4, penultimate_filters=1152)
C_CIFAR = dict(_CIFAR, num_blocks=4, penultimate_filters=640)


def _reject_imagenet(weights, model_name: str) -> None:
    if isinstance(weights, str) and weights == "imagenet":
        raise ValueError(
            f"No ImageNet weights exist for {model_name}: the NASNet paper published none for "
            "NASNet-B or NASNet-C, and these cells are reconstructions. Use weights=None or the "
            "path of a weights file."
        )


def _mobile(architecture, settings: dict, *, input_shape, include_top, **arguments):
    if not include_top and input_shape is None:
        input_shape = (settings["default_size"],) * 2 + (3,)  # as NASNetMobile
    return NASNet(
        architecture, input_shape=input_shape, include_top=include_top, **settings, **arguments
    )


def _cifar(architecture, settings: dict, kwargs: dict, **arguments):
    # Any NASNet argument in `kwargs` may override the CIFAR settings.
    return NASNet(architecture, **dict(settings, **kwargs), **arguments)


def NASNetBMobile(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_b_mobile",
):
    """Instantiates NASNet-B 4 @ 1536 for 224x224 ImageNet images.

    Paper Table 2: 5.3M parameters, 488M mult-adds.

    NASNetMobile's arguments, with `weights=None` by default: no ImageNet weights exist.
    The cell is the reconstruction `NASNET_B` (4 inputs, every block output passed on), not the
    published one: calibrated to the paper's counts, it has 5.60M parameters (+5.7%) and 531M
    mult-adds (+8.8%).

    Returns:
        A `keras_nasnet.NASNetModel`.

    Raises:
        ValueError: `weights="imagenet"`, invalid arguments, or an unusable weights file.
    """
    _reject_imagenet(weights, "NASNetBMobile")
    return _mobile(
        NASNET_B,
        B_MOBILE,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetCMobile(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_c_mobile",
):
    """Instantiates NASNet-C 3 @ 960 for 224x224 ImageNet images.

    Paper Table 2: 4.9M parameters, 558M mult-adds.

    NASNetMobile's arguments, with `weights=None` by default: no ImageNet weights exist.
    The cell is the reconstruction `NASNET_C`, not the published one: calibrated to the paper's
    counts, it has 5.42M parameters (+10.6%) and 606M mult-adds (+8.7%).

    Returns:
        A `keras_nasnet.NASNetModel`.

    Raises:
        ValueError: `weights="imagenet"`, invalid arguments, or an unusable weights file.
    """
    _reject_imagenet(weights, "NASNetCMobile")
    return _mobile(
        NASNET_C,
        C_MOBILE,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetBCIFAR(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="nasnet_b_cifar",
    **kwargs,
):
    """Instantiates NASNet-B 4 @ 1152 for 32x32 images with the CIFAR stem (paper Table 1: 2.6M).

    NASNetMobile's arguments (`classes=10`, `weights=None`); further keyword arguments go to
    `keras_nasnet.NASNet` (for example `drop_path_keep_prob`, `total_training_steps`,
    `use_aux_head`). BatchNormalization uses TF-slim's CIFAR settings, as `NASNetCIFAR`.
    The cell is the reconstruction `NASNET_B`, not the published one: 2.38M parameters (-8.7%).

    Returns:
        A `keras_nasnet.NASNetModel` (two outputs with `use_aux_head=True`).

    Raises:
        ValueError: `weights="imagenet"`, invalid arguments, or an unusable weights file.
    """
    _reject_imagenet(weights, "NASNetBCIFAR")
    return _cifar(
        NASNET_B,
        B_CIFAR,
        kwargs,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetCCIFAR(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="nasnet_c_cifar",
    **kwargs,
):
    """Instantiates NASNet-C 4 @ 640 for 32x32 images with the CIFAR stem (paper Table 1: 3.1M).

    NASNetMobile's arguments (`classes=10`, `weights=None`); further keyword arguments go to
    `keras_nasnet.NASNet`, as for `NASNetBCIFAR`. The cell is the reconstruction `NASNET_C`, not
    the published one: 2.78M parameters (-10.3%).

    Returns:
        A `keras_nasnet.NASNetModel` (two outputs with `use_aux_head=True`).

    Raises:
        ValueError: `weights="imagenet"`, invalid arguments, or an unusable weights file.
    """
    _reject_imagenet(weights, "NASNetCCIFAR")
    return _cifar(
        NASNET_C,
        C_CIFAR,
        kwargs,
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )

"""NASNet-B and NASNet-C models with keras.applications' signature (paper appendix B).

The cells are reconstructions (see `keras_nasnet.genotypes.NASNET_B` / `NASNET_C`) and no
weights were ever published: `weights` is None (the default) or the path of a weights file.
The four entry points differ only in cell and size, so two factories make them.
"""

from __future__ import annotations

from ..genotypes import NASNET_B, NASNET_C
from ..nasnet import NASNet

# The paper's sizes (Tables 1 and 2): N normal cells per stack @ P penultimate filters.
B_MOBILE = dict(num_blocks=4, penultimate_filters=1536)
C_MOBILE = dict(num_blocks=3, penultimate_filters=960)
B_CIFAR = dict(num_blocks=4, penultimate_filters=1152)
C_CIFAR = dict(num_blocks=4, penultimate_filters=640)

_RETURNS_RAISES = """
    Returns:
        A `keras.Model`{outputs}.

    Raises:
        ValueError: `weights="imagenet"`, invalid arguments, or an unusable weights file.
    """


def _reject_imagenet(weights, model_name: str) -> None:
    if isinstance(weights, str) and weights == "imagenet":
        raise ValueError(
            f"No ImageNet weights exist for {model_name}: the NASNet paper published none for NASNet-B "
            "or NASNet-C, and these cells are reconstructions. Use weights=None or the path of a weights file."
        )


def _name(application, model_name: str, summary: str, outputs: str = ""):
    application.__name__ = application.__qualname__ = model_name
    application.__doc__ = summary + _RETURNS_RAISES.format(outputs=outputs)
    return application


def _mobile_application(architecture, size: dict, model_name: str, default_name: str, summary: str):
    """Returns a 224x224 ImageNet-stem model function with NASNetMobile's signature."""

    def application(
        input_shape=None,
        include_top=True,
        weights=None,
        input_tensor=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
    ):
        _reject_imagenet(weights, model_name)
        if not include_top and input_shape is None:
            input_shape = (224, 224, 3)  # as NASNetMobile
        return NASNet(
            architecture, stem="imagenet", stem_filters=32, skip_reduction=False, default_size=224,
            include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
            pooling=pooling, classes=classes, classifier_activation=classifier_activation, name=name, **size,
        )

    return _name(application, model_name, summary)


def _cifar_application(architecture, size: dict, model_name: str, default_name: str, summary: str):
    """Returns a 32x32 CIFAR-stem model function: NASNetMobile's signature plus NASNet's keywords."""

    def application(
        input_shape=None,
        include_top=True,
        weights=None,
        input_tensor=None,
        pooling=None,
        classes=10,
        classifier_activation="softmax",
        name=default_name,
        **kwargs,
    ):
        _reject_imagenet(weights, model_name)
        # TF-slim's CIFAR BatchNormalization, as NASNetCIFAR; any NASNet argument may override.
        options = dict(size, stem="cifar", skip_reduction=False, bn_momentum=0.9, bn_epsilon=1e-5)
        options.update(kwargs)
        return NASNet(
            architecture, input_shape=input_shape, include_top=include_top, weights=weights,
            input_tensor=input_tensor, pooling=pooling, classes=classes,
            classifier_activation=classifier_activation, name=name, **options,
        )

    return _name(application, model_name, summary, outputs=" (two outputs with `use_aux_head=True`)")


NASNetBMobile = _mobile_application(NASNET_B, B_MOBILE, "NASNetBMobile", "nasnet_b_mobile", """\
Instantiates NASNet-B 4 @ 1536 for 224x224 ImageNet images (paper Table 2: 5.3M, 488M mult-adds).

    NASNetMobile's arguments, with `weights=None` by default: no ImageNet weights exist.
    The cell is the reconstruction `NASNET_B` (4 inputs, every block output passed on), not the
    published one: calibrated to the paper's counts, it has 5.60M parameters (+5.7%) and 531M
    mult-adds (+8.8%).
""")

NASNetCMobile = _mobile_application(NASNET_C, C_MOBILE, "NASNetCMobile", "nasnet_c_mobile", """\
Instantiates NASNet-C 3 @ 960 for 224x224 ImageNet images (paper Table 2: 4.9M, 558M mult-adds).

    NASNetMobile's arguments, with `weights=None` by default: no ImageNet weights exist.
    The cell is the reconstruction `NASNET_C`, not the published one: calibrated to the paper's
    counts, it has 5.42M parameters (+10.6%) and 606M mult-adds (+8.7%).
""")

NASNetBCIFAR = _cifar_application(NASNET_B, B_CIFAR, "NASNetBCIFAR", "nasnet_b_cifar", """\
Instantiates NASNet-B 4 @ 1152 for 32x32 images with the CIFAR stem (paper Table 1: 2.6M).

    NASNetMobile's arguments (`classes=10`, `weights=None`); further keyword arguments go to
    `keras_nasnet.NASNet` (for example `drop_path_keep_prob`, `total_training_steps`,
    `use_aux_head`). BatchNormalization uses TF-slim's CIFAR settings, as `NASNetCIFAR`.
    The cell is the reconstruction `NASNET_B`, not the published one: 2.38M parameters (-8.7%).
""")

NASNetCCIFAR = _cifar_application(NASNET_C, C_CIFAR, "NASNetCCIFAR", "nasnet_c_cifar", """\
Instantiates NASNet-C 4 @ 640 for 32x32 images with the CIFAR stem (paper Table 1: 3.1M).

    NASNetMobile's arguments (`classes=10`, `weights=None`); further keyword arguments go to
    `keras_nasnet.NASNet`, as for `NASNetBCIFAR`. The cell is the reconstruction `NASNET_C`, not
    the published one: 2.78M parameters (-10.3%).
""")

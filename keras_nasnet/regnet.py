"""RegNet: six numbers (d, w_0, w_a, w_m, g, b) that generate an AnyNet, and the published models.

The generator (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020, section 3.3;
pycls `generate_regnet`): block j = 0 .. d-1 gets the continuous width u_j = w_0 + w_a * j;
k_j = round(log(u_j / w_0) / log(w_m)) puts it on the geometric ladder w_0 * w_m^k_j, which is
then quantized to a multiple of 8. A stage is a run of blocks of equal width. The per-stage
widths and group widths then go through pycls' compatibility adjustment
(`keras_nasnet.anynet.adjust_block_compatibility`). RegNetY adds squeeze-excitation (ratio 0.25).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

from .anynet import STRIDES, AnyNetModel, AnyNetPoint
from .validation import check_choice, check_int, check_number


class RegNetWidths(NamedTuple):
    """What the quantized linear rule gives (pycls' `generate_regnet`): per-stage widths and
    depths, the number of stages, the number of rungs of the w_m ladder that the blocks span
    (`total_stages`, more than `num_stages` when a rung quantizes to no block), and the
    per-block quantized and continuous widths."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    num_stages: int
    total_stages: int
    block_widths: tuple[int, ...]
    continuous_widths: tuple[float, ...]


def generate_widths(depth: int, w_0: int, w_a: float, w_m: float, quantum: int = 8) -> RegNetWidths:
    """Returns the `RegNetWidths` of the RegNet (d=`depth`, w_0, w_a, w_m), as pycls'
    `generate_regnet(w_a, w_0, w_m, d, q)`: same rounding (half to even) and same stages.

    Raises:
        TypeError: `depth`, `w_0` or `quantum` not an int, `w_a` or `w_m` not a number.
        ValueError: depth < 1, w_0 < 1 or not a multiple of `quantum`, w_a < 0, w_m <= 1.
    """
    depth = check_int(depth, "depth", minimum=1)
    quantum = check_int(quantum, "quantum", minimum=1)
    w_0 = check_int(w_0, "w_0", minimum=1)
    if w_0 % quantum:
        raise ValueError(f"`w_0` must be a multiple of {quantum}; received {w_0}.")
    w_a = check_number(w_a, "w_a", minimum=0)
    w_m = check_number(w_m, "w_m", minimum=1, min_inclusive=False)
    continuous = [w_0 + w_a * j for j in range(depth)]
    rungs = [round(math.log(u / w_0) / math.log(w_m)) for u in continuous]
    block_widths = [int(round(w_0 * w_m**k / quantum)) * quantum for k in rungs]
    # u_j grows with j, so equal widths are consecutive: a stage is a run (pycls: np.unique).
    runs = [(width, len(list(group))) for width, group in itertools.groupby(block_widths)]
    return RegNetWidths(
        widths=tuple(width for width, _ in runs),
        depths=tuple(count for _, count in runs),
        num_stages=len(runs),
        total_stages=max(rungs) + 1,
        block_widths=tuple(block_widths),
        continuous_widths=tuple(continuous),
    )


def regnet(
    depth: int,
    w_0: int,
    w_a: float,
    w_m: float,
    group_width: int,
    bottleneck_ratio: int = 1,
    *,
    se_ratio: float = 0.0,
    stem_width: int = 32,
    stride: int = 2,
    quantum: int = 8,
) -> AnyNetPoint:
    """Returns the `AnyNetPoint` of the RegNet (d, w_0, w_a, w_m, g, b): the generated stages
    (`generate_widths`), every stage with bottleneck ratio b, group width g and `stride`,
    after pycls' compatibility adjustment (`AnyNetPoint.compatible`).

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an argument out of range (see `generate_widths` and `AnyNetPoint`).
    """
    generated = generate_widths(depth, w_0, w_a, w_m, quantum)
    group_width = check_int(group_width, "group_width", minimum=1)
    bottleneck_ratio = check_int(bottleneck_ratio, "bottleneck_ratio", minimum=1)
    stride = check_choice(stride, "stride", STRIDES)
    n = generated.num_stages
    return AnyNetPoint.compatible(
        depths=generated.depths,
        widths=generated.widths,
        bottleneck_ratios=(bottleneck_ratio,) * n,
        group_widths=(group_width,) * n,
        strides=(stride,) * n,
        stem_width=stem_width,
        se_ratio=se_ratio,
    )


def _x(depth, w_0, w_a, w_m, group_width) -> dict:
    return dict(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group_width=group_width)


def _y(depth, w_0, w_a, w_m, group_width) -> dict:
    return dict(_x(depth, w_0, w_a, w_m, group_width), se_ratio=0.25)


# The published RegNetX / RegNetY models: pycls configs/dds_baselines/regnet{x,y}/*.yaml
# (REGNET.DEPTH, W0, WA, WM, GROUP_W; RegNetY: SE_ON with SE_R 0.25). Names count hundreds of
# mega-flops, as timm's and keras.applications' (regnetx_002 is pycls' RegNetX-200MF).
REGNET_PARAMS: dict[str, dict[str, Any]] = {
    "regnetx_002": _x(13, 24, 36.44, 2.49, 8),
    "regnetx_004": _x(22, 24, 24.48, 2.54, 16),
    "regnetx_006": _x(16, 48, 36.97, 2.24, 24),
    "regnetx_008": _x(16, 56, 35.73, 2.28, 16),
    "regnetx_016": _x(18, 80, 34.01, 2.25, 24),
    "regnetx_032": _x(25, 88, 26.31, 2.25, 48),
    "regnetx_040": _x(23, 96, 38.65, 2.43, 40),
    "regnetx_064": _x(17, 184, 60.83, 2.07, 56),
    "regnetx_080": _x(23, 80, 49.56, 2.88, 120),
    "regnetx_120": _x(19, 168, 73.36, 2.37, 112),
    "regnetx_160": _x(22, 216, 55.59, 2.1, 128),
    "regnetx_320": _x(23, 320, 69.86, 2.0, 168),
    "regnety_002": _y(13, 24, 36.44, 2.49, 8),
    "regnety_004": _y(16, 48, 27.89, 2.09, 8),
    "regnety_006": _y(15, 48, 32.54, 2.32, 16),
    "regnety_008": _y(14, 56, 38.84, 2.4, 16),
    "regnety_016": _y(27, 48, 20.71, 2.65, 24),
    "regnety_032": _y(21, 80, 42.63, 2.66, 24),
    "regnety_040": _y(22, 96, 31.41, 2.24, 64),
    "regnety_064": _y(25, 112, 33.22, 2.27, 72),
    "regnety_080": _y(17, 192, 76.82, 2.19, 56),
    "regnety_120": _y(19, 168, 73.36, 2.37, 112),
    "regnety_160": _y(18, 200, 106.23, 2.48, 112),
    "regnety_320": _y(20, 232, 115.89, 2.53, 232),
}


def regnet_point(name: str) -> AnyNetPoint:
    """Returns the `AnyNetPoint` of the published RegNet `name` (a key of `REGNET_PARAMS`).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    check_choice(name, "name", REGNET_PARAMS)
    return regnet(**REGNET_PARAMS[name])


def RegNet(name: str, **kwargs) -> AnyNetModel:
    """Returns the `AnyNetModel` of the published RegNet `name` (a key of `REGNET_PARAMS`),
    with fresh weights; keyword arguments go to `AnyNetModel` (include_top, input_shape,
    pooling, classes, classifier_activation, stem="small" for 32x32 images, seed, ...).

    Raises:
        ValueError: an unknown name or an invalid setting.
    """
    kwargs.setdefault("name", name)
    return AnyNetModel(regnet_point(name), **kwargs)

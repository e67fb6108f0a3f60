"""The op registry: each op name of `genotypes.OPS` maps to the layers it builds.

Semantics (NASNet paper and TF-slim): every conv is ReLU -> conv -> BN; a separable conv
is that twice, only the first strided; pools are followed by a 1x1 conv + BN only when the
channel count must change; identity becomes ReLU -> strided 1x1 conv -> BN when the stride
or the channel count changes. Strided ops pad explicitly (as keras.applications does), so
results do not depend on a backend's 'same' padding and the NASNet-A weights load exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import keras
from keras import layers

from .genotypes import OPS
from .validation import check_int


class SeedSequence:
    """The seeds of one model's random layers (initializers, masks), drawn one after another.

    Seed `s` gives s + 1, s + 2, ... in the order the layers are built, so one seed makes the
    whole model reproducible while no two layers share a seed; None gives None (Keras draws).
    """

    def __init__(self, seed: Optional[int] = None):
        self.seed = check_int(seed, "seed", allow_none=True)
        self.drawn = 0

    def next(self) -> Optional[int]:
        """Returns the next seed, or None for an unseeded sequence."""
        if self.seed is None:
            return None
        self.drawn += 1
        return self.seed + self.drawn


_INITIALIZERS = {
    "he_normal": keras.initializers.HeNormal,
    "glorot_uniform": keras.initializers.GlorotUniform,
}


@dataclass(frozen=True)
class LayerSettings:
    """What every layer of one model shares: BatchNormalization's momentum and epsilon, and
    the seeds of the random initializers."""

    momentum: float = 0.9997
    epsilon: float = 1e-3
    seeds: SeedSequence = field(default_factory=SeedSequence, compare=False)

    def initializer(self, kind: str):
        """Returns the initializer `kind` ("he_normal" or "glorot_uniform") with the next seed."""
        seed = self.seeds.next()
        return kind if seed is None else _INITIALIZERS[kind](seed=seed)


def batch_norm(x, name: str, shared: LayerSettings):
    """Returns `x` after a BatchNormalization layer named `name`."""
    return layers.BatchNormalization(
        axis=-1, momentum=shared.momentum, epsilon=shared.epsilon, name=name
    )(x)


def same_padding(size: Optional[int], kernel: int, stride: int) -> tuple[int, int]:
    """Returns the (before, after) zero padding TensorFlow's 'SAME' would use on one axis.

    An unknown size is taken as even, as keras.applications' `correct_pad` does.
    """
    if size is None:
        total = max(kernel - stride, 0) if stride > 1 else kernel - 1
    else:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def zero_pad(x, kernel: tuple[int, int], stride: tuple[int, int], name: str):
    """Returns `x` zero-padded so that a 'valid' op of `kernel`/`stride` matches 'SAME'."""
    padding = tuple(same_padding(x.shape[axis + 1], kernel[axis], stride[axis]) for axis in (0, 1))
    return layers.ZeroPadding2D(padding=padding, name=name)(x)


def strided_input(x, kernel: tuple[int, int], stride: tuple[int, int], name: str, pad=None):
    """Returns `(x, padding)` for a strided op: explicitly zero-padded `x` and "valid".

    Explicit padding is what keras.applications does (and what its weights expect). It
    needs the spatial size; when that is unknown (a model for any input size) the op uses
    "same" instead, which the backend resolves at run time for odd and even sizes alike.
    """
    if x.shape[1] is None or x.shape[2] is None:
        return x, "same"
    padded = pad(x) if pad is not None else zero_pad(x, kernel, stride, name)
    return padded, "valid"


def _relu(x):
    return layers.Activation("relu")(x)


def _conv(x, filters, kernel, strides, name, shared, *, dilation=1):
    """A bias-free conv; strided convs pad explicitly and run 'valid'."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    padding = "same"
    if strides != (1, 1) and kernel != (1, 1):
        x, padding = strided_input(x, kernel, strides, name=f"{name}_pad")
    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        use_bias=False,
        kernel_initializer=shared.initializer("he_normal"),
        name=name,
    )(x)


def _channels(x) -> int:
    return x.shape[-1]


def _identity(x, filters, strides, name, shared, pad):
    if strides == 1 and _channels(x) == filters:
        return x
    x = _conv(_relu(x), filters, 1, strides, f"identity_conv_{name}", shared)
    return batch_norm(x, f"identity_bn_{name}", shared)


def _project(x, filters, name, shared):
    """1x1 conv + BN after a pool, only when the channel count must change."""
    if _channels(x) == filters:
        return x
    x = _conv(x, filters, 1, 1, f"pool_projection_{name}", shared)
    return batch_norm(x, f"pool_projection_bn_{name}", shared)


def _pool(kind: str, size: int):
    pool_class = layers.AveragePooling2D if kind == "avg" else layers.MaxPooling2D

    def build(x, filters, strides, name, shared, pad):
        if strides == 1:
            x = pool_class((size, size), strides=(1, 1), padding="same", name=name)(x)
        else:
            x, padding = strided_input(
                x, (size, size), (strides, strides), name, pad=lambda t: pad(t, size)
            )
            x = pool_class((size, size), strides=(strides, strides), padding=padding, name=name)(x)
        return _project(x, filters, name, shared)

    return build


def _separable_initializers(shared: LayerSettings) -> dict:
    return {
        "depthwise_initializer": shared.initializer("glorot_uniform"),
        "pointwise_initializer": shared.initializer("glorot_uniform"),
    }


def _separable(size: int):
    """keras.applications' `_separable_conv_block`, layer for layer and name for name."""

    def build(x, filters, strides, name, shared, pad):
        x = _relu(x)
        conv_padding = "same"
        if strides != 1:
            x, conv_padding = strided_input(
                x, (size, size), (strides, strides), f"separable_conv_1_pad_{name}"
            )
        x = layers.SeparableConv2D(
            filters,
            (size, size),
            strides=(strides, strides),
            padding=conv_padding,
            use_bias=False,
            name=f"separable_conv_1_{name}",
            **_separable_initializers(shared),
        )(x)
        x = batch_norm(x, f"separable_conv_1_bn_{name}", shared)
        x = _relu(x)
        x = layers.SeparableConv2D(
            filters,
            (size, size),
            padding="same",
            use_bias=False,
            name=f"separable_conv_2_{name}",
            **_separable_initializers(shared),
        )(x)
        return batch_norm(x, f"separable_conv_2_bn_{name}", shared)

    return build


def _plain_conv(size: int):
    def build(x, filters, strides, name, shared, pad):
        x = _conv(_relu(x), filters, size, strides, f"conv_{size}x{size}_{name}", shared)
        return batch_norm(x, f"conv_{size}x{size}_bn_{name}", shared)

    return build


def _factorized_conv(size: int):
    """A 1xk conv then a kx1 conv (one BN after both), each carrying half of the stride."""

    def build(x, filters, strides, name, shared, pad):
        x = _relu(x)
        x = _conv(x, filters, (1, size), (1, strides), f"conv_1x{size}_{name}", shared)
        x = _conv(x, filters, (size, 1), (strides, 1), f"conv_{size}x1_{name}", shared)
        return batch_norm(x, f"conv_1x{size}_{size}x1_bn_{name}", shared)

    return build


def _dilated_conv(x, filters, strides, name, shared, pad):
    # Keras convs cannot be both strided and dilated: subsample the dilated output instead.
    x = _conv(_relu(x), filters, 3, 1, f"dil_conv_3x3_{name}", shared, dilation=2)
    if strides != 1:
        x = layers.AveragePooling2D(
            (1, 1), strides=(strides, strides), name=f"dil_conv_3x3_stride_{name}"
        )(x)
    return batch_norm(x, f"dil_conv_3x3_bn_{name}", shared)


OpBuilder = Callable  # (x, filters, strides, name, shared, pad) -> tensor

OP_BUILDERS: dict[str, OpBuilder] = {
    "identity": _identity,
    "conv_1x3_3x1": _factorized_conv(3),
    "conv_1x7_7x1": _factorized_conv(7),
    "dil_conv_3x3": _dilated_conv,
    "avg_pool_3x3": _pool("avg", 3),
    "avg_pool_5x5": _pool("avg", 5),
    "max_pool_3x3": _pool("max", 3),
    "max_pool_5x5": _pool("max", 5),
    "max_pool_7x7": _pool("max", 7),
    "conv_1x1": _plain_conv(1),
    "conv_3x3": _plain_conv(3),
    "sep_conv_3x3": _separable(3),
    "sep_conv_5x5": _separable(5),
    "sep_conv_7x7": _separable(7),
}


def apply_op(op: str, x, *, filters: int, strides: int, name: str, shared: LayerSettings, pad=None):
    """Returns `op` applied to `x`, with `filters` output channels.

    Args:
        op: a name from `genotypes.OPS`.
        name: the naming stem of the op's layers (keras.applications style, e.g. "normal_left1_0").
        shared: the model's `LayerSettings` (BatchNormalization settings, initializer seeds).
        pad: optional `pad(x, kernel) -> padded x` used by strided pools, so that several pools
            on one state share one padding layer; by default each pool pads on its own.

    Raises:
        ValueError: an unknown op.
    """
    if op not in OP_BUILDERS:
        raise ValueError(f"Unknown op {op!r}. Allowed ops: {', '.join(OPS)}.")
    if pad is None:

        def pad(tensor, kernel):
            return zero_pad(tensor, (kernel, kernel), (strides, strides), name=f"{name}_pad")

    return OP_BUILDERS[op](x, filters, strides, name, shared, pad)

"""AnyNet networks as data (`AnyNetPoint`) and the Keras model that builds one (`AnyNetModel`).

An AnyNet (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020; code
facebookresearch/pycls, `pycls/models/anynet.py`) is a stem, a body of stages and a head. Stage
i repeats d_i X blocks of width w_i; its first block applies the stage's stride. An X block is
the ResNeXt bottleneck: 1x1 conv to the bottleneck width w_i / b_i, BN, ReLU; 3x3 group conv
(groups of g_i channels, strided), BN, ReLU; optionally squeeze-excitation (a RegNetY block);
1x1 conv to w_i, BN; added to the input, or to a 1x1 strided projection + BN of it when the
stride or the width changes; ReLU. The stem is a 3x3 conv (stride 2 on ImageNet-sized inputs,
stride 1 with `stem="small"` for 28x28 or 32x32 images), BN, ReLU; the head global average
pooling and a dense classifier.

Layer names follow pycls' module names (`s2_b1_b` is `s2.b1.f.b`), every weight has the shape
of its pycls counterpart up to PyTorch's axis order, padding is pycls' symmetric padding and the
initializers are pycls' (`init_weights`), so parameter and flop counts are pycls'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union

import keras
from keras import layers, ops

from .ops import SeedSequence
from .point_models import PointModel, check_head_settings, classifier_head, model_input
from .validation import check_bool, check_choice, check_int, check_number, is_int

# "imagenet": pycls' simple_stem_in (3x3 conv, stride 2); "small": res_stem_cifar (stride 1).
STEMS: tuple[str, ...] = ("imagenet", "small")
STRIDES: tuple[int, ...] = (1, 2)
# Stage widths are multiples of this (the paper's quantization of w_i).
WIDTH_QUANTUM = 8

_STAGE_FIELDS = ("depths", "widths", "bottleneck_ratios", "group_widths", "strides")


@dataclass(frozen=True)
class AnyNetPoint:
    """One AnyNet network: the stem width and, per stage, depth, width, bottleneck ratio,
    group width and stride. Immutable, hashable, validated on construction, JSON round trip.

    Args:
        depths: d_i, blocks per stage (ints >= 1), one entry per stage.
        widths: w_i, output channels per stage (positive multiples of 8).
        bottleneck_ratios: b_i (ints >= 1); the bottleneck width is w_i / b_i, which must be
            an integer. (pycls stores the inverse, its "bot_mul" 1 / b_i.)
        group_widths: g_i, channels per group of the 3x3 conv; must divide w_i / b_i.
            `AnyNetPoint.compatible` makes raw values satisfy this as pycls does.
        strides: per stage, 1 or 2 (default 2 for every stage, as in the paper).
        stem_width: w_0, output channels of the stem conv (pycls' default 32).
        se_ratio: squeeze-excitation width as a share of the block's input width (RegNetY
            uses 0.25); 0 builds plain X blocks.

    Raises:
        TypeError: a field of the wrong type (a float depth, a string width).
        ValueError: no stage, per-stage fields of different lengths, or a value out of range;
            the message names the field, the stage and what is allowed.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottleneck_ratios: tuple[int, ...]
    group_widths: tuple[int, ...]
    strides: Optional[tuple[int, ...]] = None
    stem_width: int = 32
    se_ratio: float = 0.0

    def __post_init__(self):
        if self.strides is None:
            object.__setattr__(self, "strides", (2,) * _length(self.depths, "depths"))
        for name in _STAGE_FIELDS:
            object.__setattr__(self, name, _int_tuple(getattr(self, name), name))
        lengths = [len(getattr(self, name)) for name in _STAGE_FIELDS]
        if lengths[0] == 0:
            raise ValueError("An AnyNet needs at least one stage; received `depths=()`.")
        if len(set(lengths)) != 1:
            listed = ", ".join(f"{name}: {n}" for name, n in zip(_STAGE_FIELDS, lengths))
            raise ValueError(f"Every per-stage field needs one entry per stage; received {listed}.")
        object.__setattr__(self, "stem_width", check_int(self.stem_width, "stem_width", minimum=1))
        se_ratio = check_number(
            self.se_ratio, "se_ratio", minimum=0, maximum=1, max_inclusive=False
        )
        object.__setattr__(self, "se_ratio", se_ratio)
        for stage, (d, w, b, g, s) in enumerate(
            zip(self.depths, self.widths, self.bottleneck_ratios, self.group_widths, self.strides)
        ):
            _check_stage(stage, d, w, b, g, s)

    @property
    def num_stages(self) -> int:
        """Returns the number of stages."""
        return len(self.depths)

    @property
    def num_blocks(self) -> int:
        """Returns the number of X blocks, the sum of the depths."""
        return sum(self.depths)

    @property
    def bottleneck_widths(self) -> tuple[int, ...]:
        """Returns w_i / b_i per stage, the width of the 3x3 group conv."""
        return tuple(w // b for w, b in zip(self.widths, self.bottleneck_ratios))

    @property
    def groups(self) -> tuple[int, ...]:
        """Returns the number of groups of each stage's 3x3 conv, (w_i / b_i) / g_i."""
        return tuple(v // g for v, g in zip(self.bottleneck_widths, self.group_widths))

    @classmethod
    def compatible(
        cls,
        depths: Sequence[int],
        widths: Sequence[int],
        bottleneck_ratios: Sequence[int],
        group_widths: Sequence[int],
        strides: Optional[Sequence[int]] = None,
        stem_width: int = 32,
        se_ratio: float = 0.0,
    ) -> "AnyNetPoint":
        """Returns the point after pycls' compatibility adjustment of the widths and group
        widths (`adjust_block_compatibility`), so that each g_i divides w_i / b_i.

        Raises:
            TypeError, ValueError: as the constructor, for the adjusted values.
        """
        widths, group_widths = adjust_block_compatibility(widths, bottleneck_ratios, group_widths)
        return cls(
            depths=depths,
            widths=widths,
            bottleneck_ratios=bottleneck_ratios,
            group_widths=group_widths,
            strides=strides,
            stem_width=stem_width,
            se_ratio=se_ratio,
        )

    def to_dict(self) -> dict:
        """Returns the point as a JSON-able dict of plain lists and numbers."""
        data: dict[str, Any] = {"stem_width": self.stem_width}
        data.update({name: list(getattr(self, name)) for name in _STAGE_FIELDS})
        data["se_ratio"] = self.se_ratio
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "AnyNetPoint":
        """Returns the point `data` describes (see `to_dict`; `strides`, `stem_width` and
        `se_ratio` may be left out for their defaults).

        Raises:
            TypeError: `data` is not a mapping, or a field has the wrong type.
            ValueError: a missing or unknown key (named), or a bad value.
        """
        if not isinstance(data, Mapping):
            raise TypeError(
                f"An AnyNetPoint is described by a mapping; received {type(data).__name__}."
            )
        allowed = {"stem_width", "se_ratio", *_STAGE_FIELDS}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"Unknown AnyNetPoint key(s) {unknown}; allowed: {sorted(allowed)}.")
        missing = [name for name in _STAGE_FIELDS[:4] if name not in data]
        if missing:
            raise ValueError(f"AnyNetPoint key(s) {missing} missing; received {sorted(data)}.")
        return cls(**dict(data))

    def to_json(self, **kwargs) -> str:
        """Returns the point as a JSON string (keyword arguments go to `json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "AnyNetPoint":
        """Returns the point in JSON `text`.

        Raises:
            TypeError: `text` is not str or bytes.
            ValueError: not JSON, or not a valid point (see `from_dict`).
        """
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"`text` must be a JSON str or bytes; received {type(text).__name__}.")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"`text` is not valid JSON: {error}.") from None
        return cls.from_dict(data)


def _length(values: Any, name: str) -> int:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"`{name}` must be a sequence of ints, one per stage; received {values!r}.")
    return len(values)


def _int_tuple(values: Any, name: str) -> tuple[int, ...]:
    _length(values, name)
    for i, value in enumerate(values):
        if not is_int(value):
            raise TypeError(f"`{name}[{i}]` must be an int; received {value!r}.")
    return tuple(int(value) for value in values)


def _check_stage(stage: int, depth: int, width: int, ratio: int, group_width: int, stride: int):
    if depth < 1:
        raise ValueError(f"`depths[{stage}]` must be an int >= 1; received {depth}.")
    if width < WIDTH_QUANTUM or width % WIDTH_QUANTUM:
        raise ValueError(
            f"`widths[{stage}]` must be a positive multiple of {WIDTH_QUANTUM}; received {width}."
        )
    if ratio < 1:
        raise ValueError(f"`bottleneck_ratios[{stage}]` must be an int >= 1; received {ratio}.")
    if width % ratio:
        raise ValueError(
            f"Stage {stage}: width {width} is not divisible by its bottleneck ratio {ratio}; "
            "the bottleneck width w / b must be an integer."
        )
    if group_width < 1:
        raise ValueError(f"`group_widths[{stage}]` must be an int >= 1; received {group_width}.")
    if (width // ratio) % group_width:
        raise ValueError(
            f"Stage {stage}: group width {group_width} does not divide the bottleneck width "
            f"{width // ratio} (width {width} / bottleneck ratio {ratio}). "
            "`AnyNetPoint.compatible(...)` adjusts the widths as pycls does."
        )
    if stride not in STRIDES:
        raise ValueError(f"`strides[{stage}]` must be one of {STRIDES}; received {stride}.")


def adjust_block_compatibility(
    widths: Sequence[int], bottleneck_ratios: Sequence[int], group_widths: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Returns (widths, group_widths) made compatible as pycls' `adjust_block_compatibility`
    (`pycls/models/blocks.py`) does: each group width is capped at the bottleneck width
    v = w / b, v is rounded to the nearest multiple of the group width (Python's round, half
    to even, as pycls; never below one group) and w = v * b.

    Raises:
        TypeError: a value that is not an int.
        ValueError: sequences of different lengths or a value < 1.
    """
    widths = _int_tuple(widths, "widths")
    ratios = _int_tuple(bottleneck_ratios, "bottleneck_ratios")
    group_widths = _int_tuple(group_widths, "group_widths")
    if not len(widths) == len(ratios) == len(group_widths):
        raise ValueError(
            "`widths`, `bottleneck_ratios` and `group_widths` need one entry per stage; received "
            f"lengths {len(widths)}, {len(ratios)}, {len(group_widths)}."
        )
    for name, values in (("widths", widths), ("bottleneck_ratios", ratios)):
        for i, value in enumerate(values):
            if value < 1:
                raise ValueError(f"`{name}[{i}]` must be an int >= 1; received {value}.")
    for i, value in enumerate(group_widths):
        if value < 1:
            raise ValueError(f"`group_widths[{i}]` must be an int >= 1; received {value}.")
    new_widths, new_group_widths = [], []
    for w, b, g in zip(widths, ratios, group_widths):
        v = int(max(1, w / b))
        g = min(g, v)
        v = max(g, int(round(v / g) * g))
        new_widths.append(v * b)
        new_group_widths.append(g)
    return tuple(new_widths), tuple(new_group_widths)


class Complexity(NamedTuple):
    """A network's size as pycls counts it (`complexity`): trainable parameters, multiply-adds
    of one image's forward pass (pycls' "flops"), and activations (output elements of convs)."""

    params: int
    flops: int
    acts: int


def complexity(
    point: AnyNetPoint,
    input_size: int = 224,
    stem: str = "imagenet",
    classes: int = 1000,
    include_top: bool = True,
    input_channels: int = 3,
) -> Complexity:
    """Returns the `Complexity` of the `AnyNetModel` of `point` on square `input_size` images,
    counted by arithmetic (pycls' `AnyNet.complexity`), without building a model: its
    `params` equals the model's trainable parameter count.

    Raises:
        TypeError: `point` is not an AnyNetPoint, or a number of the wrong type.
        ValueError: an unknown stem or a value < 1.
    """
    point = _check_point(point)
    size = check_int(input_size, "input_size", minimum=1)
    stem = check_choice(stem, "stem", STEMS)
    classes = check_int(classes, "classes", minimum=1)
    input_channels = check_int(input_channels, "input_channels", minimum=1)
    total = {"params": 0, "flops": 0, "acts": 0}

    def conv(w_in, w_out, kernel, stride=1, groups=1, bias=False):
        nonlocal size
        size = (size - 1) // stride + 1
        total["params"] += kernel * kernel * w_in * w_out // groups + (w_out if bias else 0)
        total["flops"] += kernel * kernel * w_in * w_out * size * size // groups
        total["flops"] += w_out * size * size if bias else 0
        total["acts"] += w_out * size * size

    def batch_norm(width):
        total["params"] += 2 * width

    conv(input_channels, point.stem_width, 3, stride=2 if stem == "imagenet" else 1)
    batch_norm(point.stem_width)
    w_in = point.stem_width
    for stage in range(point.num_stages):
        w_out, v = point.widths[stage], point.bottleneck_widths[stage]
        stride, groups = point.strides[stage], point.groups[stage]
        for _ in range(point.depths[stage]):
            if stride != 1 or w_in != w_out:
                outer = size
                conv(w_in, w_out, 1, stride=stride)
                batch_norm(w_out)
                size = outer  # the projection runs beside the block, on its input
            conv(w_in, v, 1)
            batch_norm(v)
            conv(v, v, 3, stride=stride, groups=groups)
            batch_norm(v)
            se_width = _se_width(w_in, point.se_ratio)
            if se_width:
                outer = size
                size = 1
                conv(v, se_width, 1, bias=True)
                conv(se_width, v, 1, bias=True)
                size = outer
            conv(v, w_out, 1)
            batch_norm(w_out)
            stride, w_in = 1, w_out
    if include_top:
        total["params"] += w_in * classes + classes
        total["flops"] += w_in * classes + classes
    return Complexity(**total)


def _se_width(block_input_width: int, se_ratio: float) -> int:
    # pycls sizes the squeeze by the block's input width, not the bottleneck width it scales.
    return int(round(block_input_width * se_ratio))


def _check_point(point: Any) -> AnyNetPoint:
    if not isinstance(point, AnyNetPoint):
        raise TypeError(f"`point` must be an AnyNetPoint; received {type(point).__name__}.")
    return point


@keras.saving.register_keras_serializable(package="keras_nasnet")
class AnyNetModel(PointModel):
    """The Keras model of an `AnyNetPoint` (a RegNet too: `keras_nasnet.regnet.RegNet`).

    A functional model whose `get_config` holds the point and the settings, so
    `keras.saving.load_model` rebuilds it from them (as `NASNetModel` keeps its
    Architecture) and `model.point` tells what a `.keras` file holds.

    Args:
        point: the `AnyNetPoint` (or its dict, as `AnyNetPoint.to_dict` writes it).
        stem: "imagenet" (3x3 conv stride 2, as pycls' ImageNet models) or "small" (stride 1,
            for 28x28 / 32x32 images, as pycls' CIFAR models).
        include_top, input_shape, pooling, classes, classifier_activation, default_size: as
            in keras.applications (`default_size` defaults to 224 for the "imagenet" stem and
            32 for "small").
        dropout_rate: dropout before the classifier (0 in pycls).
        bn_momentum, bn_epsilon: of every BatchNormalization (pycls: 0.9 in Keras' sense,
            i.e. PyTorch's 0.1, and 1e-5).
        seed: seed of the initializers and the dropout; None lets Keras draw them.
        name: the model's name.

    Raises:
        TypeError: `point` is not an AnyNetPoint (or its dict), or a setting of the wrong type.
        ValueError: an invalid setting (unknown stem or pooling, too small an input).
    """

    point_from_dict = staticmethod(AnyNetPoint.from_dict)

    def __init__(
        self,
        point: Union[AnyNetPoint, Mapping],
        *,
        stem: str = "imagenet",
        include_top: bool = True,
        input_shape: Optional[Sequence] = None,
        pooling: Optional[str] = None,
        classes: int = 1000,
        classifier_activation="softmax",
        default_size: Optional[int] = None,
        dropout_rate: float = 0.0,
        bn_momentum: float = 0.9,
        bn_epsilon: float = 1e-5,
        seed: Optional[int] = None,
        name: str = "AnyNet",
        **kwargs,
    ):
        if isinstance(point, Mapping):
            point = AnyNetPoint.from_dict(point)
        point = _check_point(point)
        settings = _check_settings(
            dict(
                stem=stem,
                include_top=include_top,
                input_shape=input_shape,
                pooling=pooling,
                classes=classes,
                classifier_activation=classifier_activation,
                default_size=default_size,
                dropout_rate=dropout_rate,
                bn_momentum=bn_momentum,
                bn_epsilon=bn_epsilon,
                seed=seed,
            )
        )
        min_size = 32 if settings["stem"] == "imagenet" else 8
        img_input, _ = model_input(None, settings, min_size)
        outputs = _build_graph(point, settings, img_input)
        self._build_functional(
            img_input, outputs, name=name, point=point, settings=settings, kwargs=kwargs
        )

    @property
    def point(self) -> AnyNetPoint:
        """Returns the `AnyNetPoint` the model was built from."""
        return self._point


def _check_settings(settings: dict) -> dict:
    """Returns `settings` checked, with the defaults that depend on the stem filled in."""
    if keras.config.image_data_format() == "channels_first":
        raise ValueError(
            "AnyNetModel supports only the `channels_last` image data format; set it in "
            "~/.keras/keras.json or with keras.config.set_image_data_format."
        )
    check_choice(settings["stem"], "stem", STEMS)
    settings["include_top"] = check_bool(settings["include_top"], "include_top")
    settings["classes"] = check_int(settings["classes"], "classes", minimum=1)
    if settings["default_size"] is None:
        settings["default_size"] = 224 if settings["stem"] == "imagenet" else 32
    settings["default_size"] = check_int(settings["default_size"], "default_size", minimum=1)
    settings["dropout_rate"] = check_number(
        settings["dropout_rate"], "dropout_rate", minimum=0, maximum=1, max_inclusive=False
    )
    settings["bn_momentum"] = check_number(
        settings["bn_momentum"], "bn_momentum", minimum=0, maximum=1
    )
    settings["bn_epsilon"] = check_number(
        settings["bn_epsilon"], "bn_epsilon", minimum=0, min_inclusive=False
    )
    settings["seed"] = check_int(settings["seed"], "seed", allow_none=True)
    return check_head_settings(settings)


GROUP_CONV_IMPLEMENTATIONS = ("auto", "native", "block_diagonal", "depthwise")


@keras.saving.register_keras_serializable(package="keras_nasnet")
class GroupConv2D(layers.Layer):
    """A bias-free convolution whose input and output channels form groups of `group_width`
    channels, each group convolved on its own (ResNeXt's and pycls' group conv).

    The kernel is `keras.layers.Conv2D(groups=...)`'s, shape (k, k, group_width, filters), so
    the weights and their count are the same whichever way the layer computes. Ways:
    "native" is `keras.ops.conv` with that kernel; "block_diagonal" a full conv with the
    kernel spread over a block-diagonal one (groups x the multiply-adds); "depthwise" a
    depthwise conv with `group_width` outputs per channel, summed per group (group_width x
    the activations). TensorFlow computes a native grouped conv on CPU through XLA, and its
    gradient there is an order of magnitude slower or more than either other way, so "auto"
    takes "native" on a GPU or on another backend and otherwise the cheaper of the two (the
    one whose factor, groups or group_width, is smaller).

    Args:
        filters: output channels, equal to the input channels and a multiple of `group_width`.
        kernel_size: the square kernel's side.
        group_width: channels per group.
        strides, padding: as `keras.layers.Conv2D`'s ("same" or "valid").
        implementation: "auto", "native", "block_diagonal" or "depthwise".
        kernel_initializer: the kernel's initializer.

    Raises:
        TypeError, ValueError: a bad argument; at build, input channels other than `filters`.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        group_width: int,
        strides: int = 1,
        padding: str = "same",
        implementation: str = "auto",
        kernel_initializer="he_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.group_width = check_int(group_width, "group_width", minimum=1)
        if self.filters % self.group_width:
            raise ValueError(
                f"`filters` ({self.filters}) must be a multiple of `group_width` "
                f"({self.group_width})."
            )
        self.strides = check_int(strides, "strides", minimum=1)
        self.padding = check_choice(padding, "padding", ("same", "valid"))
        self.implementation = check_choice(
            implementation, "implementation", GROUP_CONV_IMPLEMENTATIONS
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def groups(self) -> int:
        """Returns the number of groups, filters / group_width."""
        return self.filters // self.group_width

    def build(self, input_shape):
        """Creates the kernel and settles the way of computing ("auto")."""
        if input_shape[-1] != self.filters:
            raise ValueError(
                f"GroupConv2D {self.name!r} maps {self.filters} channels to as many; its input "
                f"has {input_shape[-1]}."
            )
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, self.group_width, self.filters),
            initializer=self.kernel_initializer,
        )
        self._way = self.implementation
        if self._way == "auto":
            self._way = "native" if _native_group_conv_is_fast() else self._cheaper_way()

    def _cheaper_way(self) -> str:
        return "block_diagonal" if self.groups <= self.group_width else "depthwise"

    def call(self, x):
        """Returns the grouped convolution of `x`."""
        k, g, n, v = self.kernel_size, self.group_width, self.groups, self.filters
        if self._way == "native":
            return ops.conv(x, self.kernel, self.strides, self.padding)
        # The kernel as [row, column, input member i, group l, output member m].
        kernel = ops.reshape(self.kernel, (k, k, g, n, g))
        if self._way == "block_diagonal":
            full = ops.einsum("abilm,kl->abkilm", kernel, ops.eye(n, dtype=kernel.dtype))
            return ops.conv(x, ops.reshape(full, (k, k, v, v)), self.strides, self.padding)
        # Depthwise: channel l * g + i yields g outputs, one per output member m of group l.
        depthwise = ops.reshape(ops.transpose(kernel, (0, 1, 3, 2, 4)), (k, k, v, g))
        y = ops.depthwise_conv(x, depthwise, self.strides, self.padding)
        height, width = ops.shape(y)[1], ops.shape(y)[2]
        y = ops.sum(ops.reshape(y, (-1, height, width, n, g, g)), axis=4)
        return ops.reshape(y, (-1, height, width, v))

    def compute_output_shape(self, input_shape):
        """Returns the output shape for `input_shape` (batch, height, width, channels)."""

        def side(size):
            if size is None:
                return None
            if self.padding == "same":
                return -(-size // self.strides)
            return (size - self.kernel_size) // self.strides + 1

        return (input_shape[0], side(input_shape[1]), side(input_shape[2]), self.filters)

    def get_config(self) -> dict:
        """Returns the layer's arguments."""
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "group_width": self.group_width,
            "strides": self.strides,
            "padding": self.padding,
            "implementation": self.implementation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def _native_group_conv_is_fast() -> bool:
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


class _Builder:
    """What every layer of one model shares: BN settings and the seeds of the initializers."""

    def __init__(self, settings: dict):
        self.momentum = settings["bn_momentum"]
        self.epsilon = settings["bn_epsilon"]
        self.seeds = SeedSequence(settings["seed"])

    def conv(self, x, filters, kernel, name, stride=1, group_width=None):
        """Returns `x` after a bias-free conv with pycls' symmetric padding (k - 1) // 2, in
        groups of `group_width` channels when that is less than `filters`."""
        padding = "valid" if kernel == 1 else "same"
        if kernel > 1 and stride > 1:
            # TensorFlow's "same" pads a strided conv on an even input only after it; pycls
            # pads both sides, which shifts every window by one pixel.
            x = layers.ZeroPadding2D((kernel - 1) // 2, name=f"{name}_pad")(x)
            padding = "valid"
        if group_width is not None and group_width < filters:
            return GroupConv2D(
                filters,
                kernel,
                group_width,
                strides=stride,
                padding=padding,
                kernel_initializer=self.conv_initializer(),
                name=name,
            )(x)
        return layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=padding,
            use_bias=False,
            kernel_initializer=self.conv_initializer(),
            name=name,
        )(x)

    def conv_initializer(self):
        """Returns pycls' conv init: normal, std sqrt(2 / fan_out), fan_out = k * k * c_out."""
        return keras.initializers.VarianceScaling(
            2.0, "fan_out", "untruncated_normal", seed=self.seeds.next()
        )

    def batch_norm(self, x, name):
        """Returns `x` after BatchNormalization named `name`."""
        return layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon, name=name)(x)


def _x_block(builder: _Builder, x, w_in, w_out, stride, point: AnyNetPoint, stage: int, name):
    """Returns the output of one X block (pycls' ResBottleneckBlock)."""
    v = point.bottleneck_widths[stage]
    shortcut = x
    if stride != 1 or w_in != w_out:
        shortcut = builder.conv(x, w_out, 1, f"{name}_proj", stride=stride)
        shortcut = builder.batch_norm(shortcut, f"{name}_proj_bn")
    y = builder.conv(x, v, 1, f"{name}_a")
    y = builder.batch_norm(y, f"{name}_a_bn")
    y = layers.ReLU(name=f"{name}_a_relu")(y)
    y = builder.conv(y, v, 3, f"{name}_b", stride=stride, group_width=point.group_widths[stage])
    y = builder.batch_norm(y, f"{name}_b_bn")
    y = layers.ReLU(name=f"{name}_b_relu")(y)
    se_width = _se_width(w_in, point.se_ratio)
    if se_width:
        y = _squeeze_excite(builder, y, v, se_width, f"{name}_se")
    y = builder.conv(y, w_out, 1, f"{name}_c")
    y = builder.batch_norm(y, f"{name}_c_bn")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def _squeeze_excite(builder: _Builder, x, width, se_width, name):
    """Returns `x` scaled per channel by pycls' SE: pool, 1x1 conv + ReLU, 1x1 conv + sigmoid."""
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    for filters, activation, suffix in ((se_width, "relu", "reduce"), (width, "sigmoid", "expand")):
        s = layers.Conv2D(
            filters,
            1,
            activation=activation,
            kernel_initializer=builder.conv_initializer(),
            name=f"{name}_{suffix}",
        )(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def _build_graph(point: AnyNetPoint, settings: dict, img_input):
    """Returns the output of the AnyNet `point` and `settings` describe, built on `img_input`."""
    builder = _Builder(settings)
    stem_stride = 2 if settings["stem"] == "imagenet" else 1
    x = builder.conv(img_input, point.stem_width, 3, "stem_conv", stride=stem_stride)
    x = builder.batch_norm(x, "stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    w_in = point.stem_width
    for stage in range(point.num_stages):
        stride = point.strides[stage]
        for block in range(point.depths[stage]):
            name = f"s{stage + 1}_b{block + 1}"
            x = _x_block(builder, x, w_in, point.widths[stage], stride, point, stage, name)
            stride, w_in = 1, point.widths[stage]
    return classifier_head(
        x,
        settings,
        next_seed=builder.seeds.next,
        kernel_initializer=lambda: keras.initializers.RandomNormal(
            stddev=0.01, seed=builder.seeds.next()
        ),
    )

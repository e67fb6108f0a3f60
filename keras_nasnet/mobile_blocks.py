"""Mobile blocks (MnasNet's factorized hierarchical space): one block as a value, its string
form, and the Keras layers it builds.

A `MobileBlock` is one block of a mobile network: a layer repeated `repeats` times, of which
only the first strides and changes the width. Its string form is the one of tensorflow/tpu's
MnasNet code (`models/official/mnasnet/mnasnet_models.py`):

    r2_k3_s22_e6_i16_o24_se0.25_noskip
    r repeats, k kernel, s strides (two digits), e expansion, i / o input and output filters,
    se squeeze-and-excitation ratio (optional), noskip (optional: no identity skip)

plus one token of this package for the search space's regular convolution, `regular`.

What one layer builds (tensorflow/tpu's MnasBlock; every BN is followed by ReLU except the
projection's, which stays linear):
- depthwise, expansion e > 1 (MBConv): 1x1 conv to i*e -> BN -> ReLU -> k x k depthwise conv
  (strided) -> BN -> ReLU -> [SE] -> 1x1 conv to o -> BN;
- depthwise, e = 1 (the paper's "SepConv"): the same without the 1x1 expansion;
- regular (e must be 1): k x k conv to o (strided) -> BN -> ReLU -> [SE];
- SE: global average -> 1x1 conv to max(1, int(i * se)) + bias -> ReLU -> 1x1 conv back to the
  block's inner width + bias -> sigmoid -> times the block's inner tensor;
- identity skip (added last) only where the layer does not stride, i == o and not noskip.

The block's declared `input_filters` decides the expansion width, the SE width and whether a
skip applies, as in the reference; the builder checks that a skip adds tensors of one width.
This module knows no model (no stem, head or zoo): a point of the MnasNet space is a list of
these blocks, and `keras_nasnet.mnasnet` builds a network from one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Union

import keras
from keras import layers

from .ops import LayerSettings
from .validation import ArgumentTypeError, check_bool, check_choice, check_int, check_number

CONV_TYPES = ("depthwise", "regular")
_TOKEN = re.compile(r"^([a-z]+)(\d.*)?$")
_NUMERIC_KEYS = ("r", "k", "s", "e", "i", "o", "se")
_REQUIRED_KEYS = ("r", "k", "s", "e", "i", "o")
_FLAGS = ("noskip", "regular")


@dataclass(frozen=True)
class MobileBlock:
    """One block of a mobile network (see the module docstring for what it builds).

    Attributes:
        repeats: layers in the block; only the first strides and changes the width.
        kernel_size: side of the (depthwise or regular) convolution's square kernel, odd.
        strides: (rows, columns) strides of the block's first layer, each 1 to 9.
        expansion: width of the inner tensor over the input width (MBConv); 1 for none.
        input_filters, output_filters: declared input width and output width.
        se_ratio: squeeze-and-excitation width over `input_filters`; 0 for no SE.
        skip: whether an identity skip may be added (False is the string's "noskip").
        conv: "depthwise" (SepConv and MBConv) or "regular" (a full k x k convolution).

    Raises:
        ValueError: a value out of range. TypeError: a value of the wrong type.
    """

    repeats: int
    kernel_size: int
    strides: tuple
    expansion: int
    input_filters: int
    output_filters: int
    se_ratio: float = 0.0
    skip: bool = True
    conv: str = "depthwise"

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalized values are set once, here
        set_(self, "repeats", check_int(self.repeats, "repeats", minimum=1))
        kernel = check_int(self.kernel_size, "kernel_size", minimum=1, maximum=9)
        if kernel % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd (1, 3, 5, 7 or 9); received {kernel}.")
        set_(self, "kernel_size", kernel)
        set_(self, "strides", _check_strides(self.strides))
        set_(self, "expansion", check_int(self.expansion, "expansion", minimum=1))
        for argument in ("input_filters", "output_filters"):
            set_(self, argument, check_int(getattr(self, argument), argument, minimum=1))
        set_(self, "se_ratio", float(check_number(self.se_ratio, "se_ratio", minimum=0, maximum=1)))
        set_(self, "skip", check_bool(self.skip, "skip"))
        set_(self, "conv", check_choice(self.conv, "conv", CONV_TYPES))
        if self.conv == "regular" and self.expansion != 1:
            raise ValueError(
                "A regular-conv block has no expansion: `expansion` must be 1 with "
                f"conv='regular'; received {self.expansion}."
            )

    @property
    def op(self) -> str:
        """Returns the paper's name of the block's op: "conv", "dconv" (SepConv) or "mbconv"."""
        if self.conv == "regular":
            return "conv"
        return "dconv" if self.expansion == 1 else "mbconv"

    @property
    def has_se(self) -> bool:
        """Returns whether the block's layers squeeze and excite."""
        return self.se_ratio > 0

    @property
    def has_identity_skip(self) -> bool:
        """Returns whether the block's first layer adds its input: it does not stride, keeps
        the width and the block allows skips."""
        return self.skip and self.strides == (1, 1) and self.input_filters == self.output_filters

    def layers(self) -> list:
        """Returns the block's layers as one-repeat blocks: the first as declared, the others
        at stride 1 from the output width (so those skip unless noskip)."""
        first = replace(self, repeats=1)
        rest = replace(first, strides=(1, 1), input_filters=self.output_filters)
        return [first] + [rest] * (self.repeats - 1)

    def scaled(
        self, depth_multiplier: float, divisor: int = 8, min_depth: Optional[int] = None
    ) -> "MobileBlock":
        """Returns the block with both widths scaled by `depth_multiplier` (`round_filters`).

        Raises:
            ValueError: an invalid multiplier, divisor or min_depth.
        """
        return replace(
            self,
            input_filters=round_filters(self.input_filters, depth_multiplier, divisor, min_depth),
            output_filters=round_filters(self.output_filters, depth_multiplier, divisor, min_depth),
        )

    def to_string(self) -> str:
        """Returns the block's string, e.g. "r2_k3_s22_e6_i16_o24_se0.25"."""
        tokens = [
            f"r{self.repeats}",
            f"k{self.kernel_size}",
            f"s{self.strides[0]}{self.strides[1]}",
            f"e{self.expansion}",
            f"i{self.input_filters}",
            f"o{self.output_filters}",
        ]
        if self.has_se:
            tokens.append(f"se{self.se_ratio:g}")
        if not self.skip:
            tokens.append("noskip")
        if self.conv == "regular":
            tokens.append("regular")
        return "_".join(tokens)

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def from_string(cls, text: str) -> "MobileBlock":
        """Returns the block a string describes ("r1_k3_s11_e1_i32_o16_noskip").

        Raises:
            TypeError: `text` is not a str.
            ValueError: an unknown, repeated, missing or malformed token, or a value out of
                range; the message names the string and the token.
        """
        if not isinstance(text, str):
            raise ArgumentTypeError(
                f"A block string must be a str; received {type(text).__name__} {text!r}."
            )
        options, flags = {}, set()
        for token in text.strip().split("_"):
            match = _TOKEN.match(token)
            key, value = (match.group(1), match.group(2)) if match else (token, None)
            if match and value is None and key in _FLAGS:
                if key in flags:
                    raise ValueError(f"Block string {text!r} repeats the token {key!r}.")
                flags.add(key)
                continue
            if not match or key not in _NUMERIC_KEYS or value is None:
                raise ValueError(
                    f"Block string {text!r} has an unknown token {token!r}; allowed: "
                    "r<repeats> k<kernel> s<row stride><column stride> e<expansion> i<input "
                    "filters> o<output filters> [se<ratio>] [noskip] [regular], joined by '_', "
                    "e.g. 'r2_k3_s22_e6_i16_o24_se0.25'."
                )
            if key in options:
                raise ValueError(f"Block string {text!r} repeats the token {key!r}.")
            options[key] = value
        missing = [key for key in _REQUIRED_KEYS if key not in options]
        if missing:
            raise ValueError(
                f"Block string {text!r} lacks {', '.join(repr(k) for k in missing)}; it needs "
                "r, k, s, e, i and o, e.g. 'r1_k3_s11_e1_i32_o16'."
            )
        if not re.fullmatch(r"\d\d", options["s"]):
            raise ValueError(
                f"Block string {text!r}: strides must be two digits (rows, columns), e.g. 's22'; "
                f"received 's{options['s']}'."
            )
        values = {}
        for key, name in (("r", "repeats"), ("k", "kernel"), ("e", "expansion")):
            values[key] = _parse_int(options[key], key, name, text)
        values["i"] = _parse_int(options["i"], "i", "input filters", text)
        values["o"] = _parse_int(options["o"], "o", "output filters", text)
        se_ratio = 0.0
        if "se" in options:
            try:
                se_ratio = float(options["se"])
            except ValueError:
                raise ValueError(
                    f"Block string {text!r}: 'se' must be a ratio in [0, 1] such as 'se0.25'; "
                    f"received 'se{options['se']}'."
                ) from None
        try:
            return cls(
                repeats=values["r"],
                kernel_size=values["k"],
                strides=(int(options["s"][0]), int(options["s"][1])),
                expansion=values["e"],
                input_filters=values["i"],
                output_filters=values["o"],
                se_ratio=se_ratio,
                skip="noskip" not in flags,
                conv="regular" if "regular" in flags else "depthwise",
            )
        except ValueError as error:
            raise ValueError(f"Block string {text!r}: {error}") from None


def _parse_int(value: str, key: str, name: str, text: str) -> int:
    if not value.isdigit():
        raise ValueError(
            f"Block string {text!r}: {key!r} ({name}) must be a whole number; "
            f"received {key + value!r}."
        )
    return int(value)


def _check_strides(strides) -> tuple:
    if isinstance(strides, int) and not isinstance(strides, bool):
        strides = (strides, strides)
    if not isinstance(strides, (tuple, list)) or len(strides) != 2:
        raise ArgumentTypeError(
            f"`strides` must be an int or a pair of ints (rows, columns); received {strides!r}."
        )
    return tuple(check_int(s, "strides", minimum=1, maximum=9) for s in strides)


def parse_blocks(blocks: Union[str, Iterable]) -> tuple:
    """Returns a tuple of `MobileBlock`s from block strings, blocks, or one space-separated
    string of block strings.

    Raises:
        TypeError: an item that is neither a str nor a `MobileBlock`.
        ValueError: an empty list or a malformed block string.
    """
    if isinstance(blocks, str):
        blocks = blocks.split()
    if isinstance(blocks, MobileBlock):
        blocks = [blocks]
    try:
        items = list(blocks)
    except TypeError:
        raise ArgumentTypeError(
            "`blocks` must be a list of block strings or MobileBlocks; received "
            f"{type(blocks).__name__}."
        ) from None
    if not items:
        raise ValueError("`blocks` must hold at least one block; received an empty list.")
    return tuple(b if isinstance(b, MobileBlock) else MobileBlock.from_string(b) for b in items)


def format_blocks(blocks: Iterable) -> list:
    """Returns the block strings of `blocks` (MobileBlocks or strings), in order.

    Raises:
        TypeError, ValueError: as `parse_blocks`.
    """
    return [block.to_string() for block in parse_blocks(blocks)]


def round_filters(
    filters: int, depth_multiplier: float, divisor: int = 8, min_depth: Optional[int] = None
) -> int:
    """Returns `filters` x `depth_multiplier` rounded to the nearest multiple of `divisor`,
    at least `min_depth` (default `divisor`) and never more than 10% below the product
    (tensorflow/tpu's round_filters).

    Raises:
        ValueError: a multiplier that is not positive, or a divisor or min_depth < 1.
    """
    check_number(depth_multiplier, "depth_multiplier", minimum=0, min_inclusive=False)
    divisor = check_int(divisor, "depth_divisor", minimum=1)
    min_depth = check_int(min_depth, "min_depth", minimum=1, allow_none=True) or divisor
    scaled = filters * depth_multiplier
    rounded = max(min_depth, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


# -- the Keras layers of one block ----------------------------------------------------------------


def _conv_initializer(shared: LayerSettings):
    # tensorflow/tpu's conv_kernel_initializer: normal, stddev sqrt(2 / fan_out).
    return keras.initializers.VarianceScaling(
        2.0, "fan_out", "untruncated_normal", seed=shared.seeds.next()
    )


def _bn(x, name: str, shared: LayerSettings, relu: bool):
    """Returns `x` after BN named `name` + "_bn" (then ReLU named `name` + "_relu")."""
    x = layers.BatchNormalization(
        momentum=shared.momentum, epsilon=shared.epsilon, name=f"{name}_bn"
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _conv(x, filters: int, kernel: int, strides, name: str, shared: LayerSettings):
    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=_conv_initializer(shared),
        name=name,
    )(x)


def squeeze_excite(x, reduced_filters: int, name: str, shared: LayerSettings):
    """Returns `x` times its squeeze-and-excitation gate (global average -> 1x1 conv to
    `reduced_filters` -> ReLU -> 1x1 conv back -> sigmoid), layers named `name` + "_se_*"."""
    width = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    for filters, activation, part in (
        (reduced_filters, "relu", "reduce"),
        (width, "sigmoid", "expand"),
    ):
        s = layers.Conv2D(
            filters,
            1,
            activation=activation,
            kernel_initializer=_conv_initializer(shared),
            name=f"{name}_se_{part}",
        )(s)
    return layers.Multiply(name=f"{name}_se_excite")([x, s])


def build_layer(x, block: MobileBlock, name: str, shared: LayerSettings):
    """Returns the output of one layer of `block` (its first: strided, declared widths) on `x`,
    its layers named `name` + "_expand_conv", "_dw_conv", "_se_*", "_project_conv", ... .

    Raises:
        ValueError: the layer adds an identity skip but `x`'s width is not the output width.
    """
    inputs = x
    if block.conv == "regular":
        x = _conv(x, block.output_filters, block.kernel_size, block.strides, f"{name}_conv", shared)
        x = _bn(x, name, shared, relu=True)
    else:
        if block.expansion != 1:
            x = _conv(x, block.input_filters * block.expansion, 1, 1, f"{name}_expand_conv", shared)
            x = _bn(x, f"{name}_expand", shared, relu=True)
        x = layers.DepthwiseConv2D(
            block.kernel_size,
            strides=block.strides,
            padding="same",
            use_bias=False,
            depthwise_initializer=_conv_initializer(shared),
            name=f"{name}_dw_conv",
        )(x)
        x = _bn(x, f"{name}_dw", shared, relu=True)
    if block.has_se:
        x = squeeze_excite(x, max(1, int(block.input_filters * block.se_ratio)), name, shared)
    if block.conv != "regular":
        x = _conv(x, block.output_filters, 1, 1, f"{name}_project_conv", shared)
        x = _bn(x, f"{name}_project", shared, relu=False)
    if block.has_identity_skip:
        if inputs.shape[-1] != block.output_filters:
            raise ValueError(
                f"Block {block} ({name}) adds an identity skip, but its input has "
                f"{inputs.shape[-1]} channels, not {block.output_filters}: make the previous "
                "block's output filters equal this block's input filters, or add 'noskip'."
            )
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def build_block(x, block: MobileBlock, name: str, shared: LayerSettings):
    """Returns the output of all of `block`'s layers on `x`; layer j's names start with `name`
    and the letter a, b, c, ... (`name` + "a_dw_conv", as keras.applications' EfficientNet).

    Raises:
        ValueError: as `build_layer`.
    """
    for j, layer in enumerate(block.layers()):
        suffix = chr(ord("a") + j) if j < 26 else f"_{j}"
        x = build_layer(x, layer, f"{name}{suffix}", shared)
    return x

"""MnasNet's factorized hierarchical space (Tan et al., CVPR 2019) as keras-tuner decisions.

A skeleton of blocks (by default MobileNetV2's seven: output filters, layers and stride of
each) and, per block i, six scalar decisions in the paper's order: ``block_{i}_op`` ("regular"
conv, "dw" depthwise without expansion, "mbconv3", "mbconv6"), ``block_{i}_kernel`` (3, 5),
``block_{i}_se_ratio`` (0, 0.25), ``block_{i}_skip`` (identity skip or none),
``block_{i}_filters`` (0.75, 1.0, 1.25 x the skeleton's, rounded to multiples of 8) and
``block_{i}_layers`` (the skeleton's -1, 0, +1, at least 1). The filters and layers choices are
the distinct resulting values (16 x 0.75 and 16 x 1.0 both round to 16), so that values and
blocks map one to one. A point is a tuple of `MobileBlock`s; the strides are the skeleton's.

    space = MnasNetSearchSpace()
    tuner = keras_tuner.Tuner(
        oracle=ControllerOracle(objective="val_accuracy", max_trials=100,
                                reward=MnasNetReward(target_ms=75).from_trial),
        hypermodel=MnasNetHyperModel(space, input_shape=(224, 224, 3), classes=1000,
                                     latency="int8"),
    )
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import keras
import keras_tuner

from ...mnasnet import MIN_INPUT_SIZE, MnasNetModel
from ...mobile_blocks import MobileBlock, format_blocks, parse_blocks, round_filters
from ...validation import check_int, check_number, check_positive
from ..evaluators.latency import model_latency_ms
from ..evaluators.reward import LATENCY_METRIC
from .decisions import DecisionSpace
from .declared import DeclaredSpace
from .trial_metrics import PARAMS_METRIC, record_each_epoch

__all__ = [
    "BASES",
    "CONV_OPS",
    "MnasNetHyperModel",
    "MnasNetSearchSpace",
    "SMALL_IMAGE_STRIDES",
]

# (output filters, layers, stride) of each block.
BASES = {
    # The paper's skeleton: MobileNetV2's seven blocks after its stem.
    "mobilenet_v2": (
        (16, 1, 1),
        (24, 2, 2),
        (32, 3, 2),
        (64, 4, 2),
        (96, 3, 1),
        (160, 3, 2),
        (320, 1, 1),
    ),
    # MnasNet-A1's widths and layers: A1 is the point at ratio 1.0 and layers +0.
    "a1": ((16, 1, 1), (24, 2, 2), (40, 3, 2), (80, 4, 2), (112, 2, 1), (160, 3, 2), (320, 1, 1)),
}
# For 28x28 (padded to 32) images: the stem halves to 16, two strided blocks leave 4x4.
SMALL_IMAGE_STRIDES = (1, 2, 2, 1, 1, 1, 1)
# op -> (MobileBlock.conv, expansion)
CONV_OPS = {
    "regular": ("regular", 1),
    "dw": ("depthwise", 1),
    "mbconv3": ("depthwise", 3),
    "mbconv6": ("depthwise", 6),
}
KERNEL_SIZES = (3, 5)
SE_RATIOS = (0.0, 0.25)
FILTER_RATIOS = (0.75, 1.0, 1.25)
LAYER_DELTAS = (-1, 0, 1)
DECISIONS = ("op", "kernel", "se_ratio", "skip", "filters", "layers")


def _check_base(base) -> tuple:
    if isinstance(base, str):
        if base not in BASES:
            raise ValueError(
                f"`base` must be one of {sorted(BASES)} or triples; received {base!r}."
            )
        return BASES[base]
    if not isinstance(base, Sequence) or not base:
        raise ValueError(
            "`base` must be a name or a non-empty sequence of (filters, layers, stride); "
            f"received {base!r}."
        )
    checked = []
    for i, entry in enumerate(base):
        if not isinstance(entry, Sequence) or len(entry) != 3:
            raise ValueError(f"`base[{i}]` must be (filters, layers, stride); received {entry!r}.")
        checked.append(
            (
                check_int(entry[0], f"base[{i}] filters", minimum=1),
                check_int(entry[1], f"base[{i}] layers", minimum=1),
                check_int(entry[2], f"base[{i}] stride", minimum=1, maximum=9),
            )
        )
    return tuple(checked)


def _check_choices(values, name: str, allowed: Sequence) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"`{name}` must be a non-empty sequence; received {values!r}.")
    bad = [v for v in values if v not in allowed]
    if bad or len(set(values)) != len(values):
        raise ValueError(
            f"`{name}` must hold distinct values of {list(allowed)}; received {values!r}."
        )
    return tuple(values)


class MnasNetSearchSpace(DeclaredSpace):
    """The factorized hierarchical space: per block its op, kernel, SE ratio, skip, filters and
    layers around a skeleton.

    Args:
        base: "mobilenet_v2" (the paper's), "a1" (MnasNet-A1's widths and layers), or a sequence
            of (output filters, layers, stride) per block.
        strides: one stride per block replacing the skeleton's (e.g. `SMALL_IMAGE_STRIDES`
            for 28x28 images); None keeps them.
        stem_filters: the stem's width, the first block's declared input.
        depth_coefficient: scales the skeleton's layers (ceil, at least 1) before the deltas,
            for small models.
        conv_ops, kernel_sizes, se_ratios, filter_ratios, layer_deltas: the choices, each a
            non-empty list of distinct values (the paper's by default; ops from `CONV_OPS`).

    Raises:
        ValueError: a bad skeleton, stride list, count or choice list (named).
    """

    def __init__(
        self,
        base: Union[str, Sequence] = "mobilenet_v2",
        strides: Optional[Sequence[int]] = None,
        stem_filters: int = 32,
        depth_coefficient: float = 1.0,
        conv_ops: Sequence[str] = tuple(CONV_OPS),
        kernel_sizes: Sequence[int] = KERNEL_SIZES,
        se_ratios: Sequence[float] = SE_RATIOS,
        filter_ratios: Sequence[float] = FILTER_RATIOS,
        layer_deltas: Sequence[int] = LAYER_DELTAS,
    ):
        skeleton = _check_base(base)
        if strides is not None:
            if isinstance(strides, (str, bytes)) or not isinstance(strides, Sequence):
                raise ValueError(f"`strides` must be a sequence of ints; received {strides!r}.")
            if len(strides) != len(skeleton):
                raise ValueError(
                    f"`strides` must hold one stride per block ({len(skeleton)}); received "
                    f"{list(strides)}."
                )
            skeleton = tuple(
                (f, n, check_int(s, f"strides[{i}]", minimum=1, maximum=9))
                for i, ((f, n, _), s) in enumerate(zip(skeleton, strides))
            )
        self.skeleton = skeleton
        self.stem_filters = check_int(stem_filters, "stem_filters", minimum=1)
        self.depth_coefficient = check_number(
            depth_coefficient, "depth_coefficient", minimum=0, min_inclusive=False
        )
        self.conv_ops = _check_choices(conv_ops, "conv_ops", tuple(CONV_OPS))
        self.kernel_sizes = _check_choices(kernel_sizes, "kernel_sizes", (1, 3, 5, 7, 9))
        self.se_ratios = tuple(
            float(check_number(r, "se_ratios[...]", minimum=0, maximum=1))
            for r in _check_choices(se_ratios, "se_ratios", se_ratios)
        )
        self.filter_ratios = tuple(
            check_positive(r, "filter_ratios[...]")
            for r in _check_choices(filter_ratios, "filter_ratios", filter_ratios)
        )
        self.layer_deltas = tuple(
            check_int(d, "layer_deltas[...]")
            for d in _check_choices(layer_deltas, "layer_deltas", layer_deltas)
        )
        self._decisions: Optional[DecisionSpace] = None

    def __repr__(self) -> str:
        return (
            f"MnasNetSearchSpace(base={self.skeleton}, stem_filters={self.stem_filters}, "
            f"depth_coefficient={self.depth_coefficient})"
        )

    @property
    def num_blocks(self) -> int:
        """Returns the number of blocks of every point."""
        return len(self.skeleton)

    def filter_choices(self, index: int) -> tuple:
        """Returns the distinct output widths block `index` chooses among, ascending."""
        base = self.skeleton[index][0]
        return tuple(sorted({round_filters(base, r) for r in self.filter_ratios}))

    def layer_choices(self, index: int) -> tuple:
        """Returns the distinct layer counts block `index` chooses among, ascending."""
        base = max(1, math.ceil(self.skeleton[index][1] * self.depth_coefficient))
        return tuple(sorted({max(1, base + d) for d in self.layer_deltas}))

    def choices(self, index: int) -> dict:
        """Returns `{decision: allowed values}` of block `index` in the paper's order."""
        return {
            "op": list(self.conv_ops),
            "kernel": list(self.kernel_sizes),
            "se_ratio": list(self.se_ratios),
            "skip": [False, True],
            "filters": list(self.filter_choices(index)),
            "layers": list(self.layer_choices(index)),
        }

    # -- keras-tuner -------------------------------------------------------------------------

    def declare(self, hp) -> dict:
        """Declares every decision on `hp` (a `keras_tuner.HyperParameters`), block by block in
        the paper's order, and returns `{name: value}` of the values `hp` holds now."""
        values = {}
        for i in range(self.num_blocks):
            for decision, allowed in self.choices(i).items():
                name = f"block_{i}_{decision}"
                if decision == "skip":
                    values[name] = hp.Boolean(name, default=True)
                else:
                    values[name] = hp.Choice(name, allowed)
        return values

    # -- values <-> blocks -------------------------------------------------------------------

    def architecture(self, values) -> tuple:
        """Returns the tuple of `MobileBlock`s of hyperparameter `values` (a dict or a
        `keras_tuner.HyperParameters`); each block's input is the previous block's output
        (the stem's for the first).

        Raises:
            ValueError: a value is missing or outside this space.
        """
        if isinstance(values, keras_tuner.HyperParameters):
            values = values.values
        if not isinstance(values, Mapping):
            raise TypeError(f"`values` must be a dict or HyperParameters; received {values!r}.")
        blocks, input_filters = [], self.stem_filters
        for i, (_, _, stride) in enumerate(self.skeleton):
            chosen = {}
            for decision, allowed in self.choices(i).items():
                name = f"block_{i}_{decision}"
                if name not in values:
                    raise ValueError(f"`values` lacks {name!r}; it has {sorted(values)}.")
                if values[name] not in allowed:
                    raise ValueError(
                        f"{name}={values[name]!r} is outside this space; allowed: {allowed}."
                    )
                chosen[decision] = values[name]
            conv, expansion = CONV_OPS[chosen["op"]]
            blocks.append(
                MobileBlock(
                    repeats=chosen["layers"],
                    kernel_size=chosen["kernel"],
                    strides=(stride, stride),
                    expansion=expansion,
                    input_filters=input_filters,
                    output_filters=chosen["filters"],
                    se_ratio=chosen["se_ratio"],
                    skip=bool(chosen["skip"]),
                    conv=conv,
                )
            )
            input_filters = chosen["filters"]
        return tuple(blocks)

    def values(self, blocks) -> dict:
        """Returns the `{name: value}` that `blocks` (MobileBlocks or block strings) read from,
        the inverse of `architecture`.

        Raises:
            ValueError: `blocks` is not a point of this space (the message names the block and
                the field).
        """
        blocks = parse_blocks(blocks)
        if len(blocks) != self.num_blocks:
            raise ValueError(
                f"The point has {len(blocks)} blocks; this space has {self.num_blocks}."
            )
        values, input_filters = {}, self.stem_filters
        ops = {spec: op for op, spec in CONV_OPS.items()}
        for i, (block, (_, _, stride)) in enumerate(zip(blocks, self.skeleton)):
            if block.strides != (stride, stride):
                raise ValueError(
                    f"blocks[{i}].strides={block.strides}; this space has {(stride, stride)}."
                )
            if block.input_filters != input_filters:
                raise ValueError(
                    f"blocks[{i}].input_filters={block.input_filters}; the block before it gives "
                    f"{input_filters}."
                )
            point = {
                "op": ops.get((block.conv, block.expansion), f"{block.conv} e{block.expansion}"),
                "kernel": block.kernel_size,
                "se_ratio": block.se_ratio,
                "skip": block.skip,
                "filters": block.output_filters,
                "layers": block.repeats,
            }
            for decision, allowed in self.choices(i).items():
                if point[decision] not in allowed:
                    raise ValueError(
                        f"blocks[{i}] {decision}={point[decision]!r} is outside this space; "
                        f"allowed: {allowed}."
                    )
                values[f"block_{i}_{decision}"] = point[decision]
            input_filters = block.output_filters
        return values

    def decode(self, actions: Sequence[int]) -> tuple:
        """Returns the blocks of the controller's `actions` (one per decision)."""
        decisions = self.decision_space()
        return self.architecture(decisions.decode(decisions.from_categories(actions)))


LATENCY_MODES = {None: None, "float": None, "int8": "int8"}


class MnasNetHyperModel(keras_tuner.HyperModel):
    """A keras-tuner hypermodel over the MnasNet space: builds the compiled `MnasNetModel` of
    the values, and with `latency` set records each trial's LiteRT latency as the metric
    "latency_ms" (every epoch, so keras-tuner keeps it beside the best epoch's val_accuracy)
    for `MnasNetReward`.

    Images smaller than 32x32 (`MnasNetModel`'s floor) are zero-padded up to it inside the model
    (a functional model around the `MnasNetModel`); the latency is the `MnasNetModel`'s at the
    padded size.

    Args:
        space: the `MnasNetSearchSpace`.
        input_shape, classes: of the images and labels.
        depth_multiplier: widths multiplier of `MnasNetModel` (small models for small images).
        head_filters, dropout_rate: see `MnasNetModel`.
        learning_rate: Adam's. loss, metrics, compile_options: of `keras.Model.compile`.
        latency: None (no latency), "float" or "int8" (full-integer LiteRT model), 1 thread;
            measured once per block list (cached).
        latency_runs: timed invocations per measurement (the median is kept).

    Raises:
        TypeError: `space` is not a MnasNetSearchSpace.
        ValueError: a bad input shape, learning rate, latency mode or run count.
    """

    def __init__(
        self,
        space: MnasNetSearchSpace,
        input_shape: Sequence[int] = (32, 32, 3),
        classes: int = 10,
        depth_multiplier: float = 1.0,
        head_filters: int = 1280,
        dropout_rate: float = 0.0,
        learning_rate: float = 1e-3,
        loss: Any = "sparse_categorical_crossentropy",
        metrics: Sequence = ("accuracy",),
        compile_options: Optional[Mapping] = None,
        latency: Optional[str] = None,
        latency_runs: int = 10,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(space, MnasNetSearchSpace):
            raise TypeError(f"`space` must be a MnasNetSearchSpace; received {space!r}.")
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape` must be (height, width, channels); received {input_shape!r}."
            )
        if latency not in LATENCY_MODES:
            raise ValueError(
                f"`latency` must be one of {list(LATENCY_MODES)}; received {latency!r}."
            )
        self.space = space
        self.input_shape = tuple(check_int(v, "input_shape[...]", minimum=1) for v in input_shape)
        self.model_shape = tuple(max(v, MIN_INPUT_SIZE) for v in self.input_shape[:2]) + (
            self.input_shape[2],
        )
        self.model_settings = {
            "classes": classes,
            "depth_multiplier": depth_multiplier,
            "stem_filters": space.stem_filters,
            "head_filters": head_filters,
            "dropout_rate": dropout_rate,
        }
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.loss = loss
        self.metrics = list(metrics)
        self.compile_options = dict(compile_options or {})
        self.latency = latency
        self.latency_runs = check_int(latency_runs, "latency_runs", minimum=1)
        # block strings -> ms: a point sampled again is not converted again.
        self.latency_cache: dict = {}

    def mnasnet(self, blocks, **overrides) -> MnasNetModel:
        """Returns the (uncompiled) `MnasNetModel` of `blocks` at the padded input size."""
        settings = dict(self.model_settings, input_shape=self.model_shape, **overrides)
        return MnasNetModel(blocks, **settings)

    def padded_model(self, blocks, **overrides) -> keras.Model:
        """Returns the (uncompiled) model of `blocks` for this hypermodel's images: the
        `MnasNetModel`, or a functional model zero-padding smaller images into it (centred,
        the odd pixel at the bottom / right)."""
        model = self.mnasnet(blocks, **overrides)
        if self.model_shape == self.input_shape:
            return model
        inputs = keras.Input(self.input_shape)
        pads = [(d - s) // 2 for s, d in zip(self.input_shape[:2], self.model_shape[:2])]
        rest = [d - s - p for s, d, p in zip(self.input_shape[:2], self.model_shape[:2], pads)]
        x = keras.layers.ZeroPadding2D(((pads[0], rest[0]), (pads[1], rest[1])))(inputs)
        return keras.Model(inputs, model(x), name="padded_mnasnet")

    def build(self, hp) -> keras.Model:
        """Returns the compiled model of the values `hp` holds (declaring them): the
        `MnasNetModel`, or a functional model padding small images into it."""
        model = self.padded_model(self.space.architecture(self.space.declare(hp)))
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=self.loss,
            metrics=list(self.metrics),
            **self.compile_options,
        )
        return model

    def latency_ms(self, blocks) -> float:
        """Returns the median 1-thread LiteRT latency (ms) of `blocks`' `MnasNetModel` in this
        hypermodel's latency mode, measured once per block list.

        Raises:
            ValueError: the hypermodel has no latency mode, or LiteRT cannot run the model.
        """
        if self.latency is None:
            raise ValueError("This MnasNetHyperModel measures no latency (latency=None).")
        key = tuple(format_blocks(parse_blocks(blocks)))
        if key not in self.latency_cache:
            probe = self.mnasnet(key, dropout_rate=0.0)
            try:
                self.latency_cache[key] = model_latency_ms(
                    probe, runs=self.latency_runs, threads=1, quantize=LATENCY_MODES[self.latency]
                )
            except RuntimeError as error:
                # LiteRT may still refuse a model (an XNNPACK limit that
                # `export.widen_collapsed_scales` does not cover): the trial fails with the
                # blocks named rather than with a node number.
                raise ValueError(
                    f"LiteRT cannot run the {self.latency} model of blocks {list(key)} at "
                    f"depth_multiplier={self.model_settings['depth_multiplier']}: {error}"
                ) from error
        return self.latency_cache[key]

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` (keras-tuner's hook) and returns its History, with the model's
        "params" at every epoch, and "latency_ms" when the hypermodel measures latency."""
        history = super().fit(hp, model, *args, **kwargs)
        record_each_epoch(history, PARAMS_METRIC, model.count_params())
        if self.latency is not None:
            latency = self.latency_ms(self.space.architecture(hp))
            record_each_epoch(history, LATENCY_METRIC, latency)
        return history

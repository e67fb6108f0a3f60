"""The MnasNet macro builder: a stem, a list of `MobileBlock`s, a head.

`MnasNet(blocks, ...)` builds any list of blocks (a point of the MnasNet space, or the zoo's
MnasNet-A1 / B1 / small / d1, `keras_nasnet.applications.mnasnet`) as tensorflow/tpu's
MnasNetModel does: 3x3 conv stride 2 -> BN -> ReLU (the stem), the blocks, 1x1 conv to
`head_filters` -> BN -> ReLU (the head, kept with `include_top=False` as keras.applications'
MobileNetV2 keeps its last conv), then global average pooling -> dropout -> dense.

The model is a `MnasNetModel`, whose Keras config holds the block strings and the macro
settings, so a `.keras` file knows its blocks (as a `NASNetModel` knows its cell).
"""

from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence, Union

import keras
from keras import layers

from .mobile_blocks import MobileBlock, build_block, format_blocks, parse_blocks, round_filters
from .nasnet import validate_classifier_activation
from .ops import LayerSettings, SeedSequence
from .point_models import PointModel, check_head_settings, classifier_head, model_input
from .validation import check_int, check_number, check_probability
from .weights import load_weights

MIN_INPUT_SIZE = 32  # keras.applications' floor for its mobile models


def MnasNet(
    blocks: Union[str, Iterable],
    *,
    depth_multiplier: float = 1.0,
    stem_filters: int = 32,
    head_filters: int = 1280,
    dropout_rate: float = 0.2,
    include_top: bool = True,
    weights: Optional[str] = None,
    input_tensor=None,
    input_shape: Optional[Sequence] = None,
    pooling: Optional[str] = None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "mnasnet",
    default_size: int = 224,
    depth_divisor: int = 8,
    min_depth: Optional[int] = None,
    bn_momentum: float = 0.99,
    bn_epsilon: float = 1e-3,
    seed: Optional[int] = None,
) -> "MnasNetModel":
    """Builds a MnasNet from `blocks` (block strings, `MobileBlock`s, or one space-separated
    string), with keras.applications' arguments.

    Args:
        blocks: the network's blocks, e.g. ["r1_k3_s11_e1_i32_o16_noskip", ...].
        depth_multiplier: scales every block's widths and the stem's; 1.0 keeps the blocks'
            widths exactly (tensorflow/tpu's default), any other value rounds each scaled width
            to a multiple of `depth_divisor` (`round_filters`). The head keeps `head_filters`.
        stem_filters, head_filters: widths of the stem's 3x3 conv and the head's 1x1 conv.
        dropout_rate: dropout before the classifier (0 for none).
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
            name, default_size: as in keras.applications; `weights` is None or the path of a
            weights file (`.weights.h5`, `.keras` or legacy h5).
        depth_divisor, min_depth: of `round_filters`.
        bn_momentum, bn_epsilon: of every BatchNormalization.
        seed: seed of the initializers and the dropout; None lets Keras draw them.

    Returns:
        A `MnasNetModel`.

    Raises:
        ValueError: an invalid argument, block string or weights file.
        TypeError: an argument of the wrong type.
    """
    if weights == "imagenet":
        raise ValueError(
            "MnasNet(weights='imagenet') is not available: no ImageNet weights are published for "
            "Keras. Pass weights=None or the path of a weights file."
        )
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"`weights` must be None or the path to a weights file; received {weights!r}."
        )
    if include_top:
        validate_classifier_activation(classifier_activation, weights)
    model = MnasNetModel(
        blocks,
        depth_multiplier=depth_multiplier,
        stem_filters=stem_filters,
        head_filters=head_filters,
        dropout_rate=dropout_rate,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        default_size=default_size,
        depth_divisor=depth_divisor,
        min_depth=min_depth,
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
        seed=seed,
    )
    if weights is not None:
        load_weights(model, weights)
    return model


@keras.saving.register_keras_serializable(package="keras_nasnet")
class MnasNetModel(PointModel):
    """A MnasNet built from a list of `MobileBlock`s and its macro settings.

    A functional model whose `get_config` holds the block strings (as given, before
    `depth_multiplier`) and the settings, so `keras.saving.load_model` rebuilds it from them
    and loads the weights, on any backend.

    Args:
        blocks, depth_multiplier, stem_filters, head_filters, dropout_rate, include_top,
            input_shape, pooling, classes, classifier_activation, default_size, depth_divisor,
            min_depth, bn_momentum, bn_epsilon, seed, name: as in `MnasNet`.
        input_tensor: a Keras tensor to build on. A `keras.Input` round-trips like
            `input_shape`; a tensor other layers produce gives a model whose config is the
            plain functional graph (it loads as a `keras.Model` without `.blocks`).

    Raises:
        ValueError: an invalid setting or block string, or blocks whose widths do not chain
            where an identity skip needs them to.
        TypeError: an argument of the wrong type.
    """

    point_key = "blocks"
    # The config holds the block strings as given; the constructor parses them.
    point_to_dict = staticmethod(format_blocks)

    def __init__(
        self,
        blocks: Union[str, Iterable],
        *,
        depth_multiplier: float = 1.0,
        stem_filters: int = 32,
        head_filters: int = 1280,
        dropout_rate: float = 0.2,
        include_top: bool = True,
        input_shape: Optional[Sequence] = None,
        input_tensor=None,
        pooling: Optional[str] = None,
        classes: int = 1000,
        classifier_activation="softmax",
        default_size: int = 224,
        depth_divisor: int = 8,
        min_depth: Optional[int] = None,
        bn_momentum: float = 0.99,
        bn_epsilon: float = 1e-3,
        seed: Optional[int] = None,
        name: str = "mnasnet",
        **kwargs,
    ):
        blocks = parse_blocks(blocks)
        settings = _check_settings(
            dict(
                depth_multiplier=depth_multiplier,
                stem_filters=stem_filters,
                head_filters=head_filters,
                dropout_rate=dropout_rate,
                include_top=bool(include_top),
                input_shape=input_shape,
                pooling=pooling,
                classes=classes,
                classifier_activation=classifier_activation,
                default_size=default_size,
                depth_divisor=depth_divisor,
                min_depth=min_depth,
                bn_momentum=bn_momentum,
                bn_epsilon=bn_epsilon,
                seed=seed,
            )
        )
        img_input, source_inputs = model_input(input_tensor, settings, MIN_INPUT_SIZE)
        outputs = _build_graph(blocks, settings, img_input)
        self._build_functional(
            source_inputs,
            outputs,
            name=name,
            point=blocks,
            settings=settings,
            kwargs=kwargs,
            image=img_input,
        )

    @property
    def blocks(self) -> tuple:
        """Returns the `MobileBlock`s the model was built from (before `depth_multiplier`)."""
        return self._point

    @property
    def scaled_blocks(self) -> tuple:
        """Returns the blocks with the widths the model has (after `depth_multiplier`)."""
        return scale_blocks(self._point, self._settings)


def scale_blocks(blocks: Sequence[MobileBlock], settings: dict) -> tuple:
    """Returns `blocks` at `settings["depth_multiplier"]` (unchanged at 1.0)."""
    if settings["depth_multiplier"] == 1.0:
        return tuple(blocks)
    return tuple(
        block.scaled(settings["depth_multiplier"], settings["depth_divisor"], settings["min_depth"])
        for block in blocks
    )


def _check_settings(settings: dict) -> dict:
    """Returns `settings` checked and in plain types; raises ValueError / TypeError otherwise."""
    if keras.config.image_data_format() == "channels_first":
        raise ValueError(
            "MnasNet does not support the `channels_first` image data format. Switch to "
            "`channels_last` by editing your local config file at ~/.keras/keras.json"
        )
    settings["depth_multiplier"] = check_number(
        settings["depth_multiplier"], "depth_multiplier", minimum=0, min_inclusive=False
    )
    for argument in ("stem_filters", "head_filters", "default_size", "depth_divisor"):
        settings[argument] = check_int(settings[argument], argument, minimum=1)
    settings["min_depth"] = check_int(
        settings["min_depth"], "min_depth", minimum=1, allow_none=True
    )
    settings["dropout_rate"] = check_probability(settings["dropout_rate"], "dropout_rate")
    if settings["dropout_rate"] == 1.0:
        raise ValueError("`dropout_rate` must be in [0, 1); received 1.0 (drops everything).")
    if settings["include_top"]:
        settings["classes"] = check_int(settings["classes"], "classes", minimum=1)
    settings["bn_momentum"] = check_probability(settings["bn_momentum"], "bn_momentum")
    settings["bn_epsilon"] = check_number(
        settings["bn_epsilon"], "bn_epsilon", minimum=0, min_inclusive=False
    )
    settings["seed"] = check_int(settings["seed"], "seed", allow_none=True)
    return check_head_settings(settings)


def _build_graph(blocks: Sequence[MobileBlock], settings: dict, img_input):
    """Returns the output of the MnasNet `blocks` and `settings` describe, on `img_input`."""
    seeds = SeedSequence(settings["seed"])
    shared = LayerSettings(settings["bn_momentum"], settings["bn_epsilon"], seeds)
    stem_filters = settings["stem_filters"]
    if settings["depth_multiplier"] != 1.0:
        stem_filters = round_filters(
            stem_filters,
            settings["depth_multiplier"],
            settings["depth_divisor"],
            settings["min_depth"],
        )
    x = _conv_bn_relu(img_input, stem_filters, 3, 2, "stem", shared)
    for index, block in enumerate(scale_blocks(blocks, settings)):
        x = build_block(x, block, f"block{index + 1}", shared)
    x = _conv_bn_relu(x, settings["head_filters"], 1, 1, "head", shared)
    return classifier_head(
        x,
        settings,
        next_seed=seeds.next,
        # tensorflow/tpu's dense_kernel_initializer: uniform, limit 1 / sqrt(classes).
        kernel_initializer=lambda: keras.initializers.VarianceScaling(
            1.0 / 3.0, "fan_out", "uniform", seed=seeds.next()
        ),
    )


def _conv_bn_relu(x, filters: int, kernel: int, strides: int, name: str, shared: LayerSettings):
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(
            2.0, "fan_out", "untruncated_normal", seed=shared.seeds.next()
        ),
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(
        momentum=shared.momentum, epsilon=shared.epsilon, name=f"{name}_bn"
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)

"""The macro builder: stem, three stacks of cells with reductions between them, heads.

`NASNetModel(architecture, filters=F, ...)` builds any `Architecture` and is the one model
class of the package; `NASNet(architecture, penultimate_filters=P, ...)` is the paper's "N @ P"
entry point (P is turned into F once, there). The keras.applications-style models in
`keras_nasnet.applications` are these with fixed settings.

Wiring. Every layer (the stem, each cell) passes states on: one tensor, or for an
"all_states" cell each of its block outputs in block order. A cell that takes k inputs
reads the k most recent states, newest first: state 0 is the last state passed on (the
previous cell's output, or its last block), state 1 the one before, and so on back through
earlier layers. Where fewer than k states exist yet (the first cells after the stem) the
missing inputs are state 0's tensor as it is, unadjusted, as TF-slim and keras.applications
feed NASNet-A's first cell. An older input is brought to state 0's size by one factorized
reduction per reduction between them, or to F channels by ReLU -> 1x1 conv -> BN, as
NASNet-A's h_{i-1}; state 0 itself always goes through ReLU -> 1x1 conv -> BN. With two
inputs this is exactly NASNet-A's h_i / h_{i-1} wiring, skip_reduction included.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import keras
from keras import layers

from .cells import CellSettings, DropPathSchedule, build_cell, output_channel_units
from .genotypes import Architecture, get_architecture
from .ops import LayerSettings, SeedSequence, batch_norm
from .point_models import PointModel, check_head_settings, classifier_head, model_input
from .point_models import obtain_input_shape as obtain_input_shape  # where callers import it
from .validation import check_int, check_probability
from .weights import load_weights

STEMS = ("imagenet", "cifar")
AUX_LOSS_WEIGHT = 0.4


def validate_classifier_activation(classifier_activation, weights) -> None:
    """Raises ValueError unless the activation is None or softmax when weights are loaded."""
    if weights is None:
        return
    activation = keras.activations.get(classifier_activation)
    if activation not in {keras.activations.get("softmax"), keras.activations.get(None)}:
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the `classifier_activation` "
            "argument when using pretrained weights, with `include_top=True`; Received: "
            f"classifier_activation={classifier_activation}"
        )


def num_cells(num_blocks: int, stem: str) -> int:
    """Returns the cells of a network: 3 stacks of `num_blocks`, 2 reductions and, with the
    ImageNet stem, 2 stem cells."""
    return 3 * num_blocks + 2 + (2 if stem == "imagenet" else 0)


def filters_for(
    architecture: Architecture, penultimate_filters: int, filter_multiplier: int = 2
) -> int:
    """Returns F, the filters per branch in the first stack, of `architecture` at P =
    `penultimate_filters`: P // (units * filter_multiplier**2), where units is the normal cell's
    output width in filters (6 for NASNet-A, so F = P // 24).

    Raises:
        ValueError: P or the multiplier is not a positive int, or P is not a multiple of
            units * filter_multiplier**2.
    """
    penultimate_filters = check_int(penultimate_filters, "penultimate_filters", minimum=1)
    filter_multiplier = check_int(filter_multiplier, "filter_multiplier", minimum=1)
    units = output_channel_units(architecture.normal) * filter_multiplier**2
    if penultimate_filters % units != 0:
        raise ValueError(
            f"`penultimate_filters` must be a multiple of {units} for this architecture "
            f"(output width {output_channel_units(architecture.normal)} x filter_multiplier**2); "
            f"received {penultimate_filters}."
        )
    return penultimate_filters // units


def NASNet(
    architecture: Union[Architecture, str] = "nasnet_a",
    num_blocks: int = 6,
    penultimate_filters: int = 4032,
    stem: str = "imagenet",
    stem_filters: Optional[int] = None,
    skip_reduction: bool = True,
    filter_multiplier: int = 2,
    drop_path_keep_prob: float = 1.0,
    total_training_steps: Optional[int] = None,
    use_aux_head: bool = False,
    include_top: bool = True,
    weights: Optional[str] = None,
    input_tensor=None,
    input_shape: Optional[Sequence] = None,
    pooling: Optional[str] = None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "NASNet",
    default_size: Optional[int] = None,
    dropout_rate: float = 0.0,
    bn_momentum: float = 0.9997,
    bn_epsilon: float = 1e-3,
    seed: Optional[int] = None,
) -> "NASNetModel":
    """Builds a NASNet from any architecture ("N @ P": `num_blocks` @ `penultimate_filters`).

    Args:
        architecture: an `Architecture`, a registered name ("nasnet_a", "nasnet_b", "nasnet_c")
            or a JSON file path.
        num_blocks: N, normal cells per stack (three stacks).
        penultimate_filters: P, channels of the last cell's output, which global pooling reads:
            for an "all_states" cell its passed-on states concatenated. It is turned into F
            once, here (`filters_for`): F = P // (units * multiplier**2) where units is the
            normal cell's output width in filters (6 for NASNet-A and our NASNet-B, so
            F = P // 24; 4 for our NASNet-C, F = P // 16). `NASNetModel` takes F directly.
        stem: "imagenet" (strided 3x3 conv + two reduction cells) or "cifar" (3x3 conv).
        stem_filters: filters of the stem conv; default 96 for "imagenet" (keras.applications'
            NASNet default), 3 * F for "cifar".
        skip_reduction: the first normal cell after a reduction takes as h_{i-1} the cell before
            the reduction's input (NASNet-Large).
        filter_multiplier: filters grow by this factor at each reduction.
        drop_path_keep_prob: ScheduledDropPath's final keep probability; 1.0 turns it off.
        total_training_steps: steps over which drop path ramps up (needed when it is on).
        use_aux_head: adds the auxiliary classifier at 2/3 depth as a second output
            ``[predictions, aux_predictions]``; weight its loss by `AUX_LOSS_WEIGHT` (0.4) and
            drop it for inference with `strip_aux_head`.
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
            name, default_size: as in keras.applications; `weights` is None or a file path here
            (ImageNet weights come with `NASNetMobile` / `NASNetLarge`).
        dropout_rate: dropout before the classifier.
        bn_momentum, bn_epsilon: of every BatchNormalization.
        seed: seed of the random initializers, the drop-path masks and the dropout; None lets
            Keras draw them.

    Returns:
        A `NASNetModel`.

    Raises:
        ValueError: an invalid argument or weights file.
    """
    if weights == "imagenet":
        raise ValueError(
            "NASNet(weights='imagenet') is not available for a generic architecture: use "
            "keras_nasnet.NASNetMobile or NASNetLarge for the official ImageNet weights, or pass "
            "the path of a weights file."
        )
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"`weights` must be None or the path to a weights file; received {weights!r}."
        )
    architecture = get_architecture(architecture)
    filters = filters_for(architecture, penultimate_filters, filter_multiplier)
    if include_top:
        validate_classifier_activation(classifier_activation, weights)
    model = NASNetModel(
        architecture,
        filters=filters,
        num_blocks=num_blocks,
        stem=stem,
        stem_filters=stem_filters,
        skip_reduction=skip_reduction,
        filter_multiplier=filter_multiplier,
        drop_path_keep_prob=drop_path_keep_prob,
        total_training_steps=total_training_steps,
        use_aux_head=use_aux_head,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        default_size=default_size,
        dropout_rate=dropout_rate,
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
        seed=seed,
    )
    if weights is not None:
        load_weights(model, weights)
    return model


@keras.saving.register_keras_serializable(package="keras_nasnet")
class NASNetModel(PointModel):
    """A NASNet built from an `Architecture` and its macro settings: every model this package
    builds (zoo models, `NASNet(...)`, search children) is one.

    A functional model (keras-hub style: the constructor builds the graph and hands it to the
    Functional constructor) whose `get_config` holds the architecture and the settings, so
    `keras.saving.load_model` rebuilds it from them and loads the weights into it, on any
    backend. Layer names, their order and weights are those of the builder (for NASNet-A,
    keras.applications' own, so its weight files load).

    Args:
        architecture: an `Architecture` (or a registered name or JSON path).
        filters: F, the filters per branch in the first stack (doubling at each reduction).
            `NASNet` takes P and converts it once (`filters_for`).
        num_blocks, stem, stem_filters, skip_reduction, filter_multiplier, drop_path_keep_prob,
            total_training_steps, use_aux_head, include_top, input_shape, pooling, classes,
            classifier_activation, default_size, dropout_rate, bn_momentum, bn_epsilon, seed,
            name: as in `NASNet`. `input_shape` is checked as keras.applications checks it
            without weights; callers that load ImageNet weights check it first.
        input_tensor: a Keras tensor to build on, as in keras.applications. A `keras.Input`
            round-trips like `input_shape`; a tensor that other layers produce makes a model
            whose config is the plain functional graph of those layers and the NASNet: it saves
            and loads (weights and outputs), but loads as a `keras.Model` without `.architecture`.

    With `use_aux_head=True` the model has two outputs; `without_aux_head()` (what
    `strip_aux_head` calls) returns the one-output `NASNetModel` over the same layers.

    Raises:
        ValueError: an invalid setting.
        TypeError: a seed that is not an int.
    """

    point_key = "architecture"
    point_from_dict = staticmethod(Architecture.from_dict)

    def __init__(
        self,
        architecture: Union[Architecture, str] = "nasnet_a",
        *,
        filters: int,
        num_blocks: int = 6,
        stem: str = "imagenet",
        stem_filters: Optional[int] = None,
        skip_reduction: bool = True,
        filter_multiplier: int = 2,
        drop_path_keep_prob: float = 1.0,
        total_training_steps: Optional[int] = None,
        use_aux_head: bool = False,
        include_top: bool = True,
        input_shape: Optional[Sequence] = None,
        input_tensor=None,
        pooling: Optional[str] = None,
        classes: int = 1000,
        classifier_activation="softmax",
        default_size: Optional[int] = None,
        dropout_rate: float = 0.0,
        bn_momentum: float = 0.9997,
        bn_epsilon: float = 1e-3,
        seed: Optional[int] = None,
        name: str = "NASNet",
        **kwargs,
    ):
        architecture = get_architecture(architecture)
        settings = _check_settings(
            dict(
                filters=filters,
                num_blocks=num_blocks,
                stem=stem,
                stem_filters=stem_filters,
                skip_reduction=bool(skip_reduction),
                filter_multiplier=filter_multiplier,
                drop_path_keep_prob=drop_path_keep_prob,
                total_training_steps=total_training_steps,
                use_aux_head=bool(use_aux_head),
                include_top=bool(include_top),
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
        # keras.applications' 32-pixel floor is for the strided ImageNet stem; the CIFAR stem
        # keeps full resolution, so Fashion-MNIST's 28x28 works there.
        min_size = 32 if settings["stem"] == "imagenet" else 8
        img_input, source_inputs = model_input(input_tensor, settings, min_size)
        outputs = _build_graph(architecture, settings, img_input)
        self._build_functional(
            source_inputs,
            outputs,
            name=name,
            point=architecture,
            settings=settings,
            kwargs=kwargs,
            image=img_input,
        )

    @property
    def architecture(self) -> Architecture:
        """Returns the `Architecture` the model was built from."""
        return self._point

    @property
    def filters(self) -> int:
        """Returns F, the filters per branch in the first stack."""
        return self._settings["filters"]

    @property
    def num_blocks(self) -> int:
        """Returns N, the normal cells per stack."""
        return self._settings["num_blocks"]

    def without_aux_head(self) -> "NASNetModel":
        """Returns the one-output inference model of a model built with `use_aux_head=True`:
        a `NASNetModel` sharing this model's layers and weights, whose config says
        `use_aux_head=False` (so it saves and reloads as that model).

        Raises:
            ValueError: the model has no auxiliary head.
        """
        if not self._settings["use_aux_head"]:
            raise ValueError(f"Model {self.name!r} has no auxiliary head to strip.")
        # The Functional constructor over the shared graph, without building a new one.
        stripped = NASNetModel.__new__(NASNetModel)
        super(NASNetModel, stripped).__init__(
            inputs=self.input, outputs=self.outputs[0], name=self.name
        )
        stripped._keep_point(
            self._point,
            dict(self._settings, use_aux_head=False),
            self._builds_on_other_layers,
        )
        return stripped


def _check_settings(settings: dict) -> dict:
    """Returns `settings` with the defaults that depend on others filled in; raises ValueError
    for an invalid one."""
    if keras.config.image_data_format() == "channels_first":
        raise ValueError(
            "NASNet does not support the `channels_first` image data format. Switch to "
            "`channels_last` by editing your local config file at ~/.keras/keras.json"
        )
    if settings["stem"] not in STEMS:
        raise ValueError(f"`stem` must be one of {STEMS}; received {settings['stem']!r}.")
    for argument in ("filters", "num_blocks", "filter_multiplier"):
        settings[argument] = check_int(settings[argument], argument, minimum=1)
    settings["drop_path_keep_prob"] = check_probability(
        settings["drop_path_keep_prob"], "drop_path_keep_prob", allow_zero=False
    )
    if settings["drop_path_keep_prob"] < 1.0:
        if settings["total_training_steps"] is None:
            raise ValueError(
                "`total_training_steps` is required when `drop_path_keep_prob` < 1: the drop rate "
                "ramps up linearly over that many training steps."
            )
        settings["total_training_steps"] = check_int(
            settings["total_training_steps"], "total_training_steps", minimum=1
        )
    if settings["use_aux_head"] and not settings["include_top"]:
        raise ValueError(
            "`use_aux_head=True` needs `include_top=True`: the auxiliary head is a classifier."
        )
    if settings["include_top"]:
        settings["classes"] = check_int(settings["classes"], "classes", minimum=1)
    if settings["default_size"] is None:
        settings["default_size"] = 224 if settings["stem"] == "imagenet" else 32
    if settings["stem_filters"] is None:
        settings["stem_filters"] = 96 if settings["stem"] == "imagenet" else 3 * settings["filters"]
    settings["stem_filters"] = check_int(settings["stem_filters"], "stem_filters", minimum=1)
    return check_head_settings(settings)


def _build_graph(architecture: Architecture, settings: dict, img_input):
    """Returns the outputs of the NASNet `settings` describe, built on `img_input`."""
    filters = settings["filters"]
    filter_multiplier = settings["filter_multiplier"]
    num_blocks = settings["num_blocks"]
    stem = settings["stem"]
    seeds = SeedSequence(settings["seed"])
    shared = LayerSettings(settings["bn_momentum"], settings["bn_epsilon"], seeds)
    total = num_cells(num_blocks, stem)
    cell_settings = CellSettings(
        shared=shared,
        drop_path=(
            DropPathSchedule(
                settings["drop_path_keep_prob"], total, settings["total_training_steps"]
            )
            if settings["drop_path_keep_prob"] < 1.0
            else None
        ),
    )
    stream = _StateStream()
    cell_index = 0

    def cell(genotype, cell_filters, reduction, block_id):
        nonlocal cell_index
        inputs, halvings = stream.recent(genotype.num_inputs)
        out = build_cell(
            genotype,
            inputs,
            filters=cell_filters,
            reduction=reduction,
            block_id=block_id,
            cell_index=cell_index,
            settings=cell_settings,
            halvings=halvings,
        )
        cell_index += 1
        stream.push(out, reduction)

    strides, padding = ((2, 2), "valid") if stem == "imagenet" else ((1, 1), "same")
    x = layers.Conv2D(
        settings["stem_filters"],
        (3, 3),
        strides=strides,
        padding=padding,
        use_bias=False,
        name="stem_conv1",
        kernel_initializer=shared.initializer("he_normal"),
    )(img_input)
    stream.push(batch_norm(x, "stem_bn1", shared), reduction=False)
    if stem == "imagenet":
        cell(architecture.reduction, filters // filter_multiplier**2, True, "stem_1")
        cell(architecture.reduction, filters // filter_multiplier, True, "stem_2")

    classes = settings["classes"]
    classifier_activation = settings["classifier_activation"]
    aux_output = None
    for stack in range(3):
        stack_filters = filters * filter_multiplier**stack
        if stack > 0:
            cell(architecture.reduction, stack_filters, True, f"reduce_{stack * num_blocks}")
            if settings["skip_reduction"]:
                stream.drop_reductions_input()
        for i in range(num_blocks):
            cell(
                architecture.normal,
                stack_filters,
                False,
                str(stack * num_blocks + i + (1 if stack > 0 else 0)),
            )
        if stack == 1 and settings["use_aux_head"]:
            aux_output = auxiliary_head(
                stream.newest("aux_concat"), classes, classifier_activation, shared
            )

    x = stream.newest("final_concat")
    x = layers.Activation("relu")(x)
    # keras.applications' NASNet leaves its pooling layers unnamed.
    x = classifier_head(
        x,
        settings,
        next_seed=seeds.next,
        kernel_initializer=lambda: shared.initializer("glorot_uniform"),
        pool_names=(None, None),
    )
    return [x, aux_output] if aux_output is not None else x


class _StateStream:
    """The states the cells built so far pass on, oldest first, grouped by the layer (stem or
    cell) that passed them on, each group with its scale (how many reductions produced it).

    A cell takes the most recent `num_inputs` states: state 0 is the newest, i.e. the last
    state the previous layer passed on (its single output, or its last block for an
    "all_states" cell), and so on back through earlier layers.
    """

    def __init__(self):
        self.layers = []  # [(scale, [tensors in the order passed on])]

    def push(self, out, reduction: bool) -> None:
        """Appends the states one layer passes on; a reduction's are one scale further."""
        scale = (self.layers[-1][0] if self.layers else 0) + (1 if reduction else 0)
        self.layers.append((scale, list(out) if isinstance(out, list) else [out]))

    def recent(self, count: int):
        """Returns (states, halvings): up to `count` states, newest first, and for each how many
        reductions lie between it and the newest."""
        newest_first = [
            (tensor, scale)
            for scale, tensors in reversed(self.layers)
            for tensor in reversed(tensors)
        ]
        newest_first = newest_first[:count]
        newest_scale = newest_first[0][1]
        return [tensor for tensor, _ in newest_first], [
            newest_scale - scale for _, scale in newest_first
        ]

    def drop_reductions_input(self) -> None:
        """skip_reduction (NASNet-Large): the cells after a reduction do not see the states of the
        layer the reduction read as h_i; they see the reduction's, then the ones before."""
        del self.layers[-2]

    def newest(self, concat_name: str):
        """Returns the newest layer's output: its single state, or its states concatenated."""
        tensors = self.layers[-1][1]
        if len(tensors) == 1:
            return tensors[0]
        return layers.Concatenate(axis=-1, name=concat_name)(tensors)


def auxiliary_head(x, classes: int, classifier_activation, shared: LayerSettings):
    """Returns the auxiliary classifier's output (TF-slim `_build_aux_head`) for feature map `x`.

    ReLU -> 5x5 avg pool stride 3 -> 1x1 conv 128 -> BN -> ReLU -> conv over the remaining
    spatial extent, 768 -> BN -> ReLU -> dense.

    Raises:
        ValueError: the feature map is smaller than the 5x5 pool or has no static size.
    """
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None or min(height, width) < 5:
        raise ValueError(
            "The auxiliary head needs a static feature map of at least 5x5 at 2/3 depth; "
            f"this input gives {height}x{width}. Use a larger `input_shape` or "
            "`use_aux_head=False`."
        )
    x = layers.Activation("relu", name="aux_relu_0")(x)
    x = layers.AveragePooling2D((5, 5), strides=(3, 3), padding="valid", name="aux_avg_pool")(x)
    x = layers.Conv2D(
        128,
        (1, 1),
        use_bias=False,
        name="aux_conv_1",
        kernel_initializer=shared.initializer("he_normal"),
    )(x)
    x = batch_norm(x, "aux_bn_1", shared)
    x = layers.Activation("relu", name="aux_relu_1")(x)
    x = layers.Conv2D(
        768,
        (x.shape[1], x.shape[2]),
        padding="valid",
        use_bias=False,
        name="aux_conv_2",
        kernel_initializer=shared.initializer("he_normal"),
    )(x)
    x = batch_norm(x, "aux_bn_2", shared)
    x = layers.Activation("relu", name="aux_relu_2")(x)
    x = layers.Flatten(name="aux_flatten")(x)
    return layers.Dense(
        classes,
        activation=classifier_activation,
        name="aux_predictions",
        kernel_initializer=shared.initializer("glorot_uniform"),
    )(x)


def strip_aux_head(model: keras.Model) -> keras.Model:
    """Returns the inference model of a model built with `use_aux_head=True` (shared weights):
    for a `NASNetModel` its `without_aux_head()`, for another model (e.g. a plain functional
    one loaded from a file written before `NASNetModel` existed) a functional model of its
    first output.

    Raises:
        ValueError: the model has no auxiliary output.
    """
    if len(model.outputs) != 2 or "aux_predictions" not in {layer.name for layer in model.layers}:
        raise ValueError(f"Model {model.name!r} has no auxiliary head to strip.")
    if isinstance(model, NASNetModel):
        return model.without_aux_head()
    return keras.Model(model.input, model.outputs[0], name=model.name)

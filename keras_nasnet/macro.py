"""NAS-2017 macro networks (Zoph & Le, ICLR 2017): a network as a list of conv layers with skips.

A `MacroArchitecture` is the point of the macro space: per layer, the filter height and width,
the number of filters, the stride, and the set of earlier layers that feed it. `MacroNetModel`
builds it, following the paper's rules:

- a layer's inputs are concatenated on channels;
- a layer with no input reads the image (or the stem, when `stem_filters` is set);
- the layers no later layer reads (the last one always among them) are concatenated into the
  final layer, which global average pooling and the classifier read;
- inputs of different spatial sizes (strided layers) are zero-padded to the largest (see
  `pad_to_largest`);
- every layer is conv, batch norm, ReLU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import keras
from keras import layers

from .point_models import PointModel, check_head_settings, classifier_head
from .validation import check_int, check_number

__all__ = ["MacroArchitecture", "MacroLayer", "MacroNetModel", "pad_to_largest"]

_LAYER_KEYS = ("kernel_height", "kernel_width", "filters", "stride", "inputs")


@dataclass(frozen=True)
class MacroLayer:
    """One conv layer of a macro network.

    Args:
        kernel_height, kernel_width: the filter's size (the paper: 1, 3, 5 or 7).
        filters: output channels (the paper: 24, 36, 48 or 64).
        stride: the conv's stride in both directions (the paper: 1, or 1, 2 or 3).
        inputs: indices of the earlier layers whose outputs feed this one (empty: the image).

    Raises:
        TypeError: a size that is not an int, or inputs that are not a sequence of ints.
        ValueError: a size below 1, or repeated inputs.
    """

    kernel_height: int
    kernel_width: int
    filters: int
    stride: int = 1
    inputs: tuple[int, ...] = ()

    def __post_init__(self):
        for name in ("kernel_height", "kernel_width", "filters", "stride"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum=1))
        inputs = self.inputs
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (Sequence, frozenset, set)):
            raise TypeError(f"`inputs` must be a sequence of layer indices; received {inputs!r}.")
        inputs = [check_int(j, "inputs[...]", minimum=0) for j in inputs]
        if len(set(inputs)) != len(inputs):
            raise ValueError(f"`inputs` names a layer twice; received {list(self.inputs)}.")
        # One canonical order, so that equal sets make equal (and equally hashed) layers.
        object.__setattr__(self, "inputs", tuple(sorted(inputs)))

    def to_dict(self) -> dict:
        """Returns a JSON-ready dict."""
        return {
            "kernel_height": self.kernel_height,
            "kernel_width": self.kernel_width,
            "filters": self.filters,
            "stride": self.stride,
            "inputs": list(self.inputs),
        }


@dataclass(frozen=True)
class MacroArchitecture:
    """A macro network: its layers in order, each reading only earlier ones.

    Raises:
        TypeError: `layers` is not a sequence of `MacroLayer`s.
        ValueError: no layer, or a layer reading itself or a later layer.
    """

    layers: tuple[MacroLayer, ...]

    def __post_init__(self):
        given = self.layers
        if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Sequence):
            raise TypeError(f"`layers` must be a sequence of MacroLayer; received {given!r}.")
        if not given:
            raise ValueError("`layers` must hold at least one layer; received none.")
        for i, layer in enumerate(given):
            if not isinstance(layer, MacroLayer):
                raise TypeError(f"`layers[{i}]` must be a MacroLayer; received {layer!r}.")
            later = [j for j in layer.inputs if j >= i]
            if later:
                raise ValueError(
                    f"`layers[{i}].inputs` may only name earlier layers (0 to {i - 1}); "
                    f"received {list(layer.inputs)}."
                )
        object.__setattr__(self, "layers", tuple(given))

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def outputs(self) -> tuple[int, ...]:
        """Returns the indices of the layers no later layer reads (the last one among them):
        what the final layer concatenates."""
        read = {j for layer in self.layers for j in layer.inputs}
        return tuple(i for i in range(len(self.layers)) if i not in read)

    @property
    def num_skips(self) -> int:
        """Returns the number of connections from one layer to a later one."""
        return sum(len(layer.inputs) for layer in self.layers)

    def to_dict(self) -> dict:
        """Returns a JSON-ready dict."""
        return {"layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "MacroArchitecture":
        """Returns the architecture described by `data` (`to_dict` output).

        Raises:
            TypeError: `data` is not a mapping, or a field has the wrong type.
            ValueError: a missing or unknown key, or a bad value; the message names the key.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"A MacroArchitecture must be a JSON object; received {data!r}.")
        if set(data) != {"layers"}:
            raise ValueError(f"A MacroArchitecture has one key, 'layers'; received {sorted(data)}.")
        if not isinstance(data["layers"], list):
            raise TypeError(f"'layers' must be a list; received {data['layers']!r}.")
        layers_ = []
        for i, entry in enumerate(data["layers"]):
            if not isinstance(entry, Mapping):
                raise TypeError(f"layers[{i}] must be a JSON object; received {entry!r}.")
            keys = set(entry)
            if not keys <= set(_LAYER_KEYS) or not keys >= set(_LAYER_KEYS[:3]):
                raise ValueError(
                    f"layers[{i}] has keys {sorted(keys)}; allowed: {list(_LAYER_KEYS)} "
                    "(stride and inputs optional)."
                )
            try:
                layers_.append(MacroLayer(**entry))
            except (TypeError, ValueError) as error:
                raise type(error)(f"layers[{i}]: {error}") from None
        return cls(tuple(layers_))

    def to_json(self, **kwargs) -> str:
        """Returns this architecture as a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "MacroArchitecture":
        """Returns the architecture in JSON `text`.

        Raises:
            TypeError: `text` is not str or bytes, or a field has the wrong type.
            ValueError: not JSON, or not a valid architecture (the message names the key).
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(
                "MacroArchitecture.from_json expects a JSON string; received "
                f"{type(text).__name__}."
            )
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"MacroArchitecture.from_json: not valid JSON ({error}).") from None
        return cls.from_dict(data)


def pad_to_largest(tensors: Sequence, name: str) -> list:
    """Returns `tensors` (NHWC Keras tensors) zero-padded at the bottom and right to the
    largest height and width among them.

    Zero-padding, as the paper does, rather than pooling to the smallest: it is exact for any
    pair of sizes (stride 3 gives 32 -> 11, which no pooling window maps 32 onto), and it never
    throws away a larger map's pixels. Padding at the bottom and right keeps pixel (0, 0) of
    every map where a strided "same" conv puts it, over the input's top-left corner.

    Raises:
        ValueError: a tensor whose height or width is not known when the graph is built.
    """
    sizes = [tuple(t.shape[1:3]) for t in tensors]
    if any(s is None for size in sizes for s in size):
        raise ValueError(
            f"{name}: a macro network needs known heights and widths to match its inputs; "
            f"received sizes {sizes}. Give `input_shape` with both."
        )
    height = max(h for h, _ in sizes)
    width = max(w for _, w in sizes)
    padded = []
    for k, (tensor, (h, w)) in enumerate(zip(tensors, sizes)):
        if (h, w) != (height, width):
            tensor = layers.ZeroPadding2D(((0, height - h), (0, width - w)), name=f"{name}_pad{k}")(
                tensor
            )
        padded.append(tensor)
    return padded


def _concatenated(tensors: list, name: str):
    if len(tensors) == 1:
        return tensors[0]
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(pad_to_largest(tensors, name))


def _conv_bn_relu(x, filters, kernel, stride, settings, name):
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(
        momentum=settings["bn_momentum"], epsilon=settings["bn_epsilon"], name=f"{name}_bn"
    )(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _build_graph(architecture: MacroArchitecture, settings: dict, image):
    source = image
    if settings["stem_filters"] is not None:
        source = _conv_bn_relu(image, settings["stem_filters"], 3, 1, settings, "stem")
    outputs = []
    for i, layer in enumerate(architecture.layers):
        name = f"layer_{i}"
        inputs = [outputs[j] for j in layer.inputs] or [source]
        x = _concatenated(inputs, name)
        kernel = (layer.kernel_height, layer.kernel_width)
        outputs.append(_conv_bn_relu(x, layer.filters, kernel, layer.stride, settings, name))
    x = _concatenated([outputs[i] for i in architecture.outputs], "final")
    # No `pooling` setting: without the top the model ends at the final concatenation.
    return classifier_head(x, settings, dropout_name="dropout")


def _check_settings(settings: dict) -> dict:
    shape = settings["input_shape"]
    if (
        isinstance(shape, (str, bytes))
        or not isinstance(shape, Sequence)
        or len(shape) != 3
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
    ):
        raise ValueError(
            f"`input_shape` must be (height, width, channels), three ints >= 1; received {shape!r}."
        )
    settings["input_shape"] = tuple(shape)
    check_int(settings["stem_filters"], "stem_filters", minimum=1, allow_none=True)
    check_int(settings["classes"], "classes", minimum=1)
    check_number(
        settings["dropout_rate"], "dropout_rate", minimum=0, maximum=1, max_inclusive=False
    )
    check_number(settings["bn_momentum"], "bn_momentum", minimum=0, maximum=1)
    check_number(settings["bn_epsilon"], "bn_epsilon", minimum=0, min_inclusive=False)
    settings["include_top"] = bool(settings["include_top"])
    return check_head_settings(settings)


@keras.saving.register_keras_serializable(package="keras_nasnet")
class MacroNetModel(PointModel):
    """A NAS-2017 macro network built from a `MacroArchitecture` (see the module's rules).

    A functional model whose `get_config` holds the architecture and the settings, so
    `keras.saving.load_model` rebuilds it from them and loads the weights into it.

    Args:
        architecture: a `MacroArchitecture` (or its `to_dict` output).
        input_shape: (height, width, channels); height and width must be known (the zero-
            padding of mismatched inputs is computed when the graph is built).
        classes: classifier outputs.
        stem_filters: None (the paper): layers with no input read the image; an int: they read
            a 3x3 conv-BN-ReLU stem of that many filters.
        include_top: False: the model ends at the final concatenation (no pooling, no head).
        classifier_activation: the head's activation.
        dropout_rate: dropout before the classifier.
        bn_momentum, bn_epsilon: batch normalization's settings.
        name: the model's name.

    Raises:
        TypeError: `architecture` is neither a MacroArchitecture nor a dict of one.
        ValueError: an invalid setting.
    """

    point_key = "architecture"
    point_from_dict = staticmethod(MacroArchitecture.from_dict)

    def __init__(
        self,
        architecture: Union[MacroArchitecture, Mapping],
        *,
        input_shape: Sequence[int] = (32, 32, 3),
        classes: int = 10,
        stem_filters: Optional[int] = None,
        include_top: bool = True,
        classifier_activation: Any = "softmax",
        dropout_rate: float = 0.0,
        bn_momentum: float = 0.99,
        bn_epsilon: float = 1e-3,
        name: str = "MacroNet",
        **kwargs,
    ):
        if isinstance(architecture, Mapping):
            architecture = MacroArchitecture.from_dict(architecture)
        if not isinstance(architecture, MacroArchitecture):
            raise TypeError(
                f"`architecture` must be a MacroArchitecture; received {architecture!r}."
            )
        settings = _check_settings(
            dict(
                input_shape=input_shape,
                classes=classes,
                stem_filters=stem_filters,
                include_top=include_top,
                classifier_activation=classifier_activation,
                dropout_rate=dropout_rate,
                bn_momentum=bn_momentum,
                bn_epsilon=bn_epsilon,
            )
        )
        # Not `model_input`: the shape is required and has no default size to check against.
        image = layers.Input(shape=settings["input_shape"], name="image")
        outputs = _build_graph(architecture, settings, image)
        self._build_functional(
            image, outputs, name=name, point=architecture, settings=settings, kwargs=kwargs
        )

    @property
    def architecture(self) -> MacroArchitecture:
        """Returns the `MacroArchitecture` the model was built from."""
        return self._point

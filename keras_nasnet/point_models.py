"""The base of the package's model classes: a functional model built from a point of a search
space (a NASNet `Architecture`, MnasNet blocks, an `AnyNetPoint`, a `MacroArchitecture`) and its
settings, with the pieces their builders share (the input, the classifier head).

A `PointModel` subclass builds its graph in its constructor and hands it to `_build_functional`;
its Keras config is the point (under the class's `point_key`, as `point_to_dict` writes it) next
to the settings, so `keras.saving.load_model` rebuilds the model from them and loads the weights.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

import keras
from keras import layers

__all__ = [
    "PointModel",
    "check_head_settings",
    "classifier_head",
    "model_input",
    "obtain_input_shape",
]


def obtain_input_shape(
    input_shape, default_size: int, min_size: int, require_flatten: bool, weights
):
    """Returns the model's input shape, validated as keras.applications does (channels_last).

    Raises:
        ValueError: a shape of the wrong length, too small, not static when it must be,
            or not the default one when ImageNet weights with the top are requested.
    """
    if input_shape is not None:
        if isinstance(input_shape, list):
            input_shape = tuple(input_shape)
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise ValueError(
                "`input_shape` must be a tuple of three integers. "
                f"Received: input_shape={input_shape}"
            )
    if weights != "imagenet" and input_shape and input_shape[-1] not in {1, 3}:
        warnings.warn(
            "This model usually expects 1 or 3 input channels. However, it was passed an "
            f"input_shape with {input_shape[-1]} input channels.",
            stacklevel=3,
        )
    if weights != "imagenet" and input_shape:
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError(
                "When setting `include_top=True` and loading `imagenet` weights, "
                f"`input_shape` should be {default_shape}.  Received: input_shape={input_shape}"
            )
        return default_shape
    if input_shape:
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`"
            )
        if any(size is not None and size < min_size for size in input_shape[:2]):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; "
                f"Received: input_shape={input_shape}"
            )
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def model_input(input_tensor, settings: dict, min_size: int):
    """Returns (the tensor the network reads, the model's inputs) for `input_tensor` or a new
    `keras.Input` of `settings["input_shape"]` (checked by `obtain_input_shape` against
    `settings["default_size"]` and `min_size`), and sets `settings["input_shape"]` to the
    shape the network reads.

    The two differ only when `input_tensor` is produced by other layers: the model's inputs
    are then that graph's sources.

    Raises:
        ValueError: an invalid input shape (see `obtain_input_shape`).
    """
    input_shape = obtain_input_shape(
        settings["input_shape"],
        settings["default_size"],
        min_size,
        settings["include_top"],
        weights=None,
    )
    if input_tensor is None:
        image = inputs = layers.Input(shape=input_shape)
    elif not keras.backend.is_keras_tensor(input_tensor):
        image = inputs = layers.Input(tensor=input_tensor, shape=input_shape)
    else:
        image = input_tensor
        sources = keras.utils.get_source_inputs(input_tensor)
        inputs = sources[0] if len(sources) == 1 else sources
    settings["input_shape"] = tuple(image.shape[1:])
    return image, inputs


POOLINGS = (None, "avg", "max")


def check_head_settings(settings: dict) -> dict:
    """Returns `settings` with `classifier_activation` in the one canonical, JSON-able form the
    config holds ("softmax"; "linear" for None), a callable would not round-trip.

    Raises:
        ValueError: `settings["pooling"]` (where present) is not None, "avg" or "max", or the
            activation is unknown.
    """
    if settings.get("pooling") not in POOLINGS:
        raise ValueError(
            f"`pooling` must be None, 'avg' or 'max'; received {settings['pooling']!r}."
        )
    settings["classifier_activation"] = keras.activations.serialize(
        keras.activations.get(settings["classifier_activation"])
    )
    return settings


def classifier_head(
    x,
    settings: dict,
    *,
    next_seed: Callable[[], Optional[int]] = lambda: None,
    kernel_initializer: Callable[[], Any] = lambda: "glorot_uniform",
    pool_names: tuple = ("avg_pool", "max_pool"),
    dropout_name: str = "top_dropout",
):
    """Returns the head on features `x`: with `settings["include_top"]`, global average
    pooling, dropout (when `settings["dropout_rate"]` is not 0) and the Dense classifier of
    `settings["classes"]` with `settings["classifier_activation"]`; without it, the pooling
    `settings.get("pooling")` names ("avg", "max" or None: `x` as it is).

    `next_seed()` gives the dropout's seed and is called before `kernel_initializer()` builds
    the classifier's initializer, so a builder that draws both from one seed sequence keeps
    its order. `pool_names` names the (average, max) pooling layers (None: Keras' default).
    """
    avg_name, max_name = pool_names
    if settings["include_top"]:
        x = layers.GlobalAveragePooling2D(name=avg_name)(x)
        if settings["dropout_rate"]:
            x = layers.Dropout(settings["dropout_rate"], seed=next_seed(), name=dropout_name)(x)
        return layers.Dense(
            settings["classes"],
            activation=settings["classifier_activation"],
            kernel_initializer=kernel_initializer(),
            name="predictions",
        )(x)
    if settings.get("pooling") == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if settings.get("pooling") == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


class PointModel(keras.Model):
    """A functional model built from a point and its settings (see the module's docstring).

    Subclasses set `point_key` (the config key of the point), `point_to_dict` and
    `point_from_dict` (the point to and from its JSON-able form), build their graph and call
    `_build_functional`. A model built on other layers' output (see `model_input`) keeps the
    plain functional graph as its config: it saves and loads, as a `keras.Model`.
    """

    point_key: str = "point"
    point_to_dict = staticmethod(lambda point: point.to_dict())
    point_from_dict = staticmethod(lambda data: data)

    def _build_functional(
        self, inputs, outputs, *, name: str, point, settings: dict, kwargs: dict, image=None
    ):
        """Hands the graph from `inputs` to `outputs` to the Functional constructor and keeps
        `point` and `settings`; `image` is the tensor the network reads, when that is not
        `inputs` (a model built on other layers' output)."""
        kwargs = dict(kwargs)
        # Set after the Functional constructor, which would otherwise overwrite it.
        trainable = kwargs.pop("trainable", True)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.trainable = trainable
        self._keep_point(point, settings, image is not None and image is not inputs)

    def _keep_point(self, point, settings: dict, builds_on_other_layers: bool):
        self._point = point
        self._settings = dict(settings)
        self._builds_on_other_layers = builds_on_other_layers

    @property
    def settings(self) -> dict:
        """Returns a copy of the build settings (the class's keyword arguments)."""
        return dict(self._settings)

    def get_config(self) -> dict:
        """Returns the name, trainable, the point (JSON-able) and the settings; for a model
        built on other layers' output, the plain functional config instead."""
        if self._builds_on_other_layers:
            return keras.Model(self.input, self.output, name=self.name).get_config()
        settings = dict(self._settings)
        settings["input_shape"] = list(settings["input_shape"])
        return {
            "name": self.name,
            "trainable": self.trainable,
            self.point_key: self.point_to_dict(self._point),
            **settings,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Returns the model `config` describes (see `get_config`), with fresh weights."""
        config = dict(config)
        if "layers" in config:  # the plain functional config of a model built on other layers
            return keras.Model.from_config(config, custom_objects=custom_objects)
        config[cls.point_key] = cls.point_from_dict(config[cls.point_key])
        config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)

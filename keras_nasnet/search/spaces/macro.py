"""The NAS-2017 macro space (Zoph & Le, ICLR 2017) as keras-tuner decisions.

Per layer i, in the order the paper's controller emits them: ``layer_{i}_kernel_h``,
``layer_{i}_kernel_w``, ``layer_{i}_filters``, optionally ``layer_{i}_stride``, then one Boolean
``layer_{i}_from_{j}`` per earlier layer j (does j feed i?). Every decision is a scalar
hyperparameter, so evolution and random search take the space as it is; the Booleans form the
skip sets (`spaces.decisions.skip_sets_of`) that the LSTM controller decides with its attention
over earlier layers.

    space = MacroSearchSpace(num_layers=6)
    tuner = keras_tuner.Tuner(
        oracle=ControllerOracle(objective="val_accuracy", max_trials=100),
        hypermodel=MacroHyperModel(space, input_shape=(32, 32, 3), classes=10),
    )
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import keras
import keras_tuner

from ...macro import MacroArchitecture, MacroLayer, MacroNetModel
from ...validation import check_int, check_positive
from .decisions import DecisionSpace, SkipSet, skip_name, skip_sets_of
from .declared import DeclaredSpace
from .trial_metrics import PARAMS_METRIC, record_each_epoch

__all__ = ["MacroHyperModel", "MacroSearchSpace", "macro_architecture"]

KERNEL_SIZES = (1, 3, 5, 7)
FILTERS = (24, 36, 48, 64)
STRIDES = (1, 2, 3)


def _check_values(values: Any, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"`{name}` must be a non-empty sequence of ints; received {values!r}.")
    checked = tuple(check_int(v, f"{name}[...]", minimum=1) for v in values)
    if len(set(checked)) != len(checked):
        raise ValueError(f"`{name}` repeats a value; received {list(values)}.")
    return checked


class MacroSearchSpace(DeclaredSpace):
    """The macro space: `num_layers` conv layers, each with its kernel, filters, optional
    stride, and its set of earlier layers.

    Args:
        num_layers: layers of every network (the paper starts at 6).
        kernel_sizes: filter heights and widths to choose among.
        filters: numbers of filters to choose among.
        strides: None (the paper's first setting): every stride is 1; else the strides to
            choose among (the paper's variant: 1, 2, 3).
        skips: False: no skip Booleans (every layer reads the one before it).

    Raises:
        ValueError: a count below 1, or an empty or repeating list of values.
    """

    def __init__(
        self,
        num_layers: int = 6,
        kernel_sizes: Sequence[int] = KERNEL_SIZES,
        filters: Sequence[int] = FILTERS,
        strides: Optional[Sequence[int]] = None,
        skips: bool = True,
    ):
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.kernel_sizes = _check_values(kernel_sizes, "kernel_sizes")
        self.filters = _check_values(filters, "filters")
        self.strides = None if strides is None else _check_values(strides, "strides")
        self.skips = bool(skips)
        self._decisions: Optional[DecisionSpace] = None

    def __repr__(self) -> str:
        return (
            f"MacroSearchSpace(num_layers={self.num_layers}, kernel_sizes={self.kernel_sizes}, "
            f"filters={self.filters}, strides={self.strides}, skips={self.skips})"
        )

    # -- keras-tuner -------------------------------------------------------------------------

    def declare(self, hp) -> dict:
        """Declares every decision on `hp` (a `keras_tuner.HyperParameters`) in the controller's
        order and returns `{name: value}` of the values `hp` holds now."""
        values = {}
        for i in range(self.num_layers):
            prefix = f"layer_{i}"
            values[f"{prefix}_kernel_h"] = hp.Choice(f"{prefix}_kernel_h", list(self.kernel_sizes))
            values[f"{prefix}_kernel_w"] = hp.Choice(f"{prefix}_kernel_w", list(self.kernel_sizes))
            values[f"{prefix}_filters"] = hp.Choice(f"{prefix}_filters", list(self.filters))
            if self.strides is not None:
                values[f"{prefix}_stride"] = hp.Choice(f"{prefix}_stride", list(self.strides))
            if self.skips:
                for j in range(i):
                    values[skip_name(i, j)] = hp.Boolean(skip_name(i, j))
        return values

    def skip_sets(self) -> tuple[SkipSet, ...]:
        """Returns the skip sets the controller's attention decides (() without skips)."""
        return skip_sets_of(self.decision_space())

    # -- values <-> architectures ------------------------------------------------------------

    def architecture(self, values) -> MacroArchitecture:
        """Returns the `MacroArchitecture` of hyperparameter `values` (a dict or a
        `keras_tuner.HyperParameters`); see `macro_architecture`.

        Raises:
            ValueError: a value is missing or outside this space.
        """
        architecture = macro_architecture(values, self.num_layers)
        self.check(architecture)
        return architecture

    def values(self, architecture: MacroArchitecture) -> dict:
        """Returns the `{name: value}` that `architecture` reads from (the inverse of
        `architecture`).

        Raises:
            ValueError: `architecture` is not a point of this space.
        """
        self.check(architecture)
        values = {}
        for i, layer in enumerate(architecture.layers):
            values[f"layer_{i}_kernel_h"] = layer.kernel_height
            values[f"layer_{i}_kernel_w"] = layer.kernel_width
            values[f"layer_{i}_filters"] = layer.filters
            if self.strides is not None:
                values[f"layer_{i}_stride"] = layer.stride
            if self.skips:
                for j in range(i):
                    values[skip_name(i, j)] = j in layer.inputs
        return values

    def check(self, architecture: MacroArchitecture) -> None:
        """Raises ValueError unless `architecture` is a point of this space (its layer count,
        kernel sizes, filters, strides, and skips only where the space has them)."""
        if not isinstance(architecture, MacroArchitecture):
            raise TypeError(
                f"`architecture` must be a MacroArchitecture; received {architecture!r}."
            )
        if len(architecture) != self.num_layers:
            raise ValueError(
                f"The architecture has {len(architecture)} layers; this space has "
                f"{self.num_layers}."
            )
        strides = (1,) if self.strides is None else self.strides
        for i, layer in enumerate(architecture.layers):
            for field, allowed in (
                ("kernel_height", self.kernel_sizes),
                ("kernel_width", self.kernel_sizes),
                ("filters", self.filters),
                ("stride", strides),
            ):
                if getattr(layer, field) not in allowed:
                    raise ValueError(
                        f"layers[{i}].{field}={getattr(layer, field)} is outside this space; "
                        f"allowed: {allowed}."
                    )
            expected = (i - 1,) if i > 0 else ()
            if not self.skips and layer.inputs != expected:
                raise ValueError(
                    f"layers[{i}].inputs={list(layer.inputs)}: this space has no skips (each "
                    f"layer reads {list(expected) or 'the image'})."
                )

    def decode(self, actions: Sequence[int]) -> MacroArchitecture:
        """Returns the architecture of the controller's `actions` (one category per
        decision of `decision_space`)."""
        decisions = self.decision_space()
        return self.architecture(decisions.decode(decisions.from_categories(actions)))


def macro_architecture(values, num_layers: Optional[int] = None) -> MacroArchitecture:
    """Returns the `MacroArchitecture` that hyperparameter `values` (a dict or a
    `keras_tuner.HyperParameters`) describe: ``layer_{i}_kernel_h``, ``_kernel_w``,
    ``_filters``, optional ``_stride`` (default 1), and the Booleans ``layer_{i}_from_{j}``.

    A layer with no ``layer_{i}_from_{j}`` at all (a space without skips) reads the layer before
    it; one whose Booleans are all False reads the image (the paper's rule).

    Args:
        num_layers: how many layers to read (None: as many as `values` has kernels for).

    Raises:
        ValueError: a value is missing.
    """
    if isinstance(values, keras_tuner.HyperParameters):
        values = values.values
    if not isinstance(values, Mapping):
        raise TypeError(f"`values` must be a dict or HyperParameters; received {values!r}.")
    if num_layers is None:
        num_layers = 0
        while f"layer_{num_layers}_kernel_h" in values:
            num_layers += 1
    num_layers = check_int(num_layers, "num_layers", minimum=1)
    layers = []
    for i in range(num_layers):
        prefix = f"layer_{i}"
        missing = [
            f"{prefix}_{key}"
            for key in ("kernel_h", "kernel_w", "filters")
            if f"{prefix}_{key}" not in values
        ]
        if missing:
            raise ValueError(f"`values` lacks {missing} of layer {i}; it has {sorted(values)}.")
        skips = [j for j in range(i) if skip_name(i, j) in values]
        if skips and len(skips) != i:
            raise ValueError(
                f"`values` has skips {[skip_name(i, j) for j in skips]} of layer {i} but not "
                f"all of {[skip_name(i, j) for j in range(i)]}."
            )
        if skips:
            inputs = tuple(j for j in range(i) if values[skip_name(i, j)])
        else:
            inputs = (i - 1,) if i > 0 else ()
        layers.append(
            MacroLayer(
                values[f"{prefix}_kernel_h"],
                values[f"{prefix}_kernel_w"],
                values[f"{prefix}_filters"],
                values.get(f"{prefix}_stride", 1),
                inputs,
            )
        )
    return MacroArchitecture(tuple(layers))


class MacroHyperModel(keras_tuner.HyperModel):
    """A keras-tuner hypermodel over the macro space: declares its decisions and builds the
    compiled `MacroNetModel` of their values.

    Args:
        space: the `MacroSearchSpace`.
        input_shape, classes, stem_filters, dropout_rate: see `MacroNetModel`.
        learning_rate: Adam's learning rate.
        loss, metrics: as `keras.Model.compile` takes them (integer labels by default).
        compile_options: more keyword arguments of `keras.Model.compile` (e.g.
            ``{"run_eagerly": True}``, quicker for very small children).

    Raises:
        TypeError: `space` is not a MacroSearchSpace.
        ValueError: a non-positive learning rate.
    """

    def __init__(
        self,
        space: MacroSearchSpace,
        input_shape: Sequence[int] = (32, 32, 3),
        classes: int = 10,
        stem_filters: Optional[int] = None,
        dropout_rate: float = 0.0,
        learning_rate: float = 1e-3,
        loss: Any = "sparse_categorical_crossentropy",
        metrics: Sequence = ("accuracy",),
        compile_options: Optional[Mapping] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(space, MacroSearchSpace):
            raise TypeError(f"`space` must be a MacroSearchSpace; received {space!r}.")
        self.space = space
        self.model_settings = {
            "input_shape": tuple(input_shape),
            "classes": classes,
            "stem_filters": stem_filters,
            "dropout_rate": dropout_rate,
        }
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.loss = loss
        self.metrics = list(metrics)
        self.compile_options = dict(compile_options or {})

    def build(self, hp) -> MacroNetModel:
        """Returns the compiled `MacroNetModel` of the values `hp` holds (declaring them)."""
        values = self.space.declare(hp)
        model = MacroNetModel(self.space.architecture(values), **self.model_settings)
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=self.loss,
            metrics=list(self.metrics),
            **self.compile_options,
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` (keras-tuner's hook) and returns its History, with the model's
        "params" at every epoch."""
        history = super().fit(hp, model, *args, **kwargs)
        return record_each_epoch(history, PARAMS_METRIC, model.count_params())

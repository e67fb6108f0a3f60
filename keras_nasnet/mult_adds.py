"""Analytic multiply-accumulate counts of a built Keras model, layer by layer."""

from __future__ import annotations

import math

import keras

from . import compat


def _spatial(shape) -> int:
    size = 1
    for dim in shape[1:-1]:
        if dim is None:
            raise ValueError(
                "count_mult_adds needs static spatial sizes; build the model with a fixed "
                "`input_shape`."
            )
        size *= dim
    return size


def _layer_mult_adds(layer, input_shape, output_shape) -> int:
    if isinstance(layer, keras.layers.SeparableConv2D):
        c_in = input_shape[-1]
        depthwise = (
            _spatial(output_shape) * math.prod(layer.kernel_size) * c_in * layer.depth_multiplier
        )
        pointwise = _spatial(output_shape) * c_in * layer.depth_multiplier * output_shape[-1]
        return depthwise + pointwise
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return _spatial(output_shape) * math.prod(layer.kernel_size) * output_shape[-1]
    if isinstance(layer, keras.layers.Conv2D):
        groups = getattr(layer, "groups", 1)
        return (
            _spatial(output_shape)
            * math.prod(layer.kernel_size)
            * (input_shape[-1] // groups)
            * output_shape[-1]
        )
    if isinstance(layer, keras.layers.Dense):
        return math.prod(d for d in output_shape[1:-1] if d) * input_shape[-1] * output_shape[-1]
    return 0


def count_mult_adds(model: keras.Model, per_layer: bool = False):
    """Returns the multiply-accumulates of one image through `model` (convs and dense layers).

    Counted as in the NASNet and MobileNet papers: convolutions (depthwise, pointwise and
    full) and fully connected layers; BN, activations, pools and additions are not counted.
    Nested models are counted through. With `per_layer=True`, returns a dict layer name ->
    count (layers that count nothing are left out).

    Raises:
        ValueError: `model` is not built (nothing to count), a counted layer has no static
            spatial size, or has no recorded call (a subclassed model: its calls leave no graph
            to read the shapes from).
    """
    if not model.built:
        raise ValueError(
            f"count_mult_adds needs a built model; {model.name!r} is not built (give it an input "
            "shape or call it on data first)."
        )
    counts = {}
    _count_into(model, counts)
    return counts if per_layer else sum(counts.values())


_COUNTED = (
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2D,
    keras.layers.Dense,
)


def _count_into(model, counts: dict) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _count_into(layer, counts)
            continue
        nodes = compat.inbound_nodes(layer)
        if not nodes and isinstance(layer, _COUNTED):
            # Counting reads each call's shapes from the graph; a subclassed model keeps none,
            # and 0 would pass for an answer.
            raise ValueError(
                f"count_mult_adds cannot count {model.name!r}: its layer {layer.name!r} "
                f"({type(layer).__name__}) has no recorded call, as in a subclassed model. "
                "Count a functional or Sequential model (built from keras.Input)."
            )
        total = 0
        for node in nodes:
            inputs = keras.tree.flatten(node.input_tensors)
            outputs = keras.tree.flatten(node.output_tensors)
            if not inputs or not outputs:
                continue
            total += _layer_mult_adds(layer, inputs[0].shape, outputs[0].shape)
        if total:
            counts[layer.name] = counts.get(layer.name, 0) + total

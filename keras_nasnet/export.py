"""LiteRT (TF-Lite) export of any keras_nasnet model: quantization, inference and latency.

Conversion goes through Keras 3's own ``model.export(path, format="litert")``, which is the
SavedModel -> ``TFLiteConverter.from_saved_model`` path (Keras writes an ExportArchive and
converts it), so the two candidate paths are one converter; Keras' entry point tracks Keras 3
variables itself and needs no SavedModel folder of ours. Two of its defaults are overridden:
it allows Flex (SELECT_TF_OPS) ops, which phones' stock runtimes lack, so only builtin ops are
allowed here and a model that needs others fails with a ValueError; and its input batch is
dynamic, whereas phones run batch 1, so the signature is fixed to batch 1 (static shapes let the
converter fold every shape computation).

Inference uses the LiteRT interpreter (``ai_edge_litert``) and falls back to the deprecated
``tf.lite.Interpreter`` when that package is missing.
"""

from __future__ import annotations

import collections
import math
import os
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

import keras
import numpy as np

from . import compat
from .validation import check_bool, check_choice, check_int

QUANTIZATIONS = (None, "dynamic", "float16", "int8")
# Enough examples to settle int8 activation ranges; more only slows the converter.
MAX_CALIBRATION_EXAMPLES = 500


def inference_model(model: keras.Model) -> keras.Model:
    """Returns `model` without its auxiliary head (if it has one), else `model` itself."""
    # A functional model of the first output (what `strip_aux_head` computes), built here so
    # that export needs nothing from the model builder.
    if len(model.outputs) == 2 and "aux_predictions" in {layer.name for layer in model.layers}:
        return keras.Model(model.input, model.outputs[0], name=model.name)
    return model


# -- an XNNPACK-friendly graph --------------------------------------------------------------------
# XNNPACK, the runtime's fast CPU backend, leaves to the slow builtin kernels every concat of more
# than 4 tensors (a NASNet-A cell concatenates 6) and, in int8, every RELU that cannot fuse into
# the op before it and every average pool. So before conversion, with the same float results,
# those become ops it takes: nested concats, a RELU fused into a 1x1 depthwise conv, a depthwise
# conv times a per-position correction. A RELU the converter already fuses is left alone.
MAX_XNNPACK_CONCAT_INPUTS = 4
# XNNPACK's fast depthwise kernels take at most 25 taps (5x5), so a larger kernel becomes bands of
# whole rows of at most 25 taps (7x7: 3 + 3 + 1 rows), summed: rows rather than 5x5 blocks because
# that takes fewer convs.
MAX_XNNPACK_DEPTHWISE_TAPS = 25


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Returns (output size, padding before) of TF's "same" padding along one dimension."""
    out = -(-size // stride)
    return out, max((out - 1) * stride + kernel - size, 0) // 2


def _window_counts(size: int, kernel: int, stride: int, padding: str) -> np.ndarray:
    """Returns how many real (not padded) inputs each output window covers along one dimension."""
    if padding == "valid":
        return np.full((size - kernel) // stride + 1, kernel, dtype="float32")
    out, before = _same_padding(size, kernel, stride)
    starts = np.arange(out) * stride - before
    return (np.minimum(starts + kernel, size) - np.maximum(starts, 0)).astype("float32")


class _ReluAsDepthwise(keras.layers.Layer):
    """relu(x) as relu(depthwise_conv_1x1(x, ones)): the converter fuses the RELU into the conv."""

    def build(self, input_shape):
        self.kernel = np.ones((1, 1, input_shape[-1], 1), dtype="float32")

    def call(self, inputs):
        from keras import ops

        return ops.relu(ops.depthwise_conv(inputs, self.kernel, strides=1, padding="valid"))


class _AveragePoolAsDepthwise(keras.layers.Layer):
    """An AveragePooling2D (padding excluded from the mean, as in TF) as a depthwise conv with a
    constant 1 / k^2 kernel times a constant per-position correction k^2 / count."""

    def __init__(self, pool_size, strides, padding, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = tuple(pool_size), tuple(strides), padding

    def build(self, input_shape):
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        height, width, channels = input_shape[1:]
        self.kernel = np.full((kh, kw, channels, 1), 1.0 / (kh * kw), dtype="float32")
        counts = np.outer(
            _window_counts(height, kh, sh, self.padding),
            _window_counts(width, kw, sw, self.padding),
        )
        scale = (kh * kw) / counts
        self.scale = None if np.all(scale == 1.0) else scale[None, :, :, None].astype("float32")

    def call(self, inputs):
        from keras import ops

        x = ops.depthwise_conv(inputs, self.kernel, strides=self.strides, padding=self.padding)
        return x if self.scale is None else x * self.scale


class _GroupedConcatenate(keras.layers.Layer):
    """Concatenate of more than `MAX_XNNPACK_CONCAT_INPUTS` tensors as a concatenate of
    concatenates of at most that many, so that XNNPACK takes every one of them."""

    def __init__(self, axis, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        from keras import ops

        step = MAX_XNNPACK_CONCAT_INPUTS
        while len(inputs) > step:
            inputs = [
                ops.concatenate(inputs[i : i + step], axis=self.axis)
                if len(inputs[i : i + step]) > 1
                else inputs[i]
                for i in range(0, len(inputs), step)
            ]
        return ops.concatenate(inputs, axis=self.axis)


def kernel_windows(height: int, width: int) -> list:
    """Returns the (row start, row stop, column start, column stop) rectangles that tile a
    `height` x `width` kernel, each of at most `MAX_XNNPACK_DEPTHWISE_TAPS` taps: bands of whole
    rows (a 7x7 kernel is 3 + 3 + 1 rows) or, for rows longer than that, blocks of 5x5."""
    taps = MAX_XNNPACK_DEPTHWISE_TAPS
    if width <= taps:
        step = taps // width
        return [(r, min(r + step, height), 0, width) for r in range(0, height, step)]
    return [
        (r, min(r + 5, height), c, min(c + 5, width))
        for r in range(0, height, 5)
        for c in range(0, width, 5)
    ]


class _WindowedDepthwise(keras.layers.Layer):
    """The depthwise part of a DepthwiseConv2D or SeparableConv2D whose kernel is larger than
    XNNPACK's fast kernels, as a sum of depthwise convs over windows of the kernel (each on the
    input padded or cropped so that it reads exactly the positions its taps read in the original),
    followed by the layer's own pointwise kernel, bias and activation. It reads `layer`'s weights,
    so the rewritten model shares them."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, inputs):
        from keras import ops

        layer = self.layer
        separable = isinstance(layer, keras.layers.SeparableConv2D)
        kernel = layer.depthwise_kernel if separable else layer.kernel
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        height, width = inputs.shape[1], inputs.shape[2]
        out_h, before_h = _output_and_before(height, kh, sh, layer.padding)
        out_w, before_w = _output_and_before(width, kw, sw, layer.padding)
        x = None
        for r_start, r_stop, c_start, c_stop in kernel_windows(kh, kw):
            rows, cols = r_stop - r_start, c_stop - c_start
            shifted = _shift(
                inputs,
                before_h - r_start,
                (out_h - 1) * sh + rows,
                before_w - c_start,
                (out_w - 1) * sw + cols,
            )
            window = kernel[r_start:r_stop, c_start:c_stop]
            part = ops.depthwise_conv(shifted, window, strides=(sh, sw), padding="valid")
            x = part if x is None else x + part
        if separable:
            x = ops.conv(x, layer.pointwise_kernel, strides=1, padding="valid")
        if layer.use_bias:
            x = x + layer.bias
        return layer.activation(x)


def _output_and_before(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Returns (output size, padding before) of a conv along one dimension."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0
    return _same_padding(size, kernel, stride)


def _shift(x, top: int, rows: int, left: int, cols: int):
    """Returns `x` [n, h, w, c] padded with zeros (positive amounts) or cropped (negative) to
    start `top` rows above and `left` columns left of its origin, `rows` x `cols` in all."""
    from keras import ops

    height, width = x.shape[1], x.shape[2]
    bottom, right = rows - top - height, cols - left - width
    pads = [[0, 0], [max(top, 0), max(bottom, 0)], [max(left, 0), max(right, 0)], [0, 0]]
    if any(p for pair in pads for p in pair):
        x = ops.pad(x, pads)
    if min(top, bottom, left, right) < 0:
        x = x[:, max(-top, 0) : max(-top, 0) + rows, max(-left, 0) : max(-left, 0) + cols]
    return x


def _is_large_depthwise(layer) -> bool:
    """Whether `layer` is a channels-last, undilated DepthwiseConv2D or SeparableConv2D with a
    kernel larger than XNNPACK's fast depthwise kernels."""
    if type(layer) not in (keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D):
        return False
    return (
        layer.data_format == "channels_last"
        and tuple(layer.dilation_rate) == (1, 1)
        and math.prod(layer.kernel_size) > MAX_XNNPACK_DEPTHWISE_TAPS
    )


def _is_plain_relu(layer) -> bool:
    if type(layer) is keras.layers.Activation:
        return getattr(layer.activation, "__name__", "") == "relu"
    if type(layer) is keras.layers.ReLU:
        return layer.max_value is None and not layer.negative_slope and not layer.threshold
    return False


_FUSING_PRODUCERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.BatchNormalization,
)


def _fused_relus(model: keras.Model) -> set:
    """Returns the ids of the plain ReLU layers the converter fuses into the op before them: their
    input comes from a conv or BatchNormalization and nothing but plain ReLUs reads it."""
    # The model's own graph nodes: a layer shared with another model (strip_aux_head) also has
    # nodes there, which must not count as readers.
    nodes = compat.model_nodes(model)
    readers = {}
    for node in nodes:
        for tensor in node.input_tensors:
            readers.setdefault(id(tensor), []).append(node.operation)
    outputs = {id(tensor) for tensor in model.outputs}
    fused = set()
    for node in nodes:
        if not _is_plain_relu(node.operation):
            continue
        (tensor,) = node.input_tensors
        producer = compat.producer(tensor)
        if (
            isinstance(producer, _FUSING_PRODUCERS)
            and id(tensor) not in outputs
            and all(_is_plain_relu(reader) for reader in readers[id(tensor)])
        ):
            fused.add(id(node.operation))
    return fused


def xnnpack_friendly(model: keras.Model, int8: bool = False) -> keras.Model:
    """Returns `model` (shared layers and weights) with every Concatenate of more inputs than
    XNNPACK takes split into nested ones, every depthwise kernel of more taps than its fast
    kernels take split into bands of rows, and, for `int8`, every channels-last AveragePooling2D
    and every plain ReLU that does not fuse into the conv before it rewritten as depthwise convs
    (see above); its outputs equal `model`'s up to float rounding."""
    fused = _fused_relus(model) if int8 else set()

    def clone(layer):
        if type(layer) is keras.layers.Concatenate:
            return _GroupedConcatenate(layer.axis, name=layer.name)
        if _is_large_depthwise(layer):
            return _WindowedDepthwise(layer, name=layer.name)
        if not int8:
            return layer
        if _is_plain_relu(layer) and id(layer) not in fused:
            return _ReluAsDepthwise(name=layer.name)
        if type(layer) is keras.layers.AveragePooling2D and layer.data_format == "channels_last":
            return _AveragePoolAsDepthwise(
                layer.pool_size, layer.strides, layer.padding, name=layer.name
            )
        return layer

    return keras.models.clone_model(model, clone_function=clone)


# -- int8 scales XNNPACK takes ---------------------------------------------------------------------
# XNNPACK builds an int8 conv only if its requantization scale, input scale x filter scale / output
# scale, is below 256. A conv whose output is 0 on every calibration image (a ReLU dead on all of
# them: an SE block's few squeeze channels see one global average, nearly the same for any image)
# gets a collapsed range [0, ~2e-6] and an output scale near 1e-8, so that ratio reaches hundreds
# and the whole delegate fails to prepare. Such a tensor holds only zeros, which every scale
# represents exactly, so its scale is widened until the ratio is half the limit.
MAX_XNNPACK_REQUANTIZATION_SCALE = 256.0
# Ops that requantize what they read: a wider input scale is exact for them (unlike CONCATENATION,
# RESHAPE or pooling, whose int8 kernels need their input and output scales equal).
_REQUANTIZING_READERS = (
    "ADD",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "FULLY_CONNECTED",
    "HARD_SWISH",
    "LOGISTIC",
    "MEAN",
    "MUL",
    "QUANTIZE",
    "SOFTMAX",
    "SUB",
)
_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def widen_collapsed_scales(path: str) -> list:
    """Rewrites the int8 `.tflite` at `path` so that no conv's requantization scale reaches
    XNNPACK's limit of 256: the output scale of a conv whose calibrated range collapsed (it output
    only zeros) is widened (its zero point kept), if every op that reads it requantizes.

    Returns:
        The names of the tensors whose scale was widened (empty: the file is left untouched).
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    with open(path, "rb") as file:
        flatbuffer = flatbuffer_utils.read_model_from_bytearray(bytearray(file.read()))
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if name.isupper()}

    def op_name(op):
        code = flatbuffer.operatorCodes[op.opcodeIndex]
        return names.get(max(code.builtinCode, code.deprecatedBuiltinCode))

    widened = []
    for graph in flatbuffer.subgraphs:
        readers = collections.defaultdict(list)
        for op in graph.operators:
            for index in op.inputs:
                readers[int(index)].append(op_name(op))
        outputs = {int(index) for index in graph.outputs}
        for op in graph.operators:
            if op_name(op) not in _CONVS:
                continue
            inputs = [graph.tensors[int(i)].quantization for i in op.inputs[:2]]
            index = int(op.outputs[0])
            output = graph.tensors[index].quantization
            if any(q is None or q.scale is None or len(q.scale) == 0 for q in (*inputs, output)):
                continue  # a float op: nothing to requantize
            if len(output.scale) != 1 or index in outputs:
                continue
            step = float(inputs[0].scale[0]) * float(np.max(inputs[1].scale))
            if step / float(output.scale[0]) < MAX_XNNPACK_REQUANTIZATION_SCALE:
                continue
            if not all(reader in _REQUANTIZING_READERS for reader in readers[index]):
                continue
            output.scale = [step / (MAX_XNNPACK_REQUANTIZATION_SCALE / 2)]
            widened.append(graph.tensors[index].name.decode())
    if widened:
        with open(path, "wb") as file:
            file.write(flatbuffer_utils.convert_object_to_bytearray(flatbuffer))
    return widened


def _input_shape(model: keras.Model) -> tuple:
    if len(model.inputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(model.inputs)} inputs; TF-Lite export takes one image "
            "input."
        )
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"Model {model.name!r} has input shape {shape} with unknown sizes; build it with a "
            "fixed `input_shape` (phones run one static shape) before exporting."
        )
    return shape


def _calibration_examples(representative_data, shape: tuple, limit: int) -> list:
    """Returns up to `limit` float32 examples [1, h, w, c] from an array or a tf.data dataset."""
    import tensorflow as tf

    if isinstance(representative_data, tf.data.Dataset):
        batches = []
        for element in representative_data:
            images = element[0] if isinstance(element, (tuple, list)) else element
            images = np.asarray(images)
            batches.append(images[None] if images.ndim == len(shape) else images)
            if sum(len(b) for b in batches) >= limit:
                break
        if not batches:
            raise ValueError("`representative_data` is an empty dataset.")
        array = np.concatenate(batches)
    elif isinstance(representative_data, np.ndarray) or hasattr(representative_data, "__array__"):
        array = np.asarray(representative_data)
    else:
        raise TypeError(
            "`representative_data` must be a numpy array [N, h, w, c] or a tf.data.Dataset of "
            f"images (or (images, labels)); received {type(representative_data).__name__}."
        )
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape or len(array) == 0:
        raise ValueError(
            f"`representative_data` must hold images of shape {shape} (the model's input); "
            f"received an array of shape {array.shape}."
        )
    array = array[:limit].astype("float32")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.all(np.isfinite(array.reshape(len(array), -1)), axis=1)))
        raise ValueError(
            f"`representative_data` holds NaN or infinite values ({bad} of the {len(array)} "
            "calibration images used); int8 scales calibrated on them would be meaningless."
        )
    return [array[i : i + 1] for i in range(len(array))]


def to_tflite(
    model: keras.Model,
    path: str,
    quantize: Optional[str] = None,
    representative_data=None,
    max_calibration_examples: int = MAX_CALIBRATION_EXAMPLES,
    xnnpack_rewrite: bool = True,
) -> str:
    """Converts a keras_nasnet model (zoo or searched) to a batch-1 `.tflite` file.

    Args:
        model: a functional Keras model with one fixed-size image input; an auxiliary head
            (`use_aux_head=True`) is dropped. ScheduledDropPath is the identity at inference.
        path: the `.tflite` file to write.
        quantize: None (float32), "dynamic" (int8 weights, float activations), "float16"
            (float16 weights) or "int8" (full integer: weights, activations, input and output,
            builtin int8 kernels only; needs `representative_data`).
        representative_data: for "int8": images [N, h, w, c] as the model sees them (an array,
            or a tf.data dataset of images or (images, labels), batched or not).
        max_calibration_examples: at most this many calibration images are used.
        xnnpack_rewrite: rewrite the graph first (`xnnpack_friendly`; same float outputs) so
            that the runtime's XNNPACK backend runs all of it; False converts it as it is.
            (An int8 file always gets `widen_collapsed_scales`: XNNPACK refuses it otherwise.)

    Returns:
        `path`.

    Every argument is checked before the (slow) conversion, and the file is written under a
    temporary name and renamed: on any failure no file is left at `path`.

    Raises:
        ValueError: an unknown `quantize`, a `path` that does not end with ".tflite" or is a
            directory, `max_calibration_examples` < 1, "int8" without (or with mismatched, or
            not finite) calibration images, calibration images with another `quantize`
            (float16 and dynamic calibrate nothing), a model with unknown input sizes, or a
            model that needs ops outside TF-Lite's builtin set (Flex ops are not allowed).
        TypeError: `model` is not a Keras model, `xnnpack_rewrite` not a bool, or
            `representative_data` neither an array nor a dataset.
    """
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    check_choice(quantize, "quantize", QUANTIZATIONS)
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must be a file name ending with '.tflite'; received {path!r}.")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"`path` {path!r} is a directory; give the .tflite file to write.")
    check_int(max_calibration_examples, "max_calibration_examples", minimum=1)
    check_bool(xnnpack_rewrite, "xnnpack_rewrite")
    model = inference_model(model)
    shape = _input_shape(model)
    if representative_data is not None and quantize != "int8":
        # float16 and dynamic quantization calibrate nothing: the data would be ignored.
        raise ValueError(
            '`representative_data` is only used with quantize="int8"; received '
            f"quantize={quantize!r}."
        )
    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize is not None:
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "int8":
        if representative_data is None:
            raise ValueError('quantize="int8" needs `representative_data` (calibration images).')
        examples = _calibration_examples(representative_data, shape, max_calibration_examples)
        options["representative_dataset"] = lambda: ([x] for x in examples)

        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        options["inference_input_type"] = tf.int8
        options["inference_output_type"] = tf.int8
    if xnnpack_rewrite:
        model = xnnpack_friendly(model, int8=quantize == "int8")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    signature = [keras.InputSpec(shape=(1, *shape), dtype="float32")]
    # Written under a temporary name and renamed when complete: a failed or interrupted
    # conversion leaves no file at `path` (nor a half-written one).
    # (A fresh name, not mkstemp's file: that one would keep mode 0600 after the rename.)
    partial = os.path.join(
        directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.partial.tflite"
    )
    try:
        model.export(partial, format="litert", input_signature=signature, verbose=False, **options)
        if quantize == "int8":
            widen_collapsed_scales(partial)
        os.replace(partial, path)
    except Exception as error:  # the converter raises its own ConverterError type
        if type(error).__name__ != "ConverterError":
            raise
        raise ValueError(
            f"Model {model.name!r} cannot be converted to TF-Lite with builtin ops only "
            f"(quantize={quantize!r}; Flex ops are not allowed): "
            f"{str(error).strip().splitlines()[-1]}"
        ) from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def load_model(source: str) -> keras.Model:
    """Returns the model a `.keras` file holds (zoo names are resolved by the command line).

    Raises:
        FileNotFoundError: a `.keras` path that does not exist.
        ValueError: neither a `.keras` file nor a zoo name, or a truncated or corrupt file.
    """
    if str(source).endswith(".keras"):
        if not os.path.exists(source):
            raise FileNotFoundError(f"No such model file: {source!r}.")
        from .keras_files import check_keras_file

        check_keras_file(source)  # names a truncated or foreign file
        # Importing keras_nasnet (this module's package) registered its model and layers.
        return keras.saving.load_model(source, compile=False)
    raise ValueError(f"Unknown model {source!r}: give a .keras file.")


def calibration_images(dataset: str, input_shape, count: int = 300, data_dir=None) -> np.ndarray:
    """Returns `count` training images of `dataset`, preprocessed as in training ([-1, 1]).

    Raises:
        ValueError: the dataset's images are not of `input_shape` (h, w, c), or a bad count.
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
    """
    from . import data

    count = check_int(count, "count", minimum=1)
    image_shape = tuple(data.info(dataset, data_dir).image_shape)
    if image_shape != tuple(input_shape):
        raise ValueError(
            f"Dataset {dataset!r} has images of shape {image_shape} but the model takes "
            f"{tuple(input_shape)}: calibrate with the dataset the model was trained on."
        )
    images = data.load(
        dataset, f"train[:{count}]", data_dir, batch_size=count, augment=False, shuffle=False
    )
    return np.concatenate([np.asarray(x) for x, _ in images])


# -- running a .tflite ---------------------------------------------------------------------------


def interpreter(path: str, threads: int = 1):
    """Returns an allocated LiteRT interpreter of `path` (ai_edge_litert, else tf.lite).

    Raises:
        FileNotFoundError: no such file.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such TF-Lite file: {path!r}.")
    return _allocated(threads, model_path=str(path))


def interpreter_from_bytes(content: bytes, threads: int = 1):
    """Returns an allocated LiteRT interpreter of the flatbuffer model `content` (as
    `interpreter` for a file)."""
    return _allocated(threads, model_content=content)


def _allocated(threads: int, **model):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    runner = Interpreter(**model, num_threads=threads)
    runner.allocate_tensors()
    return runner


def op_counts(path: str) -> collections.Counter:
    """Returns how many ops of each name a `.tflite` file holds (e.g. {"CONV_2D": 196, ...})."""
    return collections.Counter(op["op_name"] for op in interpreter(path)._get_ops_details())


def op_names(path: str) -> set:
    """Returns the names of the ops in a `.tflite` file (e.g. {"CONV_2D", "MEAN", ...})."""
    return set(op_counts(path))


def predict(path: str, images, threads: int = 1) -> np.ndarray:
    """Returns the float outputs of a batch-1 `.tflite` for `images` [N, h, w, c], one by one.

    Integer inputs and outputs (full-integer models) are quantized and dequantized with the
    file's own scale and zero point, so the result compares with the Keras model's directly.
    """
    runner = interpreter(path, threads)
    (inp,), (out,) = runner.get_input_details(), runner.get_output_details()
    images = np.asarray(images, dtype="float32")
    outputs = []
    for image in images:
        x = image[None]
        if np.issubdtype(inp["dtype"], np.integer):
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
        runner.set_tensor(inp["index"], x)
        runner.invoke()
        y = runner.get_tensor(out["index"])
        if np.issubdtype(out["dtype"], np.integer):
            scale, zero = out["quantization"]
            y = (y.astype("float32") - zero) * scale
        outputs.append(y[0])
    return np.stack(outputs)


@dataclass(frozen=True)
class Latency:
    """Batch-1 latency of a `.tflite` on this machine, and its file size."""

    median_ms: float
    p90_ms: float
    runs: int
    threads: int
    size_bytes: int


def check_latency_arguments(threads: int = 1, runs: int = 50, warmup: int = 0) -> None:
    """Returns None if `measure_latency` accepts these counts (so that a caller can check them
    before a slow conversion); raises ValueError naming the first one out of range."""
    for name, value, low in (("threads", threads, 1), ("runs", runs, 1), ("warmup", warmup, 0)):
        check_int(value, name, minimum=low)


def invocation_times_ms(invoke: Callable[[], object], runs: int, warmup: int = 0) -> np.ndarray:
    """Returns the wall-clock times in ms of `runs` calls of `invoke()`, after `warmup` untimed
    calls (caches and lazily built kernels warm): the one timing loop of every latency here.

    Raises:
        ValueError: `runs` < 1 or `warmup` < 0.
    """
    runs = check_int(runs, "runs", minimum=1)
    for _ in range(check_int(warmup, "warmup", minimum=0)):
        invoke()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        invoke()
        times[i] = (time.perf_counter() - start) * 1000.0
    return times


def measure_latency(
    path: str, threads: int = 1, runs: int = 50, warmup: int = 5, seed: int = 0
) -> Latency:
    """Returns the median and 90th-percentile time of `runs` batch-1 invocations of `path`.

    The input is random data of the file's input type; `warmup` untimed runs come first.

    Raises:
        ValueError: `threads`, `runs` or `warmup` out of range.
        FileNotFoundError: no such file.
    """
    check_latency_arguments(threads, runs, warmup)
    runner = interpreter(path, threads)
    (inp,) = runner.get_input_details()
    rng = np.random.default_rng(seed)
    if np.issubdtype(inp["dtype"], np.integer):
        info = np.iinfo(inp["dtype"])
        x = rng.integers(info.min, info.max, size=inp["shape"], endpoint=True).astype(inp["dtype"])
    else:
        x = rng.uniform(-1, 1, size=inp["shape"]).astype(inp["dtype"])
    runner.set_tensor(inp["index"], x)
    times = invocation_times_ms(runner.invoke, runs, warmup)
    return Latency(
        median_ms=float(np.median(times)),
        p90_ms=float(np.percentile(times, 90)),
        runs=runs,
        threads=threads,
        size_bytes=os.path.getsize(path),
    )

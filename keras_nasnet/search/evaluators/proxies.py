"""Zero-cost proxies: score an untrained child network from one minibatch, in about a second.

Each proxy builds the architecture's child network at search size (`CHILD_SETTINGS`: N = 2,
F = 8, CIFAR stem), initialized from `seed`, and scores it without training:

- ``naswot`` (Mellor et al. 2021, "Neural Architecture Search without Training"): the binary
  code of which ReLU units are positive for each image, K[i, j] = N_A - Hamming(c_i, c_j),
  score = log|det K|. Batch norm in training mode (batch statistics), as in the paper's code.
- ``synflow`` (Tanaka et al. 2020, as a proxy in Abdelfattah et al. 2021): every weight replaced
  by its absolute value, one all-ones input, R = sum of the logits; score = sum over kernels of
  |theta * dR/dtheta|. Computed in float64 (products of absolute weights overflow float32) with
  batch norm in inference mode: with fresh statistics that is the identity, which is what the
  reference code's BN-free copy of the network computes; batch statistics of one constant image
  would erase the signal.
- ``grad_norm`` (Abdelfattah et al. 2021): sum over kernels of ||dL/dtheta||_2 on the labelled
  minibatch (cross-entropy L, batch norm in training mode).
- ``snip`` (Lee et al. 2019, as a proxy in Abdelfattah et al. 2021): sum over kernels of
  |theta * dL/dtheta|, same loss and mode.
- ``params``: the trainable and non-trainable parameter count, the baseline every proxy must be
  compared with (several studies find it hard to beat).

"Kernels" are the weights of convolutions (plain, depthwise, pointwise) and of the classifier,
the layers the reference code prunes. Higher is better for every proxy. The network's logits are
used (the classifier is built without softmax); none of this changes the parameter count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from ...genotypes import get_architecture
from ...nasnet import NASNetModel
from ...training import TrainingSettings
from .child import CHILD_SETTINGS

# `keras.config.set_dtype_policy` is process-wide: float64 builds hold this lock so that two
# threads scoring at once never build each other's model in the wrong precision.
_DTYPE_LOCK = threading.Lock()
_KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel")


# -- input checks ----------------------------------------------------------------------------


def _check_images(images, image_batch: bool = True) -> np.ndarray:
    """Returns `images` as float32 [B, ...] ([B, h, w, c] with `image_batch`); uint8 pixels are
    scaled to [-1, 1] like the training pipeline's."""
    array = np.asarray(images)
    if array.ndim < 1 or (image_batch and array.ndim != 4):
        raise ValueError(
            f"`images` must be a 4-D array [batch, height, width, channels]; received shape "
            f"{array.shape}."
        )
    if array.shape[0] < 1 or 0 in array.shape:
        raise ValueError(f"`images` must hold at least one image; received shape {array.shape}.")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"`images` must be a real numeric array; received dtype {array.dtype}.")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("`images` holds NaN or infinite values.")
    return array


def _check_labels(labels, batch: int, classes: int | None) -> tuple[np.ndarray, int]:
    """Returns (labels as int32 [B], classes); `classes` None means max label + 1 (at least 2)."""
    if labels is None:
        raise ValueError("`labels` are required by this proxy; received None.")
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.shape[0] != batch:
        raise ValueError(
            f"`labels` must be a 1-D array with one label per image ({batch}); received shape "
            f"{array.shape}."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"`labels` must be integer class ids; received dtype {array.dtype}.")
    if array.min() < 0:
        raise ValueError(f"`labels` must be >= 0; received {int(array.min())}.")
    classes = _check_classes(classes, int(array.max()) + 1)
    if array.max() >= classes:
        raise ValueError(f"`labels` must be < classes ({classes}); received {int(array.max())}.")
    return array.astype(np.int32), classes


def _check_classes(classes, default: int) -> int:
    if classes is None:
        return max(2, default)
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"`classes` must be a positive int or None; received {classes!r}.")
    return int(classes)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be an int; received {seed!r}.")
    return int(seed)


def _check_model(model) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    return model


# -- the child network -----------------------------------------------------------------------


def build_proxy_model(
    architecture,
    input_shape,
    classes: int,
    settings: TrainingSettings = CHILD_SETTINGS,
    seed: int = 0,
    dtype: str = "float32",
) -> NASNetModel:
    """Returns the uncompiled child `NASNetModel` the proxies score: CIFAR stem, N and F from
    `settings`, linear classifier (logits), drop path off, initialized from `seed`, computing
    in `dtype` ("float32" or "float64").

    Raises:
        ValueError: an unknown architecture, a bad setting or dtype.
        TypeError: `settings` that is not a TrainingSettings, or a seed that is not an int.
    """
    if not isinstance(settings, TrainingSettings):
        raise TypeError(
            f"`settings` must be a TrainingSettings; received {type(settings).__name__}."
        )
    if dtype not in ("float32", "float64"):
        raise ValueError(f"`dtype` must be 'float32' or 'float64'; received {dtype!r}.")
    seed = _check_seed(seed)
    architecture = get_architecture(architecture)

    def build():
        return NASNetModel(
            architecture,
            filters=settings.filters,
            num_blocks=settings.num_blocks,
            stem="cifar",
            skip_reduction=False,
            input_shape=tuple(input_shape),
            classes=classes,
            classifier_activation=None,
            bn_momentum=0.9,
            bn_epsilon=1e-5,
            seed=seed,
            name="proxy_child",
        )

    if dtype == "float32":
        return build()
    with _DTYPE_LOCK:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(dtype)
        try:
            return build()
        finally:
            keras.config.set_dtype_policy(previous)


def _kernels(model: keras.Model) -> list:
    kernels = [w for w in model.trainable_weights if w.name in _KERNEL_NAMES]
    if not kernels:
        raise ValueError(f"Model {model.name!r} has no convolution or dense kernels to score.")
    return kernels


def _relu_layers(model: keras.Model) -> list:
    found = []
    for layer in model.layers:
        is_relu_activation = (
            isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "relu"
        )
        if is_relu_activation or isinstance(layer, keras.layers.ReLU):
            found.append(layer)
    return found


# -- scores of a built model -----------------------------------------------------------------


def naswot_score(model: keras.Model, images) -> float:
    """Returns NASWOT's log|det K| of `model` on `images` (batch norm in training mode).

    K[i, j] counts the ReLU units (of every ReLU or relu-Activation layer of `model`) on which
    images i and j agree, positive or not: N_A - Hamming(c_i, c_j). A singular K (two images with
    identical codes) gives -inf.

    Raises:
        TypeError: `model` is not a keras.Model, or `images` not numeric.
        ValueError: bad `images`, or a model without ReLU layers.
    """
    model = _check_model(model)
    images = _check_images(images, image_batch=False)
    relus = _relu_layers(model)
    if not relus:
        raise ValueError(f"Model {model.name!r} has no ReLU layers; NASWOT needs some.")
    # One input tensor, not a list, or Keras warns that the call's structure differs.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    features = keras.Model(inputs, [layer.output for layer in relus])
    outputs = features(images, training=True)
    if not isinstance(outputs, (list, tuple)):  # a model with one output returns no list
        outputs = [outputs]
    batch = images.shape[0]
    kernel = np.zeros((batch, batch), dtype=np.float64)
    for output in outputs:
        # Sums of 0/1 products are exact in float32 up to 2**24 units per layer.
        codes = tf.cast(tf.reshape(output, (batch, -1)) > 0, tf.float32)
        agree_on = tf.matmul(codes, codes, transpose_b=True)
        agree_off = tf.matmul(1.0 - codes, 1.0 - codes, transpose_b=True)
        kernel += (agree_on + agree_off).numpy().astype(np.float64)
    _, log_det = np.linalg.slogdet(kernel)
    return float(log_det)


def _loss_gradients(model: keras.Model, images, labels) -> tuple[list, list]:
    images = _check_images(images, image_batch=False)
    labels, _ = _check_labels(labels, images.shape[0], _output_classes(model))
    kernels = _kernels(model)
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        if isinstance(logits, (list, tuple)):
            logits = logits[0]
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )
    gradients = tape.gradient(loss, kernels)
    return kernels, gradients


def _output_classes(model: keras.Model) -> int:
    output = model.outputs[0]
    return int(output.shape[-1])


def grad_norm_score(model: keras.Model, images, labels) -> float:
    """Returns the sum over `model`'s kernels of the L2 norm of the cross-entropy gradient on
    (`images`, `labels`), the model's outputs read as logits, batch norm in training mode.

    Raises:
        TypeError, ValueError: bad `model`, `images` or `labels` (one class id per image, below
            the model's number of outputs).
    """
    _, gradients = _loss_gradients(_check_model(model), images, labels)
    return float(sum(float(tf.norm(g)) for g in gradients if g is not None))


def snip_score(model: keras.Model, images, labels) -> float:
    """Returns SNIP's saliency, sum over `model`'s kernels of |theta * dL/dtheta| with the
    cross-entropy L on (`images`, `labels`), the outputs read as logits, BN in training mode.

    Raises:
        TypeError, ValueError: as `grad_norm_score`.
    """
    kernels, gradients = _loss_gradients(_check_model(model), images, labels)
    return float(
        sum(
            float(tf.reduce_sum(tf.abs(w * g))) for w, g in zip(kernels, gradients) if g is not None
        )
    )


def synflow_score(model: keras.Model) -> float:
    """Returns synflow: with every weight of `model` replaced by its absolute value (in place:
    the model is spent afterwards), R = sum of its outputs on one all-ones input in inference
    mode, the sum over kernels of |theta * dR/dtheta|. Build the model in float64
    (`build_proxy_model(..., dtype="float64")`) or deep networks overflow.

    Raises:
        TypeError: `model` is not a keras.Model.
        ValueError: a model without kernels or without a fully known input shape.
    """
    model = _check_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    if any(size is None for size in shape):
        raise ValueError(f"synflow needs a fully known input shape; the model's is {shape}.")
    for weight in model.weights:
        weight.assign(keras.ops.abs(weight))
    kernels = _kernels(model)
    ones = tf.ones((1,) + shape, dtype=model.compute_dtype)
    with tf.GradientTape() as tape:
        outputs = model(ones, training=False)
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        total = tf.reduce_sum(outputs)
    gradients = tape.gradient(total, kernels)
    return float(
        sum(
            float(tf.reduce_sum(tf.abs(tf.cast(w, g.dtype) * g)))
            for w, g in zip(kernels, gradients)
            if g is not None
        )
    )


# -- scores of an architecture ---------------------------------------------------------------


def _classes_from(labels, batch: int, classes) -> int:
    if labels is None:
        return _check_classes(classes, 10)
    return _check_labels(labels, batch, classes)[1]


def _architecture_proxy(
    name: str,
    score: Callable[[keras.Model, np.ndarray, np.ndarray | None], float],
    doc: str,
    needs_labels: bool = False,
    dtype: str = "float32",
) -> Callable[..., float]:
    """Returns the proxy `name` of an architecture: it checks the minibatch, builds the child
    network (`build_proxy_model` in `dtype`) and returns `score(model, images, labels)`.

    Without `needs_labels`, `labels` are optional and only set the default number of classes
    (their largest + 1, else 10); with it they are required and checked against the classes.
    """

    def proxy(
        architecture,
        images,
        labels=None,
        *,
        classes: int | None = None,
        settings: TrainingSettings = CHILD_SETTINGS,
        seed: int = 0,
    ) -> float:
        images = _check_images(images)
        if needs_labels:
            labels, classes = _check_labels(labels, images.shape[0], classes)
        else:
            classes = _classes_from(labels, images.shape[0], classes)
        model = build_proxy_model(architecture, images.shape[1:], classes, settings, seed, dtype)
        return score(model, images, labels)

    proxy.__name__ = proxy.__qualname__ = name
    proxy.__doc__ = doc
    return proxy


naswot = _architecture_proxy(
    "naswot",
    lambda model, images, labels: naswot_score(model, images),
    """Returns NASWOT's score (`naswot_score`) of `architecture`'s child network built from
    `seed` on `images`; `labels` only set the default number of classes (max + 1; else 10).

    Raises:
        TypeError, ValueError: bad inputs (see `build_proxy_model`, `naswot_score`).
    """,
)
synflow = _architecture_proxy(
    "synflow",
    lambda model, images, labels: synflow_score(model),
    """Returns synflow (`synflow_score`) of `architecture`'s float64 child network built from
    `seed`; only the shape of `images` is used (the input is all ones).

    Raises:
        TypeError, ValueError: bad inputs (see `build_proxy_model`).
    """,
    dtype="float64",
)
grad_norm = _architecture_proxy(
    "grad_norm",
    grad_norm_score,
    """Returns grad-norm (`grad_norm_score`) of `architecture`'s child network built from `seed`
    on (`images`, `labels`, required); `classes` defaults to the largest label + 1.

    Raises:
        TypeError, ValueError: bad inputs (see `build_proxy_model`, `grad_norm_score`).
    """,
    needs_labels=True,
)
snip = _architecture_proxy(
    "snip",
    snip_score,
    """Returns SNIP (`snip_score`) of `architecture`'s child network built from `seed` on
    (`images`, `labels`, required); `classes` defaults to the largest label + 1.

    Raises:
        TypeError, ValueError: bad inputs (see `build_proxy_model`, `snip_score`).
    """,
    needs_labels=True,
)
params = _architecture_proxy(
    "params",
    lambda model, images, labels: float(model.count_params()),
    """Returns the parameter count of `architecture`'s child network for images shaped like
    `images` (the baseline proxy; `seed` does not change it).

    Raises:
        TypeError, ValueError: bad inputs (see `build_proxy_model`).
    """,
)


ProxyFunction = Callable[..., float]

PROXIES: dict[str, ProxyFunction] = {
    "naswot": naswot,
    "synflow": synflow,
    "grad_norm": grad_norm,
    "snip": snip,
    "params": params,
}


def get_proxy(name: str) -> ProxyFunction:
    """Returns the proxy registered as `name`: a function
    `(architecture, images, labels, *, classes=None, settings=CHILD_SETTINGS, seed=0) -> float`,
    higher meaning a better architecture.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in PROXIES:
        raise ValueError(f"Unknown proxy {name!r}; known proxies: {', '.join(PROXIES)}.")
    return PROXIES[name]


__all__ = [
    "PROXIES",
    "build_proxy_model",
    "get_proxy",
    "grad_norm",
    "grad_norm_score",
    "naswot",
    "naswot_score",
    "params",
    "snip",
    "snip_score",
    "synflow",
    "synflow_score",
]

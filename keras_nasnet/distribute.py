"""tf.distribute strategies for training one model on several devices or machines.

`make_strategy(kind, devices)` is what `keras-nasnet train/search --strategy --devices` call.
Batch sizes stay global everywhere in keras_nasnet: a batch of 64 on 2 replicas is 32 examples
per replica, so a run gives the same schedule (steps, learning rate, drop-path ramp) on any
number of devices. Under a strategy with more than one replica, BatchNormalization layers are
switched to synchronized statistics (`synchronize_batch_norm`) so that one step on R replicas
computes what one step on one device would with the same global batch.
"""

from __future__ import annotations

from typing import Sequence, Union

STRATEGIES = ("default", "mirrored", "multi_worker")

Devices = Union[None, int, str, Sequence[str]]


def parse_devices(devices: Devices) -> Union[None, int, list[str]]:
    """Returns `devices` as None (all visible), a count, or a list of device names.

    Accepts an int, a string holding a count ("2") or comma-separated device names
    ("/gpu:0,/gpu:1", "GPU:0,GPU:1"), or a sequence of names.

    Raises:
        ValueError: an empty list, a count below 1, or a name that is not a device name.
    """
    if devices is None:
        return None
    if isinstance(devices, str):
        text = devices.strip()
        if text.isdigit():
            devices = int(text)
        else:
            devices = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(devices, bool):
        raise ValueError(f"`devices` must be a count or device names; received {devices!r}.")
    if isinstance(devices, int):
        if devices < 1:
            raise ValueError(f"`devices` must be at least 1; received {devices!r}.")
        return devices
    names = [str(name) for name in devices]
    if not names:
        raise ValueError("`devices` is empty; give a count (2) or device names (/gpu:0,/gpu:1).")
    for name in names:
        kind = name.lstrip("/").split(":")[0].lower()
        if kind not in ("gpu", "cpu", "tpu") and not name.startswith("/job:"):
            raise ValueError(
                f"`devices` entry {name!r} is not a device name; use e.g. /gpu:0, GPU:1 or /cpu:0."
            )
    return [
        "/" + name.lstrip("/").lower() if not name.startswith("/job:") else name for name in names
    ]


def _local_devices(count: int) -> list[str]:
    """The first `count` GPUs, or `count` logical CPU devices on a machine without GPUs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if count > len(gpus):
            raise ValueError(f"`devices`={count} but only {len(gpus)} GPU(s) are visible.")
        return [f"/gpu:{i}" for i in range(count)]
    cpus = tf.config.list_physical_devices("CPU")
    try:
        # Splitting the CPU into logical devices is only possible before TensorFlow
        # initializes; it exists to try a multi-device setup (and test it) without GPUs.
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < count:
            raise ValueError(
                f"`devices`={count} on a machine without GPUs needs {count} logical CPU devices, "
                "which must be configured before TensorFlow initializes (call make_strategy first)."
            ) from None
    return [f"/cpu:{i}" for i in range(count)]


def make_strategy(kind: str = "default", devices: Devices = None):
    """Returns a `tf.distribute.Strategy`.

    Args:
        kind: "default" (one device, TensorFlow's default strategy), "mirrored" (synchronous
            data parallelism over the local devices) or "multi_worker" (MultiWorkerMirrored
            over the machines `TF_CONFIG` names; each uses all its visible GPUs).
        devices: for "mirrored": None (every visible GPU, else the CPU), a count (the first N
            GPUs; on a machine without GPUs, N logical CPU devices, which is for trying the
            setup, not for speed) or device names. "default" takes None or 1; "multi_worker"
            takes None (choose a worker's GPUs with CUDA_VISIBLE_DEVICES).

    Raises:
        ValueError: an unknown kind, devices that do not fit the kind, too few devices, or a
            named device this machine does not have (/gpu:5 on a machine with one GPU).
    """
    if kind not in STRATEGIES:
        raise ValueError(f"Unknown strategy {kind!r}; allowed: {', '.join(STRATEGIES)}.")
    devices = parse_devices(devices)
    import tensorflow as tf

    if kind == "default":
        if devices not in (None, 1):
            raise ValueError(
                f"The default strategy uses one device; received devices={devices!r}. Use "
                "'mirrored'."
            )
        return tf.distribute.get_strategy()
    if kind == "multi_worker":
        if devices is not None:
            raise ValueError(
                "The multi_worker strategy uses every GPU a worker sees; choose them with "
                f"CUDA_VISIBLE_DEVICES, not devices={devices!r}."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if isinstance(devices, int):
        devices = _local_devices(devices)
    else:
        _check_devices_exist(devices)
    return tf.distribute.MirroredStrategy(devices)


def _check_devices_exist(names: list) -> None:
    """Raises ValueError naming a local device of `names` (/gpu:N, /cpu:N) this machine lacks:
    TensorFlow would place its work on another device without a word."""
    import tensorflow as tf

    for name in names:
        if name.startswith("/job:"):
            continue  # another machine's: it is checked there
        kind, _, index = name.lstrip("/").partition(":")
        kind = kind.upper()
        if kind == "CPU" and index not in ("", "0"):
            # Only logical CPU devices (set before TensorFlow initializes) go beyond /cpu:0.
            available = len(tf.config.list_logical_devices("CPU"))
        else:
            available = len(tf.config.list_physical_devices(kind))
        if (index and not index.isdigit()) or int(index or 0) >= available:
            raise ValueError(
                f"`devices` names {name}, which this machine does not have: it has {available} "
                f"{kind} device(s); name devices that exist, or give a count."
            )


def num_replicas(strategy) -> int:
    """Returns the number of replicas `strategy` trains on (1 for None)."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def synchronize_batch_norm(model, synchronized: bool = True) -> int:
    """Sets `synchronized` on every BatchNormalization layer of `model`; returns how many.

    Keras reads the flag when the training step is traced, so set it before `fit`. Reset it
    (`synchronized=False`) before saving a model that must load on other Keras backends.
    """
    import keras

    from .compat import flatten_layers

    count = 0
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized
            count += 1
    return count

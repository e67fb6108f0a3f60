"""Helpers shared by the tests."""

import json
import os
import socket
import subprocess
import sys

import h5py
import keras
import numpy as np


def weighted_layer_signature(model):
    """(name, class, weight shapes) of every layer with weights, in the model's layer order."""
    return [
        (layer.name, type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
        if layer.weights
    ]


def randomize(model, seed=0):
    """Gives every weight (BN statistics included) random values, so equality tests mean
    something.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.get_weights():
            if isinstance(layer, keras.layers.BatchNormalization):
                values.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            else:
                values.append((w + rng.normal(0, 0.02, w.shape)).astype(w.dtype))
        if values:
            layer.set_weights(values)
    return model


def save_legacy_h5(model, path):
    """Saves weights in the legacy Keras h5 layout of the official NASNet weight files."""
    from keras_nasnet import compat

    with h5py.File(path, "w") as f:
        compat.save_weights_to_hdf5_group(f, model)
    return str(path)


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**extra):
    """The environment for a subprocess that must import this checkout's keras_nasnet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script_json(name, *args, timeout=300):
    """Runs tests/scripts/`name` in a fresh interpreter (one that may still split the CPU into
    logical devices before TensorFlow initializes); returns the JSON of its last output line."""
    out = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "scripts", name), *args],
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="2"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def only_error_line(capsys) -> str:
    """Returns the one non-empty line a command wrote to stderr (asserting there is exactly one
    and no traceback)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# `keras-nasnet search` flags of the smallest trained children: one-block cells, N = 1, F = 4,
# one epoch of batches of 32, 64 held-out images, random proposals, no final model.
TINY_CHILD_SEARCH = (
    "--cell-blocks",
    "1",
    "--blocks",
    "1",
    "--filters",
    "4",
    "--batch-size",
    "32",
    "--epochs",
    "1",
    "--validation-size",
    "64",
    "--algorithm",
    "random",
    "--no-final",
)

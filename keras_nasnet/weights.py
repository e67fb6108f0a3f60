"""Loading weight files into keras_nasnet models, with errors that say what went wrong.

Two layouts are read, whatever the file is called:
- the legacy Keras h5 layout of the official NASNet files (``layer_names`` attribute, one
  group per layer, or the same under ``model_weights`` in a full-model h5 file). Layers are
  matched by name, so a model that adds layers the file lacks (drop path, an auxiliary head)
  still receives every weight the file has;
- the Keras 3 ``.weights.h5`` layout (and ``.keras`` archives), matched by model structure.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import h5py

from .keras_files import check_keras_file
from .layers import ScheduledDropPath

# Layers a weights file may lack: they exist only for training, and the reference models
# (and so the official files) do not have them.
_TRAINING_ONLY_PREFIXES = ("aux_",)


def _decode(names) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _legacy_group(f: h5py.File):
    if "layer_names" in f.attrs:
        return f
    if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        return f["model_weights"]
    return None


def _legacy_weighted_layers(group) -> list[str]:
    names = []
    for name in _decode(group.attrs["layer_names"]):
        if len(group[name].attrs.get("weight_names", [])):
            names.append(name)
    return names


def _training_only(layer) -> bool:
    return isinstance(layer, ScheduledDropPath) or layer.name.startswith(_TRAINING_ONLY_PREFIXES)


def _check_legacy_layers(model, file_layers: list[str], path: str) -> None:
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    unknown = [name for name in file_layers if name not in model_layers]
    if unknown:
        raise ValueError(
            f"Weights file {path} holds weights for {len(unknown)} layer(s) this model does not "
            "have "
            f"(first: {', '.join(unknown[:5])}). It was saved from a different model; check "
            "`include_top` and the architecture settings."
        )
    in_file = set(file_layers)
    missing = [
        n for n, layer in model_layers.items() if n not in in_file and not _training_only(layer)
    ]
    if missing:
        raise ValueError(
            f"Weights file {path} has no weights for {len(missing)} layer(s) of this model "
            f"(first: {', '.join(missing[:5])}). It was saved from a different model; check "
            "`include_top` and the architecture settings."
        )


def load_weights(model, path) -> None:
    """Loads the weights file at `path` into `model` (legacy h5, `.weights.h5` or `.keras`).

    Raises:
        ValueError: the file does not exist, cannot be read, or does not fit the model.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"Weights file {path!r} is a directory; give a weights file (.h5, .weights.h5 or "
            ".keras)."
        )
    if not os.path.isfile(path):
        raise ValueError(f"Weights file {path!r} does not exist.")
    if path.endswith(".keras"):
        check_keras_file(path)  # names a truncated or foreign file (keras_files.py)
        _load_by_structure(model, path, path)
        return
    try:
        with h5py.File(path, "r") as f:
            group = _legacy_group(f)
            legacy_layers = _legacy_weighted_layers(group) if group is not None else None
    except OSError as error:
        raise ValueError(
            f"Weights file {path!r} is not a readable HDF5 weights file ({error})."
        ) from None
    if legacy_layers is not None:
        _check_legacy_layers(model, legacy_layers, path)
        with _with_suffix(path, ".h5") as h5_path:
            model.load_weights(h5_path, by_name=True)
        return
    with _with_suffix(path, ".weights.h5") as weights_path:
        _load_by_structure(model, weights_path, path)


def _load_by_structure(model, source: str, path: str) -> None:
    """Keras' structure-matched load of `source`; its refusal ("N objects could not be
    loaded"), which names no file, becomes one that names `path`."""
    try:
        model.load_weights(source)
    except ValueError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"Weights file {path!r} does not fit this model ({first}). It was saved from a "
            "different model; check `include_top` and the architecture settings."
        ) from error


class _with_suffix:
    """Gives Keras' suffix-dispatched loader a path ending in `suffix` (a link if needed)."""

    def __init__(self, path: str, suffix: str):
        self.path = path
        self.suffix = suffix
        self.tmpdir = None

    def __enter__(self) -> str:
        wants_legacy = self.suffix == ".h5"
        ok = self.path.endswith(self.suffix) and (
            not wants_legacy or not self.path.endswith(".weights.h5")
        )
        if ok:
            return self.path
        self.tmpdir = tempfile.mkdtemp(prefix="keras_nasnet_weights_")
        target = os.path.join(self.tmpdir, "weights" + self.suffix)
        try:
            os.symlink(os.path.abspath(self.path), target)
        except OSError:
            shutil.copyfile(self.path, target)
        return target

    def __exit__(self, *exc):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return False

"""keras-nasnet: NASNet-A/B/C models for Keras 3 and NASNet-style architecture search.

The public names are imported on first use (`keras_nasnet.NASNetMobile` imports Keras then),
so that `import keras_nasnet.cli` and `keras-nasnet --help` start no TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "MnasNetA1": "applications",
    "MnasNetB1": "applications",
    "MnasNetD1": "applications",
    "MnasNetSmall": "applications",
    "NASNetBCIFAR": "applications",
    "NASNetBMobile": "applications",
    "NASNetCCIFAR": "applications",
    "NASNetCIFAR": "applications",
    "NASNetCMobile": "applications",
    "NASNetLarge": "applications",
    "NASNetMobile": "applications",
    "decode_predictions": "applications",
    "preprocess_input": "applications",
    "NASNET_A": "genotypes",
    "NASNET_B": "genotypes",
    "NASNET_C": "genotypes",
    "OPS": "genotypes",
    "Architecture": "genotypes",
    "Block": "genotypes",
    "Genotype": "genotypes",
    "ScheduledDropPath": "layers",
    "count_mult_adds": "mult_adds",
    "MnasNet": "mnasnet",
    "MnasNetModel": "mnasnet",
    "MobileBlock": "mobile_blocks",
    "AnyNetModel": "anynet",
    "AnyNetPoint": "anynet",
    "GroupConv2D": "anynet",
    "AnyNetXSpace": "anynet_spaces",
    "RegNetSpace": "anynet_spaces",
    "MacroArchitecture": "macro",
    "MacroLayer": "macro",
    "MacroNetModel": "macro",
    "RegNet": "regnet",
    "regnet_point": "regnet",
    "AUX_LOSS_WEIGHT": "nasnet",
    "NASNet": "nasnet",
    "NASNetModel": "nasnet",
    "strip_aux_head": "nasnet",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Returns the public `name` (imported now), or a submodule of the package.

    Raises:
        AttributeError: `name` is neither.
        ImportError: TensorFlow, Keras' default backend, is not installed.
    """
    if name in _EXPORTS:
        value = getattr(_import(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return _import(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


def _import(module: str):
    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
        if error.name != "tensorflow":
            raise
        raise ImportError(
            "keras-nasnet runs on Keras' TensorFlow backend by default and TensorFlow is not "
            "installed. Install it with `pip install keras-nasnet[cpu]` (tensorflow-cpu) or "
            "`pip install keras-nasnet[gpu]` (tensorflow), or set KERAS_BACKEND to an installed "
            "backend."
        ) from error

"""keras-nasnet: NASNet-A/B/C models for Keras 3 and NASNet-style architecture search."""

try:
    import keras  # noqa: F401
except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
    if error.name != "tensorflow":
        raise
    raise ImportError(
        "keras-nasnet runs on Keras' TensorFlow backend by default and TensorFlow is not "
        "installed. Install it with `pip install keras-nasnet[cpu]` (tensorflow-cpu) or "
        "`pip install keras-nasnet[gpu]` (tensorflow), or set KERAS_BACKEND to an installed "
        "backend."
    ) from error

from .applications import (
    NASNetBCIFAR,
    NASNetBMobile,
    NASNetCCIFAR,
    NASNetCIFAR,
    NASNetCMobile,
    NASNetLarge,
    NASNetMobile,
    decode_predictions,
    preprocess_input,
)
from .genotypes import NASNET_A, NASNET_B, NASNET_C, OPS, Architecture, Block, Genotype
from .layers import ScheduledDropPath
from .mult_adds import count_mult_adds
from .nasnet import AUX_LOSS_WEIGHT, NASNet, NASNetModel, strip_aux_head

__version__ = "0.1.0"

__all__ = [
    "AUX_LOSS_WEIGHT",
    "Architecture",
    "Block",
    "Genotype",
    "NASNET_A",
    "NASNET_B",
    "NASNET_C",
    "NASNet",
    "NASNetBCIFAR",
    "NASNetBMobile",
    "NASNetCCIFAR",
    "NASNetCIFAR",
    "NASNetCMobile",
    "NASNetLarge",
    "NASNetMobile",
    "NASNetModel",
    "OPS",
    "ScheduledDropPath",
    "count_mult_adds",
    "decode_predictions",
    "preprocess_input",
    "strip_aux_head",
]

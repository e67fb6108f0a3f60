"""keras-nasnet: NASNet-A/B/C models for Keras 3 and NASNet-style architecture search."""

try:
    import tensorflow  # noqa: F401  (Keras' backend here; imported early for a clear message)
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras-nasnet needs TensorFlow. Install it with `pip install keras-nasnet[cpu]` "
        "(tensorflow-cpu) or `pip install keras-nasnet[gpu]` (tensorflow)."
    ) from error

from .applications import NASNetCIFAR, NASNetLarge, NASNetMobile, decode_predictions, preprocess_input
from .genotypes import NASNET_A, OPS, Architecture, Block, Genotype
from .layers import ScheduledDropPath
from .mult_adds import count_mult_adds
from .nasnet import AUX_LOSS_WEIGHT, NASNet, strip_aux_head

__version__ = "0.1.0"

__all__ = [
    "AUX_LOSS_WEIGHT",
    "Architecture",
    "Block",
    "Genotype",
    "NASNET_A",
    "NASNet",
    "NASNetCIFAR",
    "NASNetLarge",
    "NASNetMobile",
    "OPS",
    "ScheduledDropPath",
    "count_mult_adds",
    "decode_predictions",
    "preprocess_input",
    "strip_aux_head",
]

"""keras.applications-style NASNet models, their weights registry and ImageNet utilities."""

from keras.applications.nasnet import decode_predictions, preprocess_input

from .nasnet_a import NASNetCIFAR, NASNetLarge, NASNetMobile
from .nasnet_bc import NASNetBCIFAR, NASNetBMobile, NASNetCCIFAR, NASNetCMobile
from .weights_registry import IMAGENET_WEIGHTS, fetch_imagenet_weights

__all__ = [
    "IMAGENET_WEIGHTS",
    "NASNetBCIFAR",
    "NASNetBMobile",
    "NASNetCCIFAR",
    "NASNetCIFAR",
    "NASNetCMobile",
    "NASNetLarge",
    "NASNetMobile",
    "decode_predictions",
    "fetch_imagenet_weights",
    "preprocess_input",
]

"""keras.applications-style NASNet and MnasNet models, NASNet's weights registry and ImageNet
utilities."""

from keras.applications.nasnet import decode_predictions, preprocess_input

from .mnasnet import MnasNetA1, MnasNetB1, MnasNetD1, MnasNetSmall
from .nasnet_a import NASNetCIFAR, NASNetLarge, NASNetMobile
from .nasnet_bc import NASNetBCIFAR, NASNetBMobile, NASNetCCIFAR, NASNetCMobile
from .weights_registry import IMAGENET_WEIGHTS, fetch_imagenet_weights

__all__ = [
    "IMAGENET_WEIGHTS",
    "MnasNetA1",
    "MnasNetB1",
    "MnasNetD1",
    "MnasNetSmall",
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

"""The published weight files: where they live, their checksums, and fetching them."""

from __future__ import annotations

import os
from dataclasses import dataclass

import keras

from ..cache import keras_cache_dir

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"


@dataclass(frozen=True)
class WeightFile:
    """One official weights file: its cache name, download URL and md5."""

    fname: str
    url: str
    md5: str


# Keyed by (variant, include_top). Cache names are keras.applications' own, so a file
# keras.applications already downloaded is reused.
IMAGENET_WEIGHTS = {
    ("mobile", True): WeightFile(
        "nasnet_mobile.h5", BASE_URL + "NASNet-mobile.h5", "020fb642bf7360b370c678b08e0adf61"
    ),
    ("mobile", False): WeightFile(
        "nasnet_mobile_no_top.h5",
        BASE_URL + "NASNet-mobile-no-top.h5",
        "1ed92395b5b598bdda52abe5c0dbfd63",
    ),
    ("large", True): WeightFile(
        "nasnet_large.h5", BASE_URL + "NASNet-large.h5", "11577c9a518f0070763c2b964a382f17"
    ),
    ("large", False): WeightFile(
        "nasnet_large_no_top.h5",
        BASE_URL + "NASNet-large-no-top.h5",
        "d81d89dc07e6e56530c4e77faddd61b5",
    ),
}


def fetch_imagenet_weights(variant: str, include_top: bool) -> str:
    """Returns the local path of the official ImageNet weights, downloading them once.

    Raises:
        ValueError: no such variant.
        OSError: the file is neither cached nor downloadable; the message names the file,
            its URL, its md5 and where to put it.
    """
    key = (variant, bool(include_top))
    if key not in IMAGENET_WEIGHTS:
        raise ValueError(f"No ImageNet weights for variant {variant!r}; available: mobile, large.")
    entry = IMAGENET_WEIGHTS[key]
    try:
        return keras.utils.get_file(
            entry.fname, entry.url, cache_subdir="models", file_hash=entry.md5
        )
    except Exception as error:  # get_file raises bare Exceptions for network failures
        target = os.path.join(keras_cache_dir(), entry.fname)
        raise OSError(
            f"Could not obtain the NASNet ImageNet weights {entry.fname} ({error}). Download "
            f"{entry.url} (md5 {entry.md5}) on a machine with internet access and save it as "
            f"{target}, or pass its path as `weights=`."
        ) from error

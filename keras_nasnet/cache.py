"""Where Keras caches downloaded files: the one place `data` and the weights registry share."""

from __future__ import annotations

import os
import tempfile


def keras_cache_dir() -> str:
    """Returns the folder `keras.utils.get_file` caches models in (the same rules as Keras)."""
    if "KERAS_HOME" in os.environ:
        base = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    base = os.path.expanduser(base)
    if not os.access(base, os.W_OK):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    return os.path.join(base, "models")

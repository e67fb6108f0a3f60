"""Checks a `.keras` archive before Keras opens it, so a bad file is named for what it is.

Keras 3.15 reports a truncated or foreign `.keras` file as "File not found" (load_model) or a
bare `BadZipFile` (load_weights). `check_keras_file` tells the cases apart. It imports nothing
of the package, so any module may use it.
"""

from __future__ import annotations

import os
import zipfile

# The members every `.keras` archive written by Keras 3 holds.
KERAS_MEMBERS = ("config.json", "model.weights.h5")


def check_keras_file(path) -> None:
    """Returns None if `path` is a readable, complete `.keras` archive.

    Raises:
        ValueError: the file is missing, a directory, truncated or corrupt (not a zip archive,
            or a member fails its checksum), or a zip archive without Keras' members; the
            message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"Model file {path!r} does not exist.")
    if os.path.isdir(path):
        raise ValueError(f"Model file {path!r} is a directory, not a .keras file.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in KERAS_MEMBERS if m not in names]
            if missing:
                raise ValueError(
                    f"Model file {path!r} is a zip archive but not a .keras file "
                    f"(no {', '.join(missing)})."
                )
            bad = archive.testzip()  # reads every member: catches a cut in the middle
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"Model file {path!r} is truncated or not a .keras file ({error}; "
            f"{os.path.getsize(path)} bytes)."
        ) from None
    except (OSError, EOFError, zipfile.LargeZipFile) as error:
        raise ValueError(f"Cannot read model file {path!r} ({error}).") from None
    if bad is not None:
        raise ValueError(f"Model file {path!r} is corrupt: member {bad!r} fails its checksum.")

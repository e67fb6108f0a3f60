"""File names of a search directory and the one way the search writes a file.

A leaf module (it imports nothing from keras_nasnet): the oracle, the monitors, the reports and
the pipeline all name and write their files through it, so none of them has to import another
for a constant.
"""

from __future__ import annotations

import os
import secrets

# The keras-tuner project `search.run`, the pipeline and `keras-nasnet search` use.
PROJECT_NAME = "search"
ORACLE_FILE = "oracle.json"  # keras-tuner's own name
TRIAL_FILE = "trial.json"  # keras-tuner's own name, in trial_<id>/
STATE_FILE = "nas_state.json"
WEIGHTS_FILE = "controller-{:06d}.npz"
TENSORBOARD_DIR = "tensorboard"
TENSORBOARD_MARKER = "tensorboard.json"
REPORT_HTML = "report.html"
REPORT_MARKDOWN = "report.md"
REPORT_FILES_DIR = "report_files"


def atomic_write(path: str, data: bytes) -> None:
    """Writes `data` to `path`: a reader (or a crash) sees the old or the new file, never half.

    The file gets the permissions `open(path, "w")` would give it (0666 less the process umask,
    applied by the OS: the umask is neither read nor changed).

    Raises:
        OSError: the directory is missing, read-only or full (no temporary file is left behind).
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".tmp-{os.path.basename(path)}-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError) and error.filename is None:  # a full disk fails write(),
            raise OSError(error.errno, error.strerror, path) from error  # which names no file
        raise

"""Checks a saved search's files before resuming it, so a bad file is named, not guessed at.

keras-tuner's reload and numpy raise bare `JSONDecodeError` or `BadZipFile` for a truncated
``oracle.json``, ``trial.json`` or ``controller-*.npz``, without saying which file of the
directory is at fault. `verify_search_state` reads each file the resume will read and raises
`CorruptStateError` naming the first bad one and what is wrong with it.
"""

from __future__ import annotations

import glob
import json
import os
import zipfile

ORACLE_FILE = "oracle.json"
NAS_STATE_FILE = "nas_state.json"
TRIAL_FILE = "trial.json"

_ADVICE = "restore it from a copy, or start the search over (--overwrite / overwrite=True)"


class CorruptStateError(ValueError):
    """A file of a saved search is missing, truncated or not what it should be."""


def verify_search_state(project_dir: str) -> None:
    """Reads every state file a resume of `project_dir` reads; returns None if all are sound.

    Checks each ``trial_*/trial.json``, ``oracle.json``, ``nas_state.json`` (when present) and
    the controller weights file it names.

    Raises:
        CorruptStateError: a file is unreadable, truncated, not JSON (or not an npz archive),
            or of the wrong shape; the message names the file.
    """
    for path in sorted(glob.glob(os.path.join(glob.escape(project_dir), "trial_*", TRIAL_FILE))):
        read_json_object(path, "trial")
    oracle_path = os.path.join(project_dir, ORACLE_FILE)
    if os.path.lexists(oracle_path):
        read_json_object(oracle_path, "oracle state")
    state_path = os.path.join(project_dir, NAS_STATE_FILE)
    if not os.path.lexists(state_path):
        return
    state = read_json_object(state_path, "controller state")
    weights = state.get("weights_file")
    if weights:
        if not isinstance(weights, str) or os.path.basename(weights) != weights:
            raise CorruptStateError(
                f"Controller state file {state_path!r} names an invalid weights file "
                f"{weights!r}; {_ADVICE}."
            )
        verify_npz(os.path.join(project_dir, weights), "controller weights")


def verify_npz(path: str, what: str = "weights") -> None:
    """Reads every array of the npz archive at `path`; returns None if it is sound.

    Raises:
        CorruptStateError: missing, unreadable, truncated or not an npz archive; names `path`.
    """
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                data[key]
    except FileNotFoundError:
        raise CorruptStateError(f"The {what} file {path!r} is missing; {_ADVICE}.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CorruptStateError(
            f"The {what} file {path!r} is truncated or corrupt ({_reason(error)}); {_ADVICE}."
        ) from None


def read_json_object(path: str, what: str = "search state") -> dict:
    """Returns the JSON object in the file at `path`.

    Raises:
        CorruptStateError: unreadable, truncated, not UTF-8 JSON, or not an object; the
            message names the file (as "the `what` file").
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise CorruptStateError(
            f"Cannot read the {what} file {path!r} ({_reason(error)}); {_ADVICE}."
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "empty" if not raw.strip() else _reason(error)
        raise CorruptStateError(
            f"The {what} file {path!r} is truncated or corrupt ({reason}); {_ADVICE}."
        ) from None
    if not isinstance(data, dict):
        raise CorruptStateError(
            f"The {what} file {path!r} holds a JSON {type(data).__name__}, not an object; "
            f"{_ADVICE}."
        )
    return data


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__

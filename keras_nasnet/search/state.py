"""A search directory's state: its file names, the one way the search writes a file, and the
checks a resume runs before it reads one.

A leaf module (it imports nothing from keras_nasnet): the oracle, the monitors, the reports and
the pipeline all name, write and check their files through it, so none of them has to import
another for a constant.

keras-tuner's reload and numpy raise bare `JSONDecodeError` or `BadZipFile` for a truncated
``oracle.json``, ``trial.json`` or ``controller-*.npz``, and a `KeyError` (or a `RuntimeError`
about "reloading") for valid JSON of the wrong shape, without saying which file of the
directory is at fault. `verify_search_state` reads each file the resume will read, checks the
keys its reader takes against a declared shape (`Field`, `check_fields`), and raises
`CorruptStateError` naming the first bad file and what is wrong with it.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import zipfile
from dataclasses import dataclass
from typing import Mapping, Optional

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
BEST_FILE = "best_architecture.json"  # beside the project, in a search directory


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


_ADVICE = "restore it from a copy, or start the search over (--overwrite / overwrite=True)"


class CorruptStateError(ValueError):
    """A file of a saved search is missing, truncated or not what it should be."""


NUMBER = (int, float)
NULL = type(None)


@dataclass(frozen=True)
class Field:
    """What one key of a state file must hold: a value of one of `types` (`NUMBER` for a
    number, `NULL` for null), described as `description` in an error; `fields` for the keys of
    a JSON object, `items` for each element of a list or each value of an object, `choices`
    for the values allowed. A missing key is an error unless `required` is False."""

    types: tuple
    description: str
    required: bool = True
    fields: Optional[Mapping] = None
    items: Optional["Field"] = None
    choices: Optional[tuple] = None


def check_fields(
    data: dict, fields: Mapping, path: str, what: str, where: str = "", advice: str = _ADVICE
) -> None:
    """Returns None if `data` (the object read from the file at `path`) has every key of
    `fields` with a value of the declared shape.

    Raises:
        CorruptStateError: naming the file (as "the `what` file"), the key and what it should
            hold.
    """
    for key, field in fields.items():
        if key not in data:
            if field.required:
                _wrong_shape(path, what, f"{where}{key}", field, "it is missing", advice)
            continue
        _check_value(data[key], field, path, what, f"{where}{key}", advice)


def _check_value(value, field: Field, path: str, what: str, where: str, advice: str) -> None:
    if not _is_one_of(value, field.types):
        _wrong_shape(path, what, where, field, f"found {_json_kind(value)}", advice)
    if field.choices is not None and value not in field.choices:
        _wrong_shape(path, what, where, field, f"found {value!r}", advice)
    if field.fields is not None and isinstance(value, dict):
        check_fields(value, field.fields, path, what, f"{where}.", advice)
    if field.items is not None and isinstance(value, (list, dict)):
        entries = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in entries:
            _check_value(item, field.items, path, what, f"{where}[{key!r}]", advice)


def _is_one_of(value, types: tuple) -> bool:
    if isinstance(value, bool):  # JSON true/false are not numbers
        return bool in types
    return isinstance(value, types)


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a JSON boolean"
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"), (NUMBER, "number")):
        if isinstance(value, kind):
            return f"a JSON {name}"
    return type(value).__name__


def _wrong_shape(path: str, what: str, where: str, field: Field, found: str, advice: str):
    raise CorruptStateError(
        f"The {what} file {path!r} is of the wrong shape: {where!r} should be "
        f"{field.description}; {found}; {advice}."
    )


# numpy's `bit_generator.state`, as every proposer saves its generator.
RANDOM_STATE = Field(
    (dict,),
    "a random generator's state",
    fields={
        "bit_generator": Field((str,), "a bit generator's name"),
        "state": Field((dict,), "the generator's numbers"),
    },
)

# The shapes of keras-tuner's files, as keras-tuner 1.4 reads them (Trial.set_state,
# Oracle.set_state, HyperParameters.from_config, MetricsTracker.from_config).
_HYPERPARAMETERS = {
    "space": Field(
        (list,),
        "a list of hyperparameter configs",
        items=Field(
            (dict,),
            "a hyperparameter config",
            fields={
                "class_name": Field((str,), "a hyperparameter class name"),
                "config": Field((dict,), "a hyperparameter's settings"),
            },
        ),
    ),
    "values": Field((dict,), "the values by hyperparameter name"),
}
_TRIAL_ID = Field((str,), "a trial id")
TRIAL_STATUSES = ("RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED")
TRIAL_FIELDS = {
    "trial_id": _TRIAL_ID,
    "hyperparameters": Field((dict,), "keras-tuner's hyperparameters", fields=_HYPERPARAMETERS),
    "metrics": Field(
        (dict,),
        "keras-tuner's metrics",
        fields={
            "metrics": Field(
                (dict,),
                "the metric histories by name",
                items=Field(
                    (dict,),
                    "a metric history",
                    fields={
                        "direction": Field((str,), "'min' or 'max'", choices=("min", "max")),
                        "observations": Field(
                            (list,),
                            "a list of observations",
                            items=Field(
                                (dict,),
                                "an observation",
                                fields={
                                    "value": Field((*NUMBER, list), "a number"),
                                    "step": Field((int,), "a step number"),
                                },
                            ),
                        ),
                    },
                ),
            )
        },
    ),
    "score": Field((*NUMBER, NULL), "a number or null"),
    "best_step": Field((int, NULL), "a step number or null"),
    "status": Field((str,), f"one of {', '.join(TRIAL_STATUSES)}", choices=TRIAL_STATUSES),
    "message": Field((str, NULL), "a message or null"),
}
_TRIAL_IDS = Field((list,), "a list of trial ids", items=_TRIAL_ID)
ORACLE_FIELDS = {
    "ongoing_trials": Field((dict,), "the running trials by tuner id", items=_TRIAL_ID),
    "hyperparameters": Field((dict,), "keras-tuner's hyperparameters", fields=_HYPERPARAMETERS),
    "start_order": _TRIAL_IDS,
    "end_order": _TRIAL_IDS,
    "run_times": Field((dict,), "run counts by trial id", items=Field((int,), "a count")),
    "retry_queue": _TRIAL_IDS,
    "seed": Field((int,), "an integer seed"),
    "seed_state": Field((int,), "an integer"),
    "tried_so_far": Field((list,), "a list of value hashes", items=Field((str,), "a hash")),
    "id_to_hash": Field((dict,), "value hashes by trial id"),
    "display": Field(
        (dict,),
        "keras-tuner's display state",
        fields={
            "search_start": Field((str, NULL), "a start time or null"),
            "trial_start": Field((dict,), "start times by trial id", items=Field((str,), "a time")),
            "trial_number": Field((dict,), "trial numbers by trial id"),
        },
    ),
}
# The keys of nas_state.json every oracle reads (ProposerOracle.set_nas_state); the proposer's
# own entry is checked by the oracle, which knows its proposer (`Proposer.STATE_FIELDS`).
NAS_STATE_FIELDS = {
    "algorithm": Field((str,), "the algorithm's name"),
    "seed": Field((int,), "an integer seed"),
    "pending": Field(
        (dict,),
        "the proposals awaiting a result, by trial id",
        items=Field((dict,), "a proposal", fields={"actions": Field((list,), "a list of actions")}),
    ),
    "rewards": Field(
        (dict,), "rewards by trial id", items=Field((*NUMBER, NULL), "a number or null")
    ),
    "updates": Field((list,), "a list of learning steps", items=Field((dict,), "a step")),
    "space": Field((list, dict, NULL), "a search space's config or null"),
    "extra_random_state": Field(
        (dict,), "a random generator's state", required=False, fields=RANDOM_STATE.fields
    ),
    "elapsed_seconds": Field(NUMBER, "a number of seconds", required=False),
    "weights_file": Field((str, NULL), "a file name or null", required=False),
    "evaluation": Field((str,), "an evaluation kind", required=False),
    "recipe": Field((dict, NULL), "a reward's recipe or null", required=False),
}


def verify_search_state(project_dir: str, tuner_id: Optional[str] = None) -> None:
    """Reads every state file a resume of `project_dir` reads; returns None if all are sound.

    Checks each ``trial_*/trial.json``, ``oracle.json`` (and that the trials it runs exist),
    ``nas_state.json`` (when present) and the controller weights file it names, and, with
    `tuner_id`, the tuner's own ``<tuner_id>.json``; each for its syntax and its shape.

    Raises:
        CorruptStateError: a file is unreadable, truncated, not JSON (or not an npz archive),
            or of the wrong shape; the message names the file.
    """
    trial_ids = set()
    for path in sorted(glob.glob(os.path.join(glob.escape(project_dir), "trial_*", TRIAL_FILE))):
        trial = read_json_object(path, "trial", TRIAL_FIELDS)
        folder = os.path.basename(os.path.dirname(path))
        if folder != f"trial_{trial['trial_id']}":
            raise CorruptStateError(
                f"The trial file {path!r} holds trial {trial['trial_id']!r}, not the trial of its "
                f"folder {folder!r}; {_ADVICE}."
            )
        trial_ids.add(trial["trial_id"])
    oracle_path = os.path.join(project_dir, ORACLE_FILE)
    if os.path.lexists(oracle_path):
        oracle = read_json_object(oracle_path, "oracle state", ORACLE_FIELDS)
        for key, ids in (
            ("ongoing_trials", oracle["ongoing_trials"].values()),
            ("retry_queue", oracle["retry_queue"]),
        ):
            unknown = sorted(set(ids) - trial_ids)
            if unknown:
                raise CorruptStateError(
                    f"The oracle state file {oracle_path!r} lists trial {unknown[0]!r} in "
                    f"{key!r}, which has no trial_{unknown[0]}/{TRIAL_FILE}; {_ADVICE}."
                )
    if tuner_id is not None:
        tuner_path = os.path.join(project_dir, f"{tuner_id}.json")
        if os.path.lexists(tuner_path):
            read_json_object(tuner_path, "tuner state")
    state_path = os.path.join(project_dir, STATE_FILE)
    if not os.path.lexists(state_path):
        return
    state = read_json_object(state_path, "controller state", NAS_STATE_FIELDS)
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


def read_json_object(
    path: str,
    what: str = "search state",
    fields: Optional[Mapping] = None,
    advice: str = _ADVICE,
) -> dict:
    """Returns the JSON object in the file at `path`, checked against `fields` (see
    `check_fields`) when given; `advice` ends every error (what the user can do).

    Raises:
        CorruptStateError: unreadable, truncated, not UTF-8 JSON, not an object, or of the
            wrong shape; the message names the file (as "the `what` file").
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise CorruptStateError(
            f"Cannot read the {what} file {path!r} ({_reason(error)}); {advice}."
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "empty" if not raw.strip() else _reason(error)
        raise CorruptStateError(
            f"The {what} file {path!r} is truncated or corrupt ({reason}); {advice}."
        ) from None
    if not isinstance(data, dict):
        raise CorruptStateError(
            f"The {what} file {path!r} holds a JSON {type(data).__name__}, not an object; {advice}."
        )
    if fields is not None:
        check_fields(data, fields, path, what, advice=advice)
    return data


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__

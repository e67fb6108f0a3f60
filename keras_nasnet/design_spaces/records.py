"""The record of one trained model of a design space, and files of them (JSON lines).

Design-space analysis looks at many models drawn at random from each space and trained with one
cheap recipe. Each becomes a `ModelRecord`: the space's name, the point's decision values (e.g.
keras-tuner hyperparameter values), its error, parameters, mult-adds and training seconds. A
model whose training failed keeps its record with a NaN error (`null` in the file): it is
counted, so a space that fails often shows it, but left out of every statistic.

This module imports nothing of TensorFlow or Keras: records are analysed where they were not
trained.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from ..validation import ArgumentTypeError, check_int, check_number

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "ModelRecord",
    "by_space",
    "finished",
    "load_records",
    "save_records",
    "space_of",
]

# The fields of a record, in the order a file writes them; all but `seconds` are required.
FIELDS = ("space", "decisions", "error", "params", "mult_adds", "seconds")
REQUIRED_FIELDS = FIELDS[:-1]

Scalar = Union[str, int, float, bool]


def _check_decisions(decisions, where: str) -> dict:
    if not isinstance(decisions, Mapping):
        raise ArgumentTypeError(
            f"{where}`decisions` must be a dict of decision name -> value; received {decisions!r}."
        )
    checked = {}
    for name, value in decisions.items():
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(
                f"{where}decision names must be non-empty strings; received {name!r}."
            )
        if isinstance(value, np.bool_):  # numpy's bool is no `bool` nor a number
            value = bool(value)
        elif isinstance(value, str):
            value = str(value)  # numpy's str too
        # Scalars only: the statistics compare values and a narrowing writes them to JSON.
        scalar = isinstance(value, (str, bool)) or (
            isinstance(value, numbers.Real) and math.isfinite(float(value))
        )
        if not scalar:
            raise ArgumentTypeError(
                f"{where}decision {name!r} must be a string, bool or finite number; received "
                f"{value!r}."
            )
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        checked[name] = value
    return checked


def _check_error(error, where: str) -> float:
    if error is None:  # a file writes a failed model's NaN as null
        return math.nan
    if not isinstance(error, numbers.Real) or isinstance(error, bool):
        raise ArgumentTypeError(
            f"{where}`error` must be a number in [0, 1] (NaN or null for a failed model); "
            f"received {error!r}."
        )
    error = float(error)
    if math.isnan(error):
        return error
    if not 0.0 <= error <= 1.0:
        raise ValueError(
            f"{where}`error` must be in [0, 1] (a share, not a percentage; NaN or null for a "
            f"failed model); received {error!r}."
        )
    return error


def _prefixed(where: str, check, value, name: str, **bounds):
    """Runs a `validation` check, its message prefixed with which record failed it."""
    try:
        return check(value, name, **bounds)
    except TypeError as error:
        raise ArgumentTypeError(where + str(error)) from None
    except ValueError as error:
        raise ValueError(where + str(error)) from None


@dataclass(frozen=True)
class ModelRecord:
    """One trained model of a design space.

    Attributes:
        space: the name of the space it was drawn from.
        decisions: the point's decision values, name -> str, bool, int or float.
        error: its error in [0, 1] (1 - accuracy); NaN when its training failed.
        params: its parameter count.
        mult_adds: its multiply-adds for one example.
        seconds: the seconds its training took (None: not measured).

    Raises:
        TypeError: a field of the wrong type (a decision that is not a scalar included).
        ValueError: an empty space name, an error outside [0, 1], a negative count or time.
    """

    space: str
    decisions: Mapping[str, Scalar]
    error: float
    params: int
    mult_adds: int
    seconds: Optional[float] = None

    def __post_init__(self):
        where = f"Record of space {self.space!r}: " if isinstance(self.space, str) else ""
        if not isinstance(self.space, str) or not self.space:
            raise ArgumentTypeError(f"`space` must be a non-empty string; received {self.space!r}.")
        object.__setattr__(self, "decisions", _check_decisions(self.decisions, where))
        object.__setattr__(self, "error", _check_error(self.error, where))
        for name in ("params", "mult_adds"):
            value = _prefixed(where, check_int, getattr(self, name), name, minimum=0)
            object.__setattr__(self, name, value)
        seconds = _prefixed(
            where, check_number, self.seconds, "seconds", minimum=0, allow_none=True
        )
        object.__setattr__(self, "seconds", seconds)

    @property
    def failed(self) -> bool:
        """Returns whether the model's training failed (its error is NaN)."""
        return math.isnan(self.error)

    def to_dict(self) -> dict:
        """Returns the record as a JSON-ready dict (a failed model's error as None)."""
        return {
            "space": self.space,
            "decisions": dict(self.decisions),
            "error": None if self.failed else self.error,
            "params": self.params,
            "mult_adds": self.mult_adds,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "ModelRecord":
        """Returns the record `data` (a `to_dict` result) describes.

        Raises:
            TypeError: `data` is not a dict, or a field has the wrong type.
            ValueError: a field is missing or unknown, or out of range.
        """
        if not isinstance(data, Mapping):
            raise ArgumentTypeError(f"A record must be a JSON object; received {data!r}.")
        missing = [name for name in REQUIRED_FIELDS if name not in data]
        if missing:
            raise ValueError(
                f"A record lacks the field{'s' * (len(missing) > 1)} {', '.join(missing)}; "
                f"each needs {', '.join(REQUIRED_FIELDS)} (and may have seconds). Received "
                f"{dict(data)!r}."
            )
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise ValueError(
                f"A record has unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                f"allowed: {', '.join(FIELDS)}."
            )
        return cls(**{name: data[name] for name in FIELDS if name in data})


def save_records(records: Iterable[ModelRecord], path: Union[str, os.PathLike]) -> str:
    """Writes `records` to `path`, one JSON object a line, and returns the path.

    Raises:
        TypeError: an item is not a `ModelRecord`.
        OSError: the file cannot be written.
    """
    lines = []
    for number, record in enumerate(records, 1):
        if not isinstance(record, ModelRecord):
            raise ArgumentTypeError(
                f"`records` item {number} must be a ModelRecord; received {record!r}."
            )
        lines.append(json.dumps(record.to_dict(), sort_keys=False) + "\n")
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return path


def load_records(path: Union[str, os.PathLike]) -> list:
    """Returns the `ModelRecord`s of the JSON-lines file at `path` (blank lines skipped).

    Raises:
        OSError: the file cannot be read.
        ValueError / TypeError: a line that is not JSON or not a valid record; the message
            names the file and the line number.
    """
    path = os.fspath(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(ModelRecord.from_dict(json.loads(line)))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not JSON ({error}).") from error
            except TypeError as error:
                raise ArgumentTypeError(f"{path}, line {number}: {error}") from error
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {error}") from error
    return records


def finished(records: Iterable[ModelRecord]) -> tuple:
    """Returns `(records that trained, number that failed)`: the statistics use the first and
    report the second."""
    kept, failed = [], 0
    for record in records:
        if record.failed:
            failed += 1
        else:
            kept.append(record)
    return kept, failed


def space_of(records: Sequence[ModelRecord]) -> str:
    """Returns the one space name of `records`, for the statistics that take one space.

    Raises:
        TypeError: an item is not a `ModelRecord`.
        ValueError: no records, or records of several spaces (the message names them).
    """
    if not records:
        raise ValueError("`records` is empty: the statistics need at least one model.")
    spaces = sorted(by_space(records))
    if len(spaces) > 1:
        raise ValueError(
            f"`records` must be of one space; received {len(spaces)}: {', '.join(spaces)} "
            "(group them with `by_space`)."
        )
    return spaces[0]


def by_space(records: Iterable[ModelRecord]) -> dict:
    """Returns the records grouped by space name, spaces in order of first appearance.

    Raises:
        TypeError: an item is not a `ModelRecord`.
    """
    groups: dict = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, ModelRecord):
            raise ArgumentTypeError(
                f"`records` item {number} must be a ModelRecord; received {record!r}."
            )
        groups.setdefault(record.space, []).append(record)
    return groups

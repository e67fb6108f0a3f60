"""Argument checks shared by the whole package, so every refusal reads the same way.

Each check returns the value in its plain Python type (a numpy integer becomes an `int`) and
raises `ArgumentTypeError` (a `TypeError` that is also a `ValueError`, since the checks written
by hand before this module raised ValueError for both) for a value of the wrong type, `ValueError`
for one out of range. Messages
name the argument, the value received and what is allowed, e.g.
"`max_trials` must be an int >= 1; received 0.". This module imports nothing of the package.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from typing import Any, Iterable, Optional

__all__ = [
    "ArgumentTypeError",
    "check_bool",
    "check_choice",
    "check_int",
    "check_number",
    "check_output_file",
    "check_positive",
    "check_probability",
    "is_int",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. A `TypeError`, and a `ValueError` too, so callers that
    caught ValueError from the package's earlier hand-written checks still catch it."""


def is_int(value: Any) -> bool:
    """Returns whether `value` is an integer (Python or numpy), excluding booleans."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and not _is_numpy_bool(value)
    )


def _is_numpy_bool(value: Any) -> bool:
    # numpy.bool_ is not numbers.Integral, but guard against array-likes registering as such.
    return type(value).__name__ in ("bool_", "bool") and type(value).__module__ == "numpy"


def _range_text(minimum, maximum, min_inclusive=True, max_inclusive=True) -> str:
    if minimum is not None and maximum is not None:
        left = "[" if min_inclusive else "("
        right = "]" if max_inclusive else ")"
        return f"in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f"{'>=' if min_inclusive else '>'} {minimum}"
    if maximum is not None:
        return f"{'<=' if max_inclusive else '<'} {maximum}"
    return ""


def _allowed(kind: str, minimum, maximum, min_inclusive=True, max_inclusive=True) -> str:
    text = _range_text(minimum, maximum, min_inclusive, max_inclusive)
    return f"{kind} {text}" if text else kind


def check_int(
    value: Any,
    name: str,
    minimum: Optional[int] = None,
    maximum: Optional[int] = None,
    allow_none: bool = False,
    max_inclusive: bool = True,
) -> Optional[int]:
    """Returns `value` as an int after checking `minimum <= value <= maximum` (`< maximum`
    when not `max_inclusive`).

    Raises:
        TypeError: `value` is not an int (booleans and floats such as 3.0 are refused), or
            None where `allow_none` is False.
        ValueError: `value` is out of range.
    """
    if value is None and allow_none:
        return None
    allowed = _allowed("an int", minimum, maximum, max_inclusive=max_inclusive)
    allowed += " or None" if allow_none else ""
    if not is_int(value):
        raise ArgumentTypeError(f"`{name}` must be {allowed}; received {value!r}.")
    value = int(value)
    too_high = maximum is not None and (value > maximum or (not max_inclusive and value == maximum))
    if (minimum is not None and value < minimum) or too_high:
        raise ValueError(f"`{name}` must be {allowed}; received {value!r}.")
    return value


def check_number(
    value: Any,
    name: str,
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    allow_none: bool = False,
) -> Optional[float]:
    """Returns `value` as a finite float after checking it against the bounds.

    Raises:
        TypeError: `value` is not a real number (booleans and strings are refused), or None
            where `allow_none` is False.
        ValueError: `value` is NaN, infinite or out of range.
    """
    if value is None and allow_none:
        return None
    allowed = _allowed("a finite number", minimum, maximum, min_inclusive, max_inclusive)
    allowed += " or None" if allow_none else ""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or _is_numpy_bool(value):
        raise ArgumentTypeError(f"`{name}` must be {allowed}; received {value!r}.")
    number = float(value)
    too_low = minimum is not None and (
        number < minimum or (not min_inclusive and number == minimum)
    )
    too_high = maximum is not None and (
        number > maximum or (not max_inclusive and number == maximum)
    )
    if not math.isfinite(number) or too_low or too_high:
        raise ValueError(f"`{name}` must be {allowed}; received {value!r}.")
    return number


def check_positive(value: Any, name: str, allow_none: bool = False) -> Optional[float]:
    """Returns `value` as a float after checking it is finite and > 0.

    Raises:
        TypeError: not a real number. ValueError: zero, negative, NaN or infinite.
    """
    return check_number(value, name, minimum=0, min_inclusive=False, allow_none=allow_none)


def check_probability(value: Any, name: str, allow_zero: bool = True) -> float:
    """Returns `value` as a float in [0, 1] (in (0, 1] when not `allow_zero`).

    Raises:
        TypeError: not a real number. ValueError: outside the interval, or NaN.
    """
    return check_number(value, name, minimum=0, maximum=1, min_inclusive=allow_zero)


def check_bool(value: Any, name: str, allow_none: bool = False) -> Optional[bool]:
    """Returns `value` as a bool; only True and False (and numpy booleans) are accepted.

    Raises:
        TypeError: anything else (1, "yes"), or None where `allow_none` is False.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or _is_numpy_bool(value):
        return bool(value)
    allowed = "True or False" + (" or None" if allow_none else "")
    raise ArgumentTypeError(f"`{name}` must be {allowed}; received {value!r}.")


def check_choice(value: Any, name: str, choices: Iterable, allow_none: bool = False) -> Any:
    """Returns `value` if it is one of `choices`.

    Raises:
        ValueError: `value` is not among `choices` (the message lists them); None is refused
            unless `allow_none`.
    """
    if value is None and allow_none:
        return None
    choices = tuple(choices)
    try:
        found = value in choices
    except TypeError:  # an unhashable value against a set-like container
        found = False
    if not found:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Unknown `{name}` {value!r}; allowed: {listed}.")
    return value


def check_output_file(path: Any, name: str, suffix: str) -> str:
    """Returns `path` (as a str) if a file can be written there: a name ending with `suffix`,
    not a directory, whose folder exists and takes a new file or can be created. Checked
    before any work, so that hours of training do not end in a refused save.

    Raises:
        TypeError: `path` is not a path.
        ValueError: another extension, a directory, a folder that is a file, or one that takes
            no new file (read-only, no permission); the message names `name` and `path`.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ArgumentTypeError(f"`{name}` must be a file path; received {path!r}.")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"`{name}` {path!r} is a directory; give the {suffix} file to write.")
    if not path.endswith(suffix) or os.path.basename(path) == suffix:
        raise ValueError(f"`{name}` must be a file name ending with {suffix!r}; received {path!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):  # the nearest existing folder: the rest is created
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"`{name}` {path!r} cannot be written: {folder!r} is a file.")
    try:
        # Trying is the only check that holds for root, read-only mounts and full disks alike.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"`{name}` {path!r} cannot be written: {folder!r} takes no new file "
            f"({error.strerror or error})."
        ) from None
    return path

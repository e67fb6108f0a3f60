"""argparse types of the command's flags: each parses a text and checks it at once.

argparse already names the flag in its error ("argument --max-trials: must be an int >= 1;
received 0"), so the messages here say only what is wrong with the value.
"""

from __future__ import annotations

import argparse
from typing import Callable

from ..validation import check_int, check_number

_NAME = "value"  # what the validation functions call it; cut from their messages


def _checked(check, kind: Callable, **bounds) -> Callable:
    """Returns an argparse type: parses with `kind`, then checks with a validation function."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an int' if kind is int else 'a number'}; received {text!r}"
            ) from None
        try:
            return check(value, _NAME, **bounds)
        except (TypeError, ValueError) as error:
            message = str(error).replace(f"`{_NAME}` ", "", 1).rstrip(".")
            raise argparse.ArgumentTypeError(message) from None

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def int_at_least(minimum: int) -> Callable:
    """Returns an argparse type of ints >= `minimum`."""
    return _checked(check_int, int, minimum=minimum)


def number(**bounds) -> Callable:
    """Returns an argparse type of finite numbers within `bounds` (as `check_number`'s)."""
    return _checked(check_number, float, **bounds)


def positive() -> Callable:
    """Returns an argparse type of numbers > 0."""
    return number(minimum=0, min_inclusive=False)


def parsed(parse: Callable, name: str) -> Callable:
    """Returns an argparse type: `parse(text)`, its ValueError or TypeError shown as the
    flag's error. `parse` may import what it needs when called: only a given flag (or a text
    default) is parsed, never to print help."""

    def convert(text: str):
        try:
            return parse(text)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(f"{name}: {error}") from None

    return convert


def validation_size(text: str):
    """argparse type of --validation-size: a fraction in (0, 1) or a count >= 1."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        value = None
    fraction = isinstance(value, float) and 0.0 < value < 1.0
    if not (fraction or isinstance(value, int) and value >= 1):
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1) or a count >= 1; received {text!r}"
        )
    return value

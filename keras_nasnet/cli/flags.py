"""Flags as data: each command lists its `Flag`s once and `add_flags` turns them into argparse.

The parser also records which flags the user gave (`given_flags`), so a command can refuse a
flag that does not apply instead of silently ignoring it, whatever its default.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Optional

GIVEN = "given_flags"  # the Namespace attribute: {dest: flag} of the flags on the command line


@dataclass(frozen=True)
class Flag:
    """One argument of a command: `name` ("--max-trials", or a positional's name) and the
    keyword arguments of `argparse.ArgumentParser.add_argument`."""

    name: str
    options: Mapping = field(default_factory=dict)

    def with_options(self, **options) -> "Flag":
        """Returns this flag with `options` replacing or adding keyword arguments."""
        return replace(self, options={**self.options, **options})

    @property
    def dest(self) -> str:
        """Returns the Namespace attribute the flag fills."""
        return self.options.get("dest") or self.name.lstrip("-").replace("-", "_")


def flag(name: str, **options) -> Flag:
    """Returns a `Flag`: `name` and `add_argument`'s keyword arguments."""
    return Flag(name, options)


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, flags, and the function that runs it (which
    returns the exit status and imports the heavy modules it needs).

    `locks(args)`, for a command that writes a directory, returns that directory (or None when
    this invocation writes none): the command holds it (`keras_nasnet.directory_lock`) from
    before any heavy import to its end, so a second command on it is refused at once.
    """

    name: str
    help: str
    flags: tuple
    run: Callable
    locks: Optional[Callable] = None


class _Store(argparse.Action):
    """argparse's "store", recording that the user gave the flag."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        _record(namespace, self)


class _StoreTrue(argparse.Action):
    """argparse's "store_true", recording that the user gave the flag."""

    def __init__(self, option_strings, dest, default=False, required=False, help=None):
        super().__init__(
            option_strings, dest, nargs=0, default=default, required=required, help=help
        )

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)
        _record(namespace, self)


def _record(namespace, action: argparse.Action) -> None:
    # A new dict each time: argparse copies a subcommand's namespace into the top one.
    given = dict(getattr(namespace, GIVEN, {}))
    given[action.dest] = action.option_strings[0]
    setattr(namespace, GIVEN, given)


_ACTIONS = {None: _Store, "store": _Store, "store_true": _StoreTrue}


def add_flags(parser: argparse.ArgumentParser, flags) -> None:
    """Adds each `Flag` of `flags` to `parser`; optional ones record that they were given."""
    for item in flags:
        options = dict(item.options)
        if item.name.startswith("-") and options.get("action") in _ACTIONS:
            options["action"] = _ACTIONS[options.get("action")]
        parser.add_argument(item.name, **options)


def given_flags(args) -> dict:
    """Returns {dest: flag} of the optional flags the user gave on the command line."""
    return dict(getattr(args, GIVEN, {}))


def refuse_given(args, reasons: dict, context: str) -> None:
    """Returns None unless the user gave a flag among `reasons` ({dest: why it does not
    apply}).

    Raises:
        ValueError: "FLAG does not apply to CONTEXT (WHY); leave it out." for the first one.
    """
    given = given_flags(args)
    for dest, reason in reasons.items():
        if dest in given:
            raise ValueError(f"{given[dest]} does not apply to {context} ({reason}); leave it out.")

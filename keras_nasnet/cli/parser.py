"""The argument parser of `keras-nasnet`: one subcommand per module of this package."""

from __future__ import annotations

import argparse

from . import compare, export, main_job, models, plot, report, search, spaces, summary, train
from .errors import OneLineParser
from .flags import add_flags

DESCRIPTION = "The `keras-nasnet` command."
COMMANDS = tuple(
    module.COMMAND
    for module in (models, summary, search, export, train, plot, report, compare, spaces, main_job)
)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `keras-nasnet` command (it imports no TensorFlow).

    Each command's parsed arguments hold `run`, the function that runs it, and
    `directory_to_lock`, its `Command.locks`.
    """
    parser = OneLineParser(prog="keras-nasnet", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # Also accepted after the command; SUPPRESS keeps it from resetting a --debug given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for command in COMMANDS:
        subparser = commands.add_parser(command.name, help=command.help, parents=[common])
        add_flags(subparser, command.flags)
        subparser.set_defaults(run=command.run, directory_to_lock=command.locks)
    return parser

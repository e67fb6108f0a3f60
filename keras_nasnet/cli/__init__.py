"""The `keras-nasnet` command: one module per subcommand, each declaring its flags as data.

`main` is the console entry point. Building the parser and printing help import no
TensorFlow: each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys

from .errors import EXIT_FAILURE, run_command
from .export import model_or_zoo as _model_or_zoo  # noqa: F401  (the name of earlier versions)
from .parser import build_parser

__all__ = ["EXIT_FAILURE", "build_parser", "main"]


def main(argv=None) -> int:
    """Runs the command line; returns the exit status.

    0 on success; 2 (`EXIT_FAILURE`) for every expected failure: invalid arguments, a flag
    that does not apply to the others, a missing, unreadable or malformed file, a full or
    read-only disk, a directory in use. Those print one line on stderr (`--debug` adds the
    traceback); anything else is a bug and propagates with its traceback. 128 + the signal's
    number when stopped: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (the processes the
    command started end with it; what it finished stays saved).
    """
    args = build_parser().parse_args(argv)
    # The arguments a command may run itself again with (a search past --max-memory
    # restarts): only when it is this process's own command, never a caller's in-process call.
    args.restart_argv = sys.argv[1:] if argv is None else None
    return run_command(args)

"""How the `keras-nasnet` command fails: one line on stderr and exit status 2.

Expected failures are bad input, unreadable or unwritable files and a directory in use; each
ends as one line on stderr. Anything else is a bug and keeps its traceback. Ctrl-C, SIGTERM
and SIGHUP stop a command the same way: the processes it started end, what it finished stays
saved, and the exit status is 128 + the signal's number. This module imports nothing heavy:
the parser and `--help` must not start TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
import traceback

from ..process_memory import MemoryBoundReached

EXIT_FAILURE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT
# Signals that stop a command as Ctrl-C does (a plain `kill`, a closed terminal).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_OS_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the command."""

    def error(self, message):
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) arrived: raised where Ctrl-C's KeyboardInterrupt would
    be, so that everything that cleans up after Ctrl-C (worker processes, locks) does so."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_command(args) -> int:
    """Runs `args.run(args)`, holding the directory `args.directory_to_lock(args)` names;
    returns its exit status, `EXIT_FAILURE` for an expected failure (one line on stderr, the
    traceback too under `--debug`), or 128 + the signal's number when Ctrl-C (130), SIGTERM
    (143) or SIGHUP (129) stopped it.

    Raises:
        Exception: any unexpected error (a bug), with its traceback.
    """
    with _stop_signals_interrupt():
        try:
            with _directory_lock(args):
                return args.run(args)
        except Exception as error:
            if not isinstance(error, _expected_errors()):
                raise
            if args.debug:
                traceback.print_exc()
            print(f"keras-nasnet: error: {one_line(error)}", file=sys.stderr)
            return EXIT_FAILURE
        except KeyboardInterrupt as interrupt:
            if args.debug:
                traceback.print_exc()
            if isinstance(interrupt, Stopped):
                print(f"keras-nasnet: stopped by {interrupt}", file=sys.stderr)
                return 128 + interrupt.signum
            print("keras-nasnet: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


def _directory_lock(args):
    """Returns the lock of the directory the command writes (a no-op context when none)."""
    locate = getattr(args, "directory_to_lock", None)
    directory = locate(args) if locate is not None else None
    if directory is None:
        return contextlib.nullcontext()
    from ..directory_lock import DirectoryLock

    # nested: the library functions the command calls lock the same directory and join it.
    return DirectoryLock(directory, purpose=args.command, nested=True)


@contextlib.contextmanager
def _stop_signals_interrupt():
    """Turns SIGTERM and SIGHUP into `Stopped` while the command runs (main thread only: Python
    runs signal handlers there), then puts the earlier handlers back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        for other in STOP_SIGNALS:  # a second signal must not cut the clean-up short
            signal.signal(other, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _expected_errors() -> tuple:
    # A search stopped at --max-memory in a caller's process (`main(argv)`; the command's own
    # process restarts instead): its state is saved, the message says to run it again.
    expected = (ValueError, OSError, MemoryBoundReached) + _tensorflow_io_errors()
    lock = sys.modules.get("keras_nasnet.directory_lock")  # only a command with a lock
    if lock is not None:
        expected += (lock.DirectoryLockedError,)
    return expected


def _tensorflow_io_errors() -> tuple:
    """Returns TensorFlow's file-system errors (keras-tuner writes through tf.io.gfile), or ()
    when TensorFlow was never imported."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return ()
    e = tf.errors
    # TensorFlow maps ENOSPC to ResourceExhausted and EROFS/EACCES to PermissionDenied.
    return (
        e.NotFoundError,
        e.PermissionDeniedError,
        e.ResourceExhaustedError,
        e.DataLossError,
        e.FailedPreconditionError,
        e.AlreadyExistsError,
    )


def one_line(error: BaseException) -> str:
    """Returns `error` as one line: OSErrors as "what: file (hint)", newlines folded."""
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
        if error.filename is not None:
            text += f": {os.fsdecode(error.filename)!r}"
        hint = _OS_HINTS.get(error.errno)
        if hint and hint.lower() not in text.lower():
            text += f" ({hint})"
    elif type(error).__module__.startswith("tensorflow"):
        text = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split()) + " (--debug shows the traceback)"

"""One process per directory: an OS-level lock held while a command writes a directory.

Two searches (or comparisons) writing one directory would each train their own runs and the
later writer's state would silently replace the other's. The first process to open a directory
takes an exclusive `fcntl.flock` on ``<directory>/.keras-nasnet.lock`` and writes who it is
(pid, host, command) into that file; a second process is refused at once with a
`DirectoryLockedError` naming the directory and the holder. The kernel drops the lock when its
holder exits, killed or crashed included, so a stale lock file never blocks a resume.

A leaf module (standard library only): the command line takes the lock before it imports
TensorFlow, so a second command is refused in a fraction of a second, not after tens of
seconds of imports. A lock taken with ``nested=True`` (the command's) is joined by the
library calls the command makes in the same thread (`search.run`, `compare`, ...), which lock
the same directory themselves when called alone.

The lock file lives as long as the lock is held; a lock that created the directory removes it
on release when nothing was written there: a refused command leaves no empty directory behind.

flock is advisory and local: on network file systems that do not forward it (some NFS setups)
two hosts are not kept apart. Without fcntl (Windows) the lock is a no-op.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import socket
import sys
import time
from typing import Callable, Optional

LOCK_FILE = ".keras-nasnet.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# The directories (device, inode) held in this thread by locks taken with nested=True: a lock
# asked for one of them inside that `with` block is the same hold, not a second process.
_LENDING: contextvars.ContextVar = contextvars.ContextVar("keras_nasnet_lending", default=())


class DirectoryLockedError(RuntimeError):
    """Another live process holds the directory; the message names the directory and it."""


class DirectoryLock:
    """An exclusive, non-blocking lock on a directory, as a context manager.

    Args:
        directory: the directory to hold (created if missing).
        purpose: what the holder does there ("search", "compare"), written in the lock file.
        nested: lend the lock to the calls made inside it in this thread: a `DirectoryLock`
            on the same directory acquired there joins this one instead of being refused.

    `acquire()` (or entering the `with` block) raises `DirectoryLockedError` at once if another
    open lock holds the directory, in this process or another.
    """

    def __init__(self, directory: str, purpose: str = "search", nested: bool = False):
        if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
            raise TypeError(f"`directory` must be a path; received {directory!r}.")
        self.directory = os.fspath(directory)
        self.purpose = purpose
        self.nested = nested
        self.path = os.path.join(self.directory, LOCK_FILE)
        self._fd: Optional[int] = None
        self._joined = False
        self._lending = None
        self._identity = None
        self._created_directory = False

    @property
    def held(self) -> bool:
        """Returns whether this object holds the lock now (or joined an enclosing one)."""
        return self._fd is not None or self._joined

    def acquire(self) -> "DirectoryLock":
        """Takes the lock; returns self.

        Raises:
            DirectoryLockedError: another process (or another lock object) holds it.
            OSError: the directory or the lock file cannot be created (read-only, full disk).
            RuntimeError: this object already holds it.
        """
        if self.held:
            raise RuntimeError(f"This lock on {self.directory!r} is already held.")
        # The holder that cleans up may remove the directory or the file between two steps:
        # try again on a fresh one.
        for _ in range(100):
            fd = self._open()
            if fd is None:
                return self  # joined
            if self._lock(fd):
                break
        else:  # pragma: no cover - a directory created and removed 100 times meanwhile
            raise DirectoryLockedError(f"Directory {self.directory!r} keeps changing; try again.")
        try:
            _write_holder(fd, self.purpose)
        except BaseException:
            os.close(fd)  # closing releases the flock
            raise
        self._fd = fd
        if self.nested:
            self._lending = _LENDING.set(_LENDING.get() + (self._identity,))
        return self

    def _open(self) -> Optional[int]:
        """Opens (creating if needed) the lock file; returns its fd, or None when an enclosing
        nested lock of this thread holds the directory (this lock then joins it)."""
        if not os.path.isdir(self.directory):
            try:
                os.makedirs(self.directory)
                self._created_directory = True
            except FileExistsError:
                pass
        self._identity = _directory_identity(self.directory)
        if self._identity is not None and self._identity in _LENDING.get():
            self._joined = True
            return None
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)

    def _lock(self, fd: int) -> bool:
        """Takes the flock on `fd`; returns False when the file was removed meanwhile (then
        `fd` is closed and the caller opens the new one).

        Raises:
            DirectoryLockedError: another holder has it.
        """
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DirectoryLockedError(
                f"Directory {self.directory!r} is in use by another "
                f"{holder.get('purpose', 'search')}"
                f" ({_describe(holder)}); one process per directory: wait for it to end, stop it, "
                "or use another directory."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is None or (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            os.close(fd)
            return False
        return True

    def release(self) -> None:
        """Releases the lock (nothing happens if it is not held): the lock file goes, and the
        directory too if this lock created it and nothing else was written there."""
        if self._joined:
            self._joined = False
            return
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self._lending is not None:
            try:
                _LENDING.reset(self._lending)
            except ValueError:
                pass  # released from another thread: the loan ended with its own context
            self._lending = None
        try:
            # Under the flock: a process that opened this file meanwhile finds it gone once it
            # gets the flock, and opens the new one (`_lock`).
            os.remove(self.path)
            if self._created_directory and not os.listdir(self.directory):
                os.rmdir(self.directory)
        except OSError:
            pass  # a read-only disk, or another holder's new file: nothing to clean up
        os.close(fd)

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False

    def __repr__(self) -> str:
        return f"DirectoryLock({self.directory!r}, purpose={self.purpose!r}, held={self.held})"


def holder(directory: str) -> Optional[dict]:
    """Returns what the lock file of `directory` says about its holder, or None if it is free.

    Free means: no lock file, or nobody holds the flock on it (a crashed holder left it).
    """
    path = os.path.join(os.fspath(directory), LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        return None
    finally:
        os.close(fd)


def locks_directory(
    argument: str = "directory",
    purpose: str = "search",
    unless: Optional[Callable[[], bool]] = None,
) -> Callable:
    """Returns a decorator that holds a `DirectoryLock` on the call's `argument` while it runs.

    No lock is taken when the argument is None (a temporary directory) or `unless()` is true
    (a distributed worker, which shares its chief's directory).
    """

    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            directory = signature.bind(*args, **kwargs).arguments.get(argument)
            if directory is None or (unless is not None and unless()):
                return function(*args, **kwargs)
            with DirectoryLock(directory, purpose):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def _directory_identity(directory: str) -> Optional[tuple]:
    try:
        found = os.stat(directory)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _write_holder(fd: int, purpose: str) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "purpose": purpose,
        "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join(sys.argv)[:300],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)


def _read_holder(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        info = {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return "holder unknown: it is starting or wrote nothing"
    text = f"pid {info['pid']} on {info.get('host', '?')}"
    if info.get("since"):
        text += f", since {info['since']}"
    if info.get("command"):
        text += f": {info['command']}"
    return text

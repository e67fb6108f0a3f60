"""One process per search directory: an OS-level lock held while a search (or a compare) runs.

Two searches writing one directory would each train their own trials and the later writer's
state would silently replace the other's. The first process to open a directory as chief (or
alone) takes an exclusive `fcntl.flock` on ``<directory>/.keras-nasnet.lock`` and writes who
it is (pid, host, command) into that file; a second process is refused at once with a
`DirectoryLockedError` naming the directory and the holder. The kernel drops the lock when
its holder exits, killed or crashed included, so a stale lock file never blocks a resume.

Workers of a distributed search share the chief's directory on purpose and take no lock.
flock is advisory and local: on network file systems that do not forward it (some NFS
setups) two hosts are not kept apart.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import socket
import sys
import time
from typing import Callable, Optional

LOCK_FILE = ".keras-nasnet.lock"

try:  # fcntl is POSIX-only; elsewhere the lock degrades to a no-op (documented).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class DirectoryLockedError(RuntimeError):
    """Another live process holds the directory; the message names the directory and it."""


class DirectoryLock:
    """An exclusive, non-blocking lock on a directory, as a context manager.

    Args:
        directory: the directory to hold (created if missing).
        purpose: what the holder does there ("search", "compare"), written in the lock file.

    `acquire()` (or entering the `with` block) raises `DirectoryLockedError` at once if another
    open lock holds the directory, in this process or another.
    """

    def __init__(self, directory: str, purpose: str = "search"):
        if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
            raise TypeError(f"`directory` must be a path; received {directory!r}.")
        self.directory = os.fspath(directory)
        self.purpose = purpose
        self.path = os.path.join(self.directory, LOCK_FILE)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """Returns whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> "DirectoryLock":
        """Takes the lock; returns self.

        Raises:
            DirectoryLockedError: another process (or another lock object) holds it.
            OSError: the directory or the lock file cannot be created (read-only, full disk).
            RuntimeError: this object already holds it.
        """
        if self._fd is not None:
            raise RuntimeError(f"This lock on {self.directory!r} is already held.")
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
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
            _write_holder(fd, self.purpose)
        except BaseException:
            os.close(fd)  # closing releases the flock
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Releases the lock (nothing happens if it is not held). The lock file stays: removing
        it would let a third process lock a new file while a second still waits on the old one."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # a read-only or full disk must not keep the lock held
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


def is_distributed_worker() -> bool:
    """Returns whether keras-tuner's environment makes this process a distributed worker."""
    from .distributed import current_role

    return current_role() == "worker"


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

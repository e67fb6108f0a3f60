"""One process per search directory: the lock of `keras_nasnet.directory_lock`, held while a
search (or a compare) runs, and the rule that a distributed worker takes none.

Workers of a distributed search share the chief's directory on purpose and take no lock.
"""

from __future__ import annotations

from ..directory_lock import (
    LOCK_FILE,
    DirectoryLock,
    DirectoryLockedError,
    holder,
    locks_directory,
)

__all__ = [
    "LOCK_FILE",
    "DirectoryLock",
    "DirectoryLockedError",
    "holder",
    "is_distributed_worker",
    "locks_directory",
]


def is_distributed_worker() -> bool:
    """Returns whether keras-tuner's environment makes this process a distributed worker."""
    from .distributed.server import current_role

    return current_role() == "worker"

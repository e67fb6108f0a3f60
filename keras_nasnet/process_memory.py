"""A search's memory bound (`max_memory`): a process that trains children grows with each.

Keras 3 / TensorFlow keep native memory for every model a process has traced, in proportion
to its graph, and `keras.backend.clear_session()` and `gc` do not return it (docs/search.md,
"Memory"): a search grows by tens of MB per trained child, so a long one fills the machine.
Only a new process frees it. A tuner given a bound checks the process's resident memory after
each trial, once the trial is saved, and stops the search with `MemoryBoundReached` when it
is above: the search's state is complete on disk, so the same search started again (a new
process) resumes exactly. `keras-nasnet search` does that itself (`restart`).

A leaf module (standard library only): the command line imports it before TensorFlow.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Optional, Union

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
# The command line's default bound: this share of the machine's memory.
DEFAULT_SHARE = 0.5
# Set in a restarted search's environment: the same command resumes, even if it said
# --overwrite (however abbreviated).
RESTART_ENV = "KERAS_NASNET_RESTARTED"


class MemoryBoundReached(Exception):
    """The process holds more than the search's `max_memory` after a trial; everything up to
    that trial is saved: run the same search again (a new process) to go on."""

    def __init__(self, resident: int, bound: int, trial_id: str):
        super().__init__(
            f"The search's process holds {format_size(resident)} after trial {trial_id}, above "
            f"its bound of {format_size(bound)}; the search is saved: run it again to resume."
        )
        self.resident = resident
        self.bound = bound
        self.trial_id = trial_id


def parse_size(value: Union[str, int, None], name: str = "max_memory") -> Optional[int]:
    """Returns `value` in bytes: a number of bytes, or a string such as "512M", "8G", "8GiB",
    "1.5g"; None stays None (no bound).

    Raises:
        ValueError: not a positive size; the message names `name` and the forms.
        TypeError: neither an int, a string nor None.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"`{name}` must be bytes or a string like '8G'; received {value!r}.")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(
                f"`{name}` must be a size such as 512M, 8G or 8GiB (or bytes); received {value!r}."
            )
        size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"`{name}` must be a positive size; received {value!r}.")
    return size


def format_size(size: int) -> str:
    """Returns `size` bytes as "1.2 GiB" / "350 MiB"."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    return f"{size / 2**20:.0f} MiB"


# A container's memory limit (cgroup v2, then v1): below the host's memory, it is what counts.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> Optional[int]:
    """Returns the memory this process may use in bytes: the machine's physical memory, or its
    container's limit when lower; None where the OS says neither."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    for path in _CGROUP_LIMITS:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():  # "max": no limit
            sizes.append(int(text))
    return min(sizes) if sizes else None


def default_bound() -> Optional[int]:
    """Returns `DEFAULT_SHARE` of the machine's memory, or None where it is unknown."""
    memory = machine_memory()
    return None if memory is None else int(memory * DEFAULT_SHARE)


def resident_bytes() -> int:
    """Returns this process's resident memory now (Linux), else its peak (`ru_maxrss`)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB else


def check_bound(bound: Optional[int], trial_id: str) -> None:
    """Raises `MemoryBoundReached` when this process holds more than `bound` bytes (None: no
    bound). Call it once a trial is saved."""
    if bound is None:
        return
    resident = resident_bytes()
    if resident > bound:
        raise MemoryBoundReached(resident, bound, trial_id)


def restart_command(argv: list) -> list:
    """Returns the command that runs `keras-nasnet` again with the arguments `argv` (without
    the program)."""
    return [sys.executable, "-m", "keras_nasnet.cli", *argv]


def is_restart() -> bool:
    """Returns whether this process is a search's restart (`restart`), and forgets it: the
    processes it starts are not restarts. A restart resumes, even under `--overwrite`."""
    return os.environ.pop(RESTART_ENV, None) is not None


def restart(reached: MemoryBoundReached, argv: list) -> None:
    """Replaces this process by `restart_command(argv)` (the same pid; open files closed, the
    directory lock with them); does not return."""
    print(
        f"search: the process holds {format_size(reached.resident)} after trial "
        f"{reached.trial_id}, above --max-memory {format_size(reached.bound)}: restarting it to "
        "free that memory; the search resumes where it stopped.",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    command = restart_command(argv)
    os.execve(command[0], command, {**os.environ, RESTART_ENV: "1"})

"""A search's wall-clock budget (`max_time`): durations as people write them."""

from __future__ import annotations

import math
import re
import time
from typing import Callable, Optional, Union

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(value: Union[str, int, float, None], name: str = "max_time") -> Optional[float]:
    """Returns `value` in seconds: a number of seconds, or a string such as "600", "90s",
    "10m", "1.5h" or "2d"; None stays None (no limit).

    Raises:
        ValueError: not a positive finite duration; the message names `name` and the forms.
        TypeError: neither a number, a string nor None.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be seconds or a string like '10m'; received {value!r}.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(
                f"`{name}` must be a duration such as 600, 90s, 10m, 1.5h or 2d; "
                f"received {value!r}."
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    else:
        raise TypeError(f"`{name}` must be seconds or a string like '10m'; received {value!r}.")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"`{name}` must be a positive duration; received {value!r}.")
    return seconds


class Stopwatch:
    """The seconds a search has run over all its runs: what the earlier runs spent (restored
    from the saved state) plus this run's time on `clock` (monotonic; tests give a fake one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = clock()
        self._before = 0.0

    def elapsed(self) -> float:
        return self._before + self._clock() - self._start

    def restore(self, seconds: float) -> None:
        """Continues from `seconds` spent by earlier runs (counted from now)."""
        self._before = float(seconds)
        self._start = self._clock()

    def spent(self, max_time: Optional[float]) -> bool:
        """Returns whether `max_time` (seconds; None: no budget) is set and spent."""
        return max_time is not None and self.elapsed() >= max_time

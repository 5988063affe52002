"""One wall-clock budget for a whole audit, shared by every probe."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """A point in monotonic time after which probes give up.

    Every request and lookup takes ``min(its own timeout, deadline.remaining())``, so a slow server
    costs at most the audit's budget, never more.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.remaining() <= 0.0

    def cap(self, timeout: float) -> float:
        """``timeout`` shortened to what the deadline still allows."""
        return min(timeout, self.remaining())

"""Log lines that a flood cannot multiply: one line per subject and interval, with a count of the rest."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

MAX_SUBJECTS = 10_000  # beyond this many subjects in one interval, the oldest are forgotten


class QuietLog:
    def __init__(
        self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}  # subject -> (when last logged, lines held back)

    def log(self, level: int, subject: str, message: str, *args: object) -> None:
        """Log `message` if `subject` was not logged within the interval; otherwise count it."""
        now = self._clock()
        with self._lock:
            last, held = self._last.get(subject, (float("-inf"), 0))
            if now - last < self._interval:
                self._last[subject] = (last, held + 1)
                return
            self._last.pop(subject, None)
            if len(self._last) >= MAX_SUBJECTS:
                del self._last[next(iter(self._last))]
            self._last[subject] = (now, 0)
        if held:
            message += f" ({held} more like it in the last %.0f s not logged)"
            args = (*args, now - last)
        self._logger.log(level, message, *args)

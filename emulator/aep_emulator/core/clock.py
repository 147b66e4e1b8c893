"""Emulator clock: real time plus an offset, so tests can jump ahead instead of sleeping."""

from __future__ import annotations

import threading
import time


class Clock:
    """Monotonic-enough wall clock whose offset only grows (until :meth:`reset`)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Emulator time in epoch seconds."""
        return time.time() + self._offset

    def now_ms(self) -> int:
        """Emulator time in epoch milliseconds (the unit of ``createdAt``/``updatedAt``)."""
        return int(self.now() * 1000)

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward; going backwards is refused because runs and tokens assume monotony."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
            return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

"""The journal: every IMS and Platform request the emulator received, oldest first, with its answer's status.

Entries are stored as they arrived (the control plane masks secrets when it shows them, :mod:`.redaction`). The
journal keeps the newest ``limit`` entries and counts requests and responses by status for ``stats()``; a
``commit_later`` request performed late is journaled but not counted, since nobody received its answer.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from .messages import Request


def entry(req: Request, status: int, started: float, fault: str | None) -> dict[str, Any]:
    """A journal entry; ``status`` 0 means the connection was dropped, ``started`` is wall-clock epoch seconds."""
    return {
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": req.headers,
        "body": req.journal_body(),
        "status": status,
        "time": started,
        "fault": fault,
    }


class Journal:
    """The newest ``limit`` entries plus request/response counters (the caller holds the state lock)."""

    def __init__(self, limit: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self.requests = 0
        self.responses: Counter[str] = Counter()

    def record(self, item: dict[str, Any], *, counted: bool = True) -> None:
        self._entries.append(item)
        if counted:
            self.requests += 1
            self.responses[str(item["status"])] += 1

    def resize(self, limit: int) -> None:
        if self._entries.maxlen != limit:
            self._entries = deque(self._entries, maxlen=limit)

    def clear(self) -> None:
        self._entries.clear()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._entries[index]

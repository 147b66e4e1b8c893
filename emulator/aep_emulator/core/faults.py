"""Fault rules: make chosen requests slow, fail, vanish, fail *after* committing, commit *later*, or wait.

A rule matches on method (or any) and a regex fully matching the request path. Each match consumes
one unit of ``count``; when it reaches zero the rule expires. Rules are tried in insertion order.

``commit_later`` answers at once and leaves a :class:`PendingCommit` in the registry; the app performs it
once the emulator clock passes its ``due`` time (:meth:`FaultRegistry.commit_due`, called lazily before
every data-plane request and by the control calls that read state).

``hold`` keeps each matching request waiting, before it is handled, until the test releases the rule
(``POST /faults/<id>/release``) or ``latency`` seconds pass (the bound that makes a forgotten hold end by
itself); then it is handled as usual. ``GET /faults/<id>/held`` says how many wait now. A test uses it to
know a request is *inside* a create (to kill its caller there) or that several are in flight at once,
whatever the machine's speed.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("respond", "drop", "commit_then_fail", "commit_then_drop", "delay", "commit_later", "hold")
#: Default statuses by action (``drop``, ``commit_then_drop`` and ``delay`` answer none of their own).
DEFAULT_STATUS = {"respond": 503, "commit_then_fail": 500, "commit_later": 504}
#: Emulator seconds after its arrival that a ``commit_later`` request is performed, unless the rule says.
DEFAULT_COMMIT_AFTER = 2.0
#: Wall seconds a ``hold`` rule keeps a request at most, unless its ``latency`` says.
DEFAULT_HOLD_LIMIT = 300.0


@dataclass
class FaultRule:
    """One injected fault. ``status=None`` means 503 for ``respond``, 500 for ``commit_then_fail`` and 504 for
    ``commit_later``; ``commit_after`` (emulator seconds, only for ``commit_later``) defaults to 2.0."""

    path: str
    method: str | None = None
    count: int = 1
    status: int | None = None
    retry_after: str | None = None
    latency: float = 0.0
    action: str = "respond"
    body: Any = None
    commit_after: float | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")
        if self.method:
            self.method = self.method.upper()
        if self.action == "hold" and not self.latency:
            self.latency = DEFAULT_HOLD_LIMIT
        if self.status is None and self.action in DEFAULT_STATUS:
            self.status = DEFAULT_STATUS[self.action]
        if self.action == "commit_later":
            if self.commit_after is None:
                self.commit_after = DEFAULT_COMMIT_AFTER
            if isinstance(self.commit_after, bool) or not isinstance(self.commit_after, (int, float)):
                raise ValueError(f"commit_after must be a number of seconds, got {self.commit_after!r}")
            if not 0 <= self.commit_after < float("inf"):
                raise ValueError("commit_after must be a finite number of seconds >= 0")
            self.commit_after = float(self.commit_after)
        elif self.commit_after is not None:
            raise ValueError(f"commit_after only applies to action 'commit_later', not {self.action!r}")
        if self.retry_after is not None:
            self.retry_after = str(self.retry_after)
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, "", "*", method)) and self._regex.fullmatch(path) is not None

    @property
    def stat_key(self) -> str:
        """Counter key in ``stats()['faults_injected']``."""
        if self.action in ("drop", "commit_then_drop"):
            return "drop"
        if self.action in ("delay", "hold"):
            return self.action
        return str(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "action": self.action,
            "body": self.body,
            "commit_after": self.commit_after,
            "hits": self.hits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {"path", "method", "count", "status", "retry_after", "latency", "action", "body", "commit_after"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if not isinstance(data.get("path"), str) or not data["path"]:
            raise ValueError("path (a regex) is required")
        return cls(**data)


@dataclass
class Hold:
    """The gate of one ``hold`` rule: requests wait on ``released``; ``waiting`` counts those waiting now."""

    released: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0
    passed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.waiting, "passed": self.passed, "released": self.released.is_set()}


@dataclass
class PendingCommit:
    """A request a ``commit_later`` rule answered already; ``perform`` runs it when the clock passes ``due``."""

    rule_id: str
    due: float  # emulator epoch seconds
    perform: Callable[[], None] = field(repr=False)


class FaultRegistry:
    """Thread-safe, ordered list of live rules, plus the requests ``commit_later`` rules still owe."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._pending: list[PendingCommit] = []
        self._holds: dict[str, Hold] = {}
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> str:
        with self._lock:
            self._rules.append(rule)
        return rule.id

    def remove(self, rule_id: str) -> bool:
        """Remove a rule and drop the commits it still owes; False if neither existed."""
        with self._lock:
            before = len(self._rules) + len(self._pending)
            self._rules = [r for r in self._rules if r.id != rule_id]
            self._pending = [p for p in self._pending if p.rule_id != rule_id]
            hold = self._holds.pop(rule_id, None)
        if hold is not None:
            hold.released.set()  # whatever still waits goes on
        return len(self._rules) + len(self._pending) != before or hold is not None

    def clear(self) -> None:
        """Remove every rule and drop every pending commit."""
        with self._lock:
            self._rules.clear()
            self._pending.clear()
            holds, self._holds = list(self._holds.values()), {}
        for hold in holds:
            hold.released.set()

    # -- hold ----------------------------------------------------------------------------------
    def hold(self, rule: FaultRule) -> Hold:
        """The gate of ``rule`` (made on its first request; it outlives the rule's last use)."""
        with self._lock:
            return self._holds.setdefault(rule.id, Hold())

    def gate(self, rule_id: str) -> Hold | None:
        with self._lock:
            return self._holds.get(rule_id)

    def release(self, rule_id: str) -> bool:
        """Let every request held by ``rule_id`` (and any later one) go on; False for an unknown rule."""
        with self._lock:
            known = rule_id in self._holds or any(r.id == rule_id for r in self._rules)
            hold = self._holds.setdefault(rule_id, Hold()) if known else None
        if hold is not None:
            hold.released.set()
        return hold is not None

    # -- commit_later --------------------------------------------------------------------------
    def defer(self, pending: PendingCommit) -> None:
        with self._lock:
            self._pending.append(pending)

    def pending(self) -> int:
        """How many answered requests are still waiting to be performed."""
        with self._lock:
            return len(self._pending)

    def commit_due(self, now: float) -> int:
        """Perform every pending commit due at ``now`` (emulator time), earliest first; returns how many.

        The caller holds the state lock (so a reset cannot interleave); ``perform`` runs outside this
        registry's own lock because it journals and may read rules.
        """
        with self._lock:
            due = sorted((p for p in self._pending if p.due <= now), key=lambda p: p.due)
            if not due:
                return 0
            self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            pending.perform()
        return len(due)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching the request, consuming one use of it."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.count -= 1
                    rule.hits += 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

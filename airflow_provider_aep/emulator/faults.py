"""Fault rules: make chosen requests slow, fail, vanish, or fail *after* committing.

A rule matches on method (or any) and a regex fully matching the request path. Each match consumes
one unit of ``count``; when it reaches zero the rule expires. Rules are tried in insertion order.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("respond", "drop", "commit_then_fail", "commit_then_drop", "delay")


@dataclass
class FaultRule:
    """One injected fault. ``status=None`` means 503 for ``respond`` and 500 for ``commit_then_fail``."""

    path: str
    method: str | None = None
    count: int = 1
    status: int | None = None
    retry_after: str | None = None
    latency: float = 0.0
    action: str = "respond"
    body: Any = None
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
        if self.status is None and self.action in ("respond", "commit_then_fail"):
            self.status = 503 if self.action == "respond" else 500
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
        if self.action == "delay":
            return "delay"
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
            "hits": self.hits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {"path", "method", "count", "status", "retry_after", "latency", "action", "body"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if not isinstance(data.get("path"), str) or not data["path"]:
            raise ValueError("path (a regex) is required")
        return cls(**data)


class FaultRegistry:
    """Thread-safe, ordered list of live rules."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> str:
        with self._lock:
            self._rules.append(rule)
        return rule.id

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

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

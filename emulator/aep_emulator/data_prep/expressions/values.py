"""Values during evaluation: the context (clock, seeded generator), column lookup and the loose conversions
Data Prep applies (text, numbers, truthiness)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dates import UTC, iso_datetime
from .errors import EvaluationError


@dataclass
class EvalContext:
    """What ``now()``, ``timestamp()`` and ``uuid()`` read: the emulator clock and a seeded generator."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)


def lookup(row: dict[str, Any], path: Sequence[str]) -> Any:
    """A column: the whole dotted name first (flat tables), then a walk into nested objects."""
    joined = ".".join(path)
    if joined in row:
        return row[joined]
    value: Any = row
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    return str(value)


def as_number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or value is None:
        raise EvaluationError(f"{what}: expected a number, got {as_text(value) or 'null'}.")
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError as exc:
            raise EvaluationError(f"{what}: '{text}' is not a number.") from exc


def as_int(value: Any, what: str) -> int:
    number = as_number(value, what)
    if isinstance(number, float) and not number.is_integer():
        raise EvaluationError(f"{what}: expected an integer, got {number}.")
    return int(number)


def is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def loose_equal(left: Any, right: Any) -> bool:
    if isinstance(left, (int, float)) and isinstance(right, str) and not isinstance(left, bool):
        try:
            return left == as_number(right, "==")
        except EvaluationError:
            return False
    if isinstance(right, (int, float)) and isinstance(left, str) and not isinstance(right, bool):
        return loose_equal(right, left)
    return bool(left == right)


Function = Callable[[EvalContext, list[Any]], Any]

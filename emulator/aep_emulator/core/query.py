"""Flow Service list queries: ``property`` filters, ``orderby``, ``limit``, ``count`` and continuation tokens
(pages: :mod:`.pagination`).

* ``property`` is repeatable (AND). Each is ``path OP value[,value...]`` (comma = OR; values may be
  double-quoted). Operators: ``==`` (also a lone ``=``), ``!=``, ``>``, ``<``, ``>=``, ``<=``. ``[]`` after a
  path segment walks into an array (``sourceConnectionIds[]==X``). Equality is case-insensitive, because the
  docs filter ``metrics.statusSummary.status==Failed`` while statuses are lowercase.
* ``orderby`` takes ``name``, ``createdAt`` or ``updatedAt`` with an optional ``+``/``-`` prefix.
* ``continuationToken`` resumes a page (:mod:`.pagination`); explicit parameters win over those it carries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import flow_error
from .pagination import decode_token

LIST_PARAMS = frozenset({"property", "limit", "orderby", "continuationToken", "count"})
ORDERABLE = ("name", "createdAt", "updatedAt")
_KEY_RE = re.compile(r"[A-Za-z0-9_@$\-]+(?:\[\])?(?:\.[A-Za-z0-9_@$\-]+(?:\[\])?)*")
_OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "=")
_NUMERIC_OPS = (">", "<", ">=", "<=")


@dataclass(frozen=True)
class Filter:
    """One parsed ``property`` expression."""

    raw: str
    segments: tuple[tuple[str, bool], ...]
    op: str
    values: tuple[str, ...]

    def matches(self, resource: dict[str, Any]) -> bool:
        leaves = list(_resolve(resource, self.segments))
        if self.op in ("==", "="):
            wanted = {v.casefold() for v in self.values}
            return any(_as_text(leaf).casefold() in wanted for leaf in leaves)
        if self.op == "!=":
            wanted = {v.casefold() for v in self.values}
            return all(_as_text(leaf).casefold() not in wanted for leaf in leaves)
        bound = float(self.values[0])
        for leaf in leaves:
            number = _as_number(leaf)
            if number is None:
                continue
            if (
                (self.op == ">" and number > bound)
                or (self.op == "<" and number < bound)
                or (self.op == ">=" and number >= bound)
                or (self.op == "<=" and number <= bound)
            ):
                return True
        return False


@dataclass
class ListQuery:
    """Everything a list request asks for."""

    filters: list[Filter] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    orderby: str | None = None
    order_field: str | None = None
    descending: bool = False
    limit: int = 20
    explicit_limit: bool = False
    count: bool = False
    after: Any = None

    def accepts(self, resource: dict[str, Any]) -> bool:
        return all(f.matches(resource) for f in self.filters)


def _resolve(value: Any, segments: tuple[tuple[str, bool], ...]) -> Iterator[Any]:
    if not segments:
        yield value
        return
    (name, is_array), rest = segments[0], segments[1:]
    if not isinstance(value, dict) or name not in value:
        return
    child = value[name]
    if is_array:
        if isinstance(child, list):
            for item in child:
                yield from _resolve(item, rest)
        return
    yield from _resolve(child, rest)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _split_values(text: str) -> list[str]:
    """Split on commas outside double quotes and unquote each value."""
    values: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            continue
        if char == "," and not quoted:
            values.append("".join(current))
            current = []
            continue
        current.append(char)
    values.append("".join(current))
    return [v.strip() for v in values]


def parse_filter(expression: str, allowed_roots: frozenset[str]) -> Filter:
    """Parse one ``property`` value or raise the matching ``FLOW-144x/145x-400`` error."""
    match = _KEY_RE.match(expression)
    if not match:
        raise flow_error("1453-400", f"Invalid query value {expression} provided in query param.")
    key, rest = match.group(0), expression[match.end() :]
    if not rest:
        raise flow_error("1453-400", f"Invalid query value {expression} provided in query param.")
    if rest.startswith("~"):
        raise flow_error("1440-400", "Operator '~' not implemented.")
    op = next((candidate for candidate in _OPERATORS if rest.startswith(candidate)), None)
    if op is None:
        bad = re.match(r"[^A-Za-z0-9\"]+", rest)
        raise flow_error("1450-400", f"Invalid operator {bad.group(0) if bad else rest} in filter params.")
    raw_value = rest[len(op) :]
    segments = tuple((seg[:-2], True) if seg.endswith("[]") else (seg, False) for seg in key.split("."))
    root = segments[0][0]
    if root not in allowed_roots:
        raise flow_error("1449-400", f"Invalid field {root} in filter params.")
    values = _split_values(raw_value)
    if not raw_value or any(v == "" for v in values):
        raise flow_error("1453-400", f"Invalid query value {expression} provided in query param.")
    if op in _NUMERIC_OPS:
        if len(values) > 1:
            raise flow_error("1443-400", f"Operator '{op}' is not allowed for multiple values.")
        if _as_number(values[0]) is None:
            raise flow_error("1452-400", f"Invalid value {raw_value} for field {key}.")
    return Filter(expression, segments, op, tuple(values))


def parse_orderby(value: str) -> tuple[str, bool]:
    """``(field, descending)`` from ``name``, ``+name`` or ``-name`` (``+`` may arrive decoded as a space)."""
    text = value.strip() if value.startswith(" ") else value
    descending = False
    if text[:1] in "+-":
        descending = text[0] == "-"
        text = text[1:]
    elif text[:1] and not text[0].isalnum():
        raise flow_error(
            "1432-400",
            "Sort order specified is not correct, prepend + for ascending order and - for descending "
            "order in the fieldName.",
        )
    if text not in ORDERABLE:
        raise flow_error("1433-400", f"Incorrect field= {text} passed in orderBy, example are +name, -name, name.")
    return text, descending


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def parse_list_query(
    query: dict[str, list[str]],
    allowed_roots: frozenset[str],
    default_limit: int,
    max_limit: int,
) -> ListQuery:
    """Validate list parameters; explicit parameters win over those stored in a continuation token."""
    unknown = sorted(set(query) - LIST_PARAMS)
    if unknown:
        raise flow_error("1451-400", f"Invalid params {unknown[0]} provided in query params.")
    token = _single(query, "continuationToken")
    saved = decode_token(token) if token else {}
    properties = query.get("property") or saved.get("p") or []
    orderby = _single(query, "orderby") or saved.get("o")
    limit_text = _single(query, "limit")
    count_text = (_single(query, "count") or "false").lower()
    if count_text not in ("true", "false"):
        raise flow_error("1452-400", f"Invalid value {count_text} for field count.")
    count = count_text == "true"
    if count and limit_text is not None:
        raise flow_error("1401-400")
    q = ListQuery(properties=list(properties), orderby=orderby, count=count, after=saved.get("a"))
    q.filters = [parse_filter(p, allowed_roots) for p in properties]
    if orderby:
        q.order_field, q.descending = parse_orderby(orderby)
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError as exc:
            raise flow_error("1452-400", f"Invalid value {limit_text} for field limit.") from exc
        if limit < 1:
            raise flow_error("1452-400", f"Invalid value {limit_text} for field limit.")
        q.limit, q.explicit_limit = min(limit, max_limit), True
    elif "l" in saved:
        q.limit, q.explicit_limit = int(saved["l"]), True
    else:
        q.limit = default_limit
    return q


def ensure_no_query(query: dict[str, list[str]], allowed: Iterable[str] = ()) -> None:
    """Reject unexpected query parameters on non-list endpoints, like the real service does."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise flow_error("1451-400", f"Invalid params {unknown[0]} provided in query params.")

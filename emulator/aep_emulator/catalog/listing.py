"""Catalog lists: an object keyed by id, filtered by simple ``field=value`` parameters, ``property=`` expressions
and ``tags=``, sorted by ``orderBy`` and paged with ``start``/``limit`` offsets (no next link)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from ..core.messages import Request, Response
from .errors import bad_request
from .models import AUDIT_FIELDS

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: With ``properties=observableSchema`` Catalog returns at most 20 datasets per page (filter-data guide).
OBSERVABLE_SCHEMA_LIMIT = 20
#: Query parameters that filter a collection by equality (``name=a,b``, ``name=!a``) besides the list knobs.
SIMPLE_FILTERS = {
    "dataSets": AUDIT_FIELDS | {"name", "description", "enableErrorDiagnostics"},
    "batches": AUDIT_FIELDS
    | {"status", "externalId", "recordCount", "failedRecordCount", "size", "started", "completed"},
}
_PROPERTY_RE = re.compile(r"(?P<neg>!?)(?P<key>[^~=!<>]+)(?P<rest>.*)", re.DOTALL)
_PROPERTY_OPS = ("==", "!=", "<=", ">=", "~", "<", ">")


def int_param(req: Request, name: str, default: int) -> int:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid value for query parameter '{name}': '{raw}' is not an integer.") from exc


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything (also nothing), ``**`` is a literal asterisk (filter-data guide)."""
    parts = pattern.split("**")
    return re.compile("\\*".join(".*".join(re.escape(p) for p in part.split("*")) for part in parts), re.DOTALL)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _simple_matches(doc: dict[str, Any], key: str, raw: str) -> bool:
    negate = raw.startswith("!")
    values = [v for v in (raw[1:] if negate else raw).split(",")]
    present = key in doc and doc[key] is not None
    actual = _text(doc[key]) if present else None
    if key == "name":
        hit = present and any(_wildcard(v).fullmatch(actual or "") for v in values)
    else:
        hit = present and actual in values
    return not hit if negate else bool(hit)


def _simple_check(key: str, raw: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: _simple_matches(doc, key, raw)


def _ordered(value: str) -> tuple[Any, ...]:
    """Comparison key: numbers, then dotted versions (``1.0.10`` > ``1.0.3``), then text."""
    try:
        return (0, float(value))
    except ValueError:
        pass
    if re.fullmatch(r"\d+(\.\d+)+", value):
        return (1, tuple(int(p) for p in value.split(".")))
    return (2, value)


def _property_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    match = _PROPERTY_RE.fullmatch(expression)
    if match is None or not match.group("key"):
        raise bad_request(f"Invalid property filter '{expression}'.")
    negate, key, rest = bool(match.group("neg")), match.group("key"), match.group("rest")
    if not rest:
        return lambda doc: (key in doc) != negate
    op = next((o for o in _PROPERTY_OPS if rest.startswith(o)), None)
    if op is None or negate:
        raise bad_request(f"Invalid property filter '{expression}'.")
    operand = rest[len(op) :]
    if op == "~":
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise bad_request(f"Invalid regular expression in property filter '{expression}': {exc}.") from exc
        return lambda doc: key in doc and pattern.search(_text(doc[key])) is not None
    if op == "==":
        return lambda doc: key in doc and _text(doc[key]) == operand
    if op == "!=":
        return lambda doc: key not in doc or _text(doc[key]) != operand

    def compare(doc: dict[str, Any]) -> bool:
        if key not in doc or isinstance(doc[key], (dict, list)):
            return False
        left, right = _ordered(_text(doc[key])), _ordered(operand)
        if left[0] != right[0]:
            return False
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]

    return compare


def _tags_filter(raw: str) -> Callable[[dict[str, Any]], bool]:
    wanted: list[tuple[str, re.Pattern[str]]] = []
    for item in raw.split(","):
        name, sep, value = item.partition(":")
        if not name or not sep:
            raise bad_request(f"Invalid tags filter '{raw}': expected {{TAG_NAME}}:{{TAG_VALUE}}.")
        wanted.append((name, _wildcard(value)))

    def matches(doc: dict[str, Any]) -> bool:
        tags = doc.get("tags") or {}
        return all(any(p.fullmatch(str(v)) for v in tags.get(name) or []) for name, p in wanted)

    return matches


def _sort(pairs: list[tuple[str, dict[str, Any]]], order_by: str | None) -> list[tuple[str, dict[str, Any]]]:
    if not order_by:
        return pairs
    keys: list[tuple[str, bool]] = []
    for item in order_by.split(","):
        item = item.strip()
        direction, sep, name = item.partition(":")
        if not sep:
            direction, name = "asc", item
        if direction.lower() not in ("asc", "desc") or not name:
            raise bad_request(f"Invalid orderBy '{order_by}': use [asc:|desc:]PROPERTY[,...].")
        keys.append((name, direction.lower() == "desc"))

    def sort_key(name: str) -> Callable[[tuple[str, dict[str, Any]]], tuple[Any, ...]]:
        def key(pair: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
            value = pair[0] if name == "id" else pair[1].get(name)
            if value is None:
                return (1, 0, "")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return (0, 0, value)
            return (0, 1, _text(value))

        return key

    ordered = list(pairs)
    for name, descending in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=sort_key(name), reverse=descending)
    return ordered


def project(doc: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
    if properties is None:
        return doc
    return {name: doc[name] for name in properties if name in doc}


def listing(
    req: Request,
    collection: str,
    docs: Iterable[dict[str, Any]],
    render: Callable[[dict[str, Any]], dict[str, Any]],
    extra: list[Callable[[dict[str, Any]], bool]] | None = None,
) -> Response:
    """Filter, sort, page and project a collection into Catalog's id-keyed list object."""
    properties = [p for p in (req.param("properties") or "").split(",") if p] or None
    limit = int_param(req, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"Invalid limit '{limit}': the limit must be between 1 and {MAX_LIMIT}.")
    if properties and "observableSchema" in properties:
        limit = min(limit, OBSERVABLE_SCHEMA_LIMIT)
    start = int_param(req, "start", 0)
    if start < 0:
        raise bad_request(f"Invalid start '{start}': the offset must not be negative.")
    checks = list(extra or [])
    for key in SIMPLE_FILTERS[collection]:
        for raw in req.query.get(key, []):
            checks.append(_simple_check(key, raw))
    checks.extend(_property_filter(expr) for expr in req.query.get("property", []))
    checks.extend(_tags_filter(raw) for raw in req.query.get("tags", []) if raw)
    public = [(doc["id"], render(doc)) for doc in docs]
    matching = [(doc_id, doc) for doc_id, doc in public if all(check(doc) for check in checks)]
    ordered = _sort(matching, req.param("orderBy") or req.param("sort"))
    return Response(200, {doc_id: project(doc, properties) for doc_id, doc in ordered[start : start + limit]})

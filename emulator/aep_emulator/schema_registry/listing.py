"""List requests: ``property`` filters (``== != < > <= >= ~`` and bare existence, ANDed), ``orderby``,
``limit`` (a hint, 0..500, default 300), ``start`` (only with ``orderby``; ``_page.next`` is the last primary
sort value) and the ``results``/``_page``/``_links`` envelope."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any
from urllib.parse import urlencode

from ..core.messages import Request
from .kinds import DEFAULT_LIMIT, MAX_LIMIT, PREFIX
from .model import Doc
from .xdm_errors import query_error

_FILTER = re.compile(r"(?P<key>[A-Za-z0-9:@$_.\-]+)(?:(?P<op>==|!=|<=|>=|<|>|~|=)(?P<value>.*))?", re.DOTALL)
_FIELD = re.compile(r"[A-Za-z0-9:@$_.\-]+")
Predicate = Callable[[Doc], bool]


@dataclass
class ListQuery:
    """``property`` filters, ``orderby`` fields, ``limit`` and ``start`` of one list request."""

    properties: list[str] = field(default_factory=list)
    filters: list[Predicate] = field(default_factory=list)
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    orderby_raw: str | None = None
    limit: int = DEFAULT_LIMIT
    explicit_limit: bool = False
    start: str | None = None

    def accepts(self, doc: Doc) -> bool:
        return all(check(doc) for check in self.filters)


def _values_at(doc: Doc, key: str) -> list[Any]:
    current: list[Any] = [doc]
    for segment in key.split("."):
        following: list[Any] = []
        for value in current:
            if isinstance(value, dict) and segment in value:
                child = value[segment]
                following.extend(child if isinstance(child, list) else [child])
        current = following
    return current


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "null" if value is None else str(value)


def number(value: Any) -> float | None:
    """``value`` as a number when it is one or spells one (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(left: Any, right: str) -> int:
    """Order ``left`` against a query value: numerically when both are numbers, else case-insensitively."""
    a, b = number(left), number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = _text(left).casefold(), right.casefold()
    return (x > y) - (x < y)


def parse_filter(expression: str) -> Predicate:
    """One ``property`` value as a predicate over a resource document."""
    match = _FILTER.fullmatch(expression.strip())
    if match is None:
        raise query_error(f"Invalid property filter '{expression}'.")
    key, op, value = match.group("key"), match.group("op"), match.group("value")
    if op is None:
        return lambda doc: bool(_values_at(doc, key))
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if op in ("==", "="):
        wanted = value.casefold()
        return lambda doc: any(_text(v).casefold() == wanted for v in _values_at(doc, key))
    if op == "!=":
        unwanted = value.casefold()
        return lambda doc: all(_text(v).casefold() != unwanted for v in _values_at(doc, key))
    if op == "~":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise query_error(f"Invalid regular expression in property filter '{expression}': {exc}.") from exc
        return lambda doc: any(pattern.search(_text(v)) for v in _values_at(doc, key))
    tests = {"<": lambda c: c < 0, ">": lambda c: c > 0, "<=": lambda c: c <= 0, ">=": lambda c: c >= 0}[op]
    return lambda doc: any(tests(_compare(v, value)) for v in _values_at(doc, key))


def property_filters(req: Request) -> list[Predicate]:
    return [parse_filter(p) for p in req.query.get("property", []) if p.strip()]


def parse_list_query(req: Request) -> ListQuery:
    q = ListQuery(properties=[p for p in req.query.get("property", []) if p.strip()])
    q.filters = [parse_filter(p) for p in q.properties]
    raw_order = req.param("orderby")
    if raw_order is not None and raw_order.strip():
        q.orderby_raw = raw_order.strip()
        for part in raw_order.split(","):
            part = part.strip()
            if not part:
                continue
            descending = part.startswith("-")
            name = part.lstrip("+-").strip()
            if not name or not _FIELD.fullmatch(name):
                raise query_error(f"Invalid orderby field '{part}'.")
            q.orderby.append((name, descending))
    limit = req.param("limit")
    if limit is not None:
        bad = f"Invalid limit '{limit}': must be an integer between 0 and {MAX_LIMIT}."
        try:
            value = int(float(limit))
        except ValueError as exc:
            raise query_error(bad) from exc
        if value < 0:
            raise query_error(bad)
        q.limit, q.explicit_limit = min(value, MAX_LIMIT), True
    q.start = req.param("start")
    if q.start is not None and not q.orderby:
        raise query_error("The start parameter cannot be used without an orderby parameter.")
    return q


def _sort_value(doc: Doc, name: str) -> Any:
    if name in ("updated", "created"):
        meta = doc.get("meta:registryMetadata") or {}
        return meta.get("repo:lastModifiedDate" if name == "updated" else "repo:createdDate")
    value = doc.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _cmp_values(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is None) - (b is None)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return (a > b) - (a < b)
    x, y = _text(a).casefold(), _text(b).casefold()
    return (x > y) - (x < y)


def paginate(docs: Iterable[Doc], q: ListQuery) -> tuple[list[Doc], Any]:
    """One page and the ``_page.next`` value (``None`` on the last page, and always without ``orderby``).

    ``limit`` is a hint: a page never ends between two items sharing the primary sort value, so that
    ``start`` (strictly after that value) can continue without skipping any.
    """
    matching = [doc for doc in docs if q.accepts(doc)]
    if not q.orderby:
        matching.sort(key=lambda d: (_sort_value(d, "updated") or 0, d.get("_seq", 0)))
        return matching[: q.limit], None

    def compare(a: Doc, b: Doc) -> int:
        for name, descending in q.orderby:
            result = _cmp_values(_sort_value(a, name), _sort_value(b, name))
            if result:
                return -result if descending and None not in (_sort_value(a, name), _sort_value(b, name)) else result
        return (a.get("_seq", 0) > b.get("_seq", 0)) - (a.get("_seq", 0) < b.get("_seq", 0))

    matching.sort(key=cmp_to_key(compare))
    primary, descending = q.orderby[0]
    if q.start is not None:
        start = q.start

        def after(doc: Doc) -> bool:
            # Compared the way the sort compares (numbers as numbers, text case-insensitively).
            value = _sort_value(doc, primary)
            if value is None:
                return True
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and number(start) is not None
            result = _cmp_values(value, number(start) if numeric else start)
            return result < 0 if descending else result > 0

        matching = [doc for doc in matching if after(doc)]
    if q.limit == 0:
        return [], None
    page = matching[: q.limit]
    while (
        len(page) < len(matching)
        and _cmp_values(_sort_value(matching[len(page)], primary), _sort_value(page[-1], primary)) == 0
    ):
        page.append(matching[len(page)])
    last = _sort_value(page[-1], primary) if page else None
    following = None if len(page) >= len(matching) or last is None else last
    return page, (str(following) if isinstance(following, (int, float)) else following)


def list_body(
    req: Request, q: ListQuery, results: list[Any], following: Any, path: str, *, global_link: str | None
) -> dict[str, Any]:
    """``results`` + ``_page`` + ``_links`` (``next`` is ``null`` on the last page, else ``{"href"}``)."""
    base = f"{req.base_url}{PREFIX}{path}"
    next_link = None
    if following is not None:
        params: list[tuple[str, str]] = [("orderby", q.orderby_raw or ""), ("start", str(following))]
        if q.explicit_limit:
            params.append(("limit", str(q.limit)))
        params.extend(("property", p) for p in q.properties)
        next_link = {"href": f"{base}?{urlencode(params)}"}
    links: dict[str, Any] = {"next": next_link}
    if global_link is not None:
        suffix = f"?{urlencode([('property', p) for p in q.properties])}" if q.properties else ""
        links["global_schemas"] = {"href": f"{req.base_url}{PREFIX}{global_link}{suffix}"}
    return {
        "results": results,
        "_page": {"orderby": q.orderby_raw or "updated", "next": following, "count": len(results)},
        "_links": links,
    }

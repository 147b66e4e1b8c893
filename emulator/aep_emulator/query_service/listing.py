"""Query Service's lists: ``orderby`` (``created``/``updated``, ``-`` descending by default, ``+`` ascending, sent
as ``%2B``), ``limit`` (default 20), ``start`` (the ``orderby`` timestamp to continue after), ``property``
(comma-joined AND filters with ``== != > < >= <= ~``) and ``_links.next``/``prev`` carrying them on.

Creation times are unique within a sandbox (:func:`unique_ms`), so a timestamp cursor neither skips nor repeats."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from ..core.errors import ApiError
from ..core.messages import Request
from .models import PREFIX, iso, message, parse_time

Getter = Callable[[dict[str, Any]], Any]
_FILTER = re.compile(r"^\s*([A-Za-z_]+)\s*(==|!=|>=|<=|>|<|~|=)(.*)$")
_TIMES = ("created", "updated")


def bad_request(text: str) -> ApiError:
    return ApiError(400, message(400, text))


def unique_ms(previous: list[int], now: int) -> int:
    """``now``, or one millisecond after the last creation time handed out (kept in ``previous[0]``)."""
    ms = max(now, previous[0] + 1)
    previous[0] = ms
    return ms


def _matches(value: Any, op: str, wanted: str, is_time: bool) -> bool:
    if isinstance(value, list):  # a list property (referenced_datasets) matches when one of its items does
        return any(_matches(item, op, wanted, is_time) for item in value)
    if value is None:
        return op == "!="
    if is_time:
        target = parse_time(wanted)
        if target is None:
            raise bad_request(f"Invalid timestamp '{wanted}' in property filter")
        left: Any = value
        right: Any = target
    else:
        left, right = str(value).lower(), wanted.strip().lower()
    if op == "~":
        return str(right) in str(left)
    if op in ("==", "="):
        return bool(left == right) if not isinstance(right, str) else left in [v.strip() for v in right.split("||")]
    if op == "!=":
        return bool(left != right)
    comparisons = {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}
    return bool(comparisons[op])


def _predicate(getter: Getter, op: str, wanted: str, is_time: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: _matches(getter(doc), op, wanted, is_time)


def filters(
    req: Request, getters: dict[str, Getter], equal_only: dict[str, int] | None = None
) -> list[Callable[[dict[str, Any]], bool]]:
    """The ``property`` filters as predicates; an unknown property or operator is a 400 naming it, and so is a
    property of ``equal_only`` filtered with another operator than ``==`` or with more ``||`` values than allowed."""
    out: list[Callable[[dict[str, Any]], bool]] = []
    for raw in req.query.get("property", []):
        for part in raw.split(","):
            if not part.strip():
                continue
            match = _FILTER.match(part)
            if match is None or match.group(1) not in getters:
                known = ", ".join(sorted(getters))
                raise bad_request(f"Invalid property filter '{part}': use one of {known} with == != > < >= <= ~")
            name, op, wanted = match.groups()
            most = (equal_only or {}).get(name)
            if most is not None and (op not in ("==", "=") or len(wanted.split("||")) > most):
                raise bad_request(
                    f"Invalid property filter '{part}': {name} allows only == with at most {most} values joined by ||"
                )
            out.append(_predicate(getters[name], op, wanted, name in _TIMES))
    return out


def _limit(req: Request, default: int, maximum: int) -> int:
    raw = req.param("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for parameter 'limit': expected an integer") from None
    if value < 1:
        raise bad_request("Parameter 'limit' must be at least 1")
    return min(value, maximum)


def page(
    req: Request,
    path: str,
    key: str,
    docs: Iterable[dict[str, Any]],
    view: Callable[[dict[str, Any]], dict[str, Any]],
    getters: dict[str, Getter],
    *,
    default_limit: int,
    max_limit: int,
    equal_only: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One page of ``docs`` in Adobe's list envelope (``key`` holds the items; ``equal_only`` see :func:`filters`)."""
    orderby = (req.param("orderby") or "-created").strip()
    descending = not orderby.startswith("+")
    field = orderby.lstrip("+- ")
    if field not in _TIMES:
        raise bad_request(f"Invalid value '{orderby}' for parameter 'orderby': use created or updated with + or -")
    if (req.param("isPrevLink") or "").lower() == "true":
        descending = not descending
    limit = _limit(req, default_limit, max_limit)
    checks = filters(req, getters, equal_only)
    start = req.param("start")
    start_ms = parse_time(start) if start else None
    if start and start_ms is None:
        raise bad_request(f"Invalid value '{start}' for parameter 'start': expected a timestamp")
    time_key = f"_{field}_ms"
    selected = [d for d in docs if all(check(d) for check in checks)]
    selected.sort(key=lambda d: (d[time_key], d["_seq"]), reverse=descending)
    if start_ms is not None:
        selected = [d for d in selected if (d[time_key] < start_ms if descending else d[time_key] > start_ms)]
    items = selected[:limit]
    sign = "-" if not orderby.startswith("+") else "+"
    body: dict[str, Any] = {
        key: [view(d) for d in items],
        "_page": {"orderby": f"{sign}{field}", "start": iso(items[0][time_key]) if items else "", "count": len(items)},
        "_links": {},
        "version": 1,
    }
    params = [f"orderby={quote(sign + field, safe='')}"]
    params += [f"property={quote(p, safe='')}" for p in req.query.get("property", [])]
    if req.param("limit"):
        params.append(f"limit={limit}")
    base = f"{req.base_url}{PREFIX}{path}?{'&'.join(params)}"
    if len(selected) > limit:
        nxt = iso(items[-1][time_key])
        body["_page"]["next"] = nxt
        body["_links"]["next"] = {"href": f"{base}&start={quote(nxt, safe='')}"}
    if start:
        body["_links"]["prev"] = {"href": f"{base}&start={quote(start, safe='')}&isPrevLink=true"}
    return body

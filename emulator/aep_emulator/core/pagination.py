"""Keyset pagination (Flow Service): a page of resources after a position, and the continuation token that
resumes there.

Pages are keyset-based, so creating or deleting resources between pages neither skips nor repeats others. The
token is opaque (base64url, no padding) and carries the filters, order and limit, so a client can send the token
alone or the whole ``_links.next.href``. Catalog pages with ``start`` offsets and the Schema Registry after a sort
value; those live with their services.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import flow_error

if TYPE_CHECKING:
    from .query import ListQuery


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise flow_error("1452-400", f"Invalid value {token} for field continuationToken.") from exc
    if not isinstance(payload, dict) or "a" not in payload:
        raise flow_error("1452-400", f"Invalid value {token} for field continuationToken.")
    return payload


def _sort_key(resource: dict[str, Any], order_field: str) -> list[Any]:
    value = resource.get(order_field)
    if isinstance(value, str):
        value = value.casefold()
    return [1, "", resource["_seq"]] if value is None else [0, value, resource["_seq"]]


def select(
    q: ListQuery,
    ordered_from: Callable[[int], Iterable[dict[str, Any]]],
    everything: Callable[[], Iterable[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], Any]:
    """One page of matching resources plus the keyset position of its last item (``None`` at the end).

    ``ordered_from(seq)`` yields resources created after ``seq`` in creation order (cheap, used for the
    default order); ``everything()`` yields all of them (used when sorting by another field).
    """
    page: list[dict[str, Any]] = []
    if q.order_field is None:
        after = int(q.after) if q.after is not None else -1
        for resource in ordered_from(after):
            if q.accepts(resource):
                page.append(resource)
                if len(page) > q.limit:
                    break
        more = len(page) > q.limit
        page = page[: q.limit]
        return page, (page[-1]["_seq"] if more and page else None)
    keyed = sorted(
        ((_sort_key(r, q.order_field), r) for r in everything() if q.accepts(r)),
        key=lambda pair: pair[0],
        reverse=q.descending,
    )
    if q.after is not None:
        after_key = list(q.after)
        keyed = [kr for kr in keyed if (kr[0] < after_key if q.descending else kr[0] > after_key)]
    more = len(keyed) > q.limit
    keyed = keyed[: q.limit]
    return [r for _, r in keyed], (keyed[-1][0] if more and keyed else None)


def count(q: ListQuery, everything: Callable[[], Iterable[dict[str, Any]]]) -> int:
    return sum(1 for r in everything() if q.accepts(r))


def next_link(collection_path: str, q: ListQuery, after: Any) -> dict[str, Any]:
    """``_links`` for a page: a relative ``next.href`` (token first, then the client's own parameters)."""
    if after is None:
        return {}
    payload: dict[str, Any] = {"a": after}
    if q.properties:
        payload["p"] = q.properties
    if q.orderby:
        payload["o"] = q.orderby
    if q.explicit_limit:
        payload["l"] = q.limit
    parts = [f"continuationToken={encode_token(payload)}"]
    if q.explicit_limit:
        parts.append(f"limit={q.limit}")
    parts.extend(f"property={quote(p, safe='')}" for p in q.properties)
    if q.orderby:
        parts.append(f"orderby={quote(q.orderby, safe='')}")
    return {"next": {"href": f"{collection_path}?{'&'.join(parts)}"}}

"""Data Access answers: paged lists with ``_page``/``_links``, and file bytes streamed from the spool (``Range``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response as StarletteResponse
from starlette.types import Receive, Scope, Send

from ..batch_ingestion.spool import Spool
from ..core.errors import ApiError, platform_bad_request, platform_error
from ..core.messages import Request, Response

PREFIX = "/data/foundation/export"
MAX_LIMIT = 100
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_TYPES = {".json": "application/json", ".parquet": "application/parquet", ".csv": "text/csv"}


def not_found(detail: str) -> ApiError:
    return platform_error(404, "NotFoundError", detail)


def link(req: Request, target: str, /, **query: Any) -> str:
    """An absolute link to ``target`` under the export API (``/`` in query values encoded as ``%2F``)."""
    url = f"{req.base_url}{PREFIX}{quote(target)}"
    return f"{url}?{urlencode(query, quote_via=quote, safe='')}" if query else url


def _int(req: Request, name: str, default: int) -> int:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise platform_bad_request(f"The query parameter '{name}' must be a non-negative integer, got {raw!r}.")
    return int(raw)


def paged(req: Request, path: str, items: list[dict[str, Any]]) -> Response:
    """``{"data", "_page": {"limit", "count"}, "_links"}`` for ``start``/``limit`` (at most 100) over ``items``."""
    start = _int(req, "start", 0)
    limit = min(max(_int(req, "limit", MAX_LIMIT), 1), MAX_LIMIT)
    extra = {k: v[-1] for k, v in req.query.items() if k not in ("start", "limit") and v}
    links: dict[str, Any] = {
        "page": {"href": link(req, path, **extra, start="{start}", limit="{limit}"), "templated": True}
    }
    if start + limit < len(items):
        links["next"] = {"href": link(req, path, **extra, start=start + limit, limit=limit)}
    body = {"data": items[start : start + limit], "_page": {"limit": limit, "count": len(items)}, "_links": links}
    return Response(200, body)


def content_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _TYPES.get(suffix, "application/octet-stream")


@dataclass
class FileBytes(Response):
    """The bytes of a spooled file (all, or the ``Range`` asked for), streamed chunk by chunk when sent.

    :param spool: where the file lives; ``key`` its spool key, ``size`` its length, ``name`` its file name.
    """

    spool: Spool | None = None
    key: str = ""
    size: int = 0
    name: str = ""
    head: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def render(self, request_id: str | None = None) -> StarletteResponse:
        headers = {**self.headers, "Accept-Ranges": "bytes"}
        if request_id:
            headers["x-request-id"] = request_id
        start, length = 0, self.size
        if self.status == 206:
            first, last = self.extra["first"], self.extra["last"]
            start, length = int(first), int(last) - int(first) + 1
            headers["Content-Range"] = f"bytes {first}-{last}/{self.size}"
        headers["Content-Length"] = str(length)
        kind = content_type(self.name)
        if self.head or self.spool is None:
            return StarletteResponse(b"", self.status, {**headers, "Content-Type": kind})
        return _Chunks(self.spool.chunks(self.key, start, length), self.status, headers, kind)


class _Chunks(StarletteResponse):
    """A body sent chunk by chunk from an iterator of bytes.

    Not Starlette's ``StreamingResponse``: it watches ``receive`` for a disconnect, and the app hands the router a
    ``receive`` that reports one right after the (already read) request body.
    """

    def __init__(self, chunks: Iterator[bytes], status: int, headers: dict[str, str], media_type: str) -> None:
        self.chunks = chunks
        super().__init__(None, status, headers, media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def file_bytes(req: Request, spool: Spool, key: str, size: int, name: str) -> Response:
    """200 with the whole file, or 206 for a satisfiable ``Range: bytes=a-b`` (``a-``, ``-n`` too); 416 else."""
    head = req.method == "HEAD"
    raw = req.headers.get("range", "").strip()
    match = _RANGE.fullmatch(raw) if raw else None
    if match is None or head or not (match.group(1) or match.group(2)):
        return FileBytes(200, spool=spool, key=key, size=size, name=name, head=head)
    first_raw, last_raw = match.groups()
    if first_raw:
        first, last = int(first_raw), min(int(last_raw), size - 1) if last_raw else size - 1
    else:
        first, last = max(size - int(last_raw), 0), size - 1
    if first >= size or last < first:
        raise ApiError(
            416,
            platform_error(
                416, "RangeNotSatisfiableError", f"The range {raw!r} is outside the file ({size} bytes)."
            ).body,
            {"Content-Range": f"bytes */{size}"},
        )
    extra = {"first": str(first), "last": str(last)}
    return FileBytes(206, spool=spool, key=key, size=size, name=name, extra=extra)

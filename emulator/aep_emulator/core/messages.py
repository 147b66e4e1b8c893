"""Request/response values handlers see: plain data, so a handler is a synchronous function that is easy to test
and that the app can run again later (a ``commit_later`` fault performs a request after its connection is gone).

Starlette parses the request at the edge (:meth:`Request.from_starlette`) and sends the response
(:meth:`Response.render`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from .errors import content_type_error, flow_error

JSON_TYPES = ("application/json", "application/json-patch+json")
JSON_MEDIA_TYPE = "application/json;charset=utf-8"
HTML_MEDIA_TYPE = "text/html;charset=utf-8"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass
class Request:
    """One HTTP request as the emulator sees it (header names lowercased, query values as lists)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    base_url: str = ""
    #: Set (to the byte count) when a handler moved the body to a spool file and dropped it (uploads).
    spooled: int | None = None

    @classmethod
    def from_starlette(cls, request: StarletteRequest, body: bytes) -> Request:
        """Repeated headers are joined with ``", "``; the path has no trailing slash (the app strips it)."""
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        return cls(
            method=request.method.upper(),
            path=request.scope.get("path", "/"),
            query=query,
            headers=headers,
            body=body,
            base_url=str(request.base_url).rstrip("/"),
        )

    @property
    def content_type(self) -> str:
        return media_type(self.headers.get("content-type"))

    @property
    def is_json(self) -> bool:
        return self.content_type in JSON_TYPES or self.content_type.endswith("+json")

    def json(self) -> Any:
        """The JSON body: content type checked first, then emptiness (``1405-400``), then syntax."""
        if not self.is_json:
            raise content_type_error()
        if not self.body.strip():
            raise flow_error("1405-400")
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise flow_error("1100-400", f"The request body is not valid JSON: {exc}.") from exc
        if value is None:
            raise flow_error("1405-400")
        return value

    def form(self) -> dict[str, str]:
        """Form fields (last value wins), empty when the body is not url-encoded."""
        if self.content_type != "application/x-www-form-urlencoded":
            return {}
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def journal_body(self) -> Any:
        """Parsed JSON, a form dict, raw text, or ``None`` (for the journal only; never raises).

        Binary payloads (a content type that is neither JSON, a form nor text, e.g. uploaded files) are
        journaled by size only: their bytes may be large and are customer data.
        """
        if self.spooled is not None:
            return {"contentLength": self.spooled}
        if not self.body:
            return None
        kind = self.content_type
        if kind and not (self.is_json or kind == "application/x-www-form-urlencoded" or kind.startswith("text/")):
            return {"contentLength": len(self.body)}
        if self.content_type == "application/x-www-form-urlencoded":
            return self.form()
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return self.body.decode("utf-8", "replace")


@dataclass
class Response:
    """Status, JSON-serialisable body (``None`` for no body) and extra headers.

    With a ``media_type`` other than JSON the body is a ``str`` sent as it is (the HTML resource pages).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON_MEDIA_TYPE

    def encode(self) -> bytes:
        if self.body is None or self.status == 204:
            return b""
        if isinstance(self.body, str) and self.media_type != JSON_MEDIA_TYPE:
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode()

    def render(self, request_id: str | None = None) -> StarletteResponse:
        """The Starlette response to send (``x-request-id`` added when given)."""
        payload = self.encode()
        headers = {name: str(value) for name, value in self.headers.items()}
        if request_id:
            headers["x-request-id"] = request_id
        return StarletteResponse(payload, self.status, headers, self.media_type if payload else None)

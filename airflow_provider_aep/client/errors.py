"""Typed errors for IMS and the Platform services (Flow Service, Schema Registry, Catalog, Data Prep).

AEP answers errors in several shapes (gateway ``error_code``/``message``; Flow Service and Schema Registry
``type``/``title``/``status``/``report``/``detail``; platform ``detail``/``errorMessage``/``message``; arrays
of those). They are parsed into one hierarchy that carries the HTTP status, the service, the AEP code,
message and request id, so callers branch on types rather than on dictionaries. Every text passes through
a :class:`Redactor` before it is cut to length: AEP sometimes echoes the request body in a 400, and that body
may hold credentials.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

MAX_MESSAGE_CHARS = 500
MAX_SNIPPET_CHARS = 200
MAX_SUB_ERRORS = 5
REDACTED = "***"


class Redactor:
    """Replaces known secret values in text; shared by a client and the errors it raises.

    Redact whole texts, then cut them: cutting first can leave a secret's prefix that no longer matches.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short values would redact ordinary words; Airflow's masker uses the same floor.
        if secret and len(secret) >= 5:
            self._secrets.add(secret)
            escaped = json.dumps(secret)[1:-1]  # how an echoed request body spells it (quotes, backslashes)
            if escaped != secret:
                self._secrets.add(escaped)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut); only ever applied to redacted text."""
    return text if len(text) <= limit else text[:limit] + "…"


_SERVICE_IN_PATH = re.compile(r"/data/(?:foundation|core)/([A-Za-z0-9_.-]+)")


def service_from_url(url: str) -> str | None:
    """The AEP service a URL belongs to (``flowservice``, ``schemaregistry``, ``catalog``, ``conversion``,
    ``ims``), from its base path; None when it names none (e.g. a bare ``/flowSpecs``)."""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    if path.startswith("/ims/") or "/ims/token" in path:
        return "ims"
    match = _SERVICE_IN_PATH.search(path)
    return match.group(1) if match else None


class AEPError(Exception):
    """Base class of everything this client raises."""


class AEPConfigError(AEPError, ValueError):
    """A setting is missing or invalid; raised before any network call. ``field`` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class AEPTransportError(AEPError):
    """No HTTP response: connection refused, reset, or timed out.

    ``sent`` tells whether the request may have reached the server. A create that failed with ``sent=True``
    may have been committed, so it must be reconciled by a lookup instead of being sent again.
    """

    def __init__(self, message: str, *, method: str, url: str, sent: bool, service: str | None = None) -> None:
        self.method = method
        self.url = url
        self.sent = sent
        self.service = service or service_from_url(url)
        super().__init__(f"{method} {url}: {message}")


class AEPResponseError(AEPError):
    """A 2xx response that does not have the documented shape (HTML from a proxy, truncated JSON, no id)."""

    def __init__(self, message: str, *, method: str, url: str, status: int, service: str | None = None) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.service = service or service_from_url(url)
        super().__init__(f"{method} {url} answered {status} with an unexpected body: {message}")


class AEPAPIError(AEPError):
    """An error response from IMS, the Platform gateway or one of the Platform services.

    ``service`` names the service from the URL's base path (``flowservice``, ``schemaregistry``, ``catalog``,
    ``conversion``, ``ims``), ``code`` the AEP code (``XDM-1521-400``, ``FLOW-1415-400``, ``401013``),
    ``title``/``detail`` the body's own fields and ``sub_errors`` the Schema Registry's nested errors, all
    redacted and bounded. ``retry_after`` is the server's ``Retry-After`` in seconds and ``retry_at`` the
    same as a ``time.time()`` instant: when AEP allows the next call. When a retry loop gives up on such an
    error, its message says so (:meth:`give_up`).
    """

    def __init__(
        self,
        *,
        status: int,
        code: str | None,
        message: str,
        request_id: str | None = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
        service: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        sub_errors: Sequence[str] = (),
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        self.retry_after = retry_after
        self.retry_at = time.time() + retry_after if retry_after is not None else None
        self.gave_up: str | None = None
        self.service = service or service_from_url(url)
        self.title = title
        self.detail = detail
        self.sub_errors = tuple(sub_errors)
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        req = f" (request id {self.request_id})" if self.request_id else ""
        text = f"{self.method} {self.url} failed with HTTP {self.status}{code}: {self.message}{req}".strip()
        if self.gave_up is not None and self.retry_after is not None:
            text += f"; {next_call_text(self.retry_after, self.retry_at)}; {self.gave_up}"
        return text

    def give_up(self, reason: str) -> None:
        """Record why a retry loop stopped on this error; the message then says when AEP allows the next call."""
        self.gave_up = reason
        self.args = (self._describe(),)


def seconds_text(seconds: float) -> str:
    """``600``, ``1.5``: a number of seconds as a person would write it."""
    return f"{seconds:.0f}" if seconds >= 10 or float(seconds).is_integer() else f"{seconds:.1f}"


def next_call_text(retry_after: float, retry_at: float | None) -> str:
    """``AEP allows the next call at 2026-05-09 12:00:00 UTC (in 600 s)`` (no date when it is out of range)."""
    when = None
    if retry_at is not None and math.isfinite(retry_at):
        try:
            when = datetime.fromtimestamp(retry_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            when = None
    wait = seconds_text(retry_after)
    return f"AEP allows the next call at {when} (in {wait} s)" if when else f"AEP allows the next call in {wait} s"


class AEPBadRequestError(AEPAPIError):
    """400: the request was rejected as invalid; fix the input."""


class AEPAuthError(AEPAPIError):
    """401/403: token, API key, org or permission problem."""


class AEPNotFoundError(AEPAPIError):
    """404: the resource (or sandbox) does not exist or is hidden by access control."""


class AEPPreconditionFailedError(AEPAPIError):
    """412: the If-Match etag is stale; re-read the resource and try again."""


class AEPRateLimitError(AEPAPIError):
    """429: throttled by the gateway or IMS; ``retry_after`` holds the server's hint in seconds."""


class AEPServerError(AEPAPIError):
    """5xx: AEP failed; a create may or may not have been committed."""


def _error_class(status: int) -> type[AEPAPIError]:
    if status == 400:
        return AEPBadRequestError
    if status in (401, 403):
        return AEPAuthError
    if status == 404:
        return AEPNotFoundError
    if status == 412:
        return AEPPreconditionFailedError
    if status == 429:
        return AEPRateLimitError
    if status >= 500:
        return AEPServerError
    return AEPAPIError


_CODE_FROM_TYPE = re.compile(r"([A-Z]+-)?\d{3,4}-\d{3}$")
_MESSAGE_KEYS = ("detailed-message", "detail", "errorMessage", "message", "error_description", "title")
_REQUEST_ID_KEYS = ("registryRequestId", "request-id", "requestId", "x-request-id")


@dataclass(frozen=True)
class ParsedError:
    """What an error body says, before redaction."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    title: str | None = None
    detail: str | None = None
    sub_errors: tuple[str, ...] = ()


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "" else None


def _first(*candidates: Any) -> str | None:
    for value in candidates:
        text = _text(value)
        if text is not None:
            return text
    return None


def _sub_error_text(item: Any) -> str | None:
    """One Schema Registry sub-error: an ``errorBasic`` (spec) or a JSON-schema finding (path/type/arguments)."""
    if not isinstance(item, Mapping):
        return _text(item)
    report: Mapping[str, Any] = item["report"] if isinstance(item.get("report"), Mapping) else {}
    message = _first(report.get("detailed-message"), item.get("detail"), item.get("message"), item.get("title"))
    if message is None and item.get("type"):
        arguments = item.get("arguments")
        args = ", ".join(str(a) for a in arguments) if isinstance(arguments, list) else _text(arguments)
        message = f"{item['type']}" + (f" {args}" if args else "")
    path = _text(item.get("path"))
    if message is None:
        return None
    return f"{path}: {message}" if path else message


def parse_error_body(body: Any) -> ParsedError:
    """Pick code, message, request id and details out of any of the documented error shapes.

    Shapes: gateway ``error_code``/``message``; Flow Service and Schema Registry ``type`` (ending in the code)
    /``title``/``status``/``detail``/``report`` (``detailed-message``, ``request-id`` or
    ``registryRequestId``, ``sub-errors``); generic platform ``title``/``status``/``detail``,
    ``errorMessage`` or ``message``; IMS ``error``/``error_description``; and arrays of any of these.
    """
    extra: list[str] = []
    if isinstance(body, list):
        entries = [entry for entry in body if isinstance(entry, Mapping)]
        if not entries:
            return ParsedError()
        body = entries[0]
        extra = [text for text in (_first(*(e.get(k) for k in _MESSAGE_KEYS)) for e in entries[1:]) if text]
    if not isinstance(body, Mapping):
        return ParsedError()
    report: Mapping[str, Any] = body["report"] if isinstance(body.get("report"), Mapping) else {}
    code = _first(body.get("error_code"), body.get("errorCode"), body.get("code"), body.get("error"))
    if code is None and isinstance(body.get("type"), str):
        match = _CODE_FROM_TYPE.search(body["type"].rsplit("/", 1)[-1])
        code = match.group(0) if match else None
    message = _first(report.get("detailed-message"), *(body.get(k) for k in _MESSAGE_KEYS[1:]))
    nested = body.get("errors")
    if isinstance(nested, list):  # {"errors": [{"code", "message"}, ...]} (e.g. gateways in front of Data Prep)
        nested_parsed = parse_error_body(nested)
        code = code or nested_parsed.code
        if message is None:
            message = nested_parsed.message
    raw_subs = report.get("sub-errors", body.get("sub-errors"))
    subs = tuple(
        text for text in (_sub_error_text(item) for item in (raw_subs if isinstance(raw_subs, list) else [])) if text
    )
    if extra:
        message = "; ".join([message or "", *extra]).strip("; ")
    request_id = _first(*(report.get(k) for k in _REQUEST_ID_KEYS), *(body.get(k) for k in _REQUEST_ID_KEYS))
    return ParsedError(
        code=code,
        message=message,
        request_id=request_id,
        title=_text(body.get("title")),
        detail=_text(body.get("detail")),
        sub_errors=subs,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; requests' and httpx' headers are not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or None


def error_from_response(
    *,
    status: int,
    headers: Mapping[str, str],
    text: str,
    method: str,
    url: str,
    redact: Redactor,
    retry_after: float | None = None,
) -> AEPAPIError:
    """Build the typed error for an HTTP error response, whichever shape its body has.

    Every text taken from the body is redacted while whole and only then bounded.
    """
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    parsed = parse_error_body(body)
    message = parsed.message
    if message is None:
        snippet = clip(" ".join(redact(text).split()), MAX_SNIPPET_CHARS) if text else ""
        if not snippet:
            message = "empty error body"
        elif body is None:
            message = f"non-JSON error body: {snippet!r}"
        else:  # JSON, but none of the documented message fields (e.g. IMS {"error": "server_error"})
            message = f"error body without a message: {snippet!r}"
    else:
        message = redact(message)
    subs = [clip(redact(sub), MAX_SNIPPET_CHARS) for sub in parsed.sub_errors[:MAX_SUB_ERRORS]]
    if subs:
        more = len(parsed.sub_errors) - len(subs)
        message += " (sub-errors: " + "; ".join(subs) + (f"; {more} more" if more > 0 else "") + ")"
    request_id = parsed.request_id or _header(headers, "x-request-id")
    cls = _error_class(status)
    return cls(
        status=status,
        code=clip(redact(parsed.code), 100) if parsed.code else None,
        message=clip(message, MAX_MESSAGE_CHARS),
        request_id=clip(redact(request_id), 200) if request_id else None,
        method=method,
        url=redact(url),
        retry_after=retry_after,
        title=clip(redact(parsed.title), MAX_SNIPPET_CHARS) if parsed.title else None,
        detail=clip(redact(parsed.detail), MAX_MESSAGE_CHARS) if parsed.detail else None,
        sub_errors=subs,
    )

"""Typed errors for IMS and the Flow Service.

AEP answers errors in three shapes (gateway ``error_code``/``message``; Flow Service
``type``/``title``/``status``/``report``; platform ``detail``/``errorMessage``). They are parsed into one
hierarchy that carries the HTTP status, AEP code, message and request id, so callers branch on types rather
than on dictionaries. Every message passes through a :class:`Redactor` first: AEP sometimes echoes the
request body in a 400, and that body may hold credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_MESSAGE_CHARS = 500
REDACTED = "***"


class Redactor:
    """Replaces known secret values in text; shared by a client and the errors it raises."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short values would redact ordinary words; Airflow's masker uses the same floor.
        if secret and len(secret) >= 5:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


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

    def __init__(self, message: str, *, method: str, url: str, sent: bool) -> None:
        self.method = method
        self.url = url
        self.sent = sent
        super().__init__(f"{method} {url}: {message}")


class AEPResponseError(AEPError):
    """A 2xx response that does not have the documented shape (HTML from a proxy, truncated JSON, no id)."""

    def __init__(self, message: str, *, method: str, url: str, status: int) -> None:
        self.method = method
        self.url = url
        self.status = status
        super().__init__(f"{method} {url} answered {status} with an unexpected body: {message}")


class AEPAPIError(AEPError):
    """An error response from IMS or the Platform gateway or the Flow Service."""

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
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        req = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.method} {self.url} failed with HTTP {self.status}{code}: {self.message}{req}".strip()


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


def _code_and_message(body: Any) -> tuple[str | None, str | None, str | None]:
    """Pick (code, message, request id) out of any of the documented error shapes."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return None, None, None
    report: Mapping[str, Any] = body["report"] if isinstance(body.get("report"), Mapping) else {}
    code = body.get("error_code") or body.get("code") or body.get("error")
    if not code and isinstance(body.get("type"), str):
        match = _CODE_FROM_TYPE.search(body["type"].rsplit("/", 1)[-1])
        code = match.group(0) if match else None
    message = (
        report.get("detailed-message")
        or body.get("detail")
        or body.get("errorMessage")
        or body.get("message")
        or body.get("error_description")
        or body.get("title")
    )
    request_id = report.get("request-id") or body.get("request-id") or body.get("requestId")
    return (str(code) if code else None), (str(message) if message else None), request_id


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
    """Build the typed error for an HTTP error response, whichever shape its body has."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    code, message, request_id = _code_and_message(body)
    if message is None:
        snippet = " ".join(text.split())[:200] if text else ""
        if not snippet:
            message = "empty error body"
        elif body is None:
            message = f"non-JSON error body: {snippet!r}"
        else:  # JSON, but none of the documented message fields (e.g. IMS {"error": "server_error"})
            message = f"error body without a message: {snippet!r}"
    request_id = request_id or headers.get("x-request-id")
    message = redact(message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "…"
    cls = _error_class(status)
    return cls(
        status=status,
        code=code,
        message=message,
        request_id=request_id,
        method=method,
        url=redact(url),
        retry_after=retry_after,
    )

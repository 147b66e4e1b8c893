"""HTTP policy shared by the sync (requests) and async (httpx) clients: headers, retries, Retry-After, URLs.

Retries use tenacity (already an Airflow dependency) rather than a hand-written loop. Which requests may be
retried is decided here once, per request (:func:`retried_by_default`): idempotent requests on
429/5xx/transport errors; creates only when the server provably did not process them (429, or a connection
that was never established).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
from urllib.parse import urlsplit

from tenacity import RetryCallState, retry_if_exception, wait_exponential, wait_random

from airflow_provider_aep.client.config import FLOW_SERVICE_PATH
from airflow_provider_aep.client.errors import (
    AEPAPIError,
    AEPRateLimitError,
    AEPResponseError,
    AEPTransportError,
    Redactor,
    clip,
    error_from_response,
    seconds_text,
)

if TYPE_CHECKING:
    from airflow_provider_aep.client.config import AEPSettings

log = logging.getLogger("airflow_provider_aep.client")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods whose replay after a committed first attempt leaves the same state. PATCH is not one: whether a
PATCH may be replayed depends on the request (:func:`retried_by_default`)."""


def retried_by_default(method: str, headers: Mapping[str, str] | None = None, *, idempotent: bool = False) -> bool:
    """Whether a request is retried on transient errors when its caller passes no ``retry`` (the sync and the
    async client both ask this).

    - GET, HEAD, OPTIONS, PUT, DELETE: yes.
    - PATCH: only with an ``If-Match`` header (a replay after a committed first attempt then fails with 412
      instead of applying twice, as every Flow Service PATCH does) or when the caller says the patch is
      idempotent (``idempotent=True``: a JSON Patch that :func:`json_patch_is_idempotent` accepts, for the
      services without If-Match). Any other PATCH could apply twice, so it is sent once.
    - POST and the rest: only with ``idempotent=True``; creates are retried by
      :meth:`~airflow_provider_aep.client.platform.PlatformClient.create_reconciled` instead.
    """
    if idempotent:
        return True
    method = method.upper()
    if method == "PATCH":
        return any(name.lower() == "if-match" and str(value).strip() for name, value in (headers or {}).items())
    return method in IDEMPOTENT_METHODS


JSON_CONTENT = "application/json"
JSON_PATCH_CONTENT = "application/json-patch+json"


class RequestOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`~airflow_provider_aep.client.platform.PlatformClient.request` (where their
    defaults and meaning are), for a client that passes them on (``ServiceClient.request``)."""

    params: Any
    json_body: Any
    headers: Mapping[str, str] | None
    retry: bool | None
    content_type: str
    idempotent: bool
    content: Callable[[], Any] | None


USER_AGENT = "airflow-provider-aep"


_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when it is absent or invalid.

    RFC 9110 allows delay-seconds (digits; a decimal fraction is tolerated) or an HTTP date (a date in the
    past means now). Anything else, ``inf``, ``nan``, negative numbers, exponents, hex or an unparseable
    date, is ignored: the caller falls back to its own back-off rather than waiting forever or not at all.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


RETRIES_EXHAUSTED = "aep_retries_exhausted"
"""Attribute set on an error that was already retried where it happened (the IMS token request): an outer
retry loop must not repeat it, or every attempt of the Platform call would re-run all the token attempts."""


def mark_retries_exhausted(exc: BaseException) -> None:
    setattr(exc, RETRIES_EXHAUSTED, True)


def is_transient(exc: BaseException, statuses: frozenset[int]) -> bool:
    """An error worth another attempt of an idempotent request."""
    if getattr(exc, RETRIES_EXHAUSTED, False):
        return False
    if isinstance(exc, AEPTransportError):
        return True
    return isinstance(exc, AEPAPIError) and exc.status in statuses


def is_safe_to_resend_create(exc: BaseException) -> bool:
    """A create may be re-sent only if the server certainly did not act on it."""
    if getattr(exc, RETRIES_EXHAUSTED, False):
        return False
    if isinstance(exc, AEPRateLimitError):
        return True
    return isinstance(exc, AEPTransportError) and not exc.sent


GATEWAY_STATUSES = frozenset({502, 504})
"""Answers of the gateway in front of a service, not of the service: it gave up waiting (504) or could not
use the backend's answer (502). The backend may have committed the request, or may still commit it."""


def may_commit_later(exc: BaseException) -> bool:
    """A create that failed this way may be committed after the error reached us: no answer came back
    (timeout, dropped connection), or only the gateway's 502/504 did. Such a create is looked for during
    the settle window before it is sent again (:meth:`PlatformClient.create_reconciled`)."""
    if getattr(exc, RETRIES_EXHAUSTED, False):
        return False
    if isinstance(exc, AEPTransportError):
        return exc.sent
    return isinstance(exc, AEPAPIError) and exc.status in GATEWAY_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter that defers to the server's ``Retry-After``.

    - Back-off (no ``Retry-After``): no sleep is started that would end more than ``max_delay`` seconds
      after the first attempt.
    - ``Retry-After`` (429, 503): the hint is waited in full, never shortened (a shorter wait would only be
      throttled again), as long as the call's sleeps, this one included, add up to at most
      ``max_retry_after`` seconds; ``max_delay`` does not cut it. A longer hint is not waited at all: the
      call fails at once, and the error's message says when AEP allows the next call.
    - At most ``max_attempts`` attempts either way; an error with a ``Retry-After`` that ends the call says
      when AEP allows the next one.

    "Seconds after the first attempt" counts both the time that passed and the sleeps taken, so a test's
    recording ``sleep`` sees the same decisions as a real one.
    """

    max_attempts: int = 5
    max_delay: float = 120.0
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    sleep: Callable[[float], Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("max_delay", "initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")

    @staticmethod
    def _hint(state: RetryCallState) -> float | None:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return float(hint) if isinstance(hint, (int, float)) and math.isfinite(hint) and hint >= 0 else None

    def _wait(self, state: RetryCallState) -> float:
        hint = self._hint(state)
        if hint is not None:
            return hint
        # initial * 2**n plus up to a second of jitter, capped: wait_exponential_jitter's formula, composed from
        # strategies every supported tenacity has (its `initial` is deprecated and `multiplier` is 9.2+ only).
        backoff = wait_exponential(multiplier=self.initial_backoff) + wait_random(0, 1)
        return min(self.max_backoff, backoff(state))

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        hint = self._hint(state)
        if hint:  # a positive Retry-After: its own budget, the call's sleeps
            if state.idle_for + hint > self.max_retry_after:
                self._give_up(
                    exc, f"later than this client waits (max_retry_after={seconds_text(self.max_retry_after)} s)"
                )
                return True
        elif max(state.seconds_since_start or 0.0, state.idle_for) + state.upcoming_sleep >= self.max_delay:
            return True
        if state.attempt_number >= self.max_attempts:
            attempts = state.attempt_number
            self._give_up(exc, f"gave up after {attempts} attempt{'' if attempts == 1 else 's'}")
            return True
        return False

    @staticmethod
    def _give_up(exc: BaseException | None, reason: str) -> None:
        if isinstance(exc, AEPAPIError) and exc.retry_after is not None:
            exc.give_up(reason)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("Attempt %d failed (%s); retrying in %.1f s", state.attempt_number, exc, wait)

    def tenacity_kwargs(
        self, *, retryable: Callable[[BaseException], bool] | None = None, asynchronous: bool = False
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` (the dbt Cloud provider's shape)."""
        predicate = retryable or (lambda exc: is_transient(exc, self.statuses))
        kwargs: dict[str, Any] = {
            "stop": self._stop,
            "wait": self._wait,
            "retry": retry_if_exception(predicate),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }
        if self.sleep is not None and not asynchronous:
            kwargs["sleep"] = self.sleep
        return kwargs


def platform_headers(
    settings: AEPSettings,
    *,
    token: str,
    body: Any,
    extra: Mapping[str, str] | None = None,
    content_type: str = JSON_CONTENT,
) -> dict[str, str]:
    """The five headers every Platform call needs (Content-Type only on requests with a body).

    ``extra`` wins, so a service can ask for its own ``Accept`` (the Schema Registry's media types).
    """
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": settings.client_id,
        "x-gw-ims-org-id": settings.org_id,
        "x-sandbox-name": settings.sandbox_name,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if body is not None:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    return headers


def json_patch_is_idempotent(operations: Any) -> bool:
    """Whether replaying a JSON Patch after a committed first attempt leaves the same document.

    ``replace``/``test`` and ``add`` to an object member are; ``add`` to ``/-`` or an array index inserts
    again, and ``remove``/``move``/``copy`` act twice or fail. Without If-Match (Schema Registry, Catalog)
    such a patch is re-sent only when the server provably did not get it; one that passes is sent with
    ``idempotent=True`` (:func:`retried_by_default`).
    """
    if not isinstance(operations, (list, tuple)) or not operations:
        return False
    for op in operations:
        if not isinstance(op, Mapping):
            return False
        last = str(op.get("path", "")).rsplit("/", 1)[-1]
        if op.get("op") in ("replace", "test"):
            continue
        if op.get("op") == "add" and last != "-" and not last.isdigit():
            continue
        return False
    return True


def resend_after_stale_etag_is_safe(operations: Any) -> bool:
    """Whether a patch answered 412 (stale etag) may be re-sent with a fresh etag: only ``replace`` (and
    ``test``) operations, which leave the same document however often they apply. The 412 may be the
    retry of a committed attempt, and an ``add`` (to an array above all) would then apply twice."""
    if not isinstance(operations, (list, tuple)) or not operations:
        return False
    return all(isinstance(op, Mapping) and op.get("op") in ("replace", "test") for op in operations)


def retry_after_of(status: int, headers: Mapping[str, str]) -> float | None:
    """The Retry-After hint of a throttled or unavailable response."""
    if status in (429, 503):
        return parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    return None


def monotonic() -> float:
    return time.monotonic()


PLATFORM_ROOT_PREFIX = "/data/"
"""Every Platform service lives under ``/data/...``; no service's own paths start with it (``/dataSets``
does not: the prefix includes the slash), so such a path is taken from the host root."""


def resolve_url(settings: AEPSettings, path: str, base_path: str | None = FLOW_SERVICE_PATH) -> str:
    """Absolute URL of a service path or a ``_links``/``@`` reference (sync and async clients).

    - ``https://...``: used as is, but only on the configured Platform host (following a link elsewhere
      would send the bearer token to a stranger);
    - ``/data/foundation/<service>/...``: a full service path (any service), taken from the host root;
    - ``@/dataSets/...`` (Catalog's related-object URIs) and ``/connections?...``: relative to ``base_path``,
      the service the link came from. With ``base_path=None`` only the two forms above are accepted.
    """
    if path.startswith(("http://", "https://")):
        target = urlsplit(path)
        if f"{target.scheme}://{target.netloc}" != settings.platform_url:
            raise AEPResponseError(
                f"refusing to follow a link to another host: {path}", method="GET", url=path, status=200
            )
        return path
    if path.startswith("@/"):
        path = path[1:]
    if path.startswith(PLATFORM_ROOT_PREFIX):
        return settings.platform_url + path
    if base_path is None:
        raise ValueError(f"{path!r} is neither an absolute URL nor a /data/... service path")
    return settings.platform_url + base_path.rstrip("/") + "/" + path.lstrip("/")


def property_filter(key: str, value: str) -> str:
    """``key==value``; values with a comma are quoted, since a bare comma means OR."""
    text = str(value)
    if "," in text or text != text.strip():
        text = '"' + text.replace('"', '\\"') + '"'
    return f"{key}=={text}"


LIST_PAGE_SIZE = 100
"""Items per Flow Service list page (``limit``), for the sync client and the trigger alike."""


def latest_run_params(flow_id: str) -> dict[str, Any]:
    """Query of ``GET /runs`` for the newest run of a flow (shared by the sync client and the trigger)."""
    return {"property": property_filter("flowId", flow_id), "orderby": "-createdAt", "limit": 1}


class ResponseLike(Protocol):
    """What both ``requests.Response`` and ``httpx.Response`` offer; the helpers below need nothing else."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    @property
    def content(self) -> bytes: ...


def raise_for_response(resp: ResponseLike, *, method: str, url: str, redact: Redactor) -> None:
    """Raise the typed error of an HTTP error response (any transport)."""
    if resp.status_code < 400:
        return
    raise error_from_response(
        status=resp.status_code,
        headers=resp.headers,
        text=resp.text,
        method=method,
        url=url,
        redact=redact,
        retry_after=retry_after_of(resp.status_code, resp.headers),
    )


def parse_json_body(resp: ResponseLike, *, method: str, url: str, redact: Redactor) -> Any:
    """The parsed body of a 2xx response (None when empty); HTML or truncated JSON is a typed error."""
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return json.loads(resp.text)
    except ValueError:
        snippet = clip(" ".join(redact(resp.text).split()), 120)  # redact the whole text, then cut
        raise AEPResponseError(
            f"body is not JSON (starts with {snippet!r})", method=method, url=redact(url), status=resp.status_code
        ) from None


def transport_error(exc: Exception, *, method: str, url: str, redact: Redactor, sent: bool) -> AEPTransportError:
    """The error for a request that got no response; the library's text is redacted and bounded."""
    return AEPTransportError(
        f"{type(exc).__name__}: no response ({clip(redact(str(exc)), 300)})", method=method, url=redact(url), sent=sent
    )

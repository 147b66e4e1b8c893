"""One Platform client for every AEP service: one session, one IMS token source, one redactor, one retry policy.

The services (Flow Service, Schema Registry, Catalog, Data Prep) differ in paths, media types, envelopes and
paging, not in how a request is authenticated, retried or turned into a typed error. That shared part lives
here; each service module (:mod:`.flow_service`, :mod:`.schema_registry`, :mod:`.catalog`, :mod:`.data_prep`)
is a thin :class:`~airflow_provider_aep.client.service.ServiceClient` over one ``PlatformClient``, so a DAG
task that touches four services still mints one token and masks one set of secrets.

The services know the platform client, not the other way round: whoever needs several services builds each
over one ``PlatformClient`` (``CatalogClient(platform)``), as
:class:`~airflow_provider_aep.hooks.flow_service.AEPFlowServiceHook` does.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from tenacity import Retrying
from urllib3.exceptions import ConnectTimeoutError

from airflow_provider_aep.client.auth import TOKENS, AccessToken, IMSAuth, TokenCache, parse_token, token_form
from airflow_provider_aep.client.errors import AEPError, AEPNotFoundError, Redactor
from airflow_provider_aep.client.http import (
    JSON_CONTENT,
    RetryPolicy,
    is_safe_to_resend_create,
    may_commit_later,
    parse_json_body,
    platform_headers,
    raise_for_response,
    resolve_url,
    retried_by_default,
    transport_error,
)
from airflow_provider_aep.client.models import CreatedResource

if TYPE_CHECKING:
    from airflow_provider_aep.client.config import AEPSettings

log = logging.getLogger("airflow_provider_aep.client")

RECONCILE_WINDOW_FACTOR = 2
"""After a create went unanswered, look for it this many read timeouts before sending it again."""


@dataclass(frozen=True)
class DeleteOutcome:
    """What a :meth:`PlatformClient.delete` came to.

    ``response`` is the 2xx answer, or None when a retry was answered 404 after ``earlier_failure`` (an
    attempt that failed ambiguously, so most likely the one that deleted the resource).
    """

    response: requests.Response | None
    earlier_failure: AEPError | None = None


def was_sent(exc: requests.RequestException) -> bool:
    """False only when the connection was never established, so the server cannot have acted."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, ConnectTimeoutError):  # includes NewConnectionError (refused, DNS)
            return False
    return True


class PlatformClient:
    """Authenticated, retrying access to every Platform service of one org and sandbox.

    :param settings: the org, sandbox, credentials, URLs and timeouts.
    :param retry: when and how long to retry transient failures (default: :class:`RetryPolicy`'s defaults).
    :param session: the ``requests`` session to send through (default: a new one); TLS verification is forced on.
    :param on_secret: sees every secret the client learns (client secret, IMS tokens, credentials found in
        request bodies), e.g. Airflow's ``mask_secret``.
    :param token_cache: where IMS tokens are kept (default: the process-wide cache).
    """

    def __init__(
        self,
        settings: AEPSettings,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        on_secret: Callable[[str], None] | None = None,
        token_cache: TokenCache = TOKENS,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.verify = True  # never let an environment or caller turn TLS checks off
        self.redact = Redactor()
        self._on_secret = on_secret
        self.add_secret(settings.client_secret)
        self.auth = IMSAuth(settings, fetch=self._fetch_token, on_token=self.add_secret, cache=token_cache)

    # ------------------------------------------------------------------ plumbing
    def add_secret(self, value: str | None) -> None:
        """Keep ``value`` out of error messages (and hand it to the caller's masker)."""
        if not value:
            return
        self.redact.add(value)
        if self._on_secret is not None:
            self._on_secret(value)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.settings.timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise transport_error(exc, method=method, url=url, redact=self.redact, sent=was_sent(exc)) from None

    def _fetch_token(self) -> AccessToken:
        url = self.settings.token_url

        def once() -> AccessToken:
            resp = self._send("POST", url, data=token_form(self.settings), headers={"Accept": "application/json"})
            raise_for_response(resp, method="POST", url=url, redact=self.redact)
            return parse_token(resp.text, status=resp.status_code, url=url)

        log.info("Requesting an IMS access token for client %s", self.settings.client_id)
        return Retrying(**self.retry.tenacity_kwargs())(once)

    def _send_platform(
        self,
        method: str,
        url: str,
        *,
        params: Any,
        json_body: Any,
        headers: Mapping[str, str] | None,
        content_type: str,
        content: Callable[[], Any] | None = None,
    ) -> requests.Response:
        """One request; a 401 drops the token and is retried once with a fresh one."""
        for attempt in (1, 2):
            token = self.auth.token()
            has_body = json_body is not None or content is not None
            all_headers = platform_headers(
                self.settings, token=token, body=True if has_body else None, extra=headers, content_type=content_type
            )
            if content is None:
                data = json.dumps(json_body) if json_body is not None else None
                resp = self._send(method, url, params=params, data=data, headers=all_headers)
            else:
                # A fresh stream per attempt: a retried upload starts again from its first byte.
                stream = content()
                try:
                    resp = self._send(method, url, params=params, data=stream, headers=all_headers)
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            if resp.status_code == 401 and attempt == 1:
                log.info("AEP answered 401 for %s %s; refreshing the access token once", method, url)
                self.auth.invalidate(token)
                continue
            raise_for_response(resp, method=method, url=url, redact=self.redact)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        content_type: str = JSON_CONTENT,
        idempotent: bool = False,
        content: Callable[[], Any] | None = None,
    ) -> requests.Response:
        """Send one Platform request; idempotent requests are retried on transient errors.

        ``url`` is absolute (configured host only) or a full service path (``/data/foundation/catalog/...``).
        Without ``retry``, :func:`~airflow_provider_aep.client.http.retried_by_default` decides from the
        method, an ``If-Match`` header and ``idempotent`` (the caller's word that a replay is harmless).
        ``content`` makes a raw body instead of ``json_body`` (a file object or an iterator of bytes, streamed
        as is); it is called once per attempt, so every attempt sends the whole body.
        """
        method = method.upper()
        url = resolve_url(self.settings, url, base_path=None)
        if retry is None:
            retry = retried_by_default(method, headers, idempotent=idempotent)

        def call() -> requests.Response:
            return self._send_platform(
                method,
                url,
                params=params,
                json_body=json_body,
                headers=headers,
                content_type=content_type,
                content=content,
            )

        if not retry:
            return call()
        return Retrying(**self.retry.tenacity_kwargs())(call)

    def delete(self, url: str, *, headers: Mapping[str, str] | None = None) -> DeleteOutcome:
        """DELETE with retries, telling a 404 that is the truth from one caused by an earlier attempt.

        When an attempt failed ambiguously (5xx, or no answer) and its retry is answered 404, the first
        attempt most likely deleted the resource: that is logged and reported as a deletion
        (``response`` None, ``earlier_failure`` set), not as "already gone". A 404 with no such attempt
        before it raises :class:`AEPNotFoundError` as usual; so does a 404 after a 429 (AEP did not act).
        """
        url = resolve_url(self.settings, url, base_path=None)
        earlier: list[AEPError] = []

        def call() -> requests.Response | None:
            try:
                return self._send_platform(
                    "DELETE", url, params=None, json_body=None, headers=headers, content_type=JSON_CONTENT
                )
            except AEPNotFoundError:
                if earlier:
                    return None
                raise
            except AEPError as exc:
                if not is_safe_to_resend_create(exc):  # AEP may have acted on it
                    earlier.append(exc)
                raise

        resp = Retrying(**self.retry.tenacity_kwargs())(call)
        failure = earlier[-1] if earlier else None
        if resp is None:
            log.info(
                "DELETE %s answered 404 after an earlier attempt failed (%s): that attempt most likely deleted "
                "it, so it is reported as deleted, not as already gone",
                url,
                failure,
            )
        return DeleteOutcome(response=resp, earlier_failure=failure)

    def json(self, resp: requests.Response) -> Any:
        """The parsed body of a 2xx response (None when empty); a non-JSON body is an AEPResponseError."""
        return parse_json_body(resp, method=resp.request.method or "", url=resp.url, redact=self.redact)

    # ------------------------------------------------------------------ retry-safe creates
    def create_reconciled(
        self,
        post: Callable[[], CreatedResource],
        lookup: Callable[[], CreatedResource | None],
        *,
        what: str,
    ) -> CreatedResource:
        """POST with retries where each re-send after an ambiguous failure is preceded by ``lookup``.

        After an ambiguous failure (timeout, dropped connection, 5xx: the create may have been committed)
        the next attempt looks the resource up first and only re-sends the POST if it is not there. When
        no answer came at all, or only the gateway's 502/504 (the gateway gave up, the backend may not
        have), AEP may still be processing the create, so the lookup is repeated for up to
        ``RECONCILE_WINDOW_FACTOR * read_timeout`` seconds before the POST is sent again
        (:func:`~airflow_provider_aep.client.http.may_commit_later`).
        """
        uncertain = False
        unanswered_at: float | None = None  # when a create went unanswered (it may still be in progress)
        for attempt in Retrying(**self.retry.tenacity_kwargs()):
            with attempt:
                if uncertain:
                    found = self._settled(lookup, unanswered_at, what=what)
                    if found is not None:
                        log.info("The earlier create of %s %s was committed; using it", what, found.id)
                        return found
                try:
                    return post()
                except AEPError as exc:
                    if not is_safe_to_resend_create(exc):
                        uncertain = True
                        unanswered_at = time.monotonic() if may_commit_later(exc) else None
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _settled(
        self, lookup: Callable[[], CreatedResource | None], unanswered_at: float | None, *, what: str
    ) -> CreatedResource | None:
        """``lookup``; after an unanswered create, keep looking for ``RECONCILE_WINDOW_FACTOR * read_timeout``.

        A create that timed out on our side (or that the gateway answered 502/504) can still be committed
        by AEP a moment later. Re-sending it as soon as a lookup comes back empty would then make a
        duplicate, so the lookup is polled for twice as long as we were willing to wait for the answer: a
        create AEP commits up to three read timeouts after it was sent is found. (One committed even later
        can still end up twice; see docs/reliability.md.)
        """
        found = lookup()
        if found is not None or unanswered_at is None:
            return found
        settle = RECONCILE_WINDOW_FACTOR * float(self.settings.read_timeout)
        interval = min(max(settle / 5, 0.05), 5.0)
        sleep = self.retry.sleep or time.sleep
        slept = 0.0
        while found is None:
            remaining = settle - max(time.monotonic() - unanswered_at, slept)
            if remaining <= 0:
                break
            pause = min(interval, remaining)
            sleep(pause)
            slept += pause
            found = lookup()
        if found is None:
            log.info("No new %s appeared in %.1f s; sending the create again", what, settle)
        return found


__all__ = ["RECONCILE_WINDOW_FACTOR", "DeleteOutcome", "PlatformClient", "was_sent"]

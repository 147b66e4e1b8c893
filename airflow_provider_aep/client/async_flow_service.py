"""Asynchronous Flow Service client (``httpx.AsyncClient``) for triggers, which must never block the loop.

It covers what a trigger needs (reading runs) and reuses the sync client's policy helpers
(:mod:`~airflow_provider_aep.client.http`, :mod:`~airflow_provider_aep.client.errors`) rather than copying them:
settings, headers, retry policy, error parsing and redaction, IMS token form/parsing and the process-wide token
cache, URL resolution, envelope unwrapping and run parsing. Only the transport differs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import ssl
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying

from airflow_provider_aep.client.auth import TOKENS, AccessToken, IMSAuth, TokenCache, parse_token, token_form
from airflow_provider_aep.client.config import FLOW_SERVICE_PATH, AEPSettings
from airflow_provider_aep.client.errors import Redactor
from airflow_provider_aep.client.http import (
    LIST_PAGE_SIZE,
    RetryPolicy,
    latest_run_params,
    parse_json_body,
    platform_headers,
    raise_for_response,
    resolve_url,
    retried_by_default,
    transport_error,
)
from airflow_provider_aep.client.models import FlowRun, list_page, newest_run, unwrap_item

log = logging.getLogger("airflow_provider_aep.client")

SecretSink = Callable[[str], Awaitable[None]]


@functools.lru_cache(maxsize=4)
def _verifying_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The arguments are only the cache key: httpx reads the same env vars itself."""
    return httpx.create_ssl_context(verify=True, trust_env=True)


def shared_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context ``verify=True`` would build (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    built once per process and shared by every client.

    Building one loads the whole CA bundle: ~35 ms of CPU and ~0.7 MiB per context. A triggerer runs one
    client per trigger in a single event loop, so per-client contexts made 1,000 triggers block the loop
    for ~30 s and cost ~0.9 MiB each (``make bench``, deferred waits). Keyed on the env vars that select
    the bundle, so changing them still takes effect.
    """
    return _verifying_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


#: Keep-alive connections every client of one event loop shares (a triggerer: one loop, many triggers).
POOL_CONNECTIONS = 16
_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30.0)


@dataclass
class _SharedPool:
    """``POOL_CONNECTIONS`` one-connection ``httpx.AsyncClient``s; a request takes a free one from ``free``.

    Not one ``AsyncClient`` with ``max_connections=N``: httpcore re-scans its connections and queued
    requests on every change, which for 1,000 waits on 100 connections cost 13-32 ms of CPU per poll and
    stalled the loop for seconds (``make bench``). A one-connection pool never scans, and an
    ``asyncio.Queue`` hands the clients out first come, first served, in O(1).
    """

    clients: list[httpx.AsyncClient]
    free: asyncio.Queue[httpx.AsyncClient]
    users: int = 0
    closed: bool = False


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[float, float], _SharedPool]] = (
    weakref.WeakKeyDictionary()
)


def _new_http(
    settings: AEPSettings, *, limits: httpx.Limits, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        follow_redirects=False,
        verify=shared_ssl_context(),  # like verify=True; proxies and CA bundles still come from the env
        transport=transport,
        limits=limits,
    )


def _acquire_pool(settings: AEPSettings) -> _SharedPool | None:
    """The running loop's shared connections (made on first use), or None outside a running loop.

    One ``httpx.AsyncClient`` per trigger would mean one TCP connection (and its buffers) per wait: 10,000
    waits would keep 10,000 sockets open on each side. Clients of one loop share ``POOL_CONNECTIONS``
    keep-alive connections, closed when their last user closes. Nothing in them depends on the AEP
    connection but the timeouts (URLs are absolute, headers are per request).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    pools = _POOLS.setdefault(loop, {})
    key = (float(settings.read_timeout), float(settings.connect_timeout))
    pool = pools.get(key)
    if pool is None or pool.closed:
        clients = [_new_http(settings, limits=_ONE_CONNECTION) for _ in range(POOL_CONNECTIONS)]
        free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in clients:
            free.put_nowait(client)
        pool = pools[key] = _SharedPool(clients, free)
    pool.users += 1
    return pool


async def _release_pool(pool: _SharedPool) -> None:
    pool.users -= 1
    if pool.users <= 0 and not pool.closed:
        pool.closed = True
        for pools in list(_POOLS.values()):
            for key, candidate in list(pools.items()):
                if candidate is pool:
                    del pools[key]
        for client in pool.clients:
            await client.aclose()


def _was_sent(exc: httpx.HTTPError) -> bool:
    """False only when no connection was made, so the server cannot have acted."""
    return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


class AsyncFlowServiceClient:
    """Async twin of :class:`~airflow_provider_aep.client.flow_service.FlowServiceClient` (read side).

    :param settings: the org, sandbox, credentials, URLs and timeouts.
    :param retry: when and how long to retry transient failures (the sync client's :class:`RetryPolicy`).
    :param on_secret: awaited with every secret the client learns (client secret, IMS tokens), e.g.
        ``airflow.sdk.log.amask_secret``; the sync ``mask_secret`` would block the triggerer's loop.
    :param token_cache: where IMS tokens are kept (default: the process-wide cache the sync client uses too).
    :param transport: an httpx transport of its own (tests); without one, clients made in a running loop share
        that loop's connections.
    :param sleep: awaited between retries instead of ``asyncio.sleep`` (tests).
    """

    def __init__(
        self,
        settings: AEPSettings,
        *,
        retry: RetryPolicy | None = None,
        on_secret: SecretSink | None = None,
        token_cache: TokenCache = TOKENS,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.redact = Redactor([settings.client_secret])
        self._on_secret = on_secret
        self._unmasked: list[str] = [settings.client_secret]
        self._sleep = sleep
        self.auth = IMSAuth(settings, on_token=self._learn_secret, cache=token_cache)
        # Made in a running loop without a transport of its own: the loop's shared pool (see _acquire_pool).
        self._pool = _acquire_pool(settings) if transport is None else None
        self._closed = False
        #: This client's own connection pool when it has no shared one (made outside a loop, or a transport).
        self.http: httpx.AsyncClient | None = None
        if self._pool is None:
            self.http = _new_http(settings, limits=httpx.Limits(max_connections=100), transport=transport)

    # ------------------------------------------------------------------ plumbing
    def _learn_secret(self, value: str) -> None:
        self.redact.add(value)
        self._unmasked.append(value)

    async def _mask_pending(self) -> None:
        while self._unmasked:
            value = self._unmasked.pop()
            if self._on_secret is not None:
                await self._on_secret(value)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            await _release_pool(self._pool)
        elif self.http is not None:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncFlowServiceClient:
        await self._mask_pending()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _retrying(self) -> AsyncRetrying:
        kwargs = self.retry.tenacity_kwargs(asynchronous=True)
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        return AsyncRetrying(**kwargs)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            if self._pool is None:
                assert self.http is not None
                return await self.http.request(method, url, **kwargs)
            http = await self._pool.free.get()  # a free shared connection, first come first served
            try:
                return await http.request(method, url, **kwargs)
            finally:
                self._pool.free.put_nowait(http)
        except httpx.HTTPError as exc:
            raise transport_error(exc, method=method, url=url, redact=self.redact, sent=_was_sent(exc)) from None

    def _raise_for_status(self, resp: httpx.Response, method: str, url: str) -> None:
        raise_for_response(resp, method=method, url=url, redact=self.redact)

    async def _fetch_token(self) -> AccessToken:
        url = self.settings.token_url
        log.info("Requesting an IMS access token for client %s", self.settings.client_id)
        async for attempt in self._retrying():
            with attempt:
                resp = await self._send(
                    "POST", url, data=token_form(self.settings), headers={"Accept": "application/json"}
                )
                self._raise_for_status(resp, "POST", url)
                return parse_token(resp.text, status=resp.status_code, url=url)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_platform(
        self, method: str, url: str, *, params: Any, json_body: Any, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        """One request; a 401 drops the token and is retried once with a fresh one (as the sync client)."""
        for attempt in (1, 2):
            token = await self.auth.atoken(self._fetch_token)
            await self._mask_pending()
            all_headers = platform_headers(self.settings, token=token, body=json_body, extra=headers)
            content = json.dumps(json_body) if json_body is not None else None
            resp = await self._send(method, url, params=params, content=content, headers=all_headers)
            if resp.status_code == 401 and attempt == 1:
                log.info("AEP answered 401 for %s %s; refreshing the access token once", method, url)
                self.auth.invalidate(token)
                continue
            self._raise_for_status(resp, method, url)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """Send one Platform request; idempotent requests are retried on transient errors (the sync client's
        policy: :func:`~airflow_provider_aep.client.http.retried_by_default`)."""
        method = method.upper()
        url = resolve_url(self.settings, path, base_path=FLOW_SERVICE_PATH)
        if retry is None:
            retry = retried_by_default(method, headers, idempotent=idempotent)
        if not retry:
            return await self._send_platform(method, url, params=params, json_body=json_body, headers=headers)
        async for attempt in self._retrying():
            with attempt:
                return await self._send_platform(method, url, params=params, json_body=json_body, headers=headers)
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, resp: httpx.Response) -> Any:
        """The parsed body of a 2xx response (None when empty); a non-JSON body is an AEPResponseError."""
        return parse_json_body(resp, method=resp.request.method, url=str(resp.url), redact=self.redact)

    # ------------------------------------------------------------------ resources
    async def get_resource(self, collection: str, resource_id: str) -> dict[str, Any]:
        """GET by id, unwrapping the documented ``{"items": [...]}`` envelope."""
        resp = await self.request("GET", f"/{collection}/{resource_id}")
        return unwrap_item(
            self.json(resp), collection=collection, resource_id=resource_id, url=str(resp.url), status=resp.status_code
        )

    async def list_resources(
        self,
        collection: str,
        *,
        filters: Sequence[str] = (),
        orderby: str | None = None,
        page_size: int = LIST_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a list, page by page as the sync ``iter_resources`` reads it; at most ``max_pages``."""
        params: dict[str, Any] = {"limit": page_size}
        if filters:
            params["property"] = list(filters)
        if orderby:
            params["orderby"] = orderby
        path: str | None = f"/{collection}"
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        pages = 0
        while path is not None and (max_pages is None or pages < max_pages):
            resp = await self.request("GET", path, params=params)
            page, path = list_page(self.json(resp), url=str(resp.url), status=resp.status_code, seen=seen)
            items.extend(page)
            pages += 1
            params = {}  # the next link carries every query parameter
        return items

    async def get_run(self, run_id: str) -> FlowRun:
        return FlowRun.from_api(await self.get_resource("runs", run_id), url=f"/runs/{run_id}")

    async def latest_run(self, flow_id: str) -> FlowRun | None:
        """The newest run of a flow, or None if it has not run yet."""
        resp = await self.request("GET", "/runs", params=latest_run_params(flow_id))
        return newest_run(self.json(resp), url=str(resp.url))


__all__ = ["AsyncFlowServiceClient"]

"""Adobe IMS OAuth Server-to-Server tokens, cached per process.

Adobe throttles integrations that mint too many tokens, and an Airflow worker process runs many tasks, so
tokens live in a process-wide cache keyed by (IMS URL, client id, scopes, secret digest) until
``expires_in`` (seconds) minus a margin. Concurrent callers for the same key wait for one fetch (one lock
per key for threads, one per key and running event loop for coroutines, dropped when no coroutine needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.errors import AEPResponseError
from airflow_provider_aep.client.http import mark_retries_exhausted

if TYPE_CHECKING:
    from airflow_provider_aep.client.config import AEPSettings

MIN_MARGIN_SECONDS = 60.0
MAX_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class AccessToken:
    """An IMS bearer token; its repr leaves the value out, so a log of the object leaks nothing."""

    value: str = field(repr=False)
    expires_at: float  # time.monotonic() deadline, margin already subtracted

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at


def cache_key(settings: AEPSettings) -> tuple[str, str, str, str]:
    digest = hashlib.sha256(settings.client_secret.encode()).hexdigest()
    return (settings.token_url, settings.client_id, settings.scopes, digest)


def token_form(settings: AEPSettings) -> dict[str, str]:
    """The documented form body of ``POST /ims/token/v3`` (body, not query: servers log query strings)."""
    return {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "scope": settings.scopes,
    }


def parse_token(text: str, *, status: int, url: str) -> AccessToken:
    """Turn an IMS 200 body into a cached token; ``expires_in`` is in seconds for the v3 endpoint."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        raise AEPResponseError("IMS token response is not JSON", method="POST", url=url, status=status) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    expires_in = body.get("expires_in") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise AEPResponseError("IMS token response has no access_token", method="POST", url=url, status=status)
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        raise AEPResponseError("IMS token response has no positive expires_in", method="POST", url=url, status=status)
    margin = min(MAX_MARGIN_SECONDS, max(MIN_MARGIN_SECONDS, expires_in * 0.1))
    margin = min(margin, expires_in / 2)  # short-lived tokens (emulator, tests) still get used
    return AccessToken(token, time.monotonic() + expires_in - margin)


class TokenCache:
    """Process-wide token store with single-flight fetching."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, ...], AccessToken] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[tuple[str, ...], threading.Lock] = {}
        # One lock per (running loop, key), kept only while a coroutine holds or awaits it. Keyed by the loop
        # object, not id(loop): a new loop can reuse a finished loop's address, and would then get a lock
        # bound to the dead loop ("bound to a different event loop"). Dropping an entry when its last user
        # leaves also keeps finished loops (which their bound locks reference) from piling up.
        self._loop_locks: dict[tuple[asyncio.AbstractEventLoop, tuple[str, ...]], _LoopLock] = {}

    def get(self, key: tuple[str, ...]) -> AccessToken | None:
        token = self._tokens.get(key)
        return token if token is not None and token.fresh() else None

    def put(self, key: tuple[str, ...], token: AccessToken) -> None:
        self._tokens[key] = token

    def invalidate(self, key: tuple[str, ...], value: str) -> None:
        """Drop ``value`` if it is still the cached token (another caller may have refreshed already)."""
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()

    def thread_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    @contextlib.asynccontextmanager
    async def loop_lock(self, key: tuple[str, ...]) -> AsyncIterator[None]:
        """Hold the running loop's lock for ``key`` (``async with cache.loop_lock(key): ...``)."""
        slot = (asyncio.get_running_loop(), key)
        with self._guard:
            entry = self._loop_locks.get(slot)
            if entry is None:
                entry = self._loop_locks[slot] = _LoopLock()
            entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0 and self._loop_locks.get(slot) is entry:
                    del self._loop_locks[slot]


class _LoopLock:
    """An asyncio lock of one loop and the number of coroutines holding or awaiting it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


TOKENS = TokenCache()


class IMSAuth:
    """Gets a valid token for one set of settings; knows how, not over which transport.

    ``fetch`` and ``afetch`` perform the actual POST (with the client's retry policy) and return an
    :class:`AccessToken`. ``on_token`` sees every token handed out, so the caller can mask it.
    """

    def __init__(
        self,
        settings: AEPSettings,
        *,
        fetch: Callable[[], AccessToken] | None = None,
        on_token: Callable[[str], None] | None = None,
        cache: TokenCache = TOKENS,
    ) -> None:
        self.settings = settings
        self.key = cache_key(settings)
        self._fetch = fetch
        self._on_token = on_token
        self._cache = cache
        self._seen: set[str] = set()

    def _hand_out(self, token: AccessToken) -> str:
        if token.value not in self._seen:
            self._seen.add(token.value)
            if self._on_token is not None:
                self._on_token(token.value)
        return token.value

    def token(self) -> str:
        cached = self._cache.get(self.key)
        if cached is None:
            if self._fetch is None:
                raise RuntimeError("IMSAuth was built without a sync fetch function")
            with self._cache.thread_lock(self.key):
                cached = self._cache.get(self.key)
                if cached is None:
                    try:
                        cached = self._fetch()
                    except Exception as exc:
                        mark_retries_exhausted(exc)  # the fetch retried already; callers must not multiply it
                        raise
                    self._cache.put(self.key, cached)
        return self._hand_out(cached)

    async def atoken(self, afetch: Callable[[], Any]) -> str:
        cached = self._cache.get(self.key)
        if cached is None:
            async with self._cache.loop_lock(self.key):
                cached = self._cache.get(self.key)
                if cached is None:
                    try:
                        cached = await afetch()
                    except Exception as exc:
                        mark_retries_exhausted(exc)
                        raise
                    self._cache.put(self.key, cached)
        return self._hand_out(cached)

    def invalidate(self, value: str) -> None:
        self._cache.invalidate(self.key, value)

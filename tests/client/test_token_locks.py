"""The async single-flight token locks: one per key and running event loop, never one of a finished loop."""

from __future__ import annotations

import asyncio
import gc
import weakref

from airflow_provider_aep.client import auth as auth_module
from airflow_provider_aep.client.auth import AccessToken, IMSAuth, TokenCache


def contended_fetch(cache: TokenCache, settings, fetches: list[int], loops: list[weakref.ref]) -> None:
    """``asyncio.run``: three coroutines want a token at once; one fetches, the others wait on the lock."""

    async def fetch() -> AccessToken:
        fetches.append(1)
        await asyncio.sleep(0.01)  # the others queue up on the lock meanwhile (which binds it to the loop)
        return AccessToken(f"token-{len(fetches)}-xxxxxxxx", expires_at=float("inf"))

    async def main() -> list[str]:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        auth = IMSAuth(settings, cache=cache)
        return await asyncio.gather(*(auth.atoken(fetch) for _ in range(3)))

    assert len(set(asyncio.run(main()))) == 1
    cache.clear()  # the next run must fetch again, under its own loop's lock


def test_two_event_loops_in_a_row_never_share_a_lock(settings, monkeypatch):
    """Keyed by ``id(loop)``, a new loop at a dead loop's address got the dead loop's lock, bound to it."""
    monkeypatch.setattr(auth_module, "id", lambda obj: 1, raising=False)  # every loop at the same address
    cache = TokenCache()
    fetches: list[int] = []
    loops: list[weakref.ref] = []
    contended_fetch(cache, settings, fetches, loops)
    contended_fetch(cache, settings, fetches, loops)  # RuntimeError "bound to a different event loop" before
    assert len(fetches) == 2


def test_finished_event_loops_leave_no_lock_behind(settings):
    cache = TokenCache()
    fetches: list[int] = []
    loops: list[weakref.ref] = []
    for _ in range(3):
        contended_fetch(cache, settings, fetches, loops)
    gc.collect()
    assert len(fetches) == 3
    assert [ref() for ref in loops] == [None, None, None]  # no lock (bound to its loop) keeps a loop alive

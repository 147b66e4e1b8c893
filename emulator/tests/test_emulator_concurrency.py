"""Concurrent requests never lose writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aep_emulator.testing import FlowClient, fetch_token


def test_fifty_parallel_creates(emu):
    token = fetch_token(emu.url)

    def create(index: int) -> str:
        client = FlowClient(emu.url, token)  # one session per thread: requests.Session is not thread-safe
        return client.connection(name=f"parallel-{index}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(create, range(50)))
    assert len(set(ids)) == 50
    listed = FlowClient(emu.url, token).get("/connections", params={"limit": 100}).json()["items"]
    assert {c["id"] for c in listed} == set(ids)
    assert sorted(c["name"] for c in listed) == sorted(f"parallel-{i}" for i in range(50))


def test_parallel_patches_conflict_cleanly(emu):
    token = fetch_token(emu.url)
    base = FlowClient(emu.url, token)
    created = base.created(
        "/connections",
        {"name": "shared", "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c"}},
    )

    def patch(index: int) -> int:
        client = FlowClient(emu.url, token)
        ops = [{"op": "replace", "path": "/name", "value": f"winner-{index}"}]
        return client.patch(f"/connections/{created['id']}", ops, created["etag"]).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(patch, range(20)))
    assert sorted(statuses) == [200] + [412] * 19

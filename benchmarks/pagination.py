"""(d) Pagination: ``FlowServiceClient.iter_resources`` over N connections vs a bare ``requests`` loop.

The emulator runs in a child process and is seeded with N HubSpot base connections (bare POSTs from a few
threads; there is no bulk-seed endpoint). Both listings request the same page size and follow the same
``_links.next.href`` chain with the same headers over one keep-alive session; the bare loop is the least a
client can do (``session.get`` + ``resp.json()``), so the ratio is the cost of the client's retry policy,
error handling, header building and URL checks per page. The token is fetched before timing starts (one
untimed warm-up listing each). Repetitions alternate in a shuffled order; ratio = median / median.

Memory: ``tracemalloc`` peak (Python allocations in this process, so the emulator does not count) while
counting the items of the generator, vs ``list(iter_resources(...))`` (materialised), and the generator
with a 10x page size, to show the peak follows the page size, not N.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import requests

from benchmarks.common import (
    BenchResult,
    Row,
    fmt_mib,
    fmt_spread_ms,
    ratio,
    settings_for,
    summary,
)
from benchmarks.emulator_support import FLOW_SERVICE, emulator_process, fetch_token, platform_headers, seed_connections

TIME_TARGET = 1.2


def bare_pages(url: str, token: str, page_size: int, session: requests.Session) -> Iterator[dict[str, Any]]:
    """The minimum: GET, parse JSON, yield items, follow ``_links.next.href``."""
    headers = platform_headers(token)
    next_url: str | None = f"{url}{FLOW_SERVICE}/connections?limit={page_size}"
    while next_url:
        resp = session.get(next_url, headers=headers, timeout=60)
        resp.raise_for_status()
        body = resp.json()
        yield from body["items"]
        href = (body.get("_links") or {}).get("next", {}).get("href")
        next_url = (url + (href if href.startswith(FLOW_SERVICE) else FLOW_SERVICE + href)) if href else None


def _count(items: Iterator[Any]) -> int:
    n = 0
    for _ in items:
        n += 1
    return n


def _peak(fn: Callable[[], Any]) -> int:
    """Peak traced bytes above the level before ``fn`` ran (the result is dropped before returning)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
        del result
    finally:
        tracemalloc.stop()
    return peak


def run(n: int = 10_000, page_size: int = 100, reps: int = 7, seed: int = 11) -> BenchResult:
    from airflow_provider_aep.client.auth import TokenCache
    from airflow_provider_aep.client.flow_service import FlowServiceClient

    started = time.perf_counter()
    result = BenchResult("pagination", f"(d) Listing {n:,} connections, page size {page_size}")
    rng = random.Random(seed)
    big_page = min(page_size * 10, 1000)
    with emulator_process(journal_limit=1000, max_page_size=max(1000, page_size)) as emu:
        t0 = time.perf_counter()
        seed_connections(emu.url, n)
        seeded_s = time.perf_counter() - t0

        client = FlowServiceClient(settings_for(emu.url), token_cache=TokenCache())
        session = requests.Session()
        token = fetch_token(emu.url, session)

        def via_client(size: int = page_size) -> int:
            return _count(client.iter_resources("connections", page_size=size))

        def via_bare(size: int = page_size) -> int:
            return _count(bare_pages(emu.url, token, size, session))

        if via_client() != n or via_bare() != n:  # warm-up: token, connections, code paths
            raise RuntimeError("listing did not return every seeded connection")

        times: dict[str, list[float]] = {"client": [], "bare": []}
        for _ in range(reps):
            for name in rng.sample(["client", "bare"], 2):
                fn = via_client if name == "client" else via_bare
                gc.collect()
                t = time.perf_counter()
                count = fn()
                times[name].append(time.perf_counter() - t)
                if count != n:
                    raise RuntimeError(f"{name} listed {count} items, expected {n}")

        peaks = {
            "generator": _peak(via_client),
            "generator_big_page": _peak(lambda: via_client(big_page)),
            "list": _peak(lambda: list(client.iter_resources("connections", page_size=page_size))),
            "bare": _peak(via_bare),
        }
        requests_made = emu.control.stats()["requests"]
        client.close()
        session.close()

    c, b = summary(times["client"]), summary(times["bare"])
    paired = summary([x / y for x, y in zip(times["client"], times["bare"], strict=True)])
    r = ratio(c["median"], b["median"])
    pages = -(-n // page_size)
    result.rows.append(
        Row(
            metric=f"list {n:,} items ({pages} pages): `iter_resources` vs bare `requests` loop",
            value=fmt_spread_ms(c),
            baseline=fmt_spread_ms(b),
            ratio=r,
            target=f"<= {TIME_TARGET:.1f}x",
            met=r is not None and r <= TIME_TARGET,
        )
    )
    result.rows.append(
        Row(
            metric=f"peak memory: generator (page {page_size}) vs `list()` of all {n:,}",
            value=fmt_mib(peaks["generator"]),
            baseline=fmt_mib(peaks["list"]),
            ratio=ratio(peaks["generator"], peaks["list"]),
            target="O(page size)",
            met=peaks["generator"] < peaks["list"] / 5 if n >= 10 * page_size else None,
        )
    )
    result.rows.append(
        Row(
            metric=f"peak memory: generator page {big_page} vs page {page_size}",
            value=fmt_mib(peaks["generator_big_page"]),
            baseline=fmt_mib(peaks["generator"]),
            ratio=ratio(peaks["generator_big_page"], peaks["generator"]),
        )
    )
    per_page_overhead_us = (c["median"] - b["median"]) / pages * 1e6
    result.notes.append(
        f"Client overhead per page: {per_page_overhead_us:.0f} us (median difference / {pages} pages); "
        f"paired ratio p10/p90 {paired['p10']:.2f}/{paired['p90']:.2f}; ratio of the fastest runs "
        f"{c['min'] / b['min']:.2f}. Bare loop peak memory: "
        f"{fmt_mib(peaks['bare'])}. Seeding {n:,} connections took {seeded_s:.1f} s."
    )
    result.details = {
        "n": n,
        "page_size": page_size,
        "reps": reps,
        "client": c,
        "bare": b,
        "paired_ratio": paired,
        "peaks_bytes": peaks,
        "emulator_requests": requests_made,
        "seed_seconds": seeded_s,
    }
    result.seconds = time.perf_counter() - started
    return result

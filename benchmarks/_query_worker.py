"""Child process of the Query Service benchmark: ``python -m benchmarks._query_worker MODE @SPEC_JSON_FILE``.

Modes:

* ``select``: repetitions of one SELECT, alternating between ``AEPQueryServiceHook.get_records`` (a new hook, so
  a new database connection, per repetition) and a bare ``psycopg.connect`` + ``fetchall`` with the same host,
  port, database, user and an IMS token handed in by the parent (so every token this process asks IMS for is the
  hook's). Then, the same way, connection set-up alone (connect + close). Each side does one untimed warm-up.
* ``memory``: one pass over the SELECT's rows, ``how`` = ``iter`` (``AEPQueryServiceHook.iter_records``, a
  server-side cursor, counting rows) or ``get`` (``get_records``, the whole result in a list), after an untimed
  warm-up on a one-row query; reports the process's peak RSS (``ru_maxrss``) minus its RSS before the pass.
* ``waits``: one ``AEPQueryTrigger`` per query id in one asyncio loop (a triggerer). After an untimed warm-up
  wait, it prints ``@@START@@``, lets the triggers poll for ``window`` seconds, prints ``@@WINDOW@@`` (the parent
  then releases the emulator's query hold) and waits, bounded, for every trigger's event.

The result is one JSON line after ``@@RESULT@@``.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._wait_worker import PROC, Sampler, _quantiles, poll_timing


def _marker(name: str) -> None:
    sys.stdout.write(f"@@{name}@@\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------------- select
def select(spec: dict[str, Any]) -> dict[str, Any]:
    import psycopg

    from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook

    sql = spec["sql"]
    bare_args = {
        "host": spec["host"],
        "port": spec["port"],
        "dbname": spec["dbname"],
        "user": spec["user"],
        "password": spec["token"],
        "sslmode": "prefer",  # what the hook uses on a loopback host
    }

    def hook_rows() -> list[Any]:
        return AEPQueryServiceHook().get_records(sql)  # a new hook: a new connection and its parameters

    def bare_rows() -> list[Any]:
        with psycopg.connect(**bare_args) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def hook_connect() -> None:
        AEPQueryServiceHook().get_conn().close()

    def bare_connect() -> None:
        psycopg.connect(**bare_args).close()

    checks = {"hook": hook_rows(), "bare": bare_rows()}  # untimed warm-up: imports, token, code paths
    shape = {k: {"rows": len(v), "first": list(v[0]), "last": list(v[-1])} for k, v in checks.items() if v}
    del checks
    gc.collect()

    def alternate(pair: dict[str, Any], reps: int) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {k: [] for k in pair}
        for rep in range(reps):
            order = ("hook", "bare") if (rep + spec["first"]) % 2 == 0 else ("bare", "hook")
            for mode in order:
                started = time.perf_counter()
                out = pair[mode]()
                times[mode].append(time.perf_counter() - started)
                del out
        return times

    query = alternate({"hook": hook_rows, "bare": bare_rows}, spec["reps"])
    connect = alternate({"hook": hook_connect, "bare": bare_connect}, spec["connect_reps"])
    return {"select": query, "connect": connect, "shape": shape, "peak_rss": PROC.memory_info().rss}


# ---------------------------------------------------------------------------------------------------- memory
def memory(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook

    hook = AEPQueryServiceHook()
    sum(1 for _ in hook.iter_records("SELECT 1 AS one"))  # warm-up: imports, token, parameters, both code paths
    hook.get_records("SELECT 1 AS one")
    gc.collect()
    rss0 = PROC.memory_info().rss
    started = time.perf_counter()
    if spec["how"] == "iter":
        rows = sum(1 for _ in hook.iter_records(spec["sql"], batch_size=spec["batch_size"]))
    else:
        rows = len(hook.get_records(spec["sql"]))
    seconds = time.perf_counter() - started
    # The pass's peak is at least the RSS it started from; the kernel's high-water mark (ru_maxrss) can read a
    # few pages under psutil's resident count, which made a pass that raised nothing show a negative growth.
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss0)
    return {"rows": rows, "seconds": seconds, "growth": peak - rss0}


# ---------------------------------------------------------------------------------------------------- waits
def waits(spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from airflow_provider_aep.triggers import query_service as triggers

    poll = float(spec["poll_interval"])
    window = float(spec["window"])
    polls: dict[str, list[tuple[float, float]]] = {}
    recording = False
    original_get = triggers._get

    async def timed_get(client: Any, path: str) -> dict[str, Any]:  # when each poll is issued and answered
        issued = time.perf_counter()
        try:
            return await original_get(client, path)
        finally:
            if recording:
                polls.setdefault(path, []).append((issued, time.perf_counter()))

    triggers._get = timed_get

    async def wait(query_id: str) -> list[dict[str, Any]]:
        trigger = triggers.AEPQueryTrigger(aep_conn_id="aep_default", query_id=query_id, poll_interval=poll)
        return [event.payload async for event in trigger.run()]

    async def main() -> dict[str, Any]:
        nonlocal recording
        warm = await wait(spec["warm_query_id"])
        recording = True
        gc.collect()
        rss0 = PROC.memory_info().rss
        sampler = Sampler()
        sampler.start()
        lags: list[float] = []
        done = asyncio.Event()

        async def heartbeat() -> None:  # how late the loop runs a 50 ms timer: its responsiveness
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.05)
                lags.append(time.perf_counter() - t - 0.05)

        beat = asyncio.create_task(heartbeat())
        _marker("START")
        t0, cpu0 = time.perf_counter(), time.process_time()
        tasks = [asyncio.create_task(wait(q)) for q in spec["query_ids"]]
        await asyncio.sleep(window)
        t_end, cpu_window = time.perf_counter(), time.process_time() - cpu0
        peak_waiting = sampler.peak_rss  # every trigger still waiting: the held queries cannot end
        open_at_end = sum(not t.done() for t in tasks)
        _marker("WINDOW")
        finished, pending = await asyncio.wait(tasks, timeout=spec["release_timeout"])
        released = time.perf_counter() - t_end
        for task in pending:  # bounded: a trigger that never ends is reported, not waited for
            task.cancel()
        done.set()
        await beat
        sampler.stop.set()
        sampler.join()
        recording = False
        events = [t.result() if not t.exception() else [{"status": "crashed"}] for t in finished]
        outcome = Counter(e[0]["status"] if len(e) == 1 else f"{len(e)} events" for e in events)
        outcome.update({"still waiting": len(pending)} if pending else {})
        return {
            "warm_status": warm[0]["status"] if warm else "none",
            "rss0": rss0,
            "peak_rss_waiting": peak_waiting,
            "peak_rss": sampler.peak_rss,
            "peak_threads": sampler.peak_threads,
            "cpu_window": cpu_window,
            "window": t_end - t0,
            "open_at_window_end": open_at_end,
            "release_to_last_event": released,
            "outcomes": dict(outcome),
            "messages": sorted({e[0].get("message", "") for e in events if e and e[0]["status"] != "success"})[:5],
            "schedule": _schedule(polls, spec["query_ids"], t0, t_end, poll),
            "timing": poll_timing({k: [p for p in v if p[0] <= t_end] for k, v in polls.items()}, poll),
            "loop_lag": _quantiles(lags),
        }

    return asyncio.run(main())


def _schedule(
    polls: dict[str, list[tuple[float, float]]], query_ids: list[str], t0: float, t_end: float, poll: float
) -> dict[str, Any]:
    """Polls made in the window against polls due on the trigger's own schedule: one when the wait starts, the
    second at most ``poll`` seconds later (the trigger draws its first interval from 0.5-1x ``poll``), then one
    every ``poll`` seconds from the second. A wait that never polled is due one poll per ``poll`` from ``t0``."""
    made = due = 0
    first: list[float] = []
    for query_id in query_ids:
        issued = [p[0] for p in polls.get(f"/queries/{query_id}", []) if p[0] <= t_end]
        made += len(issued)
        if not issued:
            due += int((t_end - t0) // poll) + 1
            continue
        first.append(issued[0] - t0)
        if len(issued) == 1:
            due += 1 + int((t_end - issued[0]) // poll)
        else:
            due += 2 + int((t_end - issued[1]) // poll)
    return {"made": made, "due": due, "never_polled": len(query_ids) - len(first), "first_poll": _quantiles(first)}


def main(argv: list[str]) -> None:
    mode, raw = argv[0], argv[1]
    spec = json.loads(Path(raw[1:]).read_text() if raw.startswith("@") else raw)
    result = {"select": select, "memory": memory, "waits": waits}[mode](spec)
    sys.stdout.write("@@RESULT@@" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])

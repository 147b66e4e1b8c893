"""(h) Query Service: a 100,000-row SELECT through ``AEPQueryServiceHook`` vs bare ``psycopg``, and 1,000 deferred
query waits in one event loop.

The emulator runs in a child process (its CPU and memory never count). The rows are landed once with a
``CREATE TABLE ... AS SELECT ... FROM range(n)`` over the PostgreSQL endpoint (Query Service's CTAS: a new
dataset with an ad hoc schema and one batch of ``n`` records in Catalog), then read once, untimed, so the
emulator builds its DuckDB table from the landed records before anything is timed.

SELECT: ``rounds`` fresh processes (``benchmarks._query_worker select``), each alternating ``reps`` hook and bare
repetitions (the side that goes first alternates too), every repetition on a new database connection; the hook
side builds a new hook each time (connection lookup, ``GET /connection_parameters``, the process's cached IMS
token). Ratio = hook median / bare median. Tokens: ``POST /ims/token/v3`` in the emulator's journal while one
worker process ran (the bare side uses a token the parent fetched, so every one counted is the hook's).

Waits: ``n`` queries submitted with ``POST /queries`` and held ``IN_PROGRESS`` (``POST /__emulator/queries/hold``),
then ``n`` ``AEPQueryTrigger`` in one asyncio loop in a fresh process for ``window`` seconds; then the hold is
released and every trigger must yield one ``success`` event (bounded by ``release_timeout``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    ORG_ID,
    BenchResult,
    Row,
    aep_conn,
    bench_env,
    emulator_mark,
    fmt_kib,
    fmt_mib,
    fmt_spread_ms,
    make_airflow_home,
    ratio,
    settings_for,
    stream_worker,
    summary,
)
from benchmarks.emulator_support import IMS_TOKEN, emulator_process, fetch_token

TIME_TARGET = 1.05
RSS_TARGET = 64 * 1024
STREAM_BATCH = 10_000
STREAM_TARGET = 0.25  # iter_records' memory growth at most a quarter of get_records' for the same rows
ON_SCHEDULE_TARGET = 0.95
TABLE = "bench_query_rows"
SELECT = f"SELECT id, email, amount, active FROM {TABLE}"
PARAMETERS = "/data/foundation/query/connection_parameters"
QUERY_CONN = json.dumps({"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}})


def _worker(
    mode: str,
    spec: dict[str, Any],
    env: dict[str, str],
    timeout: float,
    on: dict[str, Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Run ``benchmarks._query_worker MODE``; ``on[name]`` is called when the worker prints ``@@name@@``."""
    return stream_worker(
        "benchmarks._query_worker", mode, spec, env, timeout=timeout, what=f"query worker ({mode})", on=on
    )


def _land_rows(emu: Any, token: str, rows: int) -> float:
    """CTAS ``rows`` rows over the wire, then one untimed full read (the emulator builds its table); seconds."""
    import psycopg

    host, port = emu.pg_address
    args = {"host": host, "port": port, "user": ORG_ID, "password": token, "dbname": "prod:all", "sslmode": "prefer"}
    started = time.perf_counter()
    with psycopg.connect(**args, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {TABLE} AS SELECT range AS id, 'person-' || range::VARCHAR || '@example.com' AS email, "
            f"range * 0.5 AS amount, range % 2 = 0 AS active FROM range({int(rows)})"
        )
        count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    if not count or count[0] != rows:
        raise RuntimeError(f"landed {count} rows, expected {rows}")
    return time.perf_counter() - started


def _select(rows: int, rounds: int, reps: int, connect_reps: int, memory_rounds: int) -> dict[str, Any]:
    home = make_airflow_home("query")
    out: dict[str, Any] = {"rounds": []}
    with emulator_process(journal_limit=100_000) as emu:
        env = bench_env(
            home, AIRFLOW_CONN_AEP_DEFAULT=aep_conn(emu.url), AIRFLOW_CONN_AEP_QUERY_SERVICE_DEFAULT=QUERY_CONN
        )
        token = fetch_token(emu.url)
        out["land_seconds"] = _land_rows(emu, token, rows)
        host, port = emu.pg_address
        base = {"host": host, "port": port, "dbname": "prod:all", "user": ORG_ID, "token": token, "sql": SELECT}
        for index in range(rounds):
            emu.control.clear_journal()
            spec = {**base, "reps": reps, "connect_reps": connect_reps, "first": index % 2}
            figures = _worker("select", spec, env, timeout=600 + 30 * reps)
            journal = emu.control.journal()
            figures["tokens"] = sum(e["method"] == "POST" and e["path"] == IMS_TOKEN for e in journal)
            figures["parameter_reads"] = sum(e["path"] == PARAMETERS for e in journal)
            figures["hook_connections"] = 1 + reps + connect_reps  # the warm-up's, then one per repetition
            out["rounds"].append(figures)
        # Peak memory of one pass in a fresh process each, the two ways alternating.
        out["memory"] = {"iter": [], "get": []}
        for index in range(memory_rounds):
            for how in ("iter", "get") if index % 2 == 0 else ("get", "iter"):
                spec = {"sql": SELECT, "how": how, "batch_size": STREAM_BATCH}
                out["memory"][how].append(_worker("memory", spec, env, timeout=600))
    return out


def _submit(emu: Any, n: int) -> tuple[str, list[str]]:
    """A finished warm-up query, then ``n`` queries held ``IN_PROGRESS``."""
    from aep_emulator.testing_query import hold_queries

    from airflow_provider_aep.client.query_service import QueryServiceClient

    with QueryServiceClient(settings_for(emu.url)) as client:

        def submit(name: str) -> str:
            return str(client.create_query({"dbName": "prod:all", "sql": "SELECT 1 AS n", "name": name})["id"])

        warm = submit("bench-warm")
        emu.control.advance_clock(10)
        if client.get_query(warm)["state"] != "SUCCESS":
            raise RuntimeError("the warm-up query did not end")
        hold_queries(emu.url, True)
        ids = [submit(f"bench-wait-{i:05d}") for i in range(n)]
        emu.control.advance_clock(10)  # SUBMITTED -> IN_PROGRESS, and held there
        states = {client.get_query(q)["state"] for q in (ids[0], ids[-1])}
    if states != {"IN_PROGRESS"}:
        raise RuntimeError(f"held queries are {states}, not IN_PROGRESS")
    return warm, ids


def _waits(n: int, poll_interval: float, window: float, release_timeout: float) -> dict[str, Any]:
    from aep_emulator.testing_query import hold_queries

    home = make_airflow_home("query-waits")
    marks: dict[str, dict[str, float]] = {}
    with emulator_process(journal_limit=1000) as emu:
        env = bench_env(home, AIRFLOW_CONN_AEP_DEFAULT=aep_conn(emu.url))
        submit_started = time.perf_counter()
        warm, ids = _submit(emu, n)
        submit_seconds = time.perf_counter() - submit_started

        def mark(name: str) -> None:
            marks[name] = emulator_mark(emu)

        def release() -> None:
            mark("window")
            hold_queries(emu.url, False)
            emu.control.advance_clock(10)

        mark("before")
        spec = {
            "query_ids": ids,
            "warm_query_id": warm,
            "poll_interval": poll_interval,
            "window": window,
            "release_timeout": release_timeout,
        }
        out = _worker(
            "waits",
            spec,
            env,
            timeout=window + release_timeout + 300,
            on={"START": lambda: mark("start"), "WINDOW": release},
        )
        mark("after")
    out["submit_seconds"] = submit_seconds
    out["emulator_requests_window"] = marks["window"]["requests"] - marks["start"]["requests"]
    out["emulator_cpu_window"] = marks["window"]["cpu"] - marks["start"]["cpu"]
    out["tokens"] = marks["after"]["tokens"] - marks["before"]["tokens"]
    return out


def run(
    rows: int = 100_000,
    rounds: int = 6,
    reps: int = 4,
    connect_reps: int = 10,
    n: int = 1000,
    poll_interval: float = 10.0,
    window: float = 60.0,
    release_timeout: float = 60.0,
    memory_rounds: int = 2,
) -> BenchResult:
    started = time.perf_counter()
    result = BenchResult("query", f"(h) Query Service: a {rows:,}-row SELECT, and {n:,} deferred query waits")
    selected = _select(rows, rounds, reps, connect_reps, memory_rounds)
    waited = _waits(n, poll_interval, window, release_timeout)
    _select_rows(result, selected, rows, rounds, reps)
    _wait_rows(result, waited, n, poll_interval)
    result.details = {"select": selected, "waits": waited, "rows": rows, "n": n, "poll_interval": poll_interval}
    result.seconds = time.perf_counter() - started
    return result


def _select_rows(result: BenchResult, selected: dict[str, Any], rows: int, rounds: int, reps: int) -> None:
    runs = selected["rounds"]
    times = {m: summary([t for r in runs for t in r["select"][m]]) for m in ("hook", "bare")}
    connects = {m: summary([t for r in runs for t in r["connect"][m]]) for m in ("hook", "bare")}
    selected["stats"] = {"select": times, "connect": connects}
    shapes = [r["shape"] for r in runs]
    same = all(s["hook"] == s["bare"] and s["hook"]["rows"] == rows for s in shapes)
    factor = ratio(times["hook"]["median"], times["bare"]["median"])
    result.rows.append(
        Row(
            f"SELECT of {rows:,} rows (4 columns), hook `get_records` vs bare `psycopg` fetchall, new connection "
            f"each ({rounds} processes x {reps} alternating reps)",
            fmt_spread_ms(times["hook"]),
            fmt_spread_ms(times["bare"]),
            factor,
            f"<= {TIME_TARGET}x",
            None if factor is None else factor <= TIME_TARGET,
        )
    )
    result.rows.append(
        Row(
            "new database connection (connect + close): a new hook (`GET /connection_parameters`, cached token) vs "
            "bare `psycopg.connect`",
            fmt_spread_ms(connects["hook"]),
            fmt_spread_ms(connects["bare"]),
            ratio(connects["hook"]["median"], connects["bare"]["median"]),
        )
    )
    tokens = [r["tokens"] for r in runs]
    result.rows.append(
        Row(
            f"IMS token requests per worker process ({runs[0]['hook_connections']} hook connections each)",
            ", ".join(str(t) for t in tokens),
            "",
            None,
            "1",
            all(t == 1 for t in tokens),
        )
    )
    result.rows.append(
        Row(
            "rows returned, hook vs bare (count, first and last row equal)",
            f"{shapes[0]['hook']['rows']:,}",
            f"{shapes[0]['bare']['rows']:,}",
            None,
            f"{rows:,}, equal",
            same,
        )
    )
    memory = selected["memory"]
    growth = {how: max(m["growth"] for m in memory[how]) for how in ("iter", "get")}
    streamed = ratio(growth["iter"], growth["get"])
    counted = {m["rows"] for how in memory for m in memory[how]}
    result.rows.append(
        Row(
            f"peak RSS growth reading the {rows:,} rows: `iter_records` (server-side cursor, {STREAM_BATCH:,} per "
            f"FETCH) vs `get_records` (fresh process each, worst of {len(memory['iter'])})",
            fmt_mib(growth["iter"]),
            fmt_mib(growth["get"]),
            streamed,
            f"<= {STREAM_TARGET}x, {rows:,} rows each",
            None if streamed is None else streamed <= STREAM_TARGET and counted == {rows},
        )
    )
    iter_time = summary([m["seconds"] for m in memory["iter"]])
    get_time = summary([m["seconds"] for m in memory["get"]])
    result.rows.append(
        Row(
            "time of that pass: `iter_records` vs `get_records`",
            fmt_spread_ms(iter_time),
            fmt_spread_ms(get_time),
            ratio(iter_time["median"], get_time["median"]),
        )
    )
    parameter_reads = [r["parameter_reads"] for r in runs]
    result.notes.append(
        f"Landing {rows:,} rows (CTAS over the wire, then the first read, in which the emulator builds its DuckDB "
        f"table from the landed records) took {selected['land_seconds']:.1f} s, untimed. `GET "
        f"/connection_parameters` per worker process: {', '.join(map(str, parameter_reads))} (one per hook "
        "connection). Hook times include the connection lookup from the environment and the REST call; the bare "
        "side gets its token from the parent. Both use psycopg 3 (the PostgreSQL provider picks it with "
        "SQLAlchemy 2), `sslmode=prefer` (TLS to the emulator's self-signed endpoint)."
    )


def _wait_rows(result: BenchResult, waited: dict[str, Any], n: int, poll: float) -> None:
    schedule, timing = waited["schedule"], waited["timing"]
    per_wait = (waited["peak_rss_waiting"] - waited["rss0"]) / n
    made_due = schedule["made"] / schedule["due"] if schedule["due"] else 0.0
    result.rows.append(
        Row(
            f"peak RSS per wait: {n:,} `AEPQueryTrigger` in one loop, queries held IN_PROGRESS",
            fmt_kib(per_wait),
            "",
            None,
            f"<= {fmt_kib(RSS_TARGET)} per trigger",
            per_wait <= RSS_TARGET,
        )
    )
    result.rows.append(
        Row(
            f"polls made / polls due over a {waited['window']:.0f} s window (1 per {poll:g} s per wait)",
            f"{made_due:.3f} ({schedule['made']:,}/{schedule['due']:,})",
            f"emulator counted {waited['emulator_requests_window']:,}",
            None,
            f">= {ON_SCHEDULE_TARGET:.2f}",
            made_due >= ON_SCHEDULE_TARGET,
        )
    )
    gaps = timing.get("gaps", 0)
    if gaps:
        on_time = timing["gaps_on_schedule"] / gaps
        result.rows.append(
            Row(
                f"trigger polls on schedule (gap to the previous poll <= 1.1 x {poll:g} s)",
                f"{on_time:.3f} ({timing['gaps_on_schedule']:,}/{gaps:,})",
                "",
                None,
                f">= {ON_SCHEDULE_TARGET:.2f}",
                on_time >= ON_SCHEDULE_TARGET,
            )
        )
    lat = timing.get("latency", {})
    result.rows.append(
        Row(
            "poll answer time p50 / p99 (pool queue + network + emulator) vs first poll after start p99",
            f"{lat.get('p50', 0) * 1000:.1f} / {lat.get('p99', 0) * 1000:.0f} ms",
            f"{schedule['first_poll'].get('p99', 0) * 1000:.0f} ms",
        )
    )
    polls = max(1, schedule["made"])
    result.rows.append(
        Row(
            "CPU per poll: the triggers' process vs the emulator's",
            f"{waited['cpu_window'] / polls * 1000:.2f} ms",
            f"{waited['emulator_cpu_window'] / max(1, waited['emulator_requests_window']) * 1000:.2f} ms",
        )
    )
    outcomes = waited["outcomes"]
    result.rows.append(
        Row(
            "events after the hold is released (one `success` event per trigger)",
            f"{outcomes.get('success', 0)}/{n}",
            f"last after {waited['release_to_last_event']:.1f} s",
            None,
            f"{n}/{n}",
            outcomes.get("success", 0) == n and waited["open_at_window_end"] == n,
        )
    )
    result.rows.append(
        Row("IMS token requests by the triggers' process", str(waited["tokens"]), "", None, "1", waited["tokens"] == 1)
    )
    lag = waited.get("loop_lag", {})
    result.notes.append(
        f"{n:,} queries submitted with `POST /queries` in {waited['submit_seconds']:.1f} s, then held. Waits still "
        f"open at the window's end: {waited['open_at_window_end']:,}/{n:,}; never polled: "
        f"{schedule['never_polled']}. Outcomes: {outcomes}. Event-loop lag (50 ms heartbeat): p50 "
        f"{lag.get('p50', 0) * 1000:.1f} ms, p99 {lag.get('p99', 0) * 1000:.0f} ms, max "
        f"{lag.get('max', 0) * 1000:.0f} ms. Peak threads {waited['peak_threads']}."
        + (f" Messages: {waited['messages']}." if waited["messages"] else "")
    )

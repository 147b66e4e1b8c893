"""Query Service: a read of one query moves that query alone on the clock (a list or a due run moves them all,
in arrival order), and a dataset's landed records become its DuckDB table through Arrow batches with the same
values the per-row path gives (nested structs, NULLs, missing fields, date-times, values of another type)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import psycopg
import pytest
from aep_emulator.core.state import Store
from aep_emulator.query_service import duck_arrow, duck_types
from aep_emulator.query_service.engine import SqlEngine, Table
from aep_emulator.query_service.models import backend
from aep_emulator.testing import ORG, fetch_token
from aep_emulator.testing_query import QueryClient, hold_queries, pg_params


@pytest.fixture
def qs(emu) -> QueryClient:
    # long phases, so a step of the clock lands well inside one whatever the real time spent between calls
    emu.control.configure(query_start_delay=100, query_duration=100)
    return QueryClient(emu.url, fetch_token(emu.url))


def submit(qs: QueryClient, sql: str, **extra: Any) -> str:
    response = qs.post("/queries", json={"dbName": "prod:all", "sql": sql, **extra})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def stored_state(emu, query_id: str) -> str:
    """The state the emulator holds for a query, read in process (no request, so nothing is refreshed)."""
    with emu.state.lock:
        query = backend(emu.state.store(ORG, "prod")).queries.get(query_id)
    assert query is not None
    return str(query["state"])


# -- the clock ---------------------------------------------------------------------------------------
def test_a_read_of_one_query_moves_it_alone_and_a_list_moves_all(emu, qs):
    first, second = submit(qs, "SELECT 1 AS one"), submit(qs, "SELECT 2 AS two")
    emu.control.advance_clock(150)
    read = qs.get(f"/queries/{first}").json()
    assert read["state"] == "IN_PROGRESS" and read["elapsedTime"] >= 50_000
    assert stored_state(emu, second) == "SUBMITTED"
    listed = {q["id"]: q["state"] for q in qs.get("/queries").json()["queries"]}
    assert listed == {first: "IN_PROGRESS", second: "IN_PROGRESS"}


def test_a_read_runs_every_due_query_in_arrival_order(emu, qs):
    hold_queries(emu.url)
    writer = submit(qs, "SELECT 7 AS id", ctasParameters={"datasetName": "made_first"})
    reader = submit(qs, "SELECT id FROM made_first WHERE id = 7")
    other = submit(qs, "SELECT 3 AS three")
    emu.control.advance_clock(300)
    assert qs.get(f"/queries/{reader}").json()["state"] == "IN_PROGRESS"  # held: nothing runs
    assert stored_state(emu, writer) == "SUBMITTED"
    hold_queries(emu.url, held=False)
    done = qs.get(f"/queries/{reader}").json()  # the reader is due, so the writer before it runs first
    assert done["state"] == "SUCCESS" and done["rowCount"] == 1, done
    assert [stored_state(emu, q) for q in (writer, other)] == ["SUCCESS", "SUCCESS"]


def test_a_read_before_the_end_runs_an_earlier_due_query(emu, qs):
    early = submit(qs, "SELECT 1 AS one")
    emu.control.configure(query_start_delay=100, query_duration=1000)
    late = submit(qs, "SELECT 2 AS two")
    emu.control.advance_clock(250)
    assert qs.get(f"/queries/{late}").json()["state"] == "IN_PROGRESS"
    assert stored_state(emu, early) == "SUCCESS"  # due: it ran with the sandbox's refresh, as a list would


def test_cancel_reads_one_query_too(emu, qs):
    cancelled, waiting = submit(qs, "SELECT 1 AS one"), submit(qs, "SELECT 2 AS two")
    emu.control.advance_clock(150)
    assert qs.request("PATCH", f"/queries/{cancelled}", json={"op": "cancel"}).status_code == 202
    assert stored_state(emu, waiting) == "SUBMITTED"
    emu.control.advance_clock(100)
    assert qs.get(f"/queries/{waiting}").json()["state"] == "SUCCESS"
    assert qs.get(f"/queries/{cancelled}").json()["state"] == "KILLED"


# -- datasets as tables ------------------------------------------------------------------------------
def test_25000_landed_rows_read_back_with_structs_nulls_and_timestamps(emu):
    token = fetch_token(emu.url)
    with psycopg.connect(**pg_params(emu, token)) as conn:
        conn.execute(
            "CREATE TABLE big_out AS SELECT i AS id, CASE WHEN i % 2 = 0 THEN 'n' || i END AS label, "
            "CASE WHEN i % 3 = 0 THEN NULL ELSE {'score': i * 1.5, 'at': TIMESTAMP '2020-01-01' + to_seconds(i), "
            "'tags': ['t' || i, NULL]} END AS stats FROM range(25000) t(i)"
        )
        summary = conn.execute(
            "SELECT count(*), sum(id), count(*) FILTER (WHERE label IS NULL), count(*) FILTER (WHERE stats IS NULL), "
            "max(stats.at), sum(stats.score), count(*) FILTER (WHERE stats.tags[2] IS NULL AND stats IS NOT NULL) "
            "FROM big_out"
        ).fetchone()
        kept = [i for i in range(25000) if i % 3]
        assert summary == (
            25000,
            sum(range(25000)),
            12500,
            25000 - len(kept),
            dt.datetime(2020, 1, 1) + dt.timedelta(seconds=24998),
            sum(i * 1.5 for i in kept),
            len(kept),
        )
        row = conn.execute("SELECT label, stats.tags, typeof(stats) FROM big_out WHERE id = 4").fetchone()
        assert row == ("n4", ["t4", None], 'STRUCT(score DOUBLE, "at" TIMESTAMP, tags VARCHAR[])')


COLUMNS: dict[str, dict[str, Any]] = {
    "i": {"type": "integer"},
    "n": {"type": "number"},
    "b": {"type": "boolean"},
    "s": {"type": "string"},
    "ts": {"type": "string", "format": "date-time"},
    "d": {"type": "string", "format": "date"},
    "o": {
        "type": "object",
        "properties": {
            "x": {"type": "string"},
            "y": {"type": "object", "properties": {"z": {"type": "integer"}}},
            "m": {"type": "object"},
        },
    },
    "a": {"type": "array", "items": {"type": "string"}},
    "ao": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "number"}}}},
    "aj": {"type": "array"},
}
WELL_TYPED = [
    {"i": 1, "n": 1.5, "b": True, "s": "x", "ts": "2020-01-02T03:04:05.123+02:00", "d": "2020-01-02",
     "o": {"x": "a", "y": {"z": 3}, "m": {"q": [1, 2]}}, "a": ["p", None], "ao": [{"k": 2}, None, {}],
     "aj": [1, "two", None]},
    {},
    {"i": None, "o": None, "a": None, "ao": [], "ts": "not a time", "d": "2020-13-45"},
    {"o": "not an object", "a": "not a list", "n": 7, "i": -(2**63)},
]  # fmt: skip


def table_rows(records: list[dict[str, Any]], arrow: bool) -> Any:
    """The table ``records`` make through the engine's loader, or by binding rows one by one."""
    sql_engine = SqlEngine(Store(ORG, "prod"))
    ddl = ", ".join(f"{duck_types.quote_ident(k)} {duck_types.sql_type(v)}" for k, v in COLUMNS.items())
    sql_engine.db.execute(f"CREATE TABLE t ({ddl})")
    try:
        if arrow:
            sql_engine._insert(Table("t", "ds", columns=COLUMNS), "t", records)
        else:
            rows = [[duck_types.to_column(n, r.get(k)) for k, n in COLUMNS.items()] for r in records]
            sql_engine.db.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in COLUMNS)})", rows)
    except duckdb.Error as exc:
        return type(exc).__name__
    return sql_engine.db.execute("SELECT * FROM t").fetchall()


def test_arrow_batches_hold_what_bound_rows_hold():
    duck_arrow.record_batch(COLUMNS, WELL_TYPED)  # no value needs the per-row way
    assert table_rows(WELL_TYPED, arrow=True) == table_rows(WELL_TYPED, arrow=False)
    assert table_rows(WELL_TYPED, arrow=True)[0][4] == dt.datetime(2020, 1, 2, 1, 4, 5, 123000)


@pytest.mark.parametrize(
    "record",
    [{"i": "12"}, {"i": 1.0}, {"i": True}, {"s": 5}, {"ts": 5}, {"n": 2**60}, {"b": 1}, {"a": [1]},
     {"o": {"y": {"z": "9"}}}, {"i": 2**64}, {"i": "abc"}],
)  # fmt: skip
def test_values_of_another_type_load_as_bound_rows_do(record):
    with pytest.raises(duck_arrow.UNFIT_ERRORS):
        duck_arrow.record_batch(COLUMNS, [record])
    assert table_rows([record, *WELL_TYPED], arrow=True) == table_rows([record, *WELL_TYPED], arrow=False)

"""Creating query documents and running a REST (or scheduled) query's SQL when it reaches its end on the clock.

A REST query is non-interactive: a SELECT runs and counts its rows (``rowCount``; rows are read over the
PostgreSQL endpoint or from a created dataset), ``ctasParameters``/``CREATE TABLE AS`` creates a dataset,
``insertIntoParameters``/``INSERT INTO`` lands a batch, ``DROP TABLE`` drops a Query Service table. Several
statements run in order and the first failure stops the query (``FAILED`` with ``errors[]``).
"""

from __future__ import annotations

import heapq
import uuid
from typing import Any

from ..core.state import EmulatorState, Store
from . import sql as sqltext
from .engine import engine, refuse
from .listing import unique_ms
from .models import PREFIX, REGISTERING_SECONDS, TERMINAL, QueryHold, backend, iso, touch
from .references import dataset_link, merge, referenced_datasets
from .sql import SqlError
from .writes import Writer

_COUNT_CHUNK = 10_000


def links(base_url: str, query: dict[str, Any]) -> dict[str, Any]:
    href = f"{base_url}{PREFIX}/queries/{query['id']}"
    out: dict[str, Any] = {
        "self": {"href": href, "method": "GET"},
        "soft_delete": {"href": href, "method": "PATCH", "body": '{ "op": "soft_delete"}'},
        "cancel": {"href": href, "method": "PATCH", "body": '{ "op": "cancel"}'},
    }
    if query.get("_dataset_id"):
        out["created_dataset"] = dataset_link(base_url, query["_dataset_id"])
    if query.get("_referenced") is not None:  # resolved once IN_PROGRESS, as Adobe documents; [] reads none
        out["referenced_datasets"] = [dataset_link(base_url, i) for i in query["_referenced"]]
    if query.get("scheduleId"):
        out["schedule"] = {"href": f"{base_url}{PREFIX}/schedules/{query['scheduleId']}", "method": "GET"}
    return out


def effective_sql(request: dict[str, Any], sql: str) -> tuple[str, bool, bool]:
    """The SQL actually run (CTAS/ITAS parameters turned into statements), ``isCTAS``, ``isInsertInto``."""
    ctas = request.get("ctasParameters")
    into = request.get("insertIntoParameters")
    body = sql.strip().rstrip(";")
    if isinstance(ctas, dict) and ctas.get("datasetName"):
        return f"CREATE TABLE {sqltext.table_name(str(ctas['datasetName']))} AS ({body})", True, False
    if isinstance(into, dict) and into.get("datasetName"):
        return f"INSERT INTO {sqltext.table_name(str(into['datasetName']))} {body}", False, True
    kinds = {sqltext.classify(s).kind for s in sqltext.split(sql)}
    return sql, "ctas" in kinds, "itas" in kinds


def new_query(
    state: EmulatorState,
    store: Store,
    request: dict[str, Any],
    sql: str,
    *,
    client: str,
    client_id: str,
    template_name: str | None = None,
    schedule: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A ``SUBMITTED`` query whose SQL runs once it reaches its end on the clock (stored and made active)."""
    now = unique_ms(backend(store).last_ms, state.clock.now_ms())
    config = state.config
    effective, is_ctas, is_itas = effective_sql(request, sql)
    starts = now + int(getattr(config, "query_start_delay", 1.0) * 1000)
    query: dict[str, Any] = {
        "isInsertInto": is_itas,
        "request": request,
        "state": "SUBMITTED",
        "rowCount": 0,
        "errors": [],
        "isCTAS": is_ctas,
        "version": 1,
        "id": str(uuid.uuid4()),
        "elapsedTime": 0,
        "effectiveSQL": effective,
        "client": client,
        "userId": f"{client_id}@AdobeID",
        "created": iso(now),
        "updated": iso(now),
        "_created_ms": now,
        "_updated_ms": now,
        "_starts_ms": starts,
        "_ends_ms": starts + int(getattr(config, "query_duration", 2.0) * 1000),
        "_client_id": client_id,
        "_seq": state.next_seq(),
    }
    if template_name is not None:
        query["templateName"] = template_name
        query["templateId"] = request.get("templateId")
    if schedule is not None:
        query["scheduleId"], query["scheduleRunId"] = schedule
    backend(store).queries.add(query)
    backend(store).active.add(query["id"])
    heapq.heappush(backend(store).ends, (query["_ends_ms"], query["_seq"], query["id"]))
    return query


def run_query(state: EmulatorState, store: Store, query: dict[str, Any]) -> None:
    """Run the query's effective SQL now and make it terminal (the caller holds the state lock)."""
    ctas = query["request"].get("ctasParameters") if isinstance(query["request"].get("ctasParameters"), dict) else {}
    into = query["request"].get("insertIntoParameters")
    try:
        rows = 0
        for text in sqltext.split(query["effectiveSQL"]):
            rows = execute_statement(state, store, sqltext.classify(text), query["_client_id"], query, ctas or {})
        query["rowCount"] = rows
        query["state"] = "SUCCESS"
    except SqlError as exc:
        query["errors"] = [exc.to_dict()]
        query["state"] = "FAILED"
    if isinstance(into, dict) and query["state"] == "SUCCESS":
        query["isInsertInto"] = True
    touch(query, max(query["_ends_ms"], query["_created_ms"]))
    query["elapsedTime"] = max(0, query["_ends_ms"] - query["_starts_ms"])


def execute_statement(
    state: EmulatorState,
    store: Store,
    statement: sqltext.Statement,
    client_id: str,
    query: dict[str, Any] | None = None,
    ctas: dict[str, Any] | None = None,
) -> int:
    """One non-interactive statement: rows read or written (the caller holds the state lock)."""
    sql_engine = engine(store)
    writer = Writer(state, store, sql_engine, client_id)
    if statement.kind == "ctas":
        ctas = ctas or {}
        written = writer.create_table_as(
            statement.table,
            statement.select,
            dataset_name=ctas.get("datasetName") or statement.table,
            description=str(ctas.get("description") or ""),
            schema_title=ctas.get("targetSchemaTitle") or statement.schema_title,
            if_not_exists=statement.if_exists,
        )
        if written is None:
            return 0
        if query is not None:
            query["_dataset_id"] = written.dataset_id
        return written.rows
    if statement.kind == "itas":
        return writer.insert_into(statement.table, statement.select).rows
    if statement.kind == "drop":
        writer.drop_table(statement.table, statement.if_exists)
        return 0
    if statement.kind == "show_tables":
        sql_engine.sync()
        return len(sql_engine.show_tables())
    if statement.kind in ("read", "view"):
        sql_engine.sync()
        if statement.kind == "view":
            sql_engine.write(statement.text)
            return 0
        cursor = sql_engine.cursor()
        sql_engine.execute(cursor, statement.text)
        count = 0
        while True:
            chunk = cursor.fetchmany(_COUNT_CHUNK)
            if not chunk:
                return count
            count += len(chunk)
    if statement.kind == "session":
        return 0
    raise refuse(statement)


def refresh(state: EmulatorState, store: Store) -> None:
    """Move queries and schedules along the emulator clock; a query reaching its end runs its SQL."""
    qs = backend(store)
    now = state.clock.now_ms()
    for schedule_id in list(qs.registering):
        schedule = qs.schedules.get(schedule_id)
        if schedule is None or schedule["state"] != "REGISTERING":
            qs.registering.discard(schedule_id)
        elif now >= schedule["_created_ms"] + REGISTERING_SECONDS * 1000:
            schedule["state"] = "ENABLED"
            qs.registering.discard(schedule_id)
    held = state.backend(QueryHold).held
    for query_id in sorted(qs.active, key=lambda q: (qs.queries.get(q) or {}).get("_seq", 0)):
        query = qs.queries.get(query_id)
        if query is None or query["state"] in TERMINAL:
            qs.active.discard(query_id)
            continue
        _advance(state, store, query, now, held)


def refresh_one(state: EmulatorState, store: Store, query: dict[str, Any]) -> None:
    """Bring one query up to the emulator clock, for a read of that query alone.

    Walking every active query on each ``GET /queries/{id}`` made a poll cost O(active queries) (1.5 ms of
    emulator CPU with 1,000 held). While no active query is due to run, nothing another query or service does
    changes this one (its start resolves ``referenced_datasets`` from the datasets, which only a query's run
    creates), so it moves alone. Once one is due, possibly this one, the whole sandbox is refreshed
    (:meth:`~..core.state.EmulatorState.refresh`): queries then run in arrival order, after the flow runs and
    batches that land what they read, exactly as a list read would run them.
    """
    qs = backend(store)
    if query["id"] not in qs.active:
        return
    now = state.clock.now_ms()
    held = state.backend(QueryHold).held
    if not held and now >= _next_end(store):
        state.refresh(store)
    elif query["state"] in TERMINAL:
        qs.active.discard(query["id"])
    else:
        _advance(state, store, query, now, held)


def _next_end(store: Store) -> int | float:
    """When the next active query is due to run (infinity when none is active)."""
    qs = backend(store)
    while qs.ends and qs.ends[0][2] not in qs.active:
        heapq.heappop(qs.ends)
    return qs.ends[0][0] if qs.ends else float("inf")


def _advance(state: EmulatorState, store: Store, query: dict[str, Any], now: int, held: bool) -> None:
    """Move one active query to ``now``: started when due, run (and no longer active) at its end unless held."""
    if now >= query["_starts_ms"] and query["state"] == "SUBMITTED":
        query["state"] = "IN_PROGRESS"
        query["_referenced"] = referenced_datasets(store, query["effectiveSQL"])
        touch(query, query["_starts_ms"])
    if now >= query["_ends_ms"] and not held:
        run_query(state, store, query)
        # a table an earlier statement of the same query created is a dataset only now
        query["_referenced"] = merge(query.get("_referenced"), referenced_datasets(store, query["effectiveSQL"]))
        backend(store).active.discard(query["id"])
    if query["state"] == "IN_PROGRESS":
        query["elapsedTime"] = max(0, now - query["_starts_ms"])

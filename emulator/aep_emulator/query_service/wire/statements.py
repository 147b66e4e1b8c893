"""What one statement sent over the PostgreSQL endpoint does: a read streams rows from DuckDB, a write (CTAS,
ITAS, DROP) goes to Catalog like a REST query, ``SHOW TABLES`` lists the datasets, ``SET``/``SHOW``/``BEGIN``
and friends are answered from the session's settings (transactions are accepted and do nothing: Query Service
has no rollback), ``DECLARE``/``FETCH``/``MOVE``/``CLOSE`` keep forward-only cursors (a driver's server-side
cursor: rows stay in DuckDB until fetched). Every statement is also recorded as a query (client
``PostgreSQL``), driver commands hidden."""

from __future__ import annotations

import contextlib
import itertools
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ...core.state import EmulatorState, Store
from .. import sql as sqltext
from ..engine import SHOW_TABLES_COLUMNS, SqlEngine, engine, refuse, translate
from ..listing import unique_ms
from ..models import backend, iso
from ..references import referenced_datasets
from ..runner import execute_statement
from ..sql import SqlError, Statement
from . import protocol

CLIENT = "PostgreSQL"
SERVER_VERSION = "12.0"
FETCH_ROWS = 1000
_SET = re.compile(r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?(?P<name>[\w.]+|TIME\s+ZONE)\s*(?:=|TO|\s)\s*(?P<value>.*?)\s*$",
                  re.IGNORECASE | re.DOTALL)  # fmt: skip
_SHOW = re.compile(r"^\s*SHOW\s+(?P<name>[\w.]+|TIME\s+ZONE)\s*$", re.IGNORECASE)
_RESET = re.compile(r"^\s*RESET\s+(?P<name>[\w.]+|ALL)\s*$", re.IGNORECASE)


def default_settings(params: dict[str, str]) -> dict[str, str]:
    """The settings a session starts with (the first ones are sent as ParameterStatus)."""
    return {
        "server_version": SERVER_VERSION,
        "server_encoding": "UTF8",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
        "integer_datetimes": "on",
        "standard_conforming_strings": "on",
        "TimeZone": "UTC",
        "IntervalStyle": "postgres",
        "is_superuser": "off",
        "session_authorization": params.get("user", ""),
        "application_name": params.get("application_name", ""),
        "transaction_isolation": "read committed",
        "search_path": "public",
        "auto_to_json": "false",
    }


REPORTED = ("server_version", "server_encoding", "client_encoding", "DateStyle", "integer_datetimes",
            "standard_conforming_strings", "TimeZone", "IntervalStyle", "is_superuser", "session_authorization",
            "application_name")  # fmt: skip


@dataclass
class Result:
    """A statement's answer: ``columns`` (name, OID) and a row iterator, or only a command tag."""

    tag: str
    columns: list[tuple[str, int]] | None = None
    rows: Iterator[Sequence[Any]] | None = None
    word: str = "SELECT"
    count: int = 0


@dataclass
class SqlCursor:
    """A declared cursor: its query runs on a DuckDB connection of its own, so the session's other statements
    do not end it, and each FETCH pulls the next rows from there."""

    columns: list[tuple[str, int]]
    rows: Iterator[Sequence[Any]]
    hold: bool
    duck: Any

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.duck.close()


@dataclass
class SessionState:
    """One connection's state: who, where, settings, transaction status and its DuckDB cursor."""

    state: EmulatorState
    org: str
    sandbox: str
    client_id: str
    settings: dict[str, str]
    transaction: str = "I"
    _cursor: Any = None
    _engine: SqlEngine | None = None
    prepared: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, SqlCursor] = field(default_factory=dict)

    def close_cursors(self, *, keep_held: bool) -> None:
        """End the session's cursors (a transaction's end keeps those declared ``WITH HOLD``)."""
        for name, cursor in list(self.cursors.items()):
            if not (keep_held and cursor.hold):
                cursor.close()
                del self.cursors[name]

    def store(self) -> Store:
        with self.state.lock:
            return self.state.store(self.org, self.sandbox)

    def engine(self) -> SqlEngine:
        """The sandbox's engine, synced with Catalog (a reset gives a new store, hence a new engine)."""
        with self.state.lock:
            store = self.state.store(self.org, self.sandbox)
            self.state.refresh(store)
            current = engine(store)
            current.sync()
        if current is not self._engine:
            self._engine, self._cursor = current, current.cursor()
        return current

    def cursor(self) -> duckdb.DuckDBPyConnection:
        self.engine()
        return self._cursor

    def detach(self) -> duckdb.DuckDBPyConnection:
        """Hand the DuckDB cursor the last read runs on over to a declared cursor; the session reads on a new one."""
        assert self._engine is not None
        detached, self._cursor = self._cursor, self._engine.cursor()
        return detached

    @property
    def auto_to_json(self) -> bool:
        return self.settings.get("auto_to_json", "false").lower() in ("true", "on", "1")

    def record(self, text: str, statement: Statement, rows: int, error: SqlError | None) -> None:
        """The statement as a (terminal) query in ``GET /queries``."""
        with self.state.lock:
            store = self.state.store(self.org, self.sandbox)
            qs = backend(store)
            now = unique_ms(qs.last_ms, self.state.clock.now_ms())
            qs.queries.add(
                {
                    "isInsertInto": statement.kind == "itas",
                    "request": {"dbName": f"{self.sandbox}:all", "sql": text},
                    "state": "FAILED" if error else "SUCCESS",
                    "rowCount": rows,
                    "errors": [error.to_dict()] if error else [],
                    "isCTAS": statement.kind == "ctas",
                    "version": 1,
                    "id": str(uuid.uuid4()),
                    "elapsedTime": 0,
                    "effectiveSQL": text,
                    "client": CLIENT,
                    "userId": f"{self.client_id}@AdobeID",
                    "created": iso(now),
                    "updated": iso(now),
                    "_created_ms": now,
                    "_updated_ms": now,
                    "_starts_ms": now,
                    "_hidden": statement.hidden,
                    "_referenced": referenced_datasets(store, text),
                    "_seq": self.state.next_seq(),
                }
            )


def _session(session: SessionState, statement: Statement) -> Result:
    text = sqltext.strip_comments(statement.text).strip().rstrip(";")
    word = statement.word
    if word in ("BEGIN", "START"):
        session.transaction = "T"
        return Result("BEGIN")
    if word in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        session.transaction = "I"
        session.close_cursors(keep_held=True)
        return Result(protocol.command_tag(word, 0))
    if word == "DISCARD":
        session.close_cursors(keep_held=False)
        return Result("DISCARD ALL")
    if word == "SET":
        match = _SET.match(text)
        if match is None:
            raise SqlError("42601", f"syntax error in SET: {text}")
        name = _setting_name(session, match.group("name"))
        session.settings[name] = match.group("value").strip().strip("'\"")
        return Result("SET")
    if word == "RESET":
        match = _RESET.match(text)
        if match is None:
            raise SqlError("42601", f"syntax error in RESET: {text}")
        return Result("RESET")
    match = _SHOW.match(text)
    if match is None:
        raise SqlError("42601", f"syntax error in SHOW: {text}")
    name = match.group("name")
    if name.lower() == "all":
        rows = [(k, v, "") for k, v in session.settings.items()]
        columns = [("name", 25), ("setting", 25), ("description", 25)]
        return Result("SHOW", columns, iter(rows), word="SHOW")
    key = _setting_name(session, name)
    if key not in session.settings:
        raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
    return Result("SHOW", [(key.lower(), 25)], iter([(session.settings[key],)]), word="SHOW")


def _setting_name(session: SessionState, name: str) -> str:
    name = "TimeZone" if re.fullmatch(r"time\s+zone", name, re.IGNORECASE) else name
    return next((k for k in session.settings if k.lower() == name.lower()), name)


def _stream(cursor: Any) -> Iterator[Sequence[Any]]:
    while True:
        try:
            chunk = cursor.fetchmany(FETCH_ROWS)
        except duckdb.Error as exc:
            raise translate(exc) from exc
        if not chunk:
            return
        yield from chunk


def _declare(session: SessionState, statement: Statement, params: Sequence[Any] | None) -> Result:
    if statement.table in session.cursors:
        raise SqlError("42P03", f'cursor "{statement.table}" already exists')
    if session.transaction == "I" and not statement.hold:
        raise SqlError("25P01", "DECLARE CURSOR can only be used in transaction blocks")
    query = sqltext.classify(statement.select)
    if query.kind not in ("read", "show_tables"):
        raise SqlError("42601", f"a cursor reads a query, not {query.word or 'nothing'}")
    opened = run(session, query, params)
    if opened.columns is None or opened.rows is None:
        raise SqlError("42601", "a cursor's query must return rows")
    session.cursors[statement.table] = SqlCursor(opened.columns, opened.rows, statement.hold, session.detach())
    return Result("DECLARE CURSOR")


def _fetch(session: SessionState, statement: Statement) -> Result:
    cursor = session.cursors.get(statement.table)
    if cursor is None:
        raise SqlError("34000", f'cursor "{statement.table}" does not exist')
    rows = cursor.rows if statement.rows is None else itertools.islice(cursor.rows, statement.rows)
    if statement.word == "MOVE":
        moved = sum(1 for _ in rows)
        return Result(f"MOVE {moved}", count=moved)
    return Result("FETCH", cursor.columns, rows, word="FETCH")


def _close(session: SessionState, statement: Statement) -> Result:
    if not statement.table:
        session.close_cursors(keep_held=False)
        return Result("CLOSE CURSOR ALL")
    cursor = session.cursors.pop(statement.table, None)
    if cursor is None:
        raise SqlError("34000", f'cursor "{statement.table}" does not exist')
    cursor.close()
    return Result("CLOSE CURSOR")


def columns_of(description: Any, auto_to_json: bool) -> list[tuple[str, int]]:
    return [(str(d[0]), protocol.type_oid(d[1], auto_to_json)) for d in description or []]


def run(session: SessionState, statement: Statement, params: Sequence[Any] | None = None) -> Result:
    """Start one statement; rows (if any) are fetched from DuckDB as the caller iterates ``rows``."""
    if statement.kind == "session":
        return _session(session, statement)
    if statement.kind == "show_tables":
        sql_engine = session.engine()
        columns = [(name, 16 if name == "resolved" else 25) for name in SHOW_TABLES_COLUMNS]
        return Result("SELECT", columns, iter(sql_engine.show_tables()))
    if statement.kind == "read":
        cursor = session.cursor()
        assert session._engine is not None
        session._engine.execute(cursor, statement.text, params)
        if cursor.description is None:
            return Result(protocol.command_tag(statement.word, 0))
        return Result("SELECT", columns_of(cursor.description, session.auto_to_json), _stream(cursor))
    if statement.kind == "declare":
        return _declare(session, statement, params)
    if statement.kind == "fetch":
        return _fetch(session, statement)
    if statement.kind == "close":
        return _close(session, statement)
    if statement.kind == "view":
        session.engine().write(statement.text, params)
        return Result(" ".join(statement.text.split()[:2]).upper() if statement.word == "DROP" else "CREATE VIEW")
    if statement.kind in ("ctas", "itas", "drop"):
        session.engine()
        with session.state.lock:
            store = session.state.store(session.org, session.sandbox)
            rows = execute_statement(session.state, store, statement, session.client_id)
        tag = {"ctas": f"SELECT {rows}", "itas": f"INSERT 0 {rows}", "drop": "DROP TABLE"}[statement.kind]
        return Result(tag, count=rows)
    raise refuse(statement)


def describe(session: SessionState, statement: Statement, count: int) -> list[tuple[str, int]] | None:
    """Result columns of a statement not yet bound (Describe of a prepared statement); ``None`` for no rows."""
    if statement.kind == "show_tables":
        return [(name, 16 if name == "resolved" else 25) for name in SHOW_TABLES_COLUMNS]
    if statement.kind == "fetch" and statement.word == "FETCH" and statement.table in session.cursors:
        return session.cursors[statement.table].columns
    if statement.kind != "read" or statement.word not in ("SELECT", "WITH", "VALUES", "TABLE", "FROM", "("):
        return None
    try:
        described = session.cursor().execute(f"DESCRIBE {statement.text}", [None] * count).fetchall()
    except duckdb.Error:
        return None
    out = []
    for name, type_name, *_ in described:
        try:
            duck: Any = duckdb.sqltype(type_name)
        except (duckdb.Error, AttributeError, TypeError, ValueError):
            duck = type_name
        out.append((str(name), protocol.type_oid(duck, session.auto_to_json)))
    return out

"""The datasets a query reads (``_links.referenced_datasets``): the tables its statements read, found by DuckDB's
parser, resolved to the sandbox's datasets by table name.

A SELECT (and the SELECT of a CTAS or ITAS, never its target) is parsed into DuckDB's JSON parse tree
(``json_serialize_sql``) whose ``BASE_TABLE`` nodes are the tables read, less the names of common table
expressions in scope. The parse tree is preferred to ``get_table_names`` because the latter also binds the
statement and fails on ``JOIN ... USING``; it remains the fallback for statements DuckDB does not serialize
(``EXPLAIN``, ``PIVOT``, ``CREATE VIEW``). Names that are no dataset (``information_schema``, views, tables that
do not exist) are left out: Adobe lists datasets, and resolves them once the query is ``IN_PROGRESS``.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from ..catalog.models import PREFIX as CATALOG_PREFIX
from ..core.state import Store
from . import sql as sqltext
from .engine import engine

#: Statement kinds that read tables: a read or view reads its whole text, a CTAS/ITAS its SELECT.
_READERS = frozenset({"read", "view", "ctas", "itas"})


def dataset_link(base_url: str, dataset_id: str) -> dict[str, str]:
    """``{"id", "href"}`` of a dataset, the href its absolute Catalog URL."""
    return {"id": dataset_id, "href": f"{base_url}{CATALOG_PREFIX}/dataSets/{dataset_id}"}


def read_tables(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The tables one SELECT-like statement reads, in order of appearance (a name may repeat)."""
    try:
        rows = cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
        tree = json.loads(rows[0][0])
    except (duckdb.Error, ValueError, IndexError, TypeError):
        tree = {"error": True}
    if isinstance(tree, dict) and not tree.get("error"):
        found: list[str] = []
        _walk(tree.get("statements"), frozenset(), found)
        return found
    try:
        return sorted(cursor.get_table_names(sql))
    except duckdb.Error:  # SQL DuckDB cannot parse reads nothing; the query itself reports the error
        return []


def _walk(node: Any, ctes: frozenset[str], found: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes, found)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        names = {str(entry.get("key", "")).lower() for entry in cte_map.get("map") or [] if isinstance(entry, dict)}
        ctes = ctes | names
    name = node.get("table_name")
    if node.get("type") == "BASE_TABLE" and isinstance(name, str):
        # a schema-qualified name is never a CTE; an unqualified one is when a WITH in scope defines it
        if node.get("schema_name") or name.lower() not in ctes:
            found.append(name)
        return
    for value in node.values():
        _walk(value, ctes, found)


def referenced_datasets(store: Store, sql: str) -> list[str]:
    """Ids of the datasets the statements of ``sql`` read, first reference first (the caller holds the lock)."""
    sql_engine = engine(store)
    by_name: dict[str, str] = {}
    for name, dataset in sql_engine.names().items():
        # DuckDB resolves table names case-insensitively, quoted or not
        by_name.setdefault(name.lower(), dataset["id"])
    statements = [sqltext.classify(text) for text in sqltext.split(sql)]
    reading = [s.select if s.kind in ("ctas", "itas") else s.text for s in statements if s.kind in _READERS]
    if not reading:
        return []
    ids: list[str] = []
    cursor = sql_engine.cursor()
    try:
        for text in reading:
            for table in read_tables(cursor, text):
                dataset_id = by_name.get(table.lower())
                if dataset_id is not None and dataset_id not in ids:
                    ids.append(dataset_id)
    finally:
        cursor.close()
    return ids


def merge(known: list[str] | None, more: list[str]) -> list[str]:
    """``known`` followed by the ids of ``more`` it lacks."""
    out = list(known or [])
    out.extend(i for i in more if i not in out)
    return out

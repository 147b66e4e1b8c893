"""The SQL engine of one org's sandbox: an in-memory DuckDB database whose tables are the sandbox's datasets.

Every Catalog dataset is a table named as Query Service names it (its ``adobe/pqs/table`` tag, else the dataset
name lower-cased with non-alphanumerics as ``_``); its columns come from the dataset's XDM schema, its rows from
the records landed in it (``CatalogBackend.landed``, loaded as Arrow batches: :mod:`.duck_arrow`).
:meth:`SqlEngine.sync` rebuilds only the tables whose dataset, schema or landed batches changed since the last
statement. The caller holds the state lock while
syncing (it reads Catalog), and every DuckDB write happens under :attr:`SqlEngine.write_lock`; reads run on
their own cursors. File access and extension loading are switched off: SQL from a client reads only datasets.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .. import schema_registry
from ..catalog.models import backend as catalog
from ..core.state import Store
from . import duck_arrow, duck_types
from .sql import SqlError, Statement, check_limit, table_name

log = logging.getLogger(__name__)
TABLE_TAG = "adobe/pqs/table"
#: The bookkeeping key of a CTAS dataset: the ad hoc namespace its columns live under in its records.
NAMESPACE_KEY = "_pqsNamespace"
SHOW_TABLES_COLUMNS = ("name", "dataSetId", "dataSet", "description", "resolved")
#: Records per Arrow batch (and per ``INSERT``), which bounds the memory a table build takes.
_INSERT_CHUNK = 10_000
_DUCK_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@dataclass
class Table:
    """A dataset as a table: its name, columns (XDM field as JSON Schema by column) and what it was built from."""

    name: str
    dataset_id: str
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    namespace: str | None = None
    signature: tuple[Any, ...] = ()
    built: bool = False


def translate(exc: Exception) -> SqlError:
    """A DuckDB error as Query Service's SQLSTATE-like error."""
    message = str(exc).split("\n", 1)[0]
    if isinstance(exc, duckdb.ParserException):
        return SqlError("42601", message)
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in message and "Table" in message:
        return SqlError("42P01", message)
    if isinstance(exc, duckdb.CatalogException) and "already exists" in message:
        return SqlError("42P07", message)
    if isinstance(exc, duckdb.PermissionException):
        return SqlError("0A000", f"Not supported: {message}")
    if isinstance(exc, (duckdb.BinderException, duckdb.CatalogException, duckdb.ConversionException)):
        return SqlError("58000", f"Batch query execution gets : [failed reason ErrorCode: 58000 {message}]")
    return SqlError("58000", message, "SYSTEM_ERROR")


def refuse(statement: Statement) -> SqlError:
    """The error for a statement the emulator does not run: a syntax error if DuckDB cannot parse it either."""
    try:
        duckdb.extract_statements(statement.text)
    except duckdb.Error as exc:
        return translate(exc)
    return SqlError("0A000", f"Not supported: {statement.word} statements")


class SqlEngine:
    """DuckDB over one sandbox (``store.backend(SqlEngine)``; gone with the store on reset)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = duckdb.connect(":memory:", config=dict(_DUCK_CONFIG))
        self.write_lock = threading.Lock()
        self.tables: dict[str, Table] = {}

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (one per PostgreSQL connection or REST query)."""
        return self.db.cursor()

    # -- datasets as tables ---------------------------------------------------------------------------
    def names(self) -> dict[str, dict[str, Any]]:
        """Table name -> dataset, in creation order (a second dataset with the same name gets ``_2``...)."""
        out: dict[str, dict[str, Any]] = {}
        for dataset in self.store["dataSets"]:
            tagged = (dataset.get("tags") or {}).get(TABLE_TAG)
            base = tagged[0] if isinstance(tagged, list) and tagged else table_name(str(dataset.get("name") or ""))
            name, n = base, 1
            while name in out:
                n += 1
                name = f"{base}_{n}"
            out[name] = dataset
        return out

    def dataset_of(self, name: str) -> dict[str, Any] | None:
        return self.names().get(name)

    def sync(self) -> None:
        """Bring the tables up to Catalog (the caller holds the state lock)."""
        landed = catalog(self.store).landed
        wanted = self.names()
        with self.write_lock:
            for name, dataset in wanted.items():
                schema_id = (dataset.get("schemaRef") or {}).get("id", "")
                schema = schema_registry.find_schema(self.store, schema_id) or {}
                meta = schema.get("meta:registryMetadata") or {}
                batches = landed.get(dataset["id"], {})
                signature = (
                    name,
                    schema_id,
                    schema.get("version"),
                    meta.get("repo:lastModifiedDate"),
                    tuple((batch_id, len(records)) for batch_id, records in batches.items()),
                )
                table = self.tables.get(dataset["id"])
                if table is not None and table.signature == signature:
                    continue
                if table is not None and table.name != name:
                    self._drop(table.name)
                self.tables[dataset["id"]] = self._build(name, dataset, schema_id, signature)
            for dataset_id in [d for d in self.tables if d not in {ds["id"] for ds in wanted.values()}]:
                self._drop(self.tables.pop(dataset_id).name)

    def _drop(self, name: str) -> None:
        self.db.execute(f"DROP TABLE IF EXISTS {duck_types.quote_ident(name)}")

    def _build(self, name: str, dataset: dict[str, Any], schema_id: str, signature: tuple[Any, ...]) -> Table:
        table = Table(name, dataset["id"], signature=signature, namespace=dataset.get(NAMESPACE_KEY))
        try:
            record_schema = schema_registry.record_json_schema(self.store, schema_id, primary_identity=False)
        except schema_registry.ApiError:
            self._drop(name)
            return table
        properties = record_schema.get("properties") or {}
        if table.namespace and isinstance(properties.get(table.namespace), dict):
            properties = properties[table.namespace].get("properties") or {}
        table.columns = {k: v for k, v in properties.items() if isinstance(v, dict)}
        if not table.columns:
            self._drop(name)
            return table
        ddl = ", ".join(f"{duck_types.quote_ident(k)} {duck_types.sql_type(v)}" for k, v in table.columns.items())
        quoted = duck_types.quote_ident(name)
        try:
            self.db.execute(f"CREATE OR REPLACE TABLE {quoted} ({ddl})")
            for records in self._chunks(table):
                self._insert(table, quoted, records)
            table.built = True
        except duckdb.Error:  # a schema DuckDB cannot hold (e.g. names equal but for case): no table
            log.exception("query service: dataset %s cannot be a table", dataset["id"])
            self._drop(name)
        return table

    def _chunks(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        """The dataset's landed records (its CTAS namespace's part, if any), ``_INSERT_CHUNK`` at a time."""
        chunk: list[dict[str, Any]] = []
        for records in catalog(self.store).landed.get(table.dataset_id, {}).values():
            for record in records:
                chunk.append((record.get(table.namespace) or {}) if table.namespace else record)
                if len(chunk) >= _INSERT_CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _insert(self, table: Table, quoted: str, records: list[dict[str, Any]]) -> None:
        """One chunk as an Arrow batch in one ``INSERT ... SELECT`` (0.64 ms a row bound one by one, with
        ``executemany``, was 70 s per 100,000 rows); rows with a value Arrow would not carry exactly as DuckDB's
        parameter binding does go the per-row way, so the table holds the same values either way."""
        try:
            batch = duck_arrow.record_batch(table.columns, records)
        except duck_arrow.UNFIT_ERRORS:
            batch = None
        if batch is not None:
            view = f"_pqs_load_{uuid.uuid4().hex}"  # a name no dataset table has
            self.db.register(view, batch)
            try:
                self.db.execute(f"INSERT INTO {quoted} SELECT * FROM {view}")
                return
            except duckdb.Error:
                log.debug("query service: Arrow load of %s failed, binding its rows", table.name, exc_info=True)
            finally:
                self.db.unregister(view)
        rows = [[duck_types.to_column(node, r.get(name)) for name, node in table.columns.items()] for r in records]
        marks = ", ".join("?" for _ in table.columns)
        self.db.executemany(f"INSERT INTO {quoted} VALUES ({marks})", rows)

    def table(self, name: str) -> Table | None:
        dataset = self.dataset_of(name)
        return None if dataset is None else self.tables.get(dataset["id"])

    def show_tables(self) -> list[tuple[Any, ...]]:
        """``SHOW TABLES`` rows: ``name, dataSetId, dataSet, description, resolved`` (Adobe's columns)."""
        return [
            (name, dataset["id"], dataset.get("name", ""), dataset.get("description", ""), False)
            for name, dataset in self.names().items()
        ]

    # -- running statements ---------------------------------------------------------------------------
    def execute(self, cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one read statement on ``cursor`` (errors as :class:`SqlError`); rows are fetched by the caller."""
        check_limit(sql)
        try:
            return cursor.execute(sql, list(params) if params else None)
        except duckdb.Error as exc:
            raise translate(exc) from exc

    def write(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """A DuckDB statement that changes the database (views), under the write lock."""
        with self.write_lock:
            try:
                self.db.execute(sql, list(params) if params else None)
            except duckdb.Error as exc:
                raise translate(exc) from exc


def engine(store: Store) -> SqlEngine:
    return store.backend(SqlEngine)

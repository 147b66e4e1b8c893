"""What Query Service writes to Catalog: CREATE TABLE AS SELECT (a new dataset with an ad hoc XDM schema, or the
schema named by title, and one batch of the rows), INSERT INTO ... SELECT (a batch into a dataset whose schema
must accept the SELECT's columns) and DROP TABLE (of tables Query Service created). The caller holds the state
lock; rows are read from DuckDB in chunks and land in ``CatalogBackend.landed`` like any ingested batch."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import schema_registry
from ..catalog.models import add_batch
from ..catalog.models import backend as catalog
from ..core.state import EmulatorState, Store
from ..schema_registry import standard as std
from ..schema_registry.backend import SchemaRegistryBackend
from ..schema_registry.kinds import CLASSES, SCHEMAS
from . import duck_types
from .engine import NAMESPACE_KEY, TABLE_TAG, SqlEngine
from .sql import SqlError

#: Catalog's ``createdClient`` of what Query Service writes.
CLIENT = "acp_foundation_queryService"
_FIELD = re.compile(r"[A-Za-z0-9_]+")
_TABLE = re.compile(r"[a-z_][a-z0-9_]*")
_FETCH = 1000
#: Marks a dataset that Query Service created (only those can be dropped, as Adobe's ``42501`` says).
CREATED_KEY = "_pqsCreated"


@dataclass
class Written:
    """A write's outcome: the dataset and batch it touched and how many rows landed."""

    dataset_id: str
    batch_id: str | None
    rows: int


class Writer:
    """Writes of one caller into one sandbox.

    :param state: the emulator state (clock, sequence numbers).
    :param store: the sandbox.
    :param engine: the sandbox's SQL engine.
    :param client_id: the caller's client id (``createdUser`` of what it creates).
    """

    def __init__(self, state: EmulatorState, store: Store, engine: SqlEngine, client_id: str) -> None:
        self.state = state
        self.store = store
        self.engine = engine
        self.client_id = client_id

    # -- CTAS -------------------------------------------------------------------------------------------
    def create_table_as(
        self,
        table: str,
        select: str,
        params: Sequence[Any] | None = None,
        *,
        dataset_name: str | None = None,
        description: str = "",
        schema_title: str | None = None,
        if_not_exists: bool = False,
    ) -> Written | None:
        self.engine.sync()
        existing = self.engine.dataset_of(table)
        if existing is not None:
            if if_not_exists:
                return None
            raise SqlError("42P07", f"Table '{table}' already exists")
        if not _TABLE.fullmatch(table) or "__" in table:
            raise SqlError("42601", f"Invalid table name '{table}': use lower-case letters, digits and single '_'")
        cursor = self.engine.cursor()
        self.engine.execute(cursor, select, params)
        columns = [(str(d[0]), d[1]) for d in cursor.description or []]
        _check_names(columns)
        namespace: str | None = None
        if schema_title:
            schema = self._schema_titled(schema_title)
            schema_id = schema["$id"]
            _check_fit(columns, _fields(self.store, schema_id, None), table)
        else:
            schema_id, namespace = self._adhoc_schema(dataset_name or table, columns)
        dataset_id = self._dataset(dataset_name or table, description, schema_id, table, namespace)
        return self._land(dataset_id, cursor, columns, namespace)

    def _schema_titled(self, title: str) -> dict[str, Any]:
        registry = schema_registry.Registry(self.store)
        for doc in registry.collection(SCHEMAS):
            if doc.get("title") == title:
                return doc
        raise SqlError("58000", f"Target schema '{title}' (targetSchemaTitle) was not found in this sandbox")

    def _registry(self) -> SchemaRegistryBackend:
        return SchemaRegistryBackend(
            self.store, client_id=self.client_id, now_ms=self.state.clock.now_ms(), next_seq=self.state.next_seq
        )

    def _adhoc_schema(self, name: str, columns: list[tuple[str, Any]]) -> tuple[str, str]:
        """An ad hoc class holding the columns (under its dataset namespace) and a schema of it."""
        suffix = secrets.token_hex(4)
        fields = {column: duck_types.xdm_field(duck, column) for column, duck in columns}
        registry = self._registry()
        try:
            adhoc = registry.create(
                CLASSES,
                {
                    "type": "object",
                    "title": f"{name} query output class {suffix}",
                    "description": "Ad hoc class of a CREATE TABLE AS SELECT",
                    "allOf": [
                        {"$ref": std.ADHOC},
                        {"properties": {"_adhoc": {"type": "object", "properties": fields}}},
                    ],
                },
            )
            schema = registry.create(
                SCHEMAS,
                {
                    "type": "object",
                    "title": f"{name} query output schema {suffix}",
                    "description": "Ad hoc schema of a CREATE TABLE AS SELECT",
                    "allOf": [{"$ref": adhoc["$id"]}],
                },
            )
        except schema_registry.ApiError as exc:
            raise SqlError("58000", f"The query output cannot be an XDM schema: {exc.body}") from exc
        return schema["$id"], adhoc["meta:datasetNamespace"]

    def _dataset(self, name: str, description: str, schema_id: str, table: str, namespace: str | None) -> str:
        now, dataset_id = self.state.clock.now_ms(), secrets.token_hex(12)
        user = f"{self.client_id}@AdobeID"
        dataset: dict[str, Any] = {
            "id": dataset_id,
            "version": "1.0.0",
            "imsOrg": self.store.org,
            "name": name,
            "description": description,
            "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"},
            "tags": {TABLE_TAG: [table]},
            "created": now,
            "updated": now,
            "createdClient": CLIENT,
            "createdUser": user,
            "updatedUser": user,
            "viewId": secrets.token_hex(12),
            "files": f"@/dataSetFiles?dataSetId={dataset_id}",
            "fileDescription": {"persisted": True, "containerFormat": "parquet", "format": "parquet"},
            "classification": {"dataBehavior": "adhoc" if namespace else "record", "managedBy": "CUSTOMER"},
            CREATED_KEY: True,
            "_seq": self.state.next_seq(),
        }
        if namespace:
            dataset[NAMESPACE_KEY] = namespace
        self.store["dataSets"].add(dataset)
        return dataset_id

    def _land(self, dataset_id: str, cursor: Any, columns: list[tuple[str, Any]], namespace: str | None) -> Written:
        records: list[dict[str, Any]] = []
        names = [name for name, _ in columns]
        while True:
            chunk = cursor.fetchmany(_FETCH)
            if not chunk:
                break
            for row in chunk:
                record = {k: duck_types.to_record_value(v) for k, v in zip(names, row, strict=True) if v is not None}
                records.append({namespace: record} if namespace else record)
        batch_id = secrets.token_hex(13).upper()[:26]
        now = self.state.clock.now_ms()
        catalog(self.store).landed.setdefault(dataset_id, {})[batch_id] = records
        add_batch(
            self.store,
            batch_id=batch_id,
            dataset_id=dataset_id,
            status="success",
            records=len(records),
            failed=0,
            errors=[],
            created_ms=now,
            updated_ms=now,
            seq=self.state.next_seq(),
            client_id=CLIENT,
        )
        return Written(dataset_id, batch_id, len(records))

    # -- ITAS -------------------------------------------------------------------------------------------
    def insert_into(self, table: str, select: str, params: Sequence[Any] | None = None) -> Written:
        self.engine.sync()
        dataset = self.engine.dataset_of(table)
        if dataset is None:
            raise SqlError("42P01", f"Table '{table}' not found")
        namespace = dataset.get(NAMESPACE_KEY)
        fields = _fields(self.store, dataset["schemaRef"]["id"], namespace)
        cursor = self.engine.cursor()
        self.engine.execute(cursor, select, params)
        columns = [(str(d[0]), d[1]) for d in cursor.description or []]
        _check_names(columns)
        _check_fit(columns, fields, table)
        exact = {name.lower(): name for name in fields}
        renamed = [(exact[name.lower()], duck) for name, duck in columns]
        return self._land(dataset["id"], cursor, renamed, namespace)

    # -- DROP -------------------------------------------------------------------------------------------
    def drop_table(self, table: str, if_exists: bool) -> bool:
        self.engine.sync()
        dataset = self.engine.dataset_of(table)
        if dataset is None:
            if if_exists:
                return False
            raise SqlError("42P01", f"Table '{table}' not found")
        if not dataset.get(CREATED_KEY):
            raise SqlError("42501", f"Table '{table}' was not created by Query Service and cannot be dropped")
        self.store["dataSets"].remove(dataset["id"])
        catalog(self.store).landed.pop(dataset["id"], None)
        return True


def _fields(store: Store, schema_id: str, namespace: str | None) -> dict[str, dict[str, Any]]:
    """Top-level fields of a dataset's records (inside the ad hoc namespace of a CTAS dataset)."""
    properties = schema_registry.record_json_schema(store, schema_id, primary_identity=False).get("properties") or {}
    if namespace and isinstance(properties.get(namespace), dict):
        properties = properties[namespace].get("properties") or {}
    return properties


def _check_names(columns: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for name, _ in columns:
        if not _FIELD.fullmatch(name):
            raise SqlError("42601", f"Column '{name}' is not a valid XDM field name: give it an alias (AS name)")
        if name.lower() in seen:
            raise SqlError("42601", f"Column '{name}' appears more than once in the SELECT")
        seen.add(name.lower())


def _check_fit(columns: list[tuple[str, Any]], fields: dict[str, dict[str, Any]], table: str) -> None:
    """Every SELECT column exists in the target schema with a type that can land there."""
    exact = {name.lower(): name for name in fields}
    for name, duck in columns:
        field_name = exact.get(name.lower())
        if field_name is None:
            raise SqlError(
                "58000",
                f"The schema of table '{table}' does not accept the SELECT: column '{name}' is not one of its "
                f"fields ({', '.join(sorted(fields))})",
            )
        problem = duck_types.compatible(duck, fields[field_name], field_name)
        if problem:
            raise SqlError("58000", f"The schema of table '{table}' does not accept the SELECT: {problem}")

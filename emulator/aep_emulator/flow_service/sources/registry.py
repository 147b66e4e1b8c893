"""Emulated table sources, one declaration each: what explore, source connections and ingestion need.

A table source (HubSpot, Salesforce, ...) is one :class:`EmulatedSource`: its connection spec document (served by
``/connectionSpecs`` and validating ``auth.params`` and source ``params``), how a source connection names its table
(``params.path``, or ``params.tableName`` plus ``params.columns``), the explore column style, its tables as
``(column, kind)`` pairs and how sample rows are made. Nothing else in the emulator knows a source by name:
explore (:mod:`..connections`), source connection checks and ingestion (:mod:`aep_emulator.ingestion`) ask this
registry.

``register_source(declaration)`` adds a source (its spec joins ``specs.CONNECTION_SPECS`` and the
``sourceConnectionSpecIds`` of its flow specs); ``unregister_source(spec_id)`` removes it again. HubSpot and
Salesforce (:mod:`.hubspot`, :mod:`.salesforce`) are registered when the ``sources`` package is imported.

Explore column styles:

* ``"xdm"`` (HubSpot; ``help/sources/tutorials/api/explore/tabular.md``): ``{"name", "type", "xdm": {...}}``
  plus ``meta:xdmType`` for date-times. Kinds: ``id`` (integer id), ``int``, ``long``, ``double``, ``bool``,
  ``ts`` (date-time), ``str``.
* ``"crm"`` (Salesforce; ``help/sources/tutorials/api/explore/crm.md``): ``{"name", "type", "meta":
  {"originalType": kind}}`` and no ``xdm`` block. Kinds are the source's own field types: ``id``,
  ``reference``, ``string``, ``picklist``, ``textarea``, ``email``, ``phone``, ``url`` (type ``string``),
  ``int`` (``integer``), ``double``, ``currency``, ``percent`` (``double``), ``boolean``, ``date``, ``datetime``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...core.errors import flow_error
from .. import specs

Addressing = Literal["path", "tableName"]
ColumnStyle = Literal["xdm", "crm"]
RowMaker = Callable[[str, int], list[dict[str, Any]]]

#: ``xdm`` style: kind -> the column document (after ``name``).
XDM_KINDS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "xdm": {"type": "integer"}},
    "int": {"type": "integer", "xdm": {"type": "integer"}},
    "long": {"type": "long", "xdm": {"type": "integer"}},
    "double": {"type": "double", "xdm": {"type": "number"}},
    "bool": {"type": "boolean", "xdm": {"type": "boolean"}},
    "ts": {"type": "string", "meta:xdmType": "date-time", "xdm": {"type": "string", "format": "date-time"}},
    "str": {"type": "string", "xdm": {"type": "string"}},
}
#: ``crm`` style: kind (= ``meta.originalType``) -> ``type``.
CRM_KINDS: dict[str, str] = {
    "id": "string",
    "reference": "string",
    "string": "string",
    "picklist": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "url": "string",
    "int": "integer",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
KINDS: dict[str, frozenset[str]] = {"xdm": frozenset(XDM_KINDS), "crm": frozenset(CRM_KINDS)}
PREVIEW_ROWS = 5


@dataclass(frozen=True, eq=False)
class EmulatedSource:
    """One emulated table source.

    ``key`` names it in messages and the registry; ``spec`` is its connection spec document (``id``, ``name``,
    ``authSpec`` with JSON schemas marking secrets ``format: password``, ``sourceSpec.spec`` for ``params``;
    ``_``-keys are emulator bookkeeping, see :func:`table_source_spec`). ``tables`` maps a table key to its
    ``(column, kind)`` pairs; explore shows the table as ``table_prefix + key``. ``addressing`` is the source
    ``params`` key naming the table: ``"path"`` (HubSpot) or ``"tableName"`` (CRM sources, with
    ``params.columns`` listing the columns to read). ``rows(table, count)`` makes deterministic sample rows
    (default: :func:`generic_rows` from the column kinds). ``delta_column``, when given, must be a column of
    every table. ``flow_spec_ids`` are the flow specs that accept the source.
    """

    key: str
    spec: Mapping[str, Any]
    tables: Mapping[str, Sequence[tuple[str, str]]]
    addressing: Addressing = "path"
    column_style: ColumnStyle = "xdm"
    table_prefix: str = ""
    delta_column: str | None = None
    rows: RowMaker | None = None
    flow_spec_ids: tuple[str, ...] = (specs.CRM_TO_AEP_FLOW_SPEC_ID,)
    preview_count: int = PREVIEW_ROWS
    docs: str = ""

    @property
    def spec_id(self) -> str:
        return str(self.spec["id"])

    @property
    def name(self) -> str:
        return str(self.spec.get("name", self.key))

    # -- tables -----------------------------------------------------------------------------------
    def table_paths(self) -> list[str]:
        """Explorable table paths, sorted the way the real explore root lists them."""
        return [self.table_prefix + table for table in sorted(self.tables)]

    def table_of(self, path: str) -> str | None:
        """The table key for an explore path (case-sensitive, like the connectors), or ``None``."""
        if not isinstance(path, str) or not path.startswith(self.table_prefix):
            return None
        table = path[len(self.table_prefix) :]
        return table if table in self.tables else None

    def columns(self, table: str) -> list[tuple[str, str]]:
        return list(self.tables[table])

    def column_names(self, table: str) -> list[str]:
        return [name for name, _ in self.tables[table]]

    def column_doc(self, name: str, kind: str) -> dict[str, Any]:
        """One column as explore describes it, in this source's column style."""
        if self.column_style == "crm":
            return {"name": name, "type": CRM_KINDS[kind], "meta": {"originalType": kind}}
        return {"name": name, **copy.deepcopy(XDM_KINDS[kind])}

    def table_schema(self, table: str) -> dict[str, Any]:
        """``{"format": "flat", "schema": {"columns": [...]}}`` for one table."""
        return {"format": "flat", "schema": {"columns": [self.column_doc(c, k) for c, k in self.tables[table]]}}

    def sample_rows(self, table: str, count: int | None = None) -> list[dict[str, Any]]:
        """Deterministic sample rows (every call and every process returns the same data)."""
        count = self.preview_count if count is None else count
        maker = self.rows or (lambda name, n: generic_rows(self, name, n))
        return maker(table, count)

    def explore_root(self) -> list[dict[str, Any]]:
        """``objectType=root``: a bare array of tables."""
        return [
            {"type": "table", "name": path, "path": path, "canPreview": True, "canFetchSchema": True}
            for path in self.table_paths()
        ]

    # -- source connections -----------------------------------------------------------------------
    def table_in(self, params: Any) -> str | None:
        """The table key a source connection's ``params`` read, or ``None``."""
        value = params.get(self.addressing) if isinstance(params, Mapping) else None
        return self.table_of(value) if isinstance(value, str) else None

    def selected_columns(self, params: Mapping[str, Any], table: str) -> list[str]:
        """The columns a source connection reads: its ``params.columns`` names, else every column."""
        listed = params.get("columns") if self.addressing == "tableName" else None
        if isinstance(listed, list) and listed:
            return [str(column["name"]) for column in listed if isinstance(column, Mapping) and "name" in column]
        return self.column_names(table)

    def rows_for(self, params: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
        """The rows a run of a source connection reads: sample rows reduced to its selected columns."""
        table = self.table_in(params)
        if table is None:
            return []
        selected = self.selected_columns(params, table)
        return [{name: row.get(name) for name in selected} for row in self.sample_rows(table, count)]

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse (``1100-400``) source ``params`` naming an unknown table or unknown columns."""
        field = f"params.{self.addressing}"
        value = params.get(self.addressing)
        table = self.table_of(value) if isinstance(value, str) else None
        if table is None:
            raise flow_error(
                "1100-400",
                f"Invalid value for field '{field}': table '{value}' does not exist "
                "(explore the base connection with objectType=root for the table list).",
            )
        listed = params.get("columns") if self.addressing == "tableName" else None
        if not isinstance(listed, list):
            return
        known = set(self.column_names(table))
        seen: set[str] = set()
        for index, column in enumerate(listed):
            name = column.get("name") if isinstance(column, Mapping) else None
            if name not in known:
                raise flow_error(
                    "1100-400",
                    f"Invalid value for field 'params.columns[{index}].name': column '{name}' does not exist in "
                    f"table '{value}' (explore it with objectType=table for its columns).",
                )
            if name in seen:
                raise flow_error(
                    "1100-400",
                    f"Invalid value for field 'params.columns[{index}].name': column '{name}' is listed twice.",
                )
            seen.add(name)


# -- generic sample rows ----------------------------------------------------------------------------
_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
_BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _generic_value(kind: str, rng: random.Random, table: str, index: int) -> Any:
    if kind in ("id", "reference"):
        return f"{table[:3].upper()}{index:04d}{rng.getrandbits(24):06x}"
    if kind in ("int", "long"):
        return rng.randint(1, 5000)
    if kind in ("double", "currency", "percent"):
        return round(rng.uniform(10, 50000), 2)
    if kind in ("bool", "boolean"):
        return rng.random() < 0.5
    moment = _BASE_TIME + dt.timedelta(seconds=rng.randint(0, 365 * 86400))
    if kind == "ts":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "datetime":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if kind == "date":
        return moment.strftime("%Y-%m-%d")
    if kind == "email":
        return f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}@example.com"
    if kind == "phone":
        return f"+1 555 {rng.randint(1000000, 9999999)}"
    if kind == "url":
        return f"https://{rng.choice(_WORDS)}.example.com"
    return " ".join(rng.choice(_WORDS) for _ in range(2)).title()


def generic_rows(source: EmulatedSource, table: str, count: int) -> list[dict[str, Any]]:
    """Rows made from the column kinds, seeded by source and table; the delta column never decreases."""
    seed = int.from_bytes(hashlib.sha256(f"{source.key}:{table}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    rows = [
        {name: _generic_value(kind, rng, table, index) for name, kind in source.tables[table]} for index in range(count)
    ]
    delta = source.delta_column
    if delta is not None:  # ISO strings of one format sort chronologically
        for row, value in zip(rows, sorted(row[delta] for row in rows), strict=True):
            row[delta] = value
    return rows


# -- connection spec documents ----------------------------------------------------------------------
def table_source_spec(
    spec_id: str,
    name: str,
    auth_specs: Sequence[Mapping[str, Any]],
    *,
    addressing: Addressing = "path",
    label: str | None = None,
    category: str = "CRM",
) -> dict[str, Any]:
    """A connection spec document for a table source (what a test-only source needs to register).

    ``auth_specs`` are ``{"name", "type"?, "spec": <JSON schema of auth.params>}``; secrets carry
    ``format: password`` so they are masked. ``sourceSpec.spec`` is :data:`specs.PATH_PARAMS_SPEC` or
    :data:`specs.TABLE_NAME_PARAMS_SPEC` after ``addressing``.
    """
    params_spec = specs.PATH_PARAMS_SPEC if addressing == "path" else specs.TABLE_NAME_PARAMS_SPEC
    return {
        "id": spec_id,
        "name": name,
        "providerId": specs.SOURCES_PROVIDER_ID,
        "version": "1.0",
        "authSpec": [{"type": auth.get("type", auth["name"]), **copy.deepcopy(dict(auth))} for auth in auth_specs],
        "sourceSpec": {
            "name": name,
            "type": category,
            "spec": params_spec,
            "attributes": {"uiAttributes": {"isSource": True, "label": label or name, "category": category.lower()}},
        },
        "exploreSpec": copy.deepcopy(specs.TABULAR_EXPLORE_SPEC),
        "attributes": specs.table_source_attributes(category, label or name),
        "permissionsInfo": specs.PERMISSIONS,
        **copy.deepcopy(specs.TABLE_SOURCE_BOOKKEEPING),
    }


# -- the registry -----------------------------------------------------------------------------------
_REGISTRY: dict[str, EmulatedSource] = {}
_ADDED_TO_FLOWS: dict[str, list[str]] = {}
_LOCK = threading.Lock()


def _check_declaration(source: EmulatedSource) -> None:
    spec = source.spec
    for key in ("id", "name", "version", "authSpec", "sourceSpec"):
        if key not in spec:
            raise ValueError(f"source {source.key!r}: the connection spec needs {key!r}")
    params = spec["sourceSpec"].get("spec", {})
    if source.addressing not in (params.get("properties") or {}):
        raise ValueError(f"source {source.key!r}: sourceSpec.spec has no property {source.addressing!r}")
    if source.column_style not in KINDS:
        raise ValueError(f"source {source.key!r}: unknown column style {source.column_style!r}")
    if not source.tables:
        raise ValueError(f"source {source.key!r}: no tables")
    for table, columns in source.tables.items():
        names = [name for name, _ in columns]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"source {source.key!r}: table {table!r} needs distinct columns")
        unknown = sorted({kind for _, kind in columns} - KINDS[source.column_style])
        if unknown:
            raise ValueError(f"source {source.key!r}: table {table!r} uses unknown kinds {unknown}")
        if source.delta_column is not None and source.delta_column not in names:
            raise ValueError(f"source {source.key!r}: table {table!r} lacks the delta column {source.delta_column!r}")
    for flow_spec_id in source.flow_spec_ids:
        if flow_spec_id not in specs.FLOW_SPECS:
            raise ValueError(f"source {source.key!r}: unknown flow spec {flow_spec_id!r}")


def register_source(source: EmulatedSource, *, replace: bool = False) -> EmulatedSource:
    """Add a table source: explore, source connections and ingestion work for its connection spec id.

    Its spec document joins ``specs.CONNECTION_SPECS`` (so ``POST /connections`` validates and masks its auth
    params) and the ``sourceConnectionSpecIds`` of its flow specs. A spec id already registered needs
    ``replace=True``; the id of a non-source spec (Amazon S3, Data Lake) is refused. Returns ``source``.
    """
    _check_declaration(source)
    spec_id = source.spec_id
    with _LOCK:
        existing = specs.CONNECTION_SPECS.get(spec_id)
        if spec_id in _REGISTRY and not replace:
            raise ValueError(f"a source is already registered for connection spec {spec_id} ({_REGISTRY[spec_id].key})")
        if existing is not None and spec_id not in _REGISTRY and existing is not source.spec:
            raise ValueError(f"connection spec {spec_id} ({existing.get('name')}) is not a registered table source")
        if spec_id in _REGISTRY:
            _remove(spec_id)
        doc = source.spec if isinstance(source.spec, dict) else dict(source.spec)
        specs.CONNECTION_SPECS[spec_id] = doc
        added = []
        for flow_spec_id in source.flow_spec_ids:
            allowed = specs.FLOW_SPECS[flow_spec_id]["sourceConnectionSpecIds"]
            if spec_id not in allowed:
                allowed.append(spec_id)
                added.append(flow_spec_id)
        _ADDED_TO_FLOWS[spec_id] = added
        _REGISTRY[spec_id] = source
    return source


def _remove(spec_id: str) -> EmulatedSource | None:
    source = _REGISTRY.pop(spec_id, None)
    if source is None:
        return None
    specs.CONNECTION_SPECS.pop(spec_id, None)
    for flow_spec_id in _ADDED_TO_FLOWS.pop(spec_id, []):
        allowed = specs.FLOW_SPECS[flow_spec_id]["sourceConnectionSpecIds"]
        if spec_id in allowed:
            allowed.remove(spec_id)
    return source


def unregister_source(source: EmulatedSource | str) -> EmulatedSource | None:
    """Remove a source (by declaration, connection spec id or key); returns it, or ``None`` if unknown.

    Its spec leaves ``/connectionSpecs`` and the flow specs it was added to. Meant for tests; stored
    connections of the source stay readable but can no longer explore or create source connections.
    """
    with _LOCK:
        if isinstance(source, EmulatedSource):
            spec_id = source.spec_id
        else:
            spec_id = next((s.spec_id for s in _REGISTRY.values() if source in (s.spec_id, s.key)), source)
        return _remove(spec_id)


def for_spec(spec_id: Any) -> EmulatedSource | None:
    """The registered source of a connection spec id, or ``None`` (not a table source)."""
    return _REGISTRY.get(spec_id) if isinstance(spec_id, str) else None


def get_source(key: str) -> EmulatedSource:
    """A registered source by key (``"hubspot"``, ``"salesforce"``); ``KeyError`` if unknown."""
    for source in list(_REGISTRY.values()):
        if source.key == key:
            return source
    raise KeyError(key)


def registered_sources() -> list[EmulatedSource]:
    """Every registered source, in registration order."""
    return list(_REGISTRY.values())

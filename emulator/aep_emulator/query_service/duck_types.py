"""Between XDM and DuckDB: column types from a dataset's schema (as the JSON Schema its records satisfy), records
as rows, and rows back as records (CTAS/ITAS) and as XDM fields (the ad hoc schema a CTAS dataset gets).

XDM objects are STRUCTs (so ``_tenant.hubspot.email`` works), arrays LISTs, ``date-time`` strings TIMESTAMPs,
maps and objects without fields JSON. Integers are BIGINT whatever their XDM width: a table must accept every
value its schema allows, and the narrower widths only constrain what lands.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any

#: DuckDB's spelling of a column type, for DDL.
SqlType = str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_type(node: dict[str, Any]) -> SqlType:
    """The DuckDB type of one field of a record JSON Schema (:func:`~..schema_registry.record_json_schema`)."""
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties")
        if not isinstance(properties, dict) or not properties:
            return "JSON"
        return "STRUCT(" + ", ".join(f"{quote_ident(k)} {sql_type(v)}" for k, v in properties.items()) + ")"
    if kind == "array":
        items = node.get("items")
        return f"{sql_type(items) if isinstance(items, dict) else 'JSON'}[]"
    if kind == "integer":
        return "BIGINT"
    if kind == "number":
        return "DOUBLE"
    if kind == "boolean":
        return "BOOLEAN"
    if kind == "string":
        return {"date-time": "TIMESTAMP", "date": "DATE"}.get(str(node.get("format")), "VARCHAR")
    return "JSON"


def as_timestamp(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def as_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


Leaf = Callable[[dict[str, Any], Any], Any]


def convert(node: dict[str, Any], value: Any, leaf: Leaf) -> Any:
    """A record value shaped for the column of ``node``: structs get every field, lists their items, an object
    without declared fields and an untyped array's items become JSON text; ``leaf`` converts the scalars."""
    if value is None:
        return None
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties")
        if not isinstance(properties, dict) or not properties:
            return json.dumps(value)
        if not isinstance(value, dict):
            return None
        return {k: convert(v, value.get(k), leaf) for k, v in properties.items()}
    if kind == "array":
        items = node.get("items")
        if not isinstance(value, list):
            return None
        return [convert(items, v, leaf) if isinstance(items, dict) else json.dumps(v) for v in value]
    return leaf(node, value)


def _column_leaf(node: dict[str, Any], value: Any) -> Any:
    kind = node.get("type")
    if kind == "string" and node.get("format") == "date-time":
        return as_timestamp(value)
    if kind == "string" and node.get("format") == "date":
        return as_date(value)
    if kind in ("integer", "number", "boolean", "string"):
        return value
    return json.dumps(value)


def to_column(node: dict[str, Any], value: Any) -> Any:
    """A record value as the Python value DuckDB binds to :func:`sql_type` (structs get every field)."""
    return convert(node, value, _column_leaf)


def to_record_value(value: Any) -> Any:
    """A DuckDB result value as JSON (what a CTAS/ITAS batch lands): ISO timestamps, nulls of structs dropped."""
    if isinstance(value, dict):
        return {str(k): to_record_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_record_value(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def xdm_field(duck: Any, title: str) -> dict[str, Any]:
    """An XDM field (JSON Schema with a title) for a DuckDB result type (``DuckDBPyType``)."""
    kind = duck.id
    if kind == "struct":
        return {
            "type": "object",
            "title": title,
            "properties": {str(name): xdm_field(child, str(name)) for name, child in duck.children},
        }
    if kind == "list":
        return {"type": "array", "title": title, "items": xdm_field(duck.children[0][1], title)}
    if kind in ("tinyint", "smallint", "integer", "utinyint", "usmallint"):
        return {"type": "integer", "title": title}
    if kind in ("bigint", "hugeint", "uinteger", "ubigint", "uhugeint"):
        return {"type": "integer", "title": title, "meta:xdmType": "long"}
    if kind in ("float", "double", "decimal"):
        return {"type": "number", "title": title}
    if kind == "boolean":
        return {"type": "boolean", "title": title}
    if kind in ("timestamp", "timestamp with time zone", "timestamp_s", "timestamp_ms", "timestamp_ns"):
        return {"type": "string", "format": "date-time", "title": title}
    if kind == "date":
        return {"type": "string", "format": "date", "title": title}
    return {"type": "string", "title": title}


def compatible(duck: Any, node: dict[str, Any], path: str) -> str | None:
    """Why a SELECT column of type ``duck`` cannot land in schema field ``node`` (``None`` when it can)."""
    kind = node.get("type")
    have = duck.id
    if kind == "object" and isinstance(node.get("properties"), dict) and node["properties"]:
        if have != "struct":
            return f"column '{path}' is {duck} but the schema has an object there"
        for name, child in duck.children:
            field = node["properties"].get(str(name))
            if field is None:
                return f"field '{path}.{name}' is not defined in the target dataset's schema"
            problem = compatible(child, field, f"{path}.{name}")
            if problem:
                return problem
        return None
    if kind == "array":
        if have != "list":
            return f"column '{path}' is {duck} but the schema has an array there"
        items = node.get("items")
        return compatible(duck.children[0][1], items, f"{path}[]") if isinstance(items, dict) else None
    numeric = ("tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger", "ubigint")
    wanted = {
        "integer": numeric,
        "number": (*numeric, "float", "double", "decimal"),
        "boolean": ("boolean",),
    }.get(str(kind))
    if wanted is not None and have not in wanted and have != '"null"':
        return f"column '{path}' is {duck} but the schema field is {kind}"
    if kind == "string" and have in ("struct", "list", "map"):
        return f"column '{path}' is {duck} but the schema field is a string"
    return None

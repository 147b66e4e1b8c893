"""Landed records as Arrow record batches, so a dataset's table is filled by one ``INSERT ... SELECT`` per batch
(DuckDB scans Arrow natively) instead of one bound statement per row.

The Arrow types mirror :func:`.duck_types.sql_type` (structs, lists, ``TIMESTAMP``, ``DATE``; ``JSON`` columns
travel as strings and DuckDB casts them on insert) and the values mirror :func:`.duck_types.to_column`. pyarrow
converts some values DuckDB's parameter binding treats otherwise (``1.0`` into an integer, an integer into a
timestamp), so :func:`arrow_value` accepts only the Python types each column kind is made of and raises
:class:`Unfit` for anything else: the caller then loads those rows the per-row way, which keeps today's results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .duck_types import as_date, as_timestamp, convert

#: What a failed conversion raises (pyarrow's own errors included): load those rows row by row instead.
UNFIT_ERRORS: tuple[type[Exception], ...] = (pa.ArrowException, TypeError, ValueError, OverflowError)


class Unfit(TypeError):
    """A value whose Python type is not the one its column kind is built from."""


def arrow_type(node: dict[str, Any]) -> pa.DataType:
    """The Arrow type of one record JSON Schema field (the counterpart of :func:`.duck_types.sql_type`)."""
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties")
        if not isinstance(properties, dict) or not properties:
            return pa.string()
        return pa.struct([pa.field(k, arrow_type(v)) for k, v in properties.items()])
    if kind == "array":
        items = node.get("items")
        return pa.list_(arrow_type(items) if isinstance(items, dict) else pa.string())
    if kind == "integer":
        return pa.int64()
    if kind == "number":
        return pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "string":
        return {"date-time": pa.timestamp("us"), "date": pa.date32()}.get(str(node.get("format")), pa.string())
    return pa.string()


def _arrow_leaf(node: dict[str, Any], value: Any) -> Any:
    kind = node.get("type")
    value_type = type(value)
    if kind == "string":
        if value_type is not str:
            raise Unfit(value_type.__name__)
        fmt = node.get("format")
        return as_timestamp(value) if fmt == "date-time" else as_date(value) if fmt == "date" else value
    if kind == "integer" and value_type is int:
        return value
    if kind == "number" and value_type in (int, float):
        return value
    if kind == "boolean" and value_type is bool:
        return value
    if kind in ("integer", "number", "boolean"):
        raise Unfit(value_type.__name__)
    return json.dumps(value)


def arrow_value(node: dict[str, Any], value: Any) -> Any:
    """:func:`.duck_types.to_column`'s value, or :class:`Unfit` when pyarrow might convert it differently."""
    return convert(node, value, _arrow_leaf)


def record_batch(columns: dict[str, dict[str, Any]], records: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    """``records`` as one batch with a column per field of ``columns`` (raises one of :data:`UNFIT_ERRORS`)."""
    arrays = []
    for name, node in columns.items():
        values = [arrow_value(node, record.get(name)) for record in records]
        arrays.append(pa.array(values, type=arrow_type(node)))
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))

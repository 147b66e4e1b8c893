"""Columns inferred from a sample of a file: a Parquet schema, a CSV header and first rows, the first JSON lines.

The result is what a DAG would declare (:mod:`airflow_provider_aep.client.columns`): column name -> type, a
dotted name for a field of a nested object. Only the sample is read, from a stream: the Parquet footer
(``pyarrow``, the provider's ``parquet`` extra), the CSV header and ``sample_rows`` rows, the first
``sample_rows`` JSON lines. ``source`` is a local path or anything with ``open()`` and ``exists()``, such as
Airflow's ``ObjectStoragePath``. No Airflow and no HTTP here; mistakes are ``XDMError`` naming the argument.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator
from datetime import date, datetime
from itertools import islice
from typing import IO, Any

from airflow_provider_aep.client.xdm import XDMError

FORMATS = ("csv", "jsonl", "parquet")
SUFFIXES = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PARQUET_EXTRA = "pip install 'airflow-provider-aep[parquet]'"
_INT32 = 2**31 - 1
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def file_format_of(source: Any, file_format: str | None) -> str:
    """``file_format`` checked, or the format the file name's suffix says."""
    if file_format is not None:
        if not isinstance(file_format, str) or file_format.lower() not in FORMATS:
            raise XDMError("file_format", f"must be one of {', '.join(FORMATS)}, got {file_format!r}")
        return file_format.lower()
    name = str(source)
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SUFFIXES:
        raise XDMError("file_format", f"cannot tell the format of {name!r} from its suffix; give one of {FORMATS}")
    return SUFFIXES[suffix]


def stem_of(source: Any) -> str:
    """The file's name without its suffix (``signups`` of ``s3://bucket/signups.csv``)."""
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(source)
    return os.path.splitext(os.path.basename(name.rstrip("/")))[0]


def _open(source: Any, argument: str) -> IO[bytes]:
    """A binary stream of the file; ``XDMError`` naming ``argument`` when it is not a file that exists.

    A ``pathlib.Path`` or an ``ObjectStoragePath`` opens itself (an ``s3://`` path is not a local file name).
    """
    if isinstance(source, str):
        if not os.path.isfile(source):
            raise XDMError(argument, f"{source!r} is not a file that exists")
        return open(source, "rb")  # the caller closes it
    is_file = getattr(source, "is_file", None)
    if not callable(is_file) or not callable(getattr(source, "open", None)):
        raise XDMError(argument, f"must be a path or an ObjectStoragePath, got {type(source).__name__}")
    if not is_file():
        raise XDMError(argument, f"{str(source)!r} is not a file that exists")
    return source.open("rb")


def infer_columns(
    source: Any,
    file_format: str | None = None,
    *,
    sample_rows: int = 100,
    declared: Collection[str] = (),
    argument: str = "infer_from",
) -> dict[str, str]:
    """Column name -> type (``string``, ``integer``, ``long``, ``number``, ``boolean``, ``date``, ``date-time``).

    A column whose type cannot be told (a list, a Parquet map or binary) fails, unless it is in ``declared``
    (the DAG declares its type): it is then left out here.
    """
    fmt = file_format_of(source, file_format)
    if fmt == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401 -- checked before the file is opened
        except ImportError:
            raise XDMError("file_format", f"reading a Parquet sample needs pyarrow: {PARQUET_EXTRA}") from None
    with _open(source, argument) as stream:
        if fmt == "parquet":
            found = _parquet_columns(stream, argument)
        else:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            found = (
                _csv_columns(text, sample_rows, argument)
                if fmt == "csv"
                else _jsonl_columns(text, sample_rows, argument)
            )
    untyped = [name for name, kind in found.items() if kind is None and name not in declared]
    if untyped:
        raise XDMError(
            argument,
            f"column(s) {untyped} hold values with no XDM type here (lists, maps, binary); "
            f"declare them, e.g. columns={{{untyped[0]!r}: 'string'}}",
        )
    typed = {name: kind for name, kind in found.items() if kind is not None}
    if not typed and not declared:
        raise XDMError(argument, f"{str(source)!r} has no columns in its sample")
    return typed


def value_type(text: str) -> str | None:
    """The type a CSV cell's text reads as; None for an empty cell (it says nothing)."""
    value = text.strip()
    if not value:
        return None
    if _INTEGER.match(value):
        return "integer" if abs(int(value)) <= _INT32 else "long"
    if _NUMBER.match(value):
        return "number"
    if value.lower() in ("true", "false"):
        return "boolean"
    return _string_type(value)


def _string_type(value: str) -> str:
    if _DATE.match(value):
        try:
            date.fromisoformat(value)
            return "date"
        except ValueError:
            return "string"
    if _DATE_TIME.match(value):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return "date-time"
        except ValueError:
            return "string"
    return "string"


def merged_type(types: Iterable[str]) -> str:
    """One type for a column's sampled values: a mix of integers and numbers is a number, anything else mixed a
    string, a column with no values a string."""
    found = set(types)
    if not found:
        return "string"
    if found <= {"integer", "long", "number"}:
        return "number" if "number" in found else ("long" if "long" in found else "integer")
    return found.pop() if len(found) == 1 else "string"


def _csv_columns(text: IO[str], sample_rows: int, argument: str) -> dict[str, str | None]:
    reader = csv.reader(text)
    header = next(reader, None)
    if not header:
        raise XDMError(argument, "the CSV file has no header row")
    header = [name.strip() for name in header]
    if len(set(header)) != len(header) or not all(header):
        raise XDMError(argument, f"the CSV header has an empty or repeated column name: {header}")
    seen: list[list[str]] = [[] for _ in header]
    for row in islice(reader, sample_rows):
        for index, cell in enumerate(row[: len(header)]):
            kind = value_type(cell)
            if kind is not None:
                seen[index].append(kind)
    return {name: merged_type(kinds) for name, kinds in zip(header, seen, strict=True)}


def _jsonl_columns(text: IO[str], sample_rows: int, argument: str) -> dict[str, str | None]:
    seen: dict[str, list[str]] = {}
    objects: set[str] = set()
    lines = (line for line in text if line.strip())
    for number, line in enumerate(islice(lines, sample_rows), start=1):
        try:
            record = json.loads(line)
        except ValueError as err:
            raise XDMError(argument, f"JSON line {number} is not JSON: {err}") from None
        if not isinstance(record, dict):
            raise XDMError(argument, f"JSON line {number} is not an object")
        for name, kind in _flatten(record, ""):
            if kind == "object":
                objects.add(name)
                continue
            seen.setdefault(name, [])
            if kind is not None:
                seen[name].append(kind)
    clash = sorted(objects & set(seen))
    if clash:
        raise XDMError(argument, f"{clash[0]!r} is an object in some lines and a value in others")
    return {name: None if "list" in kinds else merged_type(kinds) for name, kinds in seen.items()}


def _flatten(record: dict[str, Any], prefix: str) -> Iterator[tuple[str, str | None]]:
    """``(dotted name, type)`` of every value; ``object`` for each nested object (kept as dotted paths)."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield name, "object"
            yield from _flatten(value, f"{name}.")
        elif isinstance(value, bool):
            yield name, "boolean"
        elif isinstance(value, int):
            yield name, "integer" if abs(value) <= _INT32 else "long"
        elif isinstance(value, float):
            yield name, "number"
        elif isinstance(value, str):
            yield name, _string_type(value.strip())
        elif isinstance(value, list):
            yield name, "list"
        else:  # null: says nothing about the type
            yield name, None


def _parquet_columns(stream: IO[bytes], argument: str) -> dict[str, str | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(stream).schema_arrow  # the footer only
    except pa.ArrowException as err:
        raise XDMError(argument, f"not a readable Parquet file: {err}") from None
    found: dict[str, str | None] = {}

    def visit(fields: Iterable[Any], prefix: str) -> None:
        for field in fields:
            name, kind = f"{prefix}{field.name}", field.type
            if pa.types.is_struct(kind):
                visit(kind, f"{name}.")
            elif pa.types.is_boolean(kind):
                found[name] = "boolean"
            elif pa.types.is_integer(kind):
                small = kind.bit_width < 32 or (kind.bit_width == 32 and pa.types.is_signed_integer(kind))
                found[name] = "integer" if small else "long"
            elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
                found[name] = "number"
            elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
                found[name] = "string"
            elif pa.types.is_timestamp(kind):
                found[name] = "date-time"
            elif pa.types.is_date(kind):
                found[name] = "date"
            else:  # lists, maps, binary, times of day: the DAG must declare them
                found[name] = None

    visit(schema, "")
    return found


__all__ = ["FORMATS", "PARQUET_EXTRA", "file_format_of", "infer_columns", "merged_type", "stem_of", "value_type"]

"""Reading spooled batch files record by record: JSON Lines, a JSON array (``isMultiLineJson``), CSV, Parquet.

Each reader yields :class:`Row` values and never holds a whole file: JSON Lines and CSV read line by line, a JSON
array is decoded object by object from a bounded buffer, Parquet is read in record batches through ``pyarrow``.
A problem with the whole file (empty CSV header row, unreadable Parquet) raises :class:`FileError`.
Values are then converted to the schema's types where Adobe converts them (:func:`coerce`).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: How much of a JSON array file is read at a time.
_CHUNK = 64 * 1024


class FileError(Exception):
    """A problem with a whole file (the batch fails with ``code``).

    :param code: the batch error code (``118``, ``INGEST-1401-400``...).
    :param message: its description.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Row:
    """One input row: a parsed ``record``, or the ``corrupt`` text of a row that could not be read."""

    record: dict[str, Any] | None = None
    corrupt: str | None = None


def rows(path: Path, input_format: dict[str, Any]) -> Iterator[Row]:
    """The rows of one spooled file in the batch's ``inputFormat``."""
    fmt = input_format.get("format", "json")
    if fmt == "csv":
        return _csv_rows(path, input_format)
    if fmt == "parquet":
        return _parquet_rows(path)
    if input_format.get("isMultiLineJson"):
        return _json_array_rows(path)
    return _json_lines(path)


def _json_lines(path: Path) -> Iterator[Row]:
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except ValueError:
                yield Row(corrupt=line.decode("utf-8", "replace"))
                continue
            yield Row(record=value) if isinstance(value, dict) else Row(corrupt=line.decode("utf-8", "replace"))


def _json_array_rows(path: Path) -> Iterator[Row]:
    """Objects of a top-level JSON array (or one top-level object), decoded one at a time."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8", errors="replace") as handle:
        buffer, eof = "", False

        def fill() -> bool:
            nonlocal buffer, eof
            data = handle.read(_CHUNK)
            eof = not data
            buffer += data
            return bool(data)

        def skip_space() -> None:
            nonlocal buffer
            while True:
                buffer = buffer.lstrip()
                if buffer or eof or not fill():
                    return

        skip_space()
        if buffer.startswith("{"):
            opened = False
        elif buffer.startswith("["):
            opened, buffer = True, buffer[1:]
        else:
            rest = buffer + handle.read()
            if rest.strip():
                yield Row(corrupt=rest.strip())
            return
        while True:
            skip_space()
            if opened and buffer.startswith("]"):
                return
            try:
                value, end = decoder.raw_decode(buffer)
                if end == len(buffer) and not eof and fill():
                    continue  # a value touching the buffer's end may be cut short: decode again with more
            except json.JSONDecodeError:
                if not eof and fill():
                    continue
                if buffer.strip():
                    yield Row(corrupt=buffer.strip().rstrip("]").strip())
                return
            buffer = buffer[end:]
            yield Row(record=value) if isinstance(value, dict) else Row(corrupt=json.dumps(value))
            if not opened:
                return
            skip_space()
            if buffer.startswith(","):
                buffer = buffer[1:]
            elif not buffer.startswith("]"):
                if buffer.strip():
                    yield Row(corrupt=buffer.strip())
                return


def _csv_rows(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    """Rows of a CSV file with a header row; ``nullMarker`` (and empty cells) are missing values."""
    delimiter = options.get("delimiter", ",")
    quote = options.get("quote", '"')
    escape = options.get("escape", "\\")
    null_marker = options.get("nullMarker")
    with open(path, newline="", encoding=options.get("charset", "utf-8"), errors="replace") as handle:
        reader = csv.reader(
            handle, delimiter=delimiter, quotechar=quote, escapechar=None if escape == quote else escape, strict=True
        )
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise FileError("118", f"CSV file contains empty header row. ({exc})") from exc
        if not header or not any(name.strip() for name in header):
            raise FileError("118", "CSV file contains empty header row.")
        names = [name.strip() for name in header]
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield Row(corrupt=f"line {reader.line_num}")
                continue
            if not cells or all(cell == "" for cell in cells):
                continue
            if len(cells) != len(names):
                yield Row(corrupt=delimiter.join(cells))
                continue
            record: dict[str, Any] = {}
            for name, cell in zip(names, cells, strict=True):
                if cell == "" or (null_marker is not None and cell == null_marker):
                    continue
                _put(record, name.split("."), cell)
            yield Row(record=record)


def _put(record: dict[str, Any], path: list[str], value: Any) -> None:
    """``a.b.c`` columns build nested objects (flat XDM paths in a CSV header)."""
    node = record
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _parquet_rows(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq  # heavy: imported when a Parquet batch is processed

    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=1024)
        for batch in batches:
            for record in batch.to_pylist():
                yield Row(record=_plain(record))
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
        raise FileError("INGEST-1401-400", f"The file cannot be read as Parquet: {exc}") from exc


def _plain(value: Any) -> Any:
    """Parquet values as JSON values: timestamps as ISO-8601 strings, decimals as numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def coerce(value: Any, node: dict[str, Any], *, text: bool) -> Any:
    """``value`` converted to the JSON Schema ``node``'s type where Adobe converts (anything else unchanged).

    ``text`` (CSV cells) also converts strings to integers, numbers and booleans; every format converts
    epoch-millisecond numbers to ``date``/``date-time`` strings. Booleans and arrays are never converted
    from other types.
    """
    kind = node.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = node.get("properties") or {}
        extra = node.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = properties.get(key) if isinstance(properties.get(key), dict) else extra
            out[key] = coerce(item, child, text=text) if isinstance(child, dict) else item
        return out
    if kind == "array" and isinstance(value, list) and isinstance(node.get("items"), dict):
        return [coerce(item, node["items"], text=text) for item in value]
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
        if node.get("format") == "date-time":
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if node.get("format") == "date":
            return moment.date().isoformat()
    if text and isinstance(value, str):
        try:
            if kind == "integer":
                return int(value.strip())
            if kind == "number":
                return float(value.strip())
        except ValueError:
            return value
        if kind == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    return value

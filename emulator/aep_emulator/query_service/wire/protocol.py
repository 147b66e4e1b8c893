"""PostgreSQL frontend/backend protocol 3.0: message framing, the backend messages this server sends, type OIDs
for DuckDB types, values in PostgreSQL's text format, and parameters sent by a client decoded by their OID."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import struct
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

_SCALAR_OIDS = {
    "boolean": 16,
    "tinyint": 21,
    "smallint": 21,
    "utinyint": 21,
    "integer": 23,
    "usmallint": 23,
    "bigint": 20,
    "uinteger": 20,
    "hugeint": 1700,
    "ubigint": 1700,
    "uhugeint": 1700,
    "decimal": 1700,
    "float": 700,
    "double": 701,
    "varchar": 25,
    "date": 1082,
    "time": 1083,
    "timestamp": 1114,
    "timestamp_s": 1114,
    "timestamp_ms": 1114,
    "timestamp_ns": 1114,
    "timestamp with time zone": 1184,
    "interval": 1186,
    "blob": 17,
    "uuid": 2950,
    "json": 114,
}
#: Array OIDs of the element OIDs above (PostgreSQL's ``typarray``).
_ARRAY_OIDS = {16: 1000, 21: 1005, 23: 1007, 20: 1016, 1700: 1231, 700: 1021, 701: 1022, 25: 1009, 1082: 1182,
               1114: 1115, 1184: 1185, 2950: 2951, 114: 199, 17: 1001, 1083: 1183, 1186: 1187}  # fmt: skip
RECORD_OID = 2249
TEXT_OID = 25
_SIZES = {16: 1, 21: 2, 23: 4, 20: 8, 700: 4, 701: 8, 1082: 4, 1114: 8, 1184: 8}


def type_oid(duck: Any, auto_to_json: bool = False) -> int:
    """The PostgreSQL type OID a column of DuckDB type ``duck`` is announced with."""
    kind = getattr(duck, "id", str(duck).lower())
    if kind == "json" and auto_to_json:
        return 114
    if kind == "list":
        element = type_oid(duck.children[0][1])
        return _ARRAY_OIDS.get(element, 1009)
    if kind in ("struct", "map", "union"):
        return 114 if auto_to_json else RECORD_OID
    return _SCALAR_OIDS.get(kind, TEXT_OID)


def message(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def authentication(code: int) -> bytes:
    return message(b"R", struct.pack("!i", code))


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def ready(status: str) -> bytes:
    return message(b"Z", status.encode())


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


def error(code: str, text: str, severity: str = "ERROR") -> bytes:
    fields = [b"S" + cstr(severity), b"V" + cstr(severity), b"C" + cstr(code), b"M" + cstr(text)]
    return message(b"E", b"".join(fields) + b"\x00")


def notice(text: str) -> bytes:
    return message(
        b"N", b"S" + cstr("NOTICE") + b"V" + cstr("NOTICE") + b"C" + cstr("00000") + b"M" + cstr(text) + b"\x00"
    )


def row_description(columns: Sequence[tuple[str, int]]) -> bytes:
    parts = [struct.pack("!h", len(columns))]
    for name, oid in columns:
        parts.append(cstr(name) + struct.pack("!ihihih", 0, 0, oid, _SIZES.get(oid, -1), -1, 0))
    return message(b"T", b"".join(parts))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", struct.pack("!h", len(oids)) + b"".join(struct.pack("!i", o) for o in oids))


def data_row(values: Iterable[bytes | None]) -> bytes:
    items = list(values)
    parts = [struct.pack("!h", len(items))]
    for value in items:
        parts.append(struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value)
    return message(b"D", b"".join(parts))


# -- values as text -----------------------------------------------------------------------------------
def _quote(text: str, specials: str) -> str:
    if text == "" or any(c in text for c in specials) or text.upper() == "NULL":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def to_text(value: Any, auto_to_json: bool = False) -> str:
    """A Python value from DuckDB in PostgreSQL's text output format (structs as row literals)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return text[:-6] + text[-6:].replace(":00", "") if value.tzinfo is not None else text
    if isinstance(value, (dt.date, dt.time, uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, dict):
        if auto_to_json:
            return json.dumps(_jsonable(value))
        return "(" + ",".join("" if v is None else _quote(to_text(v), ',()"\\ ') for v in value.values()) + ")"
    if isinstance(value, (list, tuple)):
        if auto_to_json:
            return json.dumps(_jsonable(value))
        return "{" + ",".join("NULL" if v is None else _quote(to_text(v), ',{}"\\ ') for v in value) + "}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return to_text(value)


def encode_row(row: Sequence[Any], auto_to_json: bool = False) -> bytes:
    return data_row(None if v is None else to_text(v, auto_to_json).encode() for v in row)


# -- parameters from the client -----------------------------------------------------------------------
def decode_parameter(raw: bytes | None, oid: int, binary: bool) -> Any:
    """One Bind parameter as a Python value DuckDB can bind (text or binary format, by the OID sent in Parse)."""
    if raw is None:
        return None
    if binary:
        return _decode_binary(raw, oid)
    text = raw.decode()
    try:
        if oid in (20, 21, 23, 26):
            return int(text)
        if oid in (700, 701):
            return float(text)
        if oid == 1700:
            return decimal.Decimal(text)
        if oid == 16:
            return text.lower() in ("t", "true", "1", "yes", "on")
        if oid == 1082:
            return dt.date.fromisoformat(text)
        if oid in (1114, 1184):
            return dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return text
    return text


def _decode_binary(raw: bytes, oid: int) -> Any:
    if oid == 21:
        return struct.unpack("!h", raw)[0]
    if oid == 23:
        return struct.unpack("!i", raw)[0]
    if oid == 20:
        return struct.unpack("!q", raw)[0]
    if oid == 700:
        return struct.unpack("!f", raw)[0]
    if oid == 701:
        return struct.unpack("!d", raw)[0]
    if oid == 16:
        return raw != b"\x00"
    if oid == 17:
        return bytes(raw)
    if oid == 1082:
        return dt.date(2000, 1, 1) + dt.timedelta(days=struct.unpack("!i", raw)[0])
    if oid in (1114, 1184):
        return dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=struct.unpack("!q", raw)[0])
    return raw.decode()


def command_tag(word: str, rows: int) -> str:
    """The CommandComplete tag of a statement (``SELECT 3``, ``INSERT 0 5``, ``SET``...)."""
    if word in ("SELECT", "WITH", "VALUES", "TABLE", "FROM", "(", "SHOW", "EXPLAIN", "DESCRIBE", "SUMMARIZE"):
        return f"SELECT {rows}" if word != "SHOW" else "SHOW"
    if word == "INSERT":
        return f"INSERT 0 {rows}"
    if word == "FETCH":
        return f"FETCH {rows}"
    if word in ("START", "BEGIN"):
        return "BEGIN"
    if word in ("END", "COMMIT"):
        return "COMMIT"
    if word in ("ABORT", "ROLLBACK"):
        return "ROLLBACK"
    return word

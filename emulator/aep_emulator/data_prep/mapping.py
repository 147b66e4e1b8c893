"""Data Prep's mapping engine: a mapping set applied to one source row, values coerced to their XDM field types.

* ``ATTRIBUTE`` copies a column, ``STATIC`` writes the constant in ``source``, ``EXPRESSION`` evaluates the
  Data Prep subset in :mod:`.expressions`.
* Coercion follows the Data Prep data-handling guide: strings become booleans (``y``/``yes``/``on``/``true``
  ... and ``n``/``no``/``off``/``false`` ...), numbers, or dates/date-times (its list of formats, first
  match wins); integers must fit the bounds of their ``meta:xdmType`` (byte, short, int, long); maps are
  not supported. A failure is a ``MAPPER-3700-400`` ("Mapper Transform Error"), like an expression error.
* Field constraints: ``enum``, ``pattern``, ``minLength``/``maxLength``, explicit ``minimum``/``maximum`` (also
  ``MAPPER-3700-400``).

``/mappingSets/preview`` and emulated ingestion both use :func:`map_record`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from . import expressions
from .models import schema_field

MAPPER_ERROR = "MAPPER-3700-400"
TRUE_STRINGS = frozenset({"y", "yes", "Y", "YES", "on", "ON", "true", "TRUE"})
FALSE_STRINGS = frozenset({"n", "N", "no", "NO", "off", "OFF", "false", "FALSE"})
#: Integer bounds by ``meta:xdmType`` (Adobe's field-constraints table; a plain integer is an ``int``).
INTEGER_BOUNDS = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**53 - 1), 2**53 - 1),
}
_INTEGER_RE = re.compile(r"[+-]?\d+")
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Rejection:
    """Why one value or record was refused."""

    code: str
    message: str
    destination: str | None = None
    source: str | None = None
    source_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.destination is not None:
            out["destination"] = self.destination
        if self.source is not None:
            out["source"] = self.source
        return out


class _ConversionError(ValueError):
    pass


def utc_from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def transform_error(rejection: Rejection) -> dict[str, Any]:
    """A rejection in the spec's ``TransformErrorInfo`` shape (used by ``/mappingSets/preview``)."""
    return {
        "destination": rejection.destination,
        "exception": f"{rejection.code}: {rejection.message}",
        "source": rejection.source,
        "columnName": rejection.source if rejection.source_type == "ATTRIBUTE" else None,
        "sourceType": rejection.source_type,
    }


# -- Data Prep coercion ----------------------------------------------------------------------------
def xdm_type(definition: dict[str, Any]) -> str:
    """``meta:xdmType``, else derived from ``type``/``format`` the way the Schema Registry stores it."""
    declared = definition.get("meta:xdmType")
    if isinstance(declared, str) and declared:
        return declared
    kind = definition.get("type")
    if kind == "string" and definition.get("format") in ("date", "date-time"):
        return str(definition["format"])
    if kind == "integer":
        return "int"
    if kind == "object" and "additionalProperties" in definition and "properties" not in definition:
        return "map"
    return str(kind or "")


def _describe(value: Any) -> str:
    return json.dumps(value, default=str)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return expressions.parse_any_date(value)
        except expressions.EvaluationError as exc:
            raise _ConversionError(str(exc)) from exc
    raise _ConversionError(f"Cannot convert {_describe(value)} to a date.")


def coerce(value: Any, definition: dict[str, Any]) -> Any:
    """Convert a mapped value to the field's XDM type, as Data Prep does; raises ``_ConversionError``."""
    kind = xdm_type(definition)
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            return expressions.iso_datetime(value)
        if isinstance(value, (int, float, str)):
            return str(value)
        raise _ConversionError(f"Cannot convert {_describe(value)} to a string.")
    if kind in INTEGER_BOUNDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _ConversionError(f"Cannot convert {_describe(value)} to {kind}.")
        if isinstance(value, str):
            if not _INTEGER_RE.fullmatch(value.strip()):
                raise _ConversionError(f"Cannot convert {_describe(value)} to {kind}.")
            value = int(value.strip())
        if isinstance(value, float):
            if not value.is_integer():
                raise _ConversionError(f"Cannot convert {_describe(value)} to {kind} without losing precision.")
            value = int(value)
        low, high = INTEGER_BOUNDS[kind]
        low = int(definition.get("minimum", low))
        high = int(definition.get("maximum", high))
        if not low <= value <= high:
            raise _ConversionError(f"The value {value} is outside the range of {kind} ({low} to {high}).")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _ConversionError(f"Cannot convert {_describe(value)} to a number.")
        if isinstance(value, str):
            if not _NUMBER_RE.fullmatch(value.strip()):
                raise _ConversionError(f"Cannot convert {_describe(value)} to a number.")
            return float(value.strip())
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in TRUE_STRINGS:
            return True
        if isinstance(value, str) and value in FALSE_STRINGS:
            return False
        raise _ConversionError(f"Cannot convert {_describe(value)} to a boolean.")
    if kind == "date-time":
        return expressions.iso_datetime(_as_datetime(value))
    if kind == "date":
        return _as_datetime(value).strftime("%Y-%m-%d")
    if kind == "map":
        raise _ConversionError("Maps are not supported by Data Prep.")
    if kind == "array":
        items = definition.get("items") if isinstance(definition.get("items"), dict) else {}
        values = value if isinstance(value, list) else [value]
        return [coerce(item, items) for item in values if item is not None] if items else list(values)
    if kind == "object":
        if not isinstance(value, dict):
            raise _ConversionError(f"Cannot write {_describe(value)} into an object field.")
        properties = definition.get("properties") or {}
        out = {}
        for key, item in value.items():
            if key not in properties:
                raise _ConversionError(f"The field '{key}' does not exist in the object.")
            if item is not None:
                out[key] = coerce(item, properties[key])
        return out
    return value


def _constraints(value: Any, definition: dict[str, Any]) -> str | None:
    """The first XDM constraint the (converted) value breaks, or ``None``."""
    enum = definition.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"The value {_describe(value)} is not one of {enum}."
    if isinstance(value, str):
        pattern = definition.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            return f"The value {_describe(value)} does not match the pattern '{pattern}'."
        if isinstance(definition.get("minLength"), int) and len(value) < definition["minLength"]:
            return f"The value {_describe(value)} is shorter than {definition['minLength']} characters."
        if isinstance(definition.get("maxLength"), int) and len(value) > definition["maxLength"]:
            return f"The value {_describe(value)} is longer than {definition['maxLength']} characters."
    if isinstance(value, (int, float)) and not isinstance(value, bool) and xdm_type(definition) == "number":
        if "minimum" in definition and value < definition["minimum"]:
            return f"The value {value} is below the minimum {definition['minimum']}."
        if "maximum" in definition and value > definition["maximum"]:
            return f"The value {value} is above the maximum {definition['maximum']}."
    return None


# -- mapping ---------------------------------------------------------------------------------------
def _static(source: Any) -> Any:
    """A ``STATIC`` mapping's constant: the ``source`` text (surrounding double quotes removed)."""
    if isinstance(source, str) and len(source) >= 2 and source[0] == source[-1] == '"':
        return source[1:-1]
    return source


def _assign(record: dict[str, Any], path: str, value: Any) -> None:
    node = record
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _ConversionError(f"'{part}' is already set to a value, it cannot hold '{path}'.")
        node = child
    node[parts[-1]] = value


def map_record(
    row: dict[str, Any],
    mappings: list[dict[str, Any]],
    schema: dict[str, Any],
    context: expressions.EvalContext,
) -> tuple[dict[str, Any], list[Rejection]]:
    """Apply the mappings to one source row; values that fail are left out and reported."""
    record: dict[str, Any] = {}
    errors: list[Rejection] = []
    for mapping in mappings:
        kind, source, destination = mapping["sourceType"], mapping["source"], mapping["destination"]

        def reject(message: str, kind: str = kind, source: Any = source, destination: Any = destination) -> None:
            errors.append(Rejection(MAPPER_ERROR, message, destination, source, kind))

        definition = schema_field(schema, destination) if isinstance(destination, str) else None
        if definition is None:
            reject(f"The destination '{destination}' does not exist in the schema.")
            continue
        try:
            if kind == "ATTRIBUTE":
                value = expressions.lookup(row, str(source).split("."))
            elif kind == "EXPRESSION":
                value = expressions.parse(str(source)).evaluate(row, context)
            else:
                value = _static(source)
        except (expressions.ExpressionError, expressions.EvaluationError) as exc:
            reject(str(exc))
            continue
        if value is None:
            continue
        try:
            value = coerce(value, definition)
            problem = _constraints(value, definition)
            if problem:
                raise _ConversionError(problem)
            _assign(record, destination, value)
        except _ConversionError as exc:
            reject(f"{destination}: {exc}")
    return record, errors

"""A tenant schema as standard JSON Schema (draft 7), to check records with ``jsonschema`` the way the Data Lake
checks what lands: field types (integers within the bounds of their ``meta:xdmType``: byte, short, int, long),
``date``/``date-time`` strings, ``enum``, ``pattern``, lengths, bounds, ``required`` fields, no field the schema
does not define, maps as objects of one value type, and (optionally) the primary identity present.

Usage (the ingestion side)::

    validator = record_validator(store, dataset["schemaRef"]["id"])
    problems = list(validator.iter_errors(record))
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft7Validator

from ..core.state import Store
from . import standard as std
from .model import Doc, Registry
from .resolve import resolve_schema

DIALECT = "http://json-schema.org/draft-07/schema#"
#: Adobe's field-constraints table (a plain integer is an ``int``; ``long`` stops at JavaScript's safe range).
INTEGER_BOUNDS = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**53 - 1), 2**53 - 1),
}
# ``jsonschema`` checks ``date-time`` only with an optional package, so the shape is a pattern as well.
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DATE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
#: JSON Schema keywords of an XDM field that constrain values as they are (``meta:*`` keys are left out).
_KEPT = (
    "title",
    "description",
    "enum",
    "const",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)


def field_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One resolved XDM field as JSON Schema (a field without a known type accepts anything)."""
    out: dict[str, Any] = {key: copy.deepcopy(node[key]) for key in _KEPT if key in node}
    kind = node.get("type")
    xdm = node.get("meta:xdmType") or std.xdm_type(node)
    if kind == "object":
        out["type"] = "object"
        properties = node.get("properties")
        if xdm == "map" or (not isinstance(properties, dict) and "additionalProperties" in node):
            values = node.get("additionalProperties")
            out["additionalProperties"] = field_schema(values) if isinstance(values, dict) else True
        else:
            children = properties if isinstance(properties, dict) else {}
            out["properties"] = {
                name: field_schema(child) for name, child in children.items() if isinstance(child, dict)
            }
            out["additionalProperties"] = False
            required = [name for name in node.get("required", []) if isinstance(name, str)]
            if required:
                out["required"] = list(dict.fromkeys(required))
    elif kind == "array":
        out["type"] = "array"
        if isinstance(node.get("items"), dict):
            out["items"] = field_schema(node["items"])
    elif kind == "integer":
        out["type"] = "integer"
        low, high = INTEGER_BOUNDS.get(str(xdm), INTEGER_BOUNDS["int"])
        out["minimum"] = max(low, out["minimum"]) if isinstance(out.get("minimum"), (int, float)) else low
        out["maximum"] = min(high, out["maximum"]) if isinstance(out.get("maximum"), (int, float)) else high
    elif kind == "string":
        out["type"] = "string"
        shape = {"date": DATE_PATTERN, "date-time": DATE_TIME_PATTERN}.get(str(node.get("format")))
        if shape is not None and "pattern" not in out:
            out["pattern"] = shape
        elif shape is not None:
            out["allOf"] = [{"pattern": shape}]
    elif kind in ("number", "boolean"):
        out["type"] = kind
    return out


def _require_path(schema: dict[str, Any], path: Sequence[str]) -> None:
    """Make every object on ``path`` require the next segment (paths through arrays are left alone)."""
    node = schema
    for segment in path:
        properties = node.get("properties")
        if not isinstance(properties, dict) or segment not in properties:
            return
        required = node.setdefault("required", [])
        if segment not in required:
            required.append(segment)
        node = properties[segment]


def schema_to_json_schema(resolved: Doc, identities: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """A resolved (``xed-full``) schema as a JSON Schema document; ``identities`` are field paths to require."""
    out = field_schema(
        {"type": "object", "properties": resolved.get("properties", {}), "required": resolved.get("required", [])}
    )
    for path in identities:
        _require_path(out, path)
    return {"$schema": DIALECT, "title": resolved.get("title", ""), **out}


def record_json_schema(store: Store, schema_id: str, *, primary_identity: bool = True) -> dict[str, Any]:
    """The JSON Schema (draft 7) records landing in a dataset of this tenant schema must satisfy.

    ``schema_id`` is the ``$id`` or ``meta:altId``; an unknown one raises the registry's ``XDM-1012-404``
    (:class:`~aep_emulator.core.errors.ApiError`). ``primary_identity`` also requires the fields named by the
    schema's primary identity descriptors.
    """
    resolved = resolve_schema(store, schema_id)
    identities = Registry(store).primary_identity_paths(resolved["$id"]) if primary_identity else []
    return schema_to_json_schema(resolved, identities)


def record_validator(store: Store, schema_id: str, *, primary_identity: bool = True) -> Draft7Validator:
    """A ``jsonschema`` validator for :func:`record_json_schema` (``format`` keywords annotate, as by default)."""
    return Draft7Validator(record_json_schema(store, schema_id, primary_identity=primary_identity))

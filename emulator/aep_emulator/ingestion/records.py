"""Record-level checks after mapping: ``required`` fields (nested ones when their object is present) and the
schema's primary identity (``INGEST-1555-400``: "A required field is either missing or has a value of null")."""

from __future__ import annotations

from typing import Any

from ..core.state import Store
from ..data_prep.mapping import MAPPER_ERROR, Rejection

REQUIRED_ERROR = "INGEST-1555-400"
SUMMARY_ERROR = "INGEST-1212-400"
ERROR_TITLES = {
    MAPPER_ERROR: "Mapper Transform Error",
    REQUIRED_ERROR: "A required field is either missing or has a value of null. Add the required field to the "
    "input row and try again.",
}


def _has(record: dict[str, Any], path: list[str]) -> bool:
    node: Any = record
    for part in path:
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return True


def _required(record: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[Rejection]:
    errors = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if record.get(name) is None:
            errors.append(Rejection(REQUIRED_ERROR, f"The required field '{prefix}{name}' is missing.", prefix + name))
    for name, value in record.items():
        definition = properties.get(name)
        if isinstance(value, dict) and isinstance(definition, dict) and definition.get("properties"):
            errors.extend(_required(value, definition, f"{prefix}{name}."))
    return errors


def primary_identity_paths(store: Store, schema: dict[str, Any]) -> list[list[str]]:
    """Paths of the schema's primary identity descriptors (``xdm:sourceProperty`` JSON pointers)."""
    ids = {schema.get("$id"), schema.get("meta:altId"), schema.get("id")} - {None}
    paths = []
    for descriptor in store["descriptors"]:
        if (
            descriptor.get("@type") == "xdm:descriptorIdentity"
            and descriptor.get("xdm:sourceSchema") in ids
            and descriptor.get("xdm:isPrimary")
            and isinstance(descriptor.get("xdm:sourceProperty"), str)
        ):
            paths.append([p for p in descriptor["xdm:sourceProperty"].split("/") if p])
    return paths


def validate_record(record: dict[str, Any], schema: dict[str, Any], identities: list[list[str]]) -> list[Rejection]:
    """Record-level checks after mapping: required fields and the primary identity."""
    errors = _required(record, schema)
    for path in identities:
        if not _has(record, path):
            dotted = ".".join(path)
            errors.append(Rejection(REQUIRED_ERROR, f"The primary identity field '{dotted}' is missing.", dotted))
    return errors

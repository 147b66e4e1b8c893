"""Declared columns to XDM: ``{"email": "string", "address.city": "string", "age": "integer"}`` as field-group fields.

Pure functions, no HTTP and no Airflow: ``CreateFieldGroupOperator`` (``operators.schema_registry``) turns
columns declared in a DAG, or inferred from a sample of a file (:mod:`airflow_provider_aep.client.samples`),
into the fields of a field group under ``_{TENANT_ID}.{source}.{object}``. A dotted name is a nested path:
its leading parts become XDM objects. Names are made XDM-safe the way explored columns are
(:func:`~airflow_provider_aep.client.xdm.field_name`, per part); the column as given stays the field's title.
Every mistake is an :class:`~airflow_provider_aep.client.xdm.XDMError` naming ``columns`` (or the column).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_aep.client.xdm import DEFINITION_KEY, XDM_TYPES, XDMError, _describe, _same_type, field_name

DECLARED_TYPES: dict[str, str] = {
    "string": "string",
    "str": "string",
    "text": "string",
    "integer": "int",
    "int": "int",
    "long": "long",
    "bigint": "long",
    "number": "number",
    "double": "number",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "date-time": "date-time",
    "datetime": "date-time",
    "timestamp": "date-time",
}
"""A declared type (case-insensitive) -> the ``meta:xdmType`` of its field (``XDM_TYPES`` gives its JSON Schema)."""

Fields = dict[str, tuple[tuple[str, ...], str]]
"""Column as declared -> (XDM field path below the object, ``meta:xdmType``), in declaration order."""


def declared_fields(columns: Any, argument: str = "columns") -> Fields:
    """Check declared columns and name their fields; ``XDMError`` naming ``argument`` (or the column) if wrong.

    Refused: an empty mapping, a name without letters or digits in some part, a type outside
    :data:`DECLARED_TYPES`, two names that become the same field, and a path that is both a field and an
    object (``address`` and ``address.city``).
    """
    if not isinstance(columns, Mapping) or not columns:
        raise XDMError(argument, f"must be a non-empty dict of column name -> XDM type, got {columns!r}")
    fields: Fields = {}
    owners: dict[tuple[str, ...], str] = {}  # field path (lower case) -> the column that made it
    for column, declared in columns.items():
        where = f"{argument}.{column}"
        if not isinstance(column, str) or not column.strip():
            raise XDMError(argument, f"column names must be non-empty strings, got {column!r}")
        if not isinstance(declared, str) or declared.strip().lower() not in DECLARED_TYPES:
            known = ", ".join(sorted(set(DECLARED_TYPES)))
            raise XDMError(where, f"unknown type {declared!r}; one of: {known}")
        parts = column.strip().split(".")
        if not all(part.strip() for part in parts):
            raise XDMError(where, "has an empty part in its dotted path")
        try:
            path = tuple(field_name(part) for part in parts)
        except XDMError as err:
            raise XDMError(where, str(err).split(": ", 1)[1]) from None
        key = tuple(p.lower() for p in path)
        if key in owners:
            raise XDMError(where, f"becomes the field {'.'.join(path)!r}, as {owners[key]!r} does")
        owners[key] = column
        fields[column] = (path, DECLARED_TYPES[declared.strip().lower()])
    for key, column in owners.items():
        for size in range(1, len(key)):
            if key[:size] in owners:
                raise XDMError(
                    f"{argument}.{owners[key[:size]]}",
                    f"is a field and also an object of {column!r}; a path is either a value or an object",
                )
    return fields


def field_tree(fields: Fields) -> dict[str, Any]:
    """The fields' ``properties`` tree: objects for the leading parts, typed leaves titled by their column."""
    tree: dict[str, Any] = {}
    for column, (path, xdm_type) in fields.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {"type": "object", "properties": {}})["properties"]
        node[path[-1]] = {"title": column, "description": f"Column {column}", **XDM_TYPES[xdm_type]}
    return tree


def object_path(tenant_id: str, source: str, object_name: str) -> tuple[str, str, str]:
    """``(_tenant, source, object)``: where the fields sit; names made XDM-safe."""
    if not tenant_id:
        raise XDMError("tenant_id", "is empty")
    return (f"_{tenant_id}", field_name(source), field_name(object_name))


def field_paths(base: tuple[str, ...], fields: Fields) -> dict[str, str]:
    """Column -> dot path of its field (a Data Prep destination, an identity path)."""
    return {column: ".".join((*base, *path)) for column, (path, _) in fields.items()}


def field_group_body(
    base: tuple[str, ...], fields: Fields, *, title: str, class_id: str, description: str | None = None
) -> dict[str, Any]:
    """``POST /tenant/fieldgroups`` body holding the fields under ``base`` (:func:`object_path`)."""
    properties: dict[str, Any] = field_tree(fields)
    for part in reversed(base):
        properties = {part: {"type": "object", "properties": properties}}
    return {
        "type": "object",
        "title": title,
        "description": description or f"Fields of {'.'.join(base[1:])}",
        "meta:intendedToExtend": [class_id],
        "definitions": {DEFINITION_KEY: {"properties": properties}},
        "allOf": [{"$ref": f"#/definitions/{DEFINITION_KEY}"}],
    }


def field_group_differences(
    group: Mapping[str, Any], base: tuple[str, ...], fields: Fields
) -> tuple[list[dict[str, Any]], list[str]]:
    """Compare an existing field group with the fields asked for, at any depth.

    Returns the JSON Patch operations that add what is missing (a whole branch where an object is missing),
    and the conflicts no patch may fix: a field of another type, or a value where an object is asked for
    (and the reverse).
    """
    wanted: dict[str, Any] = field_tree(fields)
    for part in reversed(base):
        wanted = {part: {"type": "object", "properties": wanted}}
    existing = ((group.get("definitions") or {}).get(DEFINITION_KEY) or {}).get("properties") or {}
    operations: list[dict[str, Any]] = []
    conflicts: list[str] = []
    _compare(existing, wanted, f"/definitions/{DEFINITION_KEY}", (), operations, conflicts)
    return operations, conflicts


def _is_object(node: Mapping[str, Any]) -> bool:
    return node.get("type") == "object" or isinstance(node.get("properties"), Mapping)


def _compare(
    existing: Mapping[str, Any],
    wanted: Mapping[str, Any],
    pointer: str,
    path: tuple[str, ...],
    operations: list[dict[str, Any]],
    conflicts: list[str],
) -> None:
    for name, node in wanted.items():
        current = existing.get(name)
        where, dotted = f"{pointer}/properties/{name}", ".".join((*path, name))
        if not isinstance(current, Mapping):
            operations.append({"op": "add", "path": where, "value": node})
        elif _is_object(node) and _is_object(current):
            _compare(current.get("properties") or {}, node["properties"], where, (*path, name), operations, conflicts)
        elif _is_object(node) or _is_object(current):
            asked = "an object" if _is_object(node) else _describe(node)
            conflicts.append(
                f"{dotted} is {'an object' if _is_object(current) else _describe(current)}, asked for {asked}"
            )
        elif not _same_type(current, node):
            conflicts.append(f"{dotted} is {_describe(current)}, asked for {_describe(node)}")


__all__ = [
    "DECLARED_TYPES",
    "Fields",
    "declared_fields",
    "field_group_body",
    "field_group_differences",
    "field_paths",
    "field_tree",
    "object_path",
]

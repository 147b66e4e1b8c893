"""From explored source columns to XDM: field-group fields, field paths and Data Prep mappings.

Pure functions with no HTTP: the field-group operator and the mapping-set operator both derive the same
field paths from the same explored columns, so a mapping can never point at a field the group lacks.
Type mapping follows the Schema Registry's field constraints (target-side notes §5.2): the column's
``xdm`` block wins, then ``meta:xdmType``, then the source ``type``; anything unknown lands as a string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_aep.client._xdm_layout import FieldLayout


def __getattr__(name: str) -> Any:
    """``FieldLayout``, imported on first use (see ``client._xdm_layout``)."""
    if name == "FieldLayout":
        from airflow_provider_aep.client._xdm_layout import FieldLayout

        return FieldLayout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PROFILE_CLASS_ID = "https://ns.adobe.com/xdm/context/profile"
EXPERIENCE_EVENT_CLASS_ID = "https://ns.adobe.com/xdm/context/experienceevent"
DEFINITION_KEY = "fields"
"""The key under ``definitions`` of every field group this provider builds."""

_LONG = 9007199254740991
_INT = 2147483648
XDM_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "long": {"type": "integer", "minimum": -_LONG, "maximum": _LONG},
    "int": {"type": "integer", "minimum": -_INT, "maximum": _INT},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
}
"""JSON Schema of each XDM scalar type the provider creates (``meta:xdmType`` -> definition)."""

_SOURCE_TYPES = {
    "string": "string",
    "str": "string",
    "text": "string",
    "varchar": "string",
    "integer": "int",
    "int": "int",
    "short": "int",
    "byte": "int",
    "long": "long",
    "bigint": "long",
    "double": "number",
    "float": "number",
    "decimal": "number",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "date-time": "date-time",
    "datetime": "date-time",
    "timestamp": "date-time",
}
_NON_NAME = re.compile(r"[^A-Za-z0-9]+")


class XDMError(ValueError):
    """A column set or mapping that cannot become valid XDM; ``field`` names the argument at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def xdm_type_of(column: Mapping[str, Any]) -> str:
    """The ``meta:xdmType`` a column lands as: ``string``, ``int``, ``long``, ``number``, ``boolean``, ``date``,
    or ``date-time``."""
    raw = column.get("xdm")
    xdm: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    declared = column.get("meta:xdmType")
    if isinstance(declared, str) and declared.lower() in _SOURCE_TYPES:
        return _SOURCE_TYPES[declared.lower()]
    fmt = str(xdm.get("format") or "").lower()
    if fmt in ("date", "date-time"):
        return fmt
    xdm_type = str(xdm.get("type") or "").lower()
    source_type = str(column.get("type") or "").lower()
    if xdm_type == "integer":
        return "long" if source_type in ("long", "bigint") else "int"
    if xdm_type in _SOURCE_TYPES:
        return _SOURCE_TYPES[xdm_type]
    return _SOURCE_TYPES.get(source_type, "string")


def field_name(column_name: str) -> str:
    """An XDM-safe camelCase field name: ``Properties_Firstname_Value`` -> ``propertiesFirstnameValue``.

    XDM field names may hold letters, digits, ``-`` and ``_`` but must not start with ``_``; camelCase is
    Adobe's convention. A name starting with a digit gets an ``f`` in front.
    """
    words = [w for w in _NON_NAME.split(str(column_name)) if w]
    if not words:
        raise XDMError("columns", f"column name {column_name!r} has no letters or digits")
    words = [w.lower() if w.isupper() else w for w in words]  # DEAL_ID -> dealId, not dEALID
    name = words[0][0].lower() + words[0][1:] + "".join(w[0].upper() + w[1:] for w in words[1:])
    return "f" + name if name[0].isdigit() else name


def table_key(table_path: str) -> str:
    """The object a table's fields live under: ``Hubspot.Contacts`` -> ``contacts``."""
    return field_name(str(table_path).rsplit(".", 1)[-1])


def layout(tenant_id: str, source: str, table_path: str, columns: Sequence[Mapping[str, Any]]) -> FieldLayout:
    """Name and type every explored column; colliding names get ``2``, ``3``... in column order."""
    if not tenant_id:
        raise XDMError("tenant_id", "is empty")
    if not columns:
        raise XDMError("columns", f"table {table_path!r} has no columns")
    fields: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for column in columns:
        name = column.get("name") if isinstance(column, Mapping) else None
        if not isinstance(name, str) or not name:
            raise XDMError("columns", f"every column needs a name, got {column!r}")
        if name in fields:
            raise XDMError("columns", f"column {name!r} is listed twice")
        base = candidate = field_name(name)
        counter = 2
        while candidate.lower() in taken:
            candidate = f"{base}{counter}"
            counter += 1
        taken.add(candidate.lower())
        fields[name] = (candidate, xdm_type_of(column))
    from airflow_provider_aep.client._xdm_layout import FieldLayout

    return FieldLayout(tenant_id=tenant_id, source=field_name(source), table=table_key(table_path), fields=fields)


def _field_definition(column: str, xdm_type: str) -> dict[str, Any]:
    return {"title": column, "description": f"Source column {column}", **XDM_TYPES[xdm_type]}


def _nest(path: Iterable[str], leaf_properties: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": leaf_properties}
    for part in reversed(list(path)):
        node = {"type": "object", "properties": {part: node}}
    return node


def field_group_body(
    fields: FieldLayout, *, title: str, class_id: str, description: str | None = None
) -> dict[str, Any]:
    """``POST /tenant/fieldgroups`` body holding one field per column under ``_{tenant}.{source}.{table}``."""
    leaves = {name: _field_definition(column, xdm_type) for column, (name, xdm_type) in fields.fields.items()}
    tree = _nest(fields.object_path, leaves)
    return {
        "type": "object",
        "title": title,
        "description": description or f"Fields of {fields.source} table {fields.table}",
        "meta:intendedToExtend": [class_id],
        "definitions": {DEFINITION_KEY: {"properties": tree["properties"]}},
        "allOf": [{"$ref": f"#/definitions/{DEFINITION_KEY}"}],
    }


def _leaf_properties(group: Mapping[str, Any], fields: FieldLayout) -> Mapping[str, Any] | None:
    node: Any = (group.get("definitions") or {}).get(DEFINITION_KEY) or {}
    for part in fields.object_path:
        node = ((node or {}).get("properties") or {}).get(part)
        if not isinstance(node, Mapping):
            return None
    props = node.get("properties")
    return props if isinstance(props, Mapping) else None


def field_group_differences(group: Mapping[str, Any], fields: FieldLayout) -> tuple[list[dict], list[str]]:
    """Compare an existing field group with the fields asked for.

    Returns the JSON Patch operations that add the missing fields (non-destructive, so a reused group can
    be extended) and the conflicts that cannot be fixed that way (a field with another type).
    """
    existing = _leaf_properties(group, fields)
    pointer = "/definitions/" + DEFINITION_KEY + "".join(f"/properties/{part}" for part in fields.object_path)
    if existing is None:
        # The group has no object for this table: add the whole branch below the first missing level.
        leaves = {name: _field_definition(column, t) for column, (name, t) in fields.fields.items()}
        return [_add_branch(group, fields, leaves)], []
    operations: list[dict[str, Any]] = []
    conflicts: list[str] = []
    for column, (name, xdm_type) in fields.fields.items():
        current = existing.get(name)
        wanted = XDM_TYPES[xdm_type]
        if current is None:
            operations.append(
                {"op": "add", "path": f"{pointer}/properties/{name}", "value": _field_definition(column, xdm_type)}
            )
        elif not _same_type(current, wanted):
            conflicts.append(
                f"{'.'.join((*fields.object_path, name))} is {_describe(current)}, asked for {_describe(wanted)}"
            )
    return operations, conflicts


def _add_branch(group: Mapping[str, Any], fields: FieldLayout, leaves: dict[str, Any]) -> dict[str, Any]:
    node: Any = (group.get("definitions") or {}).get(DEFINITION_KEY) or {}
    pointer = "/definitions/" + DEFINITION_KEY
    parts = list(fields.object_path)
    for index, part in enumerate(parts):
        child = ((node or {}).get("properties") or {}).get(part)
        if not isinstance(child, Mapping):
            remaining = parts[index + 1 :]
            value = _nest(remaining, leaves) if remaining else {"type": "object", "properties": leaves}
            return {"op": "add", "path": f"{pointer}/properties/{part}", "value": value}
        node, pointer = child, f"{pointer}/properties/{part}"
    return {"op": "add", "path": f"{pointer}/properties", "value": leaves}  # pragma: no cover


def _same_type(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    if current.get("type") != wanted.get("type") or current.get("format") != wanted.get("format"):
        return False
    xdm_type = current.get("meta:xdmType")
    if wanted.get("type") == "integer" and xdm_type:
        return xdm_type == ("long" if wanted.get("maximum") == _LONG else "int")
    return True


def _describe(definition: Mapping[str, Any]) -> str:
    kind = str(definition.get("meta:xdmType") or definition.get("type"))
    return f"{kind} ({definition['format']})" if definition.get("format") and kind == "string" else kind


# -- mappings ---------------------------------------------------------------------------------------
def mapping_list(
    fields: FieldLayout,
    *,
    overrides: Mapping[str, str | None] | None = None,
    calculated: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Data Prep mappings: each column to its field, then the user's changes.

    ``overrides`` maps a column to another destination path, or to None to leave it out; ``calculated``
    maps a destination to a Data Prep expression (``lower(Email)``); ``constants`` a destination to a
    fixed value. A destination may be the target of one mapping only.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(fields.fields))
    if unknown:
        raise XDMError("mapping_overrides", f"names columns the table does not have: {unknown}")
    mappings: list[dict[str, str]] = []
    for column in fields.fields:
        destination = overrides.get(column, fields.field_path(column))
        if destination is None:
            continue
        mappings.append(
            {"sourceType": "ATTRIBUTE", "source": column, "destination": _path("mapping_overrides", destination)}
        )
    for destination, expression in (calculated or {}).items():
        if not isinstance(expression, str) or not expression.strip():
            raise XDMError("calculated_fields", f"{destination!r} needs a Data Prep expression, got {expression!r}")
        mappings.append(
            {
                "sourceType": "EXPRESSION",
                "source": expression.strip(),
                "destination": _path("calculated_fields", destination),
            }
        )
    for destination, value in (constants or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise XDMError("constants", f"{destination!r} needs a string, number or boolean, got {value!r}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        mappings.append({"sourceType": "STATIC", "source": text, "destination": _path("constants", destination)})
    seen: set[str] = set()
    for mapping in mappings:
        if mapping["destination"] in seen:
            raise XDMError("mapping_overrides", f"two mappings write {mapping['destination']!r}")
        seen.add(mapping["destination"])
    if not mappings:
        raise XDMError("mapping_overrides", "leave out every column; a mapping set needs at least one mapping")
    return mappings


_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def _path(argument: str, value: Any) -> str:
    if not isinstance(value, str) or not _PATH.match(value):
        raise XDMError(argument, f"destination {value!r} is not a dot path such as person.name.firstName")
    return value


def mapping_set_body(name: str, schema_id: str, mappings: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """``POST /mappingSets`` body in the current form (``outputSchema`` + ``mappings``)."""
    return {
        "name": name,
        "outputSchema": {
            "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
        },
        "mappings": [dict(m) for m in mappings],
    }


def mapping_key(mapping: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, source, destination) of a mapping in either body form, as stored or as sent."""
    kind = str(mapping.get("sourceType") or "ATTRIBUTE").upper()
    kind = {"TEXT/X.SCHEMA-PATH": "ATTRIBUTE", "TEXT/X.AEP-XL": "EXPRESSION"}.get(kind, kind)
    source = mapping.get("source", mapping.get("sourceAttribute"))
    destination = mapping.get("destination", mapping.get("destinationXdmPath"))
    return kind, str(source), str(destination)


def identity_pointer(path: str, tenant_id: str) -> str:
    """A descriptor's ``xdm:sourceProperty``: ``/_tenant/hubspot/contacts/email`` from a dot or slash path.

    ``{TENANT_ID}`` in the path is replaced by the org's tenant id, so DAGs need not hard-code it.
    """
    text = str(path).replace("{TENANT_ID}", tenant_id).strip()
    parts = [p for p in re.split(r"[./]", text) if p]
    if not parts or not all(_PATH.match(p) for p in parts):
        raise XDMError("identity.path", f"{path!r} is not a field path such as personalEmail.address")
    return "/" + "/".join(parts)

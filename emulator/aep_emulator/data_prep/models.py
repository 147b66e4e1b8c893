"""Data Prep's state in one org's sandbox: mapping sets (every version), and what other services read from them.

Other services use :func:`find_mapping_set`, :func:`normalised_mappings`, :func:`output_schema_id` and
:func:`schema_field`.
"""

from __future__ import annotations

from typing import Any

from .. import schema_registry
from ..core.errors import ApiError
from ..core.state import Named, Store

PREFIX = "/data/foundation/conversion"
SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
#: How stored mappings show ``sourceType`` (attributes: documented; expressions: Adobe source mapping
#: guides; static values: an assumption).
MEDIA_TYPES = {"ATTRIBUTE": "text/x.schema-path", "EXPRESSION": "text/x.aep-xl", "STATIC": "text/plain"}
_FROM_MEDIA = {media: kind for kind, media in MEDIA_TYPES.items()}


class DataPrepBackend:
    """Data Prep in one org's sandbox (``store.backend(DataPrepBackend)``); a mapping set's older versions live in
    its ``_versions``."""

    COLLECTIONS = ("mappingSets",)
    mapping_sets = Named("mappingSets")

    def __init__(self, store: Store) -> None:
        self.store = store


def resolved_schema(store: Store, schema_id: str) -> dict[str, Any] | None:
    """The ``xed-full`` form of a schema, or ``None`` when the Schema Registry does not know it."""
    try:
        return schema_registry.resolve_schema(store, schema_id)
    except ApiError:
        return None


def find_mapping_set(store: Store, mapping_id: str, version: int | str | None = None) -> dict[str, Any] | None:
    """The stored mapping set (latest, or the given version; ``"0"`` works like ``0``), else ``None``."""
    doc = store.backend(DataPrepBackend).mapping_sets.get(mapping_id)
    if doc is None:
        return None
    if version is None or version == "":
        return doc
    try:
        wanted = int(version)
    except (TypeError, ValueError):
        return None
    if wanted == doc["version"]:
        return doc
    return next((old for old in doc.get("_versions", []) if old["version"] == wanted), None)


def source_type(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw)
    if text.upper() in SOURCE_TYPES:
        return text.upper()
    return _FROM_MEDIA.get(text.split(";")[0].strip().lower())


def normalised_mappings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"sourceType", "source", "destination"}]`` for either body form (or a stored mapping set)."""
    out = []
    for mapping in doc.get("mappings") or []:
        if not isinstance(mapping, dict):
            continue
        source = mapping.get("source", mapping.get("sourceAttribute"))
        destination = mapping.get("destination", mapping.get("destinationXdmPath"))
        kind = source_type(mapping.get("sourceType")) or "ATTRIBUTE"
        out.append({"sourceType": kind, "source": source, "destination": destination})
    return out


def output_schema_id(doc: dict[str, Any]) -> str:
    """The target schema of a mapping set, whichever field names it (``""`` when none does)."""
    output = doc.get("outputSchema")
    if isinstance(output, dict) and isinstance(output.get("schemaRef"), dict):
        ref = output["schemaRef"].get("id")
        if isinstance(ref, str) and ref:
            return ref
    if isinstance(doc.get("xdmSchema"), str) and doc["xdmSchema"]:
        return str(doc["xdmSchema"])
    if isinstance(doc.get("schemaRef"), dict) and isinstance(doc["schemaRef"].get("id"), str):
        return str(doc["schemaRef"]["id"])
    return ""


# -- schema paths ----------------------------------------------------------------------------------
def schema_field(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The field definition at a dot path (``person.name.firstName``) of a resolved schema, or ``None``."""
    node: Any = schema
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
        properties = node.get("properties")
        if not isinstance(properties, dict) or part not in properties:
            return None
        node = properties[part]
    return node if isinstance(node, dict) else None

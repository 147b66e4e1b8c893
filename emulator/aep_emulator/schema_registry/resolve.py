"""Resolution and rendering: the ``xed-full`` form (``allOf`` and ``$ref`` merged into one ``properties`` tree),
the ``-notext``/``-desc`` forms, and field paths of a resolved schema."""

from __future__ import annotations

from typing import Any

from ..core.state import Store
from .kinds import SCHEMAS
from .model import Doc, Registry, public
from .xdm_errors import not_found

#: How deep ``$ref``/``allOf`` chains are followed (XDM resources nest a few levels; cycles stop here).
MAX_DEPTH = 16


def _merge_properties(into: dict[str, Any], properties: dict[str, Any]) -> None:
    """Merge field trees; two object fields with one name merge their children (first definition wins)."""
    for name, node in properties.items():
        current = into.get(name)
        if (
            isinstance(current, dict)
            and isinstance(node, dict)
            and isinstance(current.get("properties"), dict)
            and isinstance(node.get("properties"), dict)
        ):
            merged = dict(current)
            merged["properties"] = dict(current["properties"])
            _merge_properties(merged["properties"], node["properties"])
            required = list(dict.fromkeys([*current.get("required", []), *node.get("required", [])]))
            if required:
                merged["required"] = required
            into[name] = merged
        elif name not in into:
            into[name] = node


def _resolve_node(registry: Registry, node: Any, depth: int) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    ref = out.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#") and depth < MAX_DEPTH:
        target = registry.any_resource(ref)
        if target is not None:
            del out["$ref"]
            if target.get("type") == "array" and "items" in target:
                out["type"], out["meta:xdmType"] = "array", "array"
                out["items"] = _resolve_node(registry, target["items"], depth + 1)
            else:
                properties, required = _collect(registry, target, depth + 1)
                own: dict[str, Any] = out["properties"] if isinstance(out.get("properties"), dict) else {}
                merged = {k: _resolve_node(registry, v, depth + 1) for k, v in own.items()}
                _merge_properties(merged, properties)
                out["type"], out["meta:xdmType"], out["properties"] = "object", "object", merged
                if required:
                    out["required"] = required
            out["meta:referencedFrom"] = target["$id"]
            return out
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _resolve_node(registry, v, depth + 1) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _resolve_node(registry, out[key], depth + 1)
    return out


def _collect(registry: Registry, doc: Doc, depth: int = 0) -> tuple[dict[str, Any], list[str]]:
    """The merged ``properties`` and ``required`` a resource contributes through ``allOf``/``definitions``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    if depth > MAX_DEPTH:
        return properties, required

    def take(section: Any) -> None:
        if not isinstance(section, dict):
            return
        own = section.get("properties")
        if isinstance(own, dict):
            _merge_properties(properties, {k: _resolve_node(registry, v, depth) for k, v in own.items()})
        required.extend(name for name in section.get("required", []) if isinstance(name, str))

    take({"properties": doc.get("properties"), "required": doc.get("required", [])})
    definitions: dict[str, Any] = doc["definitions"] if isinstance(doc.get("definitions"), dict) else {}
    for item in doc.get("allOf") or []:
        if not isinstance(item, dict):
            continue
        ref = item.get("$ref")
        if not isinstance(ref, str):
            take(item)
        elif ref.startswith("#/definitions/"):
            take(definitions.get(ref[len("#/definitions/") :]))
        else:
            target = registry.any_resource(ref)
            if target is not None and target is not doc:
                sub_properties, sub_required = _collect(registry, target, depth + 1)
                _merge_properties(properties, sub_properties)
                required.extend(sub_required)
    return properties, list(dict.fromkeys(required))


def resolve(registry: Registry | Store, doc: Doc) -> Doc:
    """The ``xed-full`` form of any resource: one merged ``properties`` tree, ``meta:*`` kept."""
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    out = {k: v for k, v in public(doc).items() if k not in ("allOf", "definitions", "refs", "properties")}
    properties, required = _collect(registry, doc)
    out["properties"] = properties
    if required:
        out["required"] = required
    return out


def find_schema(store: Store, schema_id: str) -> Doc | None:
    """The stored tenant schema with this ``$id`` or ``meta:altId`` (do not mutate), else ``None``."""
    return Registry(store).find_schema(schema_id)


def resolve_schema(store: Store, schema_id: str) -> Doc:
    """The ``xed-full`` form of a tenant schema (by ``$id`` or ``meta:altId``); ``XDM-1012-404`` if unknown."""
    doc = find_schema(store, schema_id)
    if doc is None:
        raise not_found(SCHEMAS, schema_id)
    return resolve(store, doc)


def _strip_text(node: Any, *, descriptions: bool = True) -> Any:
    """Remove field titles (and descriptions) below the top level, for the ``-notext``/``-desc`` forms."""
    if isinstance(node, list):
        return [_strip_text(item, descriptions=descriptions) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items() if k != "title" and not (descriptions and k == "description")}
    for key in ("properties", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _strip_text(child, descriptions=descriptions) for name, child in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _strip_text(out[key], descriptions=descriptions)
    if isinstance(out.get("allOf"), list):
        out["allOf"] = _strip_text(out["allOf"], descriptions=descriptions)
    return out


def render(registry: Registry | Store, doc: Doc, fmt: str) -> Doc:
    """A resource in one lookup format (``xed``/``xdm`` spellings alike: ``xdm-full`` is ``xed-full``)."""
    variant = fmt.split("-", 1)[1] if "-" in fmt else ""
    full = resolve(registry, doc) if variant.startswith("full") else public(doc)
    if variant in ("notext", "full-notext", "full-desc"):
        top: dict[str, Any] = {k: full[k] for k in ("title", "description") if k in full}
        full = {**_strip_text(full, descriptions=variant != "full-desc"), **top}
    return full


def leaves(properties: dict[str, Any], prefix: str = "") -> dict[str, tuple[Any, Any, Any]]:
    """Every field path (``/a/b``, arrays as ``/a[]/b``) with its ``(type, format, meta:xdmType)``."""
    found: dict[str, tuple[Any, Any, Any]] = {}
    for name, node in properties.items():
        if not isinstance(node, dict):
            continue
        path = f"{prefix}/{name}"
        found[path] = (node.get("type"), node.get("format"), node.get("meta:xdmType"))
        if isinstance(node.get("properties"), dict):
            found.update(leaves(node["properties"], path))
        items = node.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            found.update(leaves(items["properties"], f"{path}[]"))
    return found


def field_at(resolved: Doc, pointer: str) -> dict[str, Any] | None:
    """The field a descriptor path (``/personalEmail/address``, no ``properties`` segments) names, if any."""
    node: dict[str, Any] = {"properties": resolved.get("properties", {})}
    for segment in pointer.strip("/").split("/"):
        children = node.get("properties")
        if not isinstance(children, dict) and isinstance(node.get("items"), dict):
            children = node["items"].get("properties")
        if not isinstance(children, dict) or not isinstance(children.get(segment), dict):
            return None
        node = children[segment]
    return node

"""Write bodies of schemas, field groups, classes and data types: the spec's required members, one class per
schema, compatible field groups (``meta:intendedToExtend``), custom fields only under ``_{TENANT_ID}``
(``XDM-1020/1021/1022-400``), every field typed and named ``[A-Za-z0-9_-]`` (``XDM-4000-400`` with
``report.sub-errors``). :func:`prepare` returns the normalised content the backend stores."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from typing import Any

from . import standard as std
from .kinds import (
    BEHAVIOURS,
    CLASSES,
    DATATYPES,
    FIELD_GROUPS,
    FIELD_NAME,
    FIELD_TYPES,
    SCHEMAS,
    SERVER_OWNED,
    TENANT_KINDS,
    Kind,
)
from .model import Doc, Registry
from .xdm_errors import ApiError, error, invalid, missing, not_found, sub_error, wrong_type

SubErrors = list[dict[str, Any]]

_TYPES: dict[str, tuple[type, str]] = {
    "type": (str, "string"),
    "title": (str, "string"),
    "description": (str, "string"),
    "allOf": (list, "array"),
    "definitions": (dict, "object"),
    "properties": (dict, "object"),
    "meta:intendedToExtend": (list, "array"),
    "meta:immutableTags": (list, "array"),
}


def check_top(body: Doc, required: Sequence[str], types: Sequence[str] = ("object",)) -> None:
    """Required members and member types of a create/replace body (all problems reported at once)."""
    subs = [missing("$", name) for name in required if name not in body]
    for name, (expected, label) in _TYPES.items():
        if name in body and not isinstance(body[name], expected):
            subs.append(wrong_type(f"$.{name}", label, body[name]))
    if isinstance(body.get("type"), str) and body["type"] not in types:
        subs.append(
            sub_error("$.type", "enum", list(types), f"$.type: does not have a value in the enumeration {list(types)}")
        )
    if isinstance(body.get("title"), str) and not body["title"].strip():
        subs.append(sub_error("$.title", "minLength", [1], "$.title: must be at least 1 characters long"))
    if subs:
        raise invalid(subs)


def ref_of(item: Any) -> Any:
    """An ``allOf`` item's ``$ref`` (the spec's examples misspell the key as ``"$ref "``; accepted)."""
    if not isinstance(item, dict):
        return None
    return item.get("$ref", item.get("$ref "))


def check_fields(
    registry: Registry,
    properties: Any,
    path: str,
    subs: SubErrors,
    *,
    top_allowed: frozenset[str] | None,
    namespaced: bool,
) -> None:
    """Field rules: names ``[A-Za-z0-9_-]`` not starting with ``_`` (except namespace objects), every field
    typed (or a ``$ref`` to a data type), objects/arrays well formed. Namespace errors raise at once."""
    if not isinstance(properties, dict):
        subs.append(wrong_type(path, "object", properties))
        return
    for name, node in properties.items():
        where = f"{path}.{name}"
        if top_allowed is not None and namespaced and name not in top_allowed:
            code = "XDM-1020-400" if name.startswith("_") else "XDM-1021-400"
            raise error(
                code,
                "Namespace validation error",
                f"A custom field is defined under an invalid namespace: '{name}' ({where}). All custom fields must "
                f"be defined under a top-level field named {sorted(top_allowed)[0]}.",
            )
        if not FIELD_NAME.fullmatch(name):
            subs.append(
                sub_error(
                    where, "pattern", [name], f"{where}: field names may only contain letters, digits, '-' and '_'"
                )
            )
        elif name.startswith("_") and (top_allowed is None or name not in top_allowed):
            raise error(
                "XDM-1022-400",
                "Namespace validation error",
                f"Field '{name}' ({where}) starts with '_', which is reserved for the tenant namespace object.",
            )
        check_node(registry, node, where, subs)


def check_node(registry: Registry, node: Any, where: str, subs: SubErrors) -> None:
    if not isinstance(node, dict):
        subs.append(wrong_type(where, "object", node))
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        if registry.find(ref, (DATATYPES,)) is None:
            raise not_found(DATATYPES, ref)
        return
    if "type" not in node:
        subs.append(missing(where, "type"))
        return
    kind = node["type"]
    if kind not in FIELD_TYPES:
        subs.append(
            sub_error(
                f"{where}.type",
                "enum",
                list(FIELD_TYPES),
                f"{where}.type: does not have a value in the enumeration {list(FIELD_TYPES)}",
            )
        )
        return
    if kind == "object":
        if "properties" in node:
            check_fields(registry, node["properties"], f"{where}.properties", subs, top_allowed=None, namespaced=False)
        if isinstance(node.get("additionalProperties"), dict):
            check_node(registry, node["additionalProperties"], f"{where}.additionalProperties", subs)
    elif kind == "array":
        if not isinstance(node.get("items"), dict):
            subs.append(missing(where, "items"))
        else:
            check_node(registry, node["items"], f"{where}.items", subs)


def _annotate_all(properties: dict[str, Any]) -> None:
    for node in properties.values():
        if isinstance(node, dict):
            std.annotate(node)


def sections(body: Doc) -> list[tuple[str, Any]]:
    """Where a class/field group/data type defines fields: ``definitions.*`` and inline ``allOf`` items."""
    found: list[tuple[str, Any]] = []
    for name, section in (body.get("definitions") or {}).items():
        found.append((f"$.definitions.{name}", section))
    for index, item in enumerate(body.get("allOf") or []):
        if isinstance(item, dict) and ref_of(item) is None:
            found.append((f"$.allOf[{index}]", item))
    return found


def _check_sections(registry: Registry, body: Doc, allowed: frozenset[str] | None) -> None:
    subs: SubErrors = []
    for where, section in sections(body):
        if not isinstance(section, dict):
            subs.append(wrong_type(where, "object", section))
            continue
        if "properties" in section:
            check_fields(
                registry,
                section["properties"],
                f"{where}.properties",
                subs,
                top_allowed=allowed,
                namespaced=allowed is not None,
            )
    if subs:
        raise invalid(subs)
    for _, section in sections(body):
        if isinstance(section.get("properties"), dict):
            _annotate_all(section["properties"])


def _guess_kind(ref: str, kinds: Sequence[Kind]) -> Kind:
    for kind, marker in (
        (FIELD_GROUPS, "/mixins/"),
        (CLASSES, "/classes/"),
        (DATATYPES, "/datatypes/"),
        (SCHEMAS, "/schemas/"),
        (BEHAVIOURS, "/data/"),
    ):
        if marker in ref and kind in kinds:
            return kind
    return kinds[0]


def _normalise_all_of(
    registry: Registry, body: Doc, external: Sequence[Kind]
) -> tuple[list[dict[str, Any]], list[tuple[Kind, Doc]]]:
    """``allOf`` with canonical ``$id`` refs and the registry's decoration; also the referenced resources."""
    definitions = body.get("definitions") or {}
    items: list[dict[str, Any]] = []
    targets: list[tuple[Kind, Doc]] = []
    seen: set[str] = set()
    subs: SubErrors = []
    for index, raw in enumerate(body.get("allOf") or []):
        where = f"$.allOf[{index}]"
        ref = ref_of(raw)
        if not isinstance(raw, dict):
            subs.append(wrong_type(where, "object", raw))
            continue
        if ref is None:
            items.append(raw)
            continue
        if not isinstance(ref, str):
            subs.append(wrong_type(f"{where}.$ref", "string", ref))
            continue
        if ref.startswith("#/definitions/"):
            if ref[len("#/definitions/") :] not in definitions:
                subs.append(
                    sub_error(f"{where}.$ref", "reference", [ref], f"{where}.$ref: {ref} is not defined in definitions")
                )
                continue
            canonical = ref
        else:
            found = registry.find(ref, external)
            if found is None:
                anything = registry.find(ref, (*TENANT_KINDS, BEHAVIOURS))
                if anything is not None:
                    expected = " or ".join(k.label for k in external)
                    subs.append(
                        sub_error(
                            f"{where}.$ref",
                            "reference",
                            [ref],
                            f"{where}.$ref: a {anything[0].label} cannot be referenced here (expected {expected})",
                        )
                    )
                    continue
                raise not_found(_guess_kind(ref, external), ref)
            canonical = found[1]["$id"]
            targets.append(found)
        if canonical in seen:
            continue
        seen.add(canonical)
        entry = {k: v for k, v in raw.items() if k not in ("$ref", "$ref ")}
        items.append({"$ref": canonical, **entry, "type": "object", "meta:xdmType": "object"})
    if subs:
        raise invalid(subs)
    return items, targets


def _content(body: Doc) -> Doc:
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_OWNED}


def _extends(targets: list[tuple[Kind, Doc]]) -> list[str]:
    found: list[str] = []
    for _, doc in targets:
        found.extend([*doc.get("meta:extends", []), doc["$id"]])
    return list(dict.fromkeys(found))


def _one_sub_error(path: str, kind: str, arguments: Sequence[Any], message: str) -> ApiError:
    return invalid([sub_error(path, kind, arguments, message)])


def _prepare_schema(registry: Registry, body: Doc) -> Doc:
    check_top(body, ("type", "title", "description", "allOf"))
    for key in ("properties", "definitions"):
        if key in body:
            raise _one_sub_error(
                f"$.{key}",
                "additionalProperties",
                [key],
                f"$.{key}: a schema cannot define fields itself; put them in a field group and reference it in allOf",
            )
    content = _content(body)
    if not content["allOf"]:
        raise _one_sub_error("$.allOf", "minItems", [1], "$.allOf: there must be a minimum of 1 items (one class)")
    items, targets = _normalise_all_of(registry, content, (CLASSES, FIELD_GROUPS))
    if any("$ref" not in item for item in items):
        raise _one_sub_error(
            "$.allOf", "reference", [], '$.allOf: every item must be a {"$ref": ...} to a class or field group'
        )
    classes = [doc for kind, doc in targets if kind is CLASSES]
    if len(classes) != 1:
        raise _one_sub_error(
            "$.allOf",
            "class",
            [len(classes)],
            f"$.allOf: a schema must reference exactly one class, found {len(classes)}",
        )
    class_id = classes[0]["$id"]
    for kind, doc in targets:
        intended = doc.get("meta:intendedToExtend") or []
        if kind is FIELD_GROUPS and intended and class_id not in intended:
            raise _one_sub_error(
                "$.allOf",
                "compatibility",
                [doc["$id"], class_id],
                f"$.allOf: field group {doc['$id']} ({doc.get('title')}) is not intended to extend class "
                f"{class_id} (meta:intendedToExtend: {intended})",
            )
    content["allOf"] = items
    content["meta:class"] = class_id
    content["meta:extends"] = _extends(targets)
    return content


def _prepare_field_group(registry: Registry, body: Doc) -> Doc:
    check_top(body, ("type", "title", "meta:intendedToExtend"))
    content = _content(body)
    intended: list[str] = []
    for index, ref in enumerate(content["meta:intendedToExtend"]):
        if not isinstance(ref, str):
            raise invalid([wrong_type(f"$.meta:intendedToExtend[{index}]", "string", ref)])
        found = registry.find(ref, (CLASSES,))
        if found is None:
            raise not_found(CLASSES, ref)
        intended.append(found[1]["$id"])
    content["meta:intendedToExtend"] = list(dict.fromkeys(intended))
    if "allOf" not in content:
        content["allOf"] = [{"$ref": f"#/definitions/{name}"} for name in content.get("definitions") or {}]
    _check_sections(registry, content, frozenset({registry.tenant_namespace}))
    items, targets = _normalise_all_of(registry, content, (FIELD_GROUPS, DATATYPES))
    content["allOf"] = items
    extends = _extends(targets)
    if extends:
        content["meta:extends"] = extends
    return content


def _behaviour(ref: Any) -> str | None:
    """The ``$id`` of the behaviour an ``allOf`` ref names, else ``None``."""
    doc = std.global_resource(ref) if isinstance(ref, str) else None
    return doc["$id"] if doc is not None and doc["meta:resourceType"] == "behaviors" else None


def _prepare_class(registry: Registry, body: Doc, previous: Doc | None) -> Doc:
    check_top(body, ("type", "title", "description", "allOf"))
    content = _content(body)
    behaviours = [ref for ref in (_behaviour(ref_of(item)) for item in content["allOf"]) if ref is not None]
    if len(behaviours) != 1:
        raise _one_sub_error(
            "$.allOf",
            "behavior",
            [len(behaviours)],
            f"$.allOf: a class must reference exactly one behavior ({', '.join(std.BEHAVIOURS)}), "
            f"found {len(behaviours)}",
        )
    allowed = {registry.tenant_namespace}
    if behaviours[0] == std.ADHOC:
        # An ad hoc class keeps one random namespace for its fields across versions; ``_adhoc`` stands for it.
        namespace = (previous or {}).get("meta:datasetNamespace") or f"_{secrets.token_hex(16)}"
        allowed = {namespace}
        for _, section in sections(content):
            props = section.get("properties") if isinstance(section, dict) else None
            if isinstance(props, dict) and "_adhoc" in props:
                section["properties"] = {(namespace if k == "_adhoc" else k): v for k, v in props.items()}
        content["meta:datasetNamespace"] = namespace
    _check_sections(registry, content, frozenset(allowed))
    items, targets = _normalise_all_of(registry, content, (BEHAVIOURS, FIELD_GROUPS, DATATYPES))
    content["allOf"] = items
    content["meta:extends"] = _extends(targets)
    return content


def _prepare_datatype(registry: Registry, body: Doc) -> Doc:
    check_top(body, ("type", "title"), types=("object", "array"))
    content = _content(body)
    subs: SubErrors = []
    if "properties" in content:
        check_fields(registry, content["properties"], "$.properties", subs, top_allowed=None, namespaced=False)
    if content.get("type") == "array":
        if not isinstance(content.get("items"), dict):
            subs.append(missing("$", "items"))
        else:
            check_node(registry, content["items"], "$.items", subs)
    if subs:
        raise invalid(subs)
    if isinstance(content.get("properties"), dict):
        _annotate_all(content["properties"])
    if isinstance(content.get("items"), dict):
        std.annotate(content["items"])
    _check_sections(registry, content, None)
    if "allOf" in content:
        items, targets = _normalise_all_of(registry, content, (DATATYPES,))
        content["allOf"] = items
        if targets:
            content["meta:extends"] = _extends(targets)
    return content


def prepare(registry: Registry, kind: Kind, body: Doc, previous: Doc | None) -> Doc:
    """The validated, normalised content of a create/replace body (the backend adds ids and metadata)."""
    if kind is SCHEMAS:
        return _prepare_schema(registry, body)
    if kind is FIELD_GROUPS:
        return _prepare_field_group(registry, body)
    if kind is CLASSES:
        return _prepare_class(registry, body, previous)
    return _prepare_datatype(registry, body)

"""Descriptors: identity (at most one primary per schema, a known namespace), relationships, display names and
the model-based kinds. ``xdm:sourceProperty`` is a path without ``properties`` segments that must exist in the
resolved schema; ``xdm:sourceSchema``/``xdm:destinationSchema`` are stored as the canonical ``$id``."""

from __future__ import annotations

import copy
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from .kinds import DESCRIPTOR_REQUIRED, DESCRIPTOR_TYPES, IDENTITY, PRIMARY_IDENTITY_EXISTS, SCHEMAS
from .listing import number
from .model import Doc, Registry
from .resolve import field_at, resolve
from .xdm_errors import error, invalid, missing, not_found, sub_error, wrong_type

#: Members the registry sets itself (a PUT body copied from a GET may carry them).
_SERVER_OWNED = (
    "@id",
    "imsOrg",
    "version",
    "meta:containerId",
    "meta:sandboxId",
    "meta:sandboxType",
    "meta:registryMetadata",
)


def _enum_error(path: str, allowed: list[str]) -> dict[str, Any]:
    return sub_error(path, "enum", allowed, f"{path}: does not have a value in the enumeration {allowed}")


def _shape_errors(body: Doc) -> list[dict[str, Any]]:
    subs = [missing("$", name) for name in ("@type", "xdm:sourceSchema", "xdm:sourceVersion") if name not in body]
    for name in ("@type", "xdm:sourceSchema", "xdm:sourceProperty", "xdm:namespace", "xdm:property"):
        numeric_namespace = name == "xdm:namespace" and isinstance(body.get(name), int)
        if name in body and not isinstance(body[name], str) and not numeric_namespace:
            subs.append(wrong_type(f"$.{name}", "string", body[name]))
    version = body.get("xdm:sourceVersion")
    # The spec types it as a string, every example sends 1: both are taken.
    if "xdm:sourceVersion" in body and not (
        (isinstance(version, int) and not isinstance(version, bool)) or (isinstance(version, str) and version.isdigit())
    ):
        subs.append(wrong_type("$.xdm:sourceVersion", "integer", version))
    if "xdm:isPrimary" in body and not isinstance(body["xdm:isPrimary"], bool):
        subs.append(wrong_type("$.xdm:isPrimary", "boolean", body["xdm:isPrimary"]))
    kind = body.get("@type")
    if isinstance(kind, str) and kind not in DESCRIPTOR_TYPES:
        subs.append(_enum_error("$.@type", list(DESCRIPTOR_TYPES)))
    subs.extend(missing("$", name) for name in DESCRIPTOR_REQUIRED.get(str(kind), ()) if name not in body)
    if (
        kind == IDENTITY
        and isinstance(body.get("xdm:property"), str)
        and body["xdm:property"] not in ("xdm:code", "xdm:id")
    ):
        subs.append(_enum_error("$.xdm:property", ["xdm:code", "xdm:id"]))
    return subs


def _check_source_property(registry: Registry, schema: Doc, pointer: str) -> None:
    if not pointer.startswith("/") or pointer.endswith("/") or pointer == "/":
        raise invalid(
            [
                sub_error(
                    "$.xdm:sourceProperty",
                    "pattern",
                    [pointer],
                    "$.xdm:sourceProperty: must start with '/' and must not end with '/' "
                    "(for example /personalEmail/address)",
                )
            ]
        )
    if field_at(resolve(registry, schema), pointer) is None:
        hint = " (paths omit the 'properties' segments)" if "/properties/" in f"{pointer}/" else ""
        raise invalid(
            [
                sub_error(
                    "$.xdm:sourceProperty",
                    "reference",
                    [pointer],
                    f"$.xdm:sourceProperty: {pointer} does not exist in schema {schema['$id']}{hint}",
                )
            ]
        )


def _check_namespace(registry: Registry, content: Doc) -> None:
    value = content["xdm:namespace"]
    known = registry.identity_namespaces()
    if content["xdm:property"] == "xdm:id":
        wanted = number(value)
        match = any(float(ns["id"]) == wanted for ns in known)
    else:
        match = any(str(ns["code"]).casefold() == str(value).casefold() for ns in known)
    if not match:
        codes = ", ".join(str(ns["code"]) for ns in known)
        raise invalid(
            [
                sub_error(
                    "$.xdm:namespace",
                    "reference",
                    [value],
                    f"$.xdm:namespace: unknown identity namespace '{value}' for {content['xdm:property']} "
                    f"(known: {codes})",
                )
            ]
        )


def check_descriptor(registry: Registry, body: Doc, own_id: str | None) -> Doc:
    """Validate a descriptor body; returns the normalised content (canonical ``xdm:sourceSchema``)."""
    subs = _shape_errors(body)
    if subs:
        raise invalid(subs)
    content = {k: copy.deepcopy(v) for k, v in body.items() if k not in _SERVER_OWNED}
    schema = registry.find_schema(body["xdm:sourceSchema"])
    if schema is None:
        raise not_found(SCHEMAS, body["xdm:sourceSchema"])
    content["xdm:sourceSchema"] = schema["$id"]
    if "xdm:destinationSchema" in content:
        target = registry.find_schema(str(content["xdm:destinationSchema"]))
        if target is None:
            raise not_found(SCHEMAS, str(content["xdm:destinationSchema"]))
        content["xdm:destinationSchema"] = target["$id"]
    pointer = content.get("xdm:sourceProperty")
    if isinstance(pointer, str):
        _check_source_property(registry, schema, pointer)
    if content.get("@type") == IDENTITY:
        _check_namespace(registry, content)
        if content.get("xdm:isPrimary") is True:
            for other in registry.descriptors_of(schema["$id"]):
                if other["@id"] != own_id and other.get("@type") == IDENTITY and other.get("xdm:isPrimary") is True:
                    raise error(
                        PRIMARY_IDENTITY_EXISTS,
                        "Primary identity already defined",
                        f"Schema {schema['$id']} already has a primary identity ({other['xdm:sourceProperty']}, "
                        f"descriptor {other['@id']}); a schema can have at most one.",
                    )
    return content


def descriptor_doc(
    registry: Registry, content: Doc, previous: Doc | None, *, now_ms: int, client_id: str, next_seq: Callable[[], int]
) -> Doc:
    """The stored descriptor: ``@id`` (kept on PUT), metadata and the tenant/sandbox members."""
    store = registry.store
    descriptor_id = previous["@id"] if previous else secrets.token_hex(20)
    created = previous["meta:registryMetadata"]["repo:createdDate"] if previous else now_ms
    return {
        "id": descriptor_id,
        "@id": descriptor_id,
        **content,
        "imsOrg": store.org,
        "version": "1",
        "meta:containerId": "tenant",
        "meta:sandboxId": store.sandbox_id,
        "meta:sandboxType": registry.sandbox_type,
        "meta:registryMetadata": {
            "repo:createdDate": created,
            "repo:lastModifiedDate": now_ms,
            "xdm:createdClientId": client_id,
            "xdm:lastModifiedClientId": client_id,
            "eTag": hashlib.sha256(f"{descriptor_id}{now_ms}{secrets.token_hex(4)}".encode()).hexdigest(),
        },
        "_seq": previous["_seq"] if previous else next_seq(),
    }

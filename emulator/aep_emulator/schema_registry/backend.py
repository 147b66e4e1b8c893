"""The registry's write side for one org/sandbox: create, replace, patch and delete resources and descriptors,
with the rules that span resources (titles unique across the tenant, ``meta:immutableTags`` only growing, the
Profile union's prerequisites, no breaking change to a schema a dataset or Profile uses, no deleting what is
referenced). Handlers parse requests; this module decides and stores."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from ..core.json_patch import PatchFailure, apply_patch
from ..core.state import Store
from . import standard as std
from .descriptors import check_descriptor, descriptor_doc
from .kinds import CHANGE_NOT_ALLOWED, FIELD_GROUPS, PATCH_READ_ONLY, RESOURCE_IN_USE, SCHEMAS, UNION_TAG, Kind
from .model import Doc, Registry, public, refs
from .resolve import leaves, resolve
from .validate import prepare
from .xdm_errors import ApiError, error, invalid, missing, sub_error, wrong_type

#: The first members of a stored resource, in the order the registry answers them.
_ORDER = ("$id", "meta:altId", "meta:resourceType", "version", "title", "type", "description")
#: The spec example's spelling for appending a tag (``/meta:immutableTags-``) and the RFC one.
_TAG_APPEND = ("/meta:immutableTags-", "/meta:immutableTags/-")


def _bump(version: str) -> str:
    major, _, minor = version.partition(".")
    return f"{major}.{int(minor or 0) + 1}" if minor.isdigit() or not minor else f"{version}.1"


def _breaking(before: dict[str, tuple[Any, Any, Any]], after: dict[str, tuple[Any, Any, Any]]) -> str | None:
    for path, shape in before.items():
        if path not in after:
            return f"field {path} would be removed"
        if after[path][:2] != shape[:2]:
            return f"field {path} would change type from {shape[0]}/{shape[1]} to {after[path][0]}/{after[path][1]}"
    return None


def write_view(doc: Doc) -> Doc:
    """POST/PUT/PATCH answer: the resource plus ``refs`` (after ``allOf``) as the docs show."""
    out: Doc = {}
    for key, value in public(doc).items():
        out[key] = value
        if key == "allOf":
            out["refs"] = refs(doc)
    if "refs" not in out:
        out["refs"] = refs(doc)
    return out


def _patch_error(body: Any) -> Callable[[PatchFailure], Exception]:
    """Turn a JSON Patch failure into the registry's ``XDM-4000-400`` with the sub-error it would list."""
    operations = [body] if isinstance(body, dict) else body

    def to_error(failure: PatchFailure) -> ApiError:
        where = f"$[{failure.index}]"
        path = failure.path
        if failure.kind == "not_a_list":
            return invalid([wrong_type("$", "array", body)])
        if failure.kind == "not_an_object":
            return invalid([wrong_type(where, "object", operations[failure.index or 0])])
        if failure.kind == "missing":
            return invalid([missing(where, name) for name in failure.members])
        if failure.kind == "read_only":
            return invalid([sub_error(f"{where}.path", "readOnly", [path], f"{where}.path: '{path}' is read-only")])
        if failure.kind == "bad_op":
            return invalid([sub_error(f"{where}.op", "enum", [failure.op], f"{where}.op: unsupported operation")])
        if failure.kind == "bad_pointer":
            return invalid([sub_error("$.path", "pattern", [path], f"$.path: '{path}' is not a JSON pointer")])
        if failure.kind == "whole_document":
            return invalid(
                [sub_error("$.path", "patch", [path], "$.path: the whole resource cannot be replaced by PATCH")]
            )
        if failure.kind == "test_failed":
            return invalid([sub_error(where, "test", [path], f"{where}: test failed at '{path}'")])
        return invalid([sub_error("$.path", "patch", [path], f"$.path: '{path}' does not exist in the resource")])

    return to_error


def _append_tags(operation: dict[str, Any], doc: Any) -> list[dict[str, Any]]:
    """``add`` to ``/meta:immutableTags-`` or ``.../-`` appends the value (or values) not tagged yet."""
    if operation["op"] != "add" or operation["path"] not in _TAG_APPEND:
        return [operation]
    values = operation["value"] if isinstance(operation["value"], list) else [operation["value"]]
    tags = doc.get("meta:immutableTags") if isinstance(doc, dict) else None
    if not isinstance(tags, list):
        return [{"op": "add", "path": "/meta:immutableTags", "value": list(dict.fromkeys(values))}]
    new = [value for value in dict.fromkeys(values) if value not in tags]
    return [{"op": "add", "path": "/meta:immutableTags/-", "value": value} for value in new]


class SchemaRegistryBackend(Registry):
    """The registry of one org/sandbox as seen by one caller at one instant (who writes, and when)."""

    def __init__(self, store: Store, *, client_id: str, now_ms: int, next_seq: Callable[[], int]) -> None:
        super().__init__(store)
        self.client_id = client_id
        self.now_ms = now_ms
        self.next_seq = next_seq

    # -- resources --------------------------------------------------------------------------------------
    def create(self, kind: Kind, body: Doc) -> Doc:
        content = prepare(self, kind, body, None)
        self._check_title(content["title"], None)
        doc = self._stamp(kind, content, None)
        if kind is SCHEMAS:
            self._check_tags(doc, None)
        self.collection(kind).add(doc)
        return doc

    def replace(self, kind: Kind, doc: Doc, body: Doc) -> Doc:
        self._replace(kind, doc, prepare(self, kind, body, doc))
        return doc

    def patch(self, kind: Kind, doc: Doc, operations: Any) -> Doc:
        """RFC 6902 on the resource's public form, then validated like a PUT of the result."""
        patched = apply_patch(
            public(doc), operations, read_only=PATCH_READ_ONLY, errors=_patch_error(operations), rewrite=_append_tags
        )
        return self.replace(kind, doc, patched)

    def delete(self, kind: Kind, doc: Doc) -> None:
        rid = doc["$id"]
        if kind is SCHEMAS:
            datasets = self.datasets_using(rid)
            if datasets:
                raise self._in_use(kind, doc, [f"dataset {d}" for d in datasets])
            for descriptor in self.descriptors_of(rid):
                self.store["descriptors"].remove(descriptor["id"])
        else:
            users = [
                other["$id"]
                for other in self.tenant_docs()
                if other["$id"] != rid
                and (
                    rid in refs(other)
                    or other.get("meta:class") == rid
                    or rid in other.get("meta:intendedToExtend", [])
                )
            ]
            if users:
                raise self._in_use(kind, doc, users)
        self.collection(kind).remove(rid)

    # -- descriptors ------------------------------------------------------------------------------------
    def create_descriptor(self, body: Doc) -> Doc:
        content = check_descriptor(self, body, None)
        doc = descriptor_doc(self, content, None, now_ms=self.now_ms, client_id=self.client_id, next_seq=self.next_seq)
        self.store["descriptors"].add(doc)
        return doc

    def replace_descriptor(self, doc: Doc, body: Doc) -> Doc:
        content = check_descriptor(self, body, doc["@id"])
        new = descriptor_doc(self, content, doc, now_ms=self.now_ms, client_id=self.client_id, next_seq=self.next_seq)
        doc.clear()
        doc.update(new)
        return doc

    def delete_descriptor(self, doc: Doc) -> None:
        self.store["descriptors"].remove(doc["id"])

    # -- rules --------------------------------------------------------------------------------------------
    def _stamp(self, kind: Kind, content: Doc, previous: Doc | None) -> Doc:
        """A complete stored document: ids, version, ``meta:registryMetadata`` and the tenant/sandbox members."""
        now = self.now_ms
        if previous is None:
            hex_id = secrets.token_hex(24)
            segment = "mixins" if kind is FIELD_GROUPS else kind.name
            resource_id = f"https://ns.adobe.com/{self.tenant_id}/{segment}/{hex_id}"
            alt_id = f"_{self.tenant_id}.{segment}.{hex_id}"
            version, created, creator = "1.0", now, self.client_id
        else:
            resource_id, alt_id = previous["$id"], previous["meta:altId"]
            version = _bump(previous["version"])
            created = previous["meta:registryMetadata"]["repo:createdDate"]
            creator = previous["meta:registryMetadata"].get("xdm:createdClientId", self.client_id)
        doc: Doc = {
            "id": resource_id,
            "$id": resource_id,
            "meta:altId": alt_id,
            "meta:resourceType": kind.resource_type,
            "version": version,
        }
        for key in _ORDER[4:]:
            if key in content:
                doc[key] = content[key]
        for key, value in content.items():
            if key not in doc and key not in ("meta:class", "meta:extends", "meta:immutableTags"):
                doc[key] = value
        doc["imsOrg"] = self.store.org
        abstract = kind is not SCHEMAS
        doc["meta:extensible"], doc["meta:abstract"] = abstract, abstract
        if "meta:extends" in content:
            doc["meta:extends"] = content["meta:extends"]
        doc["meta:xdmType"] = "array" if content.get("type") == "array" else "object"
        fingerprint = json.dumps({k: v for k, v in doc.items() if k != "id"}, sort_keys=True, default=str)
        doc["meta:registryMetadata"] = {
            "repo:createdDate": created,
            "repo:lastModifiedDate": now,
            "xdm:createdClientId": creator,
            "xdm:lastModifiedClientId": self.client_id,
            "xdm:createdUserId": f"{creator}@techacct.adobe.com",
            "xdm:lastModifiedUserId": f"{self.client_id}@techacct.adobe.com",
            "eTag": hashlib.sha256(f"{fingerprint}{now}{secrets.token_hex(4)}".encode()).hexdigest(),
            "meta:globalLibVersion": std.GLOBAL_LIB_VERSION,
        }
        if "meta:class" in content:
            doc["meta:class"] = content["meta:class"]
        doc["meta:containerId"] = "tenant"
        doc["meta:sandboxId"] = self.store.sandbox_id
        doc["meta:sandboxType"] = self.sandbox_type
        doc["meta:tenantNamespace"] = self.tenant_namespace
        if content.get("meta:immutableTags") is not None:
            doc["meta:immutableTags"] = content["meta:immutableTags"]
        doc["_seq"] = previous["_seq"] if previous is not None else self.next_seq()
        return doc

    def _check_title(self, title: str, own_id: str | None) -> None:
        for doc in self.tenant_docs():
            if doc.get("title") == title and doc["$id"] != own_id:
                message = f"Object titles must be unique. An object {doc['$id']} already exists with the same title"
                raise error("XDM-1521-400", "Title not unique", message)

    def _lock_reason(self, schema: Doc) -> str | None:
        """Why only non-destructive changes are allowed (Profile union, or datasets built on the schema)."""
        if UNION_TAG in (schema.get("meta:immutableTags") or []):
            return "it is enabled for Real-Time Customer Profile"
        datasets = self.datasets_using(schema["$id"])
        return f"dataset {datasets[0]} uses it" if datasets else None

    def _check_tags(self, doc: Doc, previous: Doc | None) -> None:
        """``meta:immutableTags`` only grows; ``union`` needs a primary identity or identityMap and must merge."""
        tags = doc.get("meta:immutableTags")
        if tags is None:
            tags = []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise invalid([wrong_type("$.meta:immutableTags", "array of strings", tags)])
        old = set((previous or {}).get("meta:immutableTags") or [])
        removed = sorted(old - set(tags))
        if removed:
            raise error(
                CHANGE_NOT_ALLOWED,
                "Schema change not allowed",
                f"meta:immutableTags can only be added to, never removed: {removed} cannot be removed from "
                f"{doc['$id']}.",
            )
        if UNION_TAG not in tags:
            return
        resolved = resolve(self, doc)
        if UNION_TAG not in old:
            has_map = std.IDENTITY_MAP in doc.get("meta:extends", []) or "identityMap" in resolved["properties"]
            if not has_map and not self.has_primary_identity(doc["$id"]):
                raise error(
                    "XDM-1528-400",
                    "Union descriptor validation error",
                    "To participate in a union, a schema must include an identityMap field group or a primary "
                    "identity descriptor.",
                )
        mine = leaves(resolved["properties"])
        for other in self.store["schemas"]:
            if other["$id"] == doc["$id"] or other.get("meta:class") != doc.get("meta:class"):
                continue
            if UNION_TAG not in (other.get("meta:immutableTags") or []):
                continue
            theirs = leaves(resolve(self, other)["properties"])
            for path, shape in mine.items():
                if path in theirs and theirs[path][0] != shape[0]:
                    raise error(
                        "XDM-1413-400",
                        "Merge Schema Error",
                        f"Cannot merge incompatible data types. The path {path} has already been defined in schema "
                        f"(id={other['$id']}) using a different data type. Types: {theirs[path][0]}, {shape[0]}",
                    )

    def _replace(self, kind: Kind, doc: Doc, content: Doc) -> None:
        """Swap a stored resource for its new version, refusing breaking changes to locked schemas."""
        self._check_title(content["title"], doc["$id"])
        new = self._stamp(kind, content, doc)
        if kind is SCHEMAS:
            self._check_tags(new, doc)
        locked = [(s, reason) for s in self.store["schemas"] if (reason := self._lock_reason(s)) is not None]
        before = {s["$id"]: leaves(resolve(self, s)["properties"]) for s, _ in locked}
        snapshot = dict(doc)
        doc.clear()
        doc.update(new)
        for schema, reason in locked:
            problem = _breaking(before[schema["$id"]], leaves(resolve(self, schema)["properties"]))
            if problem:
                doc.clear()
                doc.update(snapshot)
                raise error(
                    CHANGE_NOT_ALLOWED,
                    "Schema change not allowed",
                    f"Only non-destructive changes are allowed to schema {schema['$id']} because {reason}: {problem}.",
                )

    @staticmethod
    def _in_use(kind: Kind, doc: Doc, users: list[str]) -> ApiError:
        named = ", ".join(users[:5]) + (" and others" if len(users) > 5 else "")
        return error(
            RESOURCE_IN_USE,
            "Resource in use",
            f"The {kind.label} {doc['$id']} cannot be deleted because it is referenced by {named}.",
        )

"""The registry's state in one org's sandbox, read side: ids, the tenant and global containers, lookups,
identity namespaces, descriptors by schema and the datasets and unions built on schemas.

Documents are stored as the JSON the registry answers (plus the emulator's ``id``/``_seq`` bookkeeping keys) in
the sandbox's :class:`~aep_emulator.core.state.Store`; :class:`Registry` gives them types and names.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from typing import Any

from ..core.state import Collection, Store
from . import standard as std
from .kinds import (
    BEHAVIOURS,
    BY_RESOURCE_TYPE,
    CLASSES,
    DATATYPES,
    FIELD_GROUPS,
    IDENTITY,
    SCHEMAS,
    TENANT_KINDS,
    UNION_TAG,
    Kind,
)

#: A registry document (schema, field group, class, data type, behaviour, descriptor or union) as JSON.
Doc = dict[str, Any]


def public(doc: Doc) -> Doc:
    """The document a client sees (deep copy without the emulator's bookkeeping keys)."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if k != "id" and not k.startswith("_")}


def id_view(doc: Doc) -> Doc:
    """The ``xed-id`` list item."""
    return {key: doc[key] for key in ("$id", "meta:altId", "version", "title") if key in doc}


def kind_of(doc: Doc) -> Kind | None:
    return BY_RESOURCE_TYPE.get(doc.get("meta:resourceType", ""))


def tenant_id(store: Store) -> str:
    """The org's tenant id: ten lowercase letters from a hash of the org id, the same in every sandbox."""
    digest = hashlib.sha256(f"aep-emulator-tenant:{store.org}".encode()).digest()
    return "".join(chr(ord("a") + byte % 26) for byte in digest[:10])


def add_identity_namespace(store: Store, code: str, name: str | None = None, description: str = "") -> Doc:
    """Register a custom identity namespace for descriptors (Identity Service itself is not emulated)."""
    return Registry(store).add_identity_namespace(code, name, description)


def _find_in(coll: Collection, ref: str) -> Doc | None:
    found = coll.get(ref)
    if found is not None:
        return found
    return next((doc for doc in coll if doc.get("meta:altId") == ref), None)


class RegistryState:
    """What the registry keeps per sandbox besides the store's named collections (``schemas``, ``fieldgroups``,
    ``descriptors``, which the control plane lists): tenant classes and data types (keyed by ``$id``) and custom
    identity namespaces by code. One per sandbox: ``store.backend(RegistryState)``."""

    COLLECTIONS = ("schemas", "fieldgroups", "descriptors")

    def __init__(self, store: Store) -> None:
        self.classes = Collection()
        self.datatypes = Collection()
        self.identity_namespaces: dict[str, Doc] = {}


class Registry:
    """The registry of one org/sandbox, read side (the documents returned are live: do not mutate)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.state = store.backend(RegistryState)

    # -- the tenant -----------------------------------------------------------------------------------
    @property
    def tenant_id(self) -> str:
        return tenant_id(self.store)

    @property
    def tenant_namespace(self) -> str:
        """``_{TENANT_ID}``, the only top-level object custom fields may live in."""
        return f"_{self.tenant_id}"

    @property
    def sandbox_type(self) -> str:
        return "production" if self.store.sandbox == "prod" else "development"

    # -- resources --------------------------------------------------------------------------------------
    def collection(self, kind: Kind) -> Collection:
        if kind is SCHEMAS:
            return self.store["schemas"]
        if kind is FIELD_GROUPS:
            return self.store["fieldgroups"]
        if kind is CLASSES:
            return self.state.classes
        if kind is DATATYPES:
            return self.state.datatypes
        raise ValueError(f"no tenant collection for {kind.name}")

    def tenant_docs(self) -> list[Doc]:
        return [doc for kind in TENANT_KINDS for doc in self.collection(kind)]

    def find_tenant(self, kind: Kind, ref: str) -> Doc | None:
        """A tenant resource of ``kind`` by ``$id`` or ``meta:altId``."""
        return _find_in(self.collection(kind), ref)

    def find_schema(self, schema_id: str) -> Doc | None:
        """The tenant schema with this ``$id`` or ``meta:altId``, else ``None``."""
        return self.find_tenant(SCHEMAS, schema_id)

    def find(self, ref: str, kinds: Iterable[Kind] = TENANT_KINDS) -> tuple[Kind, Doc] | None:
        """A tenant or standard resource of one of ``kinds`` by ``$id``/``meta:altId`` (fragment ignored)."""
        ref = ref.split("#", 1)[0]
        wanted = tuple(kinds)
        for kind in wanted:
            if kind is BEHAVIOURS:
                continue
            doc = self.find_tenant(kind, ref)
            if doc is not None:
                return kind, doc
        doc = std.global_resource(ref)
        if doc is not None:
            kind_found = kind_of(doc)
            if kind_found is not None and kind_found in wanted:
                return kind_found, doc
        return None

    def any_resource(self, ref: str) -> Doc | None:
        """Whatever resource ``ref`` names (what ``$ref`` resolution follows)."""
        found = self.find(ref, (*TENANT_KINDS, BEHAVIOURS))
        return found[1] if found else None

    def container_docs(self, container: str, kind: Kind) -> list[Doc]:
        if container == "global":
            return std.listed(kind.resource_type)
        return list(self.collection(kind))

    def in_container(self, container: str, kind: Kind, ref: str) -> Doc | None:
        if container == "global":
            doc = std.global_resource(ref)
            return doc if doc is not None and doc["meta:resourceType"] == kind.resource_type else None
        return self.find_tenant(kind, ref)

    def stats(self) -> Doc:
        """``GET /stats``: the tenant id, counts, the newest resources and the classes schemas use."""
        docs = self.tenant_docs()

        def newest(key: str) -> list[Doc]:
            ordered = sorted(docs, key=lambda d: (int(d["meta:registryMetadata"][key]), d["_seq"]), reverse=True)
            return [{**id_view(d), "meta:resourceType": d["meta:resourceType"]} for d in ordered[:5]]

        usage: dict[str, list[Doc]] = {}
        for schema in self.collection(SCHEMAS):
            usage.setdefault(schema["meta:class"], []).append(
                {key: schema.get(key, "") for key in ("$id", "meta:altId", "title", "description")}
            )
        class_usage = []
        for class_id, schemas in usage.items():
            found = self.find(class_id, (CLASSES,))
            title = found[1]["title"] if found else class_id
            class_usage.append({"$id": class_id, "title": title, "numberOfSchemas": len(schemas), "schemas": schemas})
        return {
            "imsOrg": self.store.org,
            "tenantId": self.tenant_id,
            "counts": {
                "schemas": len(self.collection(SCHEMAS)),
                "mixins": len(self.collection(FIELD_GROUPS)),
                "datatypes": len(self.collection(DATATYPES)),
                "classes": len(self.collection(CLASSES)),
                "unions": len(self.union_members()),
            },
            "recentlyCreatedResources": newest("repo:createdDate"),
            "recentlyUpdatedResources": newest("repo:lastModifiedDate"),
            "classUsage": class_usage,
        }

    # -- identity namespaces and descriptors ------------------------------------------------------------
    def identity_namespaces(self) -> list[Doc]:
        return [*std.STANDARD_NAMESPACES, *self.state.identity_namespaces.values()]

    def add_identity_namespace(self, code: str, name: str | None = None, description: str = "") -> Doc:
        """Register a custom identity namespace for descriptors (Identity Service itself is not emulated)."""
        used = {ns["id"] for ns in self.identity_namespaces()}
        namespace = {
            "id": max(used | {100000}) + 1,
            "code": code,
            "name": name or code,
            "description": description,
            "idType": "CROSS_DEVICE",
            "status": "ACTIVE",
            "custom": True,
            "namespaceType": "Custom",
        }
        self.state.identity_namespaces[code] = namespace
        return namespace

    def descriptor(self, descriptor_id: str) -> Doc | None:
        return self.store["descriptors"].get(descriptor_id)

    def descriptors(self) -> list[Doc]:
        return list(self.store["descriptors"])

    def descriptors_of(self, schema_id: str) -> list[Doc]:
        return [d for d in self.store["descriptors"] if d.get("xdm:sourceSchema") == schema_id]

    def has_primary_identity(self, schema_id: str) -> bool:
        return any(
            d.get("@type") == IDENTITY and d.get("xdm:isPrimary") is True for d in self.descriptors_of(schema_id)
        )

    def primary_identity_paths(self, schema_id: str) -> list[list[str]]:
        """Field paths (``["_tenant", "hubspot", "vid"]``) of the schema's primary identity descriptors."""
        return [
            [part for part in d["xdm:sourceProperty"].split("/") if part]
            for d in self.descriptors_of(schema_id)
            if d.get("@type") == IDENTITY
            and d.get("xdm:isPrimary") is True
            and isinstance(d.get("xdm:sourceProperty"), str)
        ]

    # -- what uses a schema -----------------------------------------------------------------------------
    def datasets_using(self, schema_id: str) -> list[str]:
        """Catalog datasets whose ``schemaRef.id`` is this schema (read straight from the shared store)."""
        found = []
        for dataset in self.store["dataSets"]:
            ref = (dataset.get("schemaRef") or {}).get("id") if isinstance(dataset.get("schemaRef"), dict) else None
            if ref is not None and (ref == schema_id or (self.find_schema(ref) or {}).get("$id") == schema_id):
                found.append(str(dataset.get("id")))
        return found

    def union_members(self) -> dict[str, list[Doc]]:
        """Profile-enabled schemas by class ``$id`` (each class with members has a union)."""
        members: dict[str, list[Doc]] = {}
        for schema in self.store["schemas"]:
            if UNION_TAG in (schema.get("meta:immutableTags") or []):
                members.setdefault(schema["meta:class"], []).append(schema)
        return members

    def union_doc(self, class_id: str, schemas: list[Doc]) -> Doc:
        """The union of a class: a read-only view over its Profile-enabled schemas."""
        found = self.find(class_id, (CLASSES,))
        cls = found[1] if found else {"$id": class_id, "meta:altId": class_id, "title": class_id}
        extends = list(dict.fromkeys([ref for s in schemas for ref in [*s.get("meta:extends", []), s["$id"]]]))
        modified = max(s["meta:registryMetadata"]["repo:lastModifiedDate"] for s in schemas)
        return {
            "id": f"{class_id}__union",
            "_seq": min(s["_seq"] for s in schemas),
            "$id": f"{class_id}__union",
            "meta:altId": f"{cls['meta:altId']}__union",
            "meta:resourceType": "unions",
            "version": "1.0",
            "title": cls.get("title", class_id),
            "type": "object",
            "description": cls.get("description", ""),
            "allOf": [{"$ref": s["$id"], "type": "object", "meta:xdmType": "object"} for s in schemas],
            "imsOrg": self.store.org,
            "meta:extensible": True,
            "meta:abstract": True,
            "meta:extends": extends,
            "meta:xdmType": "object",
            "meta:registryMetadata": {
                "repo:createdDate": min(s["meta:registryMetadata"]["repo:createdDate"] for s in schemas),
                "repo:lastModifiedDate": modified,
                "eTag": hashlib.sha256(f"{class_id}{modified}{len(schemas)}".encode()).hexdigest(),
            },
            "meta:class": class_id,
            "meta:containerId": "tenant",
            "meta:sandboxId": self.store.sandbox_id,
            "meta:sandboxType": self.sandbox_type,
        }

    def unions(self) -> list[Doc]:
        return [self.union_doc(class_id, schemas) for class_id, schemas in self.union_members().items()]


def refs(doc: Doc) -> list[str]:
    """External resources a document references (the ``refs`` member of write responses)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: doc.get(k) for k in ("allOf", "definitions", "properties", "items")})
    return list(dict.fromkeys(found))

"""The registry's resource kinds, the error codes it assigns and the members it owns."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "/data/foundation/schemaregistry"

UNION_TAG = "union"
IDENTITY = "xdm:descriptorIdentity"
DEFAULT_LIMIT = 300
MAX_LIMIT = 500
FIELD_NAME = re.compile(r"[A-Za-z0-9_-]+")
FIELD_TYPES = ("string", "number", "integer", "boolean", "object", "array")

# Emulator-chosen codes for rules the docs state without a code (listed in the emulator README).
QUERY_ERROR = "XDM-1002-400"
PRIMARY_IDENTITY_EXISTS = "XDM-1529-400"
CHANGE_NOT_ALLOWED = "XDM-1540-400"
RESOURCE_IN_USE = "XDM-1541-400"
DESCRIPTOR_NOT_FOUND = "XDM-1014-404"
UNION_NOT_FOUND = "XDM-1015-404"


@dataclass(frozen=True)
class Kind:
    """One resource type of the registry: its URL segment, ``meta:resourceType`` and not-found code."""

    name: str
    resource_type: str
    label: str
    not_found: str


SCHEMAS = Kind("schemas", "schemas", "schema", "XDM-1012-404")
FIELD_GROUPS = Kind("fieldgroups", "mixins", "field group", "XDM-1011-404")
CLASSES = Kind("classes", "classes", "class", "XDM-1010-404")
DATATYPES = Kind("datatypes", "datatypes", "data type", "XDM-1013-404")
BEHAVIOURS = Kind("behaviors", "behaviors", "behavior", "XDM-1016-404")
TENANT_KINDS = (SCHEMAS, FIELD_GROUPS, CLASSES, DATATYPES)
#: URL segments of the resource routes; ``mixins`` is the legacy name of field groups.
KINDS = {kind.name: kind for kind in TENANT_KINDS} | {"mixins": FIELD_GROUPS}
BY_RESOURCE_TYPE = {kind.resource_type: kind for kind in (*TENANT_KINDS, BEHAVIOURS)}

#: Top-level keys the registry owns: ignored in PUT/POST bodies (clients send GET results back).
SERVER_OWNED = frozenset(
    {
        "$id",
        "meta:altId",
        "meta:resourceType",
        "version",
        "meta:registryMetadata",
        "meta:containerId",
        "imsOrg",
        "meta:sandboxId",
        "meta:sandboxType",
        "meta:tenantNamespace",
        "meta:class",
        "meta:extends",
        "refs",
        "meta:xdmType",
        "meta:abstract",
        "meta:extensible",
        "meta:descriptorStatus",
        "meta:datasetNamespace",
        "meta:allFieldAccess",
    }
)
#: Of those, the ones a PATCH may not touch (``meta:extends`` may be patched; it is recomputed anyway).
PATCH_READ_ONLY = SERVER_OWNED - {"meta:extends", "refs", "meta:descriptorStatus", "meta:allFieldAccess"}

DESCRIPTOR_TYPES = (
    IDENTITY,
    "xdm:alternateDisplayInfo",
    "xdm:descriptorReferenceIdentity",
    "xdm:descriptorOneToOne",
    "xdm:descriptorRelationship",
    "xdm:descriptorPrimaryKey",
    "xdm:descriptorVersion",
    "xdm:descriptorTimestamp",
    "xdm:descriptorDeprecated",
)
#: Fields each descriptor type needs on top of ``@type``, ``xdm:sourceSchema`` and ``xdm:sourceVersion``.
DESCRIPTOR_REQUIRED = {
    IDENTITY: ("xdm:sourceProperty", "xdm:namespace", "xdm:property"),
    "xdm:descriptorReferenceIdentity": ("xdm:sourceProperty", "xdm:identityNamespace"),
    "xdm:descriptorOneToOne": ("xdm:sourceProperty", "xdm:destinationSchema"),
    "xdm:descriptorRelationship": ("xdm:sourceProperty", "xdm:destinationSchema"),
    "xdm:descriptorPrimaryKey": ("xdm:sourceProperty",),
    "xdm:descriptorVersion": ("xdm:sourceProperty",),
    "xdm:descriptorTimestamp": ("xdm:sourceProperty",),
    "xdm:descriptorDeprecated": ("xdm:sourceProperty",),
}

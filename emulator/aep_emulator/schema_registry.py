"""The Schema Registry (``/data/foundation/schemaregistry``): schemas, field groups, classes, data types,
descriptors, unions and ``/stats``, as Adobe's Swagger spec and XDM API guides describe them.

What the real registry enforces and clients trip over is enforced here too (target-side notes §1, §9.3):

* ``Accept`` on every GET: lists need an unversioned ``xed-id``/``xed`` value (``XDM-1006-400``), lookups a
  ``version=1`` one (``XDM-1007-400``), descriptor lists the ``xdm`` family (``XDM-1008-400``); a known shape with
  an unavailable format or version answers 406.
* Ids: ``$id`` ``https://ns.adobe.com/{TENANT_ID}/{schemas|mixins|classes|datatypes}/{48 hex}`` and ``meta:altId``
  ``_{TENANT_ID}.{segment}.{hex}``; paths take either (the URL-encoded ``$id`` arrives decoded).
  ``version`` starts at ``"1.0"`` and every PUT/PATCH adds one minor.
* Writes: the spec's required fields, exactly one class per schema, field groups compatible with it
  (``meta:intendedToExtend``), titles unique across the sandbox's tenant resources (``XDM-1521-400`` naming the
  holder's ``$id``), custom fields only under ``_{TENANT_ID}`` (``XDM-1020/1021/1022-400``), every field typed
  and named ``[A-Za-z0-9_-]`` (``XDM-4000-400`` with ``report.sub-errors``), the Profile union tag's
  prerequisites (``XDM-1528-400``, ``XDM-1413-400``), ``meta:immutableTags`` never shrinking, and no breaking
  change once a dataset uses the schema or Profile does.
* Lists: ``property`` filters (``== != < > <= >= ~`` and bare existence, ANDed), ``orderby``, ``limit`` (a hint,
  0..500, default 300) and ``start`` (only with ``orderby``; ``_page.next`` is the last primary sort value).

Codes the docs do not assign are the emulator's own and listed in the emulator README. Other modules use
:func:`tenant_id`, :func:`find_schema` and :func:`resolve_schema` (the ``xed-full`` form).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any
from urllib.parse import urlencode

from . import xdm_standard as std
from .errors import ApiError, platform_error, xdm_error
from .messages import Request, Response
from .resources import Ctx
from .state import Collection, Store

PREFIX = "/data/foundation/schemaregistry"
Handler = Callable[..., Response]

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
DESCRIPTOR_NOT_FOUND = "XDM-1014-404"
UNION_NOT_FOUND = "XDM-1015-404"

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

LIST_FORMATS = ("xed-id", "xed")
LOOKUP_FORMATS = ("xed", "xed-full", "xed-notext", "xed-full-notext", "xed-full-desc")
DESCRIPTOR_LIST_FORMATS = ("xdm-id", "xdm-link", "xdm", "xdm-v2", "xdm-v2-id", "xdm-v2-link")

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


# -- errors -----------------------------------------------------------------------------------------
def error(code: str, title: str, detail: str, sub_errors: list[dict[str, Any]] | None = None) -> ApiError:
    """A Schema Registry error with the ``report.timestamp`` the real ones carry (request id added by the app)."""
    err = xdm_error(code, title, detail, sub_errors=sub_errors)
    err.body["report"]["timestamp"] = time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime())
    return err


def not_found(kind: Kind, resource_id: str) -> ApiError:
    return error(
        kind.not_found,
        "Resource not found",
        f"The requested {kind.label} resource {resource_id} with version 1 is not found.",
    )


def sub_error(path: str, kind: str, arguments: Sequence[Any], message: str) -> dict[str, Any]:
    """One ``report.sub-errors`` entry, shaped like the registry's JSON-validation details."""
    return {"path": path, "type": kind, "arguments": list(arguments), "message": message}


def _missing(path: str, name: str) -> dict[str, Any]:
    return sub_error(path, "required", [name], f"{path}.{name}: is missing but it is required")


def _wrong_type(path: str, expected: str, value: Any) -> dict[str, Any]:
    found = "null" if value is None else type(value).__name__
    names = {"str": "string", "int": "integer", "float": "number", "dict": "object", "list": "array", "bool": "boolean"}
    return sub_error(
        path,
        "type",
        [names.get(found, found), expected],
        f"{path}: {names.get(found, found)} found, {expected} expected",
    )


def invalid(sub_errors: list[dict[str, Any]]) -> ApiError:
    """``XDM-4000-400``: the body breaks the resource's JSON rules; details in ``report.sub-errors``."""
    first = sub_errors[0]["message"] if sub_errors else "invalid request"
    more = f" (and {len(sub_errors) - 1} more)" if len(sub_errors) > 1 else ""
    return error(
        "XDM-4000-400", "Validation error", f"An error occurred validating the request: {first}{more}", sub_errors
    )


def method_not_allowed(method: str, path: str) -> ApiError:
    return error("XDM-1001-405", "Method not allowed", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return error("XDM-1000-404", "Resource not found", f"No endpoint {path}.")


def _query_error(message: str) -> ApiError:
    return error(QUERY_ERROR, "Invalid query parameter", message)


# -- tenant, ids, stores -------------------------------------------------------------------------------
def tenant_id(store: Store) -> str:
    """The org's tenant id: ten lowercase letters from a hash of the org id, the same in every sandbox."""
    digest = hashlib.sha256(f"aep-emulator-tenant:{store.org}".encode()).digest()
    return "".join(chr(ord("a") + byte % 26) for byte in digest[:10])


def tenant_namespace(store: Store) -> str:
    """``_{TENANT_ID}``, the only top-level object custom fields may live in."""
    return f"_{tenant_id(store)}"


def sandbox_type(store: Store) -> str:
    return "production" if store.sandbox == "prod" else "development"


def collection(store: Store, kind: Kind) -> Collection:
    if kind is SCHEMAS:
        return store["schemas"]
    if kind is FIELD_GROUPS:
        return store["fieldgroups"]
    if kind is CLASSES:
        return store.xdm_classes
    if kind is DATATYPES:
        return store.xdm_datatypes
    raise ValueError(f"no tenant collection for {kind.name}")


def _find_in(coll: Collection, ref: str) -> dict[str, Any] | None:
    found = coll.get(ref)
    if found is not None:
        return found
    return next((doc for doc in coll if doc.get("meta:altId") == ref), None)


def find_schema(store: Store, schema_id: str) -> dict[str, Any] | None:
    """The stored tenant schema with this ``$id`` or ``meta:altId`` (do not mutate), else ``None``."""
    return _find_in(store["schemas"], schema_id)


def _kind_of(doc: dict[str, Any]) -> Kind | None:
    return BY_RESOURCE_TYPE.get(doc.get("meta:resourceType", ""))


def find_resource(store: Store, ref: str, kinds: Iterable[Kind] = TENANT_KINDS) -> tuple[Kind, dict[str, Any]] | None:
    """A tenant or standard resource of one of ``kinds`` by ``$id``/``meta:altId`` (fragment ignored)."""
    ref = ref.split("#", 1)[0]
    wanted = tuple(kinds)
    for kind in wanted:
        if kind is BEHAVIOURS:
            continue
        doc = _find_in(collection(store, kind), ref)
        if doc is not None:
            return kind, doc
    doc = std.global_resource(ref)
    if doc is not None:
        kind_found = _kind_of(doc)
        if kind_found in wanted:
            return kind_found, doc
    return None


def _any_resource(store: Store, ref: str) -> dict[str, Any] | None:
    found = find_resource(store, ref, (*TENANT_KINDS, BEHAVIOURS))
    return found[1] if found else None


def add_identity_namespace(store: Store, code: str, name: str | None = None, description: str = "") -> dict[str, Any]:
    """Register a custom identity namespace for descriptors (Identity Service itself is not emulated)."""
    used = {ns["id"] for ns in identity_namespaces(store)}
    ns_id = max(used | {100000}) + 1
    namespace = {
        "id": ns_id,
        "code": code,
        "name": name or code,
        "description": description,
        "idType": "CROSS_DEVICE",
        "status": "ACTIVE",
        "custom": True,
        "namespaceType": "Custom",
    }
    store.identity_namespaces[code] = namespace
    return namespace


def identity_namespaces(store: Store) -> list[dict[str, Any]]:
    return [*std.STANDARD_NAMESPACES, *store.identity_namespaces.values()]


# -- views and resolution ---------------------------------------------------------------------------
def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The document a client sees (deep copy without the emulator's bookkeeping keys)."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if k != "id" and not k.startswith("_")}


def _id_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: doc[key] for key in ("$id", "meta:altId", "version", "title") if key in doc}


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


def _resolve_node(store: Store, node: Any, depth: int) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    ref = out.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#") and depth < 16:
        target = _any_resource(store, ref)
        if target is not None:
            del out["$ref"]
            if target.get("type") == "array" and "items" in target:
                out["type"], out["meta:xdmType"] = "array", "array"
                out["items"] = _resolve_node(store, target["items"], depth + 1)
            else:
                properties, required = _collect(store, target, depth + 1)
                own: dict[str, Any] = out["properties"] if isinstance(out.get("properties"), dict) else {}
                merged = {k: _resolve_node(store, v, depth + 1) for k, v in own.items()}
                _merge_properties(merged, properties)
                out["type"], out["meta:xdmType"], out["properties"] = "object", "object", merged
                if required:
                    out["required"] = required
            out["meta:referencedFrom"] = target["$id"]
            return out
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _resolve_node(store, v, depth + 1) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _resolve_node(store, out[key], depth + 1)
    return out


def _collect(store: Store, doc: dict[str, Any], depth: int = 0) -> tuple[dict[str, Any], list[str]]:
    """The merged ``properties`` and ``required`` a resource contributes through ``allOf``/``definitions``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    if depth > 16:
        return properties, required

    def take(section: Any) -> None:
        if not isinstance(section, dict):
            return
        own = section.get("properties")
        if isinstance(own, dict):
            _merge_properties(properties, {k: _resolve_node(store, v, depth) for k, v in own.items()})
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
            target = _any_resource(store, ref)
            if target is not None and target is not doc:
                sub_properties, sub_required = _collect(store, target, depth + 1)
                _merge_properties(properties, sub_properties)
                required.extend(sub_required)
    return properties, list(dict.fromkeys(required))


def resolve(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``xed-full`` form of any resource: one merged ``properties`` tree, ``meta:*`` kept."""
    out = {k: v for k, v in public(doc).items() if k not in ("allOf", "definitions", "refs", "properties")}
    properties, required = _collect(store, doc)
    out["properties"] = properties
    if required:
        out["required"] = required
    return out


def resolve_schema(store: Store, schema_id: str) -> dict[str, Any]:
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


def render(store: Store, doc: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A resource in one of the lookup formats."""
    full = resolve(store, doc) if fmt.startswith("xed-full") else public(doc)
    if fmt in ("xed-notext", "xed-full-notext", "xed-full-desc"):
        top: dict[str, Any] = {k: full[k] for k in ("title", "description") if k in full}
        full = {**_strip_text(full, descriptions=fmt != "xed-full-desc"), **top}
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


def field_at(resolved: dict[str, Any], pointer: str) -> dict[str, Any] | None:
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


# -- Accept ---------------------------------------------------------------------------------------
_VND = re.compile(r"application/vnd\.adobe\.([a-z0-9-]+)\+json", re.IGNORECASE)


def parse_accept(value: str) -> tuple[str | None, str | None]:
    """``(format, version)`` of the first ``application/vnd.adobe.<format>+json[; version=N]`` value."""
    for part in value.split(","):
        media, *params = part.split(";")
        match = _VND.fullmatch(media.strip())
        if match:
            version = None
            for param in params:
                key, _, val = param.partition("=")
                if key.strip().lower() == "version":
                    version = val.strip().strip('"')
            return match.group(1).lower(), version
    return None, None


def _not_acceptable(value: str) -> ApiError:
    return platform_error(406, "NotAcceptableError", f"The Accept format/version '{value}' is not available.")


def list_accept(req: Request) -> str:
    raw = req.headers.get("accept", "")
    fmt, version = parse_accept(raw)
    if fmt is None or version is not None or not fmt.startswith("xed"):
        raise error(
            "XDM-1006-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - a listing call needs an unversioned "
            "value such as application/vnd.adobe.xed-id+json",
        )
    if fmt not in LIST_FORMATS:
        raise _not_acceptable(raw)
    return fmt


def lookup_accept(req: Request) -> str:
    raw = req.headers.get("accept", "")
    fmt, version = parse_accept(raw)
    if fmt is None or version is None or not fmt.startswith("xed"):
        raise error(
            "XDM-1007-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - a lookup needs a versioned value "
            "such as application/vnd.adobe.xed+json; version=1 (Version should be specified)",
        )
    if version != "1" or fmt not in LOOKUP_FORMATS:
        raise _not_acceptable(raw)
    return fmt


def descriptor_list_accept(req: Request) -> str:
    raw = req.headers.get("accept", "")
    fmt, version = parse_accept(raw)
    if fmt is None or version is not None or not fmt.startswith("xdm"):
        raise error(
            "XDM-1008-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - descriptor lists need a value such "
            "as application/vnd.adobe.xdm-id+json",
        )
    if fmt not in DESCRIPTOR_LIST_FORMATS:
        raise _not_acceptable(raw)
    return fmt


def descriptor_lookup_accept(req: Request) -> None:
    """Descriptors are not versioned: no Accept, a generic one or the ``xdm`` family; ``xed`` is refused."""
    raw = req.headers.get("accept", "")
    fmt, _ = parse_accept(raw)
    if fmt is not None and not fmt.startswith("xdm"):
        raise error(
            "XDM-1009-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw} - a descriptor lookup needs application/vnd.adobe."
            "xdm+json (or no Accept header)",
        )


# -- list queries ---------------------------------------------------------------------------------
_FILTER = re.compile(r"(?P<key>[A-Za-z0-9:@$_.\-]+)(?:(?P<op>==|!=|<=|>=|<|>|~|=)(?P<value>.*))?", re.DOTALL)


@dataclass
class ListQuery:
    """``property`` filters, ``orderby`` fields, ``limit`` and ``start`` of one list request."""

    properties: list[str] = field(default_factory=list)
    filters: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    orderby_raw: str | None = None
    limit: int = DEFAULT_LIMIT
    explicit_limit: bool = False
    start: str | None = None

    def accepts(self, doc: dict[str, Any]) -> bool:
        return all(check(doc) for check in self.filters)


def _values_at(doc: dict[str, Any], key: str) -> list[Any]:
    current: list[Any] = [doc]
    for segment in key.split("."):
        following: list[Any] = []
        for value in current:
            if isinstance(value, dict) and segment in value:
                child = value[segment]
                following.extend(child if isinstance(child, list) else [child])
        current = following
    return current


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "null" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(left: Any, right: str) -> int:
    """Order ``left`` against a query value: numerically when both are numbers, else case-insensitively."""
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = _text(left).casefold(), right.casefold()
    return (x > y) - (x < y)


def parse_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """One ``property`` value as a predicate over a resource document."""
    match = _FILTER.fullmatch(expression.strip())
    if match is None:
        raise _query_error(f"Invalid property filter '{expression}'.")
    key, op, value = match.group("key"), match.group("op"), match.group("value")
    if op is None:
        return lambda doc: bool(_values_at(doc, key))
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if op in ("==", "="):
        wanted = value.casefold()
        return lambda doc: any(_text(v).casefold() == wanted for v in _values_at(doc, key))
    if op == "!=":
        unwanted = value.casefold()
        return lambda doc: all(_text(v).casefold() != unwanted for v in _values_at(doc, key))
    if op == "~":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise _query_error(f"Invalid regular expression in property filter '{expression}': {exc}.") from exc
        return lambda doc: any(pattern.search(_text(v)) for v in _values_at(doc, key))
    tests = {"<": lambda c: c < 0, ">": lambda c: c > 0, "<=": lambda c: c <= 0, ">=": lambda c: c >= 0}[op]
    return lambda doc: any(tests(_compare(v, value)) for v in _values_at(doc, key))


def parse_list_query(req: Request) -> ListQuery:
    q = ListQuery(properties=[p for p in req.query.get("property", []) if p.strip()])
    q.filters = [parse_filter(p) for p in q.properties]
    raw_order = req.param("orderby")
    if raw_order is not None and raw_order.strip():
        q.orderby_raw = raw_order.strip()
        for part in raw_order.split(","):
            part = part.strip()
            if not part:
                continue
            descending = part.startswith("-")
            name = part.lstrip("+-").strip()
            if not name or not re.fullmatch(r"[A-Za-z0-9:@$_.\-]+", name):
                raise _query_error(f"Invalid orderby field '{part}'.")
            q.orderby.append((name, descending))
    limit = req.param("limit")
    if limit is not None:
        try:
            value = int(float(limit))
        except ValueError as exc:
            raise _query_error(f"Invalid limit '{limit}': must be an integer between 0 and {MAX_LIMIT}.") from exc
        if value < 0:
            raise _query_error(f"Invalid limit '{limit}': must be an integer between 0 and {MAX_LIMIT}.")
        q.limit, q.explicit_limit = min(value, MAX_LIMIT), True
    q.start = req.param("start")
    if q.start is not None and not q.orderby:
        raise _query_error("The start parameter cannot be used without an orderby parameter.")
    return q


def _sort_value(doc: dict[str, Any], name: str) -> Any:
    if name in ("updated", "created"):
        meta = doc.get("meta:registryMetadata") or {}
        return meta.get("repo:lastModifiedDate" if name == "updated" else "repo:createdDate")
    value = doc.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _cmp_values(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is None) - (b is None)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return (a > b) - (a < b)
    x, y = _text(a).casefold(), _text(b).casefold()
    return (x > y) - (x < y)


def paginate(docs: Iterable[dict[str, Any]], q: ListQuery) -> tuple[list[dict[str, Any]], Any]:
    """One page and the ``_page.next`` value (``None`` on the last page, and always without ``orderby``).

    ``limit`` is a hint: a page never ends between two items sharing the primary sort value, so that
    ``start`` (strictly after that value) can continue without skipping any.
    """
    matching = [doc for doc in docs if q.accepts(doc)]
    if not q.orderby:
        matching.sort(key=lambda d: (_sort_value(d, "updated") or 0, d.get("_seq", 0)))
        return matching[: q.limit], None

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for name, descending in q.orderby:
            result = _cmp_values(_sort_value(a, name), _sort_value(b, name))
            if result:
                return -result if descending and None not in (_sort_value(a, name), _sort_value(b, name)) else result
        return (a.get("_seq", 0) > b.get("_seq", 0)) - (a.get("_seq", 0) < b.get("_seq", 0))

    matching.sort(key=cmp_to_key(compare))
    primary, descending = q.orderby[0]
    if q.start is not None:
        start = q.start

        def after(doc: dict[str, Any]) -> bool:
            # Compared the way the sort compares (numbers as numbers, text case-insensitively).
            value = _sort_value(doc, primary)
            if value is None:
                return True
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and _number(start) is not None
            result = _cmp_values(value, _number(start) if numeric else start)
            return result < 0 if descending else result > 0

        matching = [doc for doc in matching if after(doc)]
    if q.limit == 0:
        return [], None
    page = matching[: q.limit]
    while (
        len(page) < len(matching)
        and _cmp_values(_sort_value(matching[len(page)], primary), _sort_value(page[-1], primary)) == 0
    ):
        page.append(matching[len(page)])
    last = _sort_value(page[-1], primary) if page else None
    following = None if len(page) >= len(matching) or last is None else last
    return page, (str(following) if isinstance(following, (int, float)) else following)


def _list_body(
    req: Request, q: ListQuery, results: list[Any], following: Any, path: str, *, global_link: str | None
) -> dict[str, Any]:
    """``results`` + ``_page`` + ``_links`` (``next`` is ``null`` on the last page, else ``{"href"}``)."""
    base = f"{req.base_url}{PREFIX}{path}"
    next_link = None
    if following is not None:
        params: list[tuple[str, str]] = [("orderby", q.orderby_raw or ""), ("start", str(following))]
        if q.explicit_limit:
            params.append(("limit", str(q.limit)))
        params.extend(("property", p) for p in q.properties)
        next_link = {"href": f"{base}?{urlencode(params)}"}
    links: dict[str, Any] = {"next": next_link}
    if global_link is not None:
        suffix = f"?{urlencode([('property', p) for p in q.properties])}" if q.properties else ""
        links["global_schemas"] = {"href": f"{req.base_url}{PREFIX}{global_link}{suffix}"}
    return {
        "results": results,
        "_page": {"orderby": q.orderby_raw or "updated", "next": following, "count": len(results)},
        "_links": links,
    }


# -- request bodies and JSON patch --------------------------------------------------------------------
def json_body(req: Request) -> Any:
    """The parsed body; an empty or malformed one is an ``XDM-4000-400`` (the registry's own shape)."""
    if not req.body.strip():
        raise invalid([sub_error("$", "required", [], "$: the request body is empty but it is required")])
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid([sub_error("$", "json", [], f"$: the request body is not valid JSON ({exc})")]) from exc


def json_object(req: Request) -> dict[str, Any]:
    body = json_body(req)
    if not isinstance(body, dict):
        raise invalid([_wrong_type("$", "object", body)])
    return body


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise invalid([sub_error("$.path", "pattern", [path], f"$.path: '{path}' is not a JSON pointer")])
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _container(doc: Any, tokens: list[str], path: str) -> Any:
    for token in tokens:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            raise invalid([sub_error("$.path", "patch", [path], f"$.path: '{path}' does not exist in the resource")])
    return doc


def _patch_get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    return _container(doc, tokens, path)


def _patch_remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise invalid([sub_error("$.path", "patch", [path], f"$.path: '{path}' does not exist in the resource")])


def _patch_add(doc: Any, path: str, value: Any, replace: bool = False) -> None:
    tokens = _pointer(path)
    if not tokens:
        raise invalid([sub_error("$.path", "patch", [path], "$.path: the whole resource cannot be replaced by PATCH")])
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise invalid([sub_error("$.path", "patch", [path], f"$.path: '{path}' does not exist in the resource")])
        parent[last] = value
        return
    if isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
            return
        if last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
            return
    raise invalid([sub_error("$.path", "patch", [path], f"$.path: '{path}' does not exist in the resource")])


def apply_patch(doc: dict[str, Any], operations: Any, read_only: frozenset[str] = frozenset()) -> dict[str, Any]:
    """RFC 6902 (add, remove, replace, move, copy, test) on a copy of ``doc``.

    ``/meta:immutableTags-`` (the spec example's spelling) appends to ``meta:immutableTags``.
    """
    ops = [operations] if isinstance(operations, dict) else operations
    if not isinstance(ops, list) or not ops:
        raise invalid([_wrong_type("$", "array", operations)])
    result = copy.deepcopy(doc)
    for index, op in enumerate(ops):
        where = f"$[{index}]"
        if not isinstance(op, dict):
            raise invalid([_wrong_type(where, "object", op)])
        subs = [_missing(where, name) for name in ("op", "path") if name not in op]
        if subs:
            raise invalid(subs)
        name, path = str(op["op"]).lower(), str(op["path"])
        if path in ("/meta:immutableTags-", "/meta:immutableTags/-") and name == "add":
            tags = result.setdefault("meta:immutableTags", [])
            values = op.get("value")
            tags.extend(v for v in (values if isinstance(values, list) else [values]) if v not in tags)
            continue
        tokens = _pointer(path)
        if tokens and tokens[0] in read_only:
            raise invalid([sub_error(f"{where}.path", "readOnly", [path], f"{where}.path: '{path}' is read-only")])
        if name in ("add", "replace", "test") and "value" not in op:
            raise invalid([_missing(where, "value")])
        if name == "add":
            _patch_add(result, path, copy.deepcopy(op["value"]))
        elif name == "replace":
            _patch_add(result, path, copy.deepcopy(op["value"]), replace=True)
        elif name == "remove":
            _patch_remove(result, path)
        elif name in ("move", "copy"):
            if "from" not in op:
                raise invalid([_missing(where, "from")])
            value = (
                _patch_remove(result, op["from"]) if name == "move" else copy.deepcopy(_patch_get(result, op["from"]))
            )
            _patch_add(result, path, value)
        elif name == "test":
            if _patch_get(result, path) != op["value"]:
                raise invalid([sub_error(f"{where}", "test", [path], f"{where}: test failed at '{path}'")])
        else:
            raise invalid([sub_error(f"{where}.op", "enum", [op["op"]], f"{where}.op: unsupported operation")])
    return result


# -- body validation ------------------------------------------------------------------------------------
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


def _check_top(body: dict[str, Any], required: Sequence[str], types: Sequence[str] = ("object",)) -> None:
    """Required members and member types of a create/replace body (all problems reported at once)."""
    subs = [_missing("$", name) for name in required if name not in body]
    for name, (expected, label) in _TYPES.items():
        if name in body and not isinstance(body[name], expected):
            subs.append(_wrong_type(f"$.{name}", label, body[name]))
    if isinstance(body.get("type"), str) and body["type"] not in types:
        subs.append(
            sub_error("$.type", "enum", list(types), f"$.type: does not have a value in the enumeration {list(types)}")
        )
    if isinstance(body.get("title"), str) and not body["title"].strip():
        subs.append(sub_error("$.title", "minLength", [1], "$.title: must be at least 1 characters long"))
    if subs:
        raise invalid(subs)


def _ref_of(item: Any) -> Any:
    """An ``allOf`` item's ``$ref`` (the spec's examples misspell the key as ``"$ref "``; accepted)."""
    if not isinstance(item, dict):
        return None
    return item.get("$ref", item.get("$ref "))


def _check_fields(
    store: Store,
    properties: Any,
    path: str,
    subs: list[dict[str, Any]],
    *,
    top_allowed: frozenset[str] | None,
    namespaced: bool,
) -> None:
    """Field rules: names ``[A-Za-z0-9_-]`` not starting with ``_`` (except namespace objects), every field
    typed (or a ``$ref`` to a data type), objects/arrays well formed. Namespace errors raise at once."""
    if not isinstance(properties, dict):
        subs.append(_wrong_type(path, "object", properties))
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
        _check_node(store, node, where, subs)


def _check_node(store: Store, node: Any, where: str, subs: list[dict[str, Any]]) -> None:
    if not isinstance(node, dict):
        subs.append(_wrong_type(where, "object", node))
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        if find_resource(store, ref, (DATATYPES,)) is None:
            raise not_found(DATATYPES, ref)
        return
    if "type" not in node:
        subs.append(_missing(where, "type"))
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
            _check_fields(store, node["properties"], f"{where}.properties", subs, top_allowed=None, namespaced=False)
        if isinstance(node.get("additionalProperties"), dict):
            _check_node(store, node["additionalProperties"], f"{where}.additionalProperties", subs)
    elif kind == "array":
        if not isinstance(node.get("items"), dict):
            subs.append(_missing(where, "items"))
        else:
            _check_node(store, node["items"], f"{where}.items", subs)


def _annotate_all(properties: dict[str, Any]) -> None:
    for node in properties.values():
        if isinstance(node, dict):
            std.annotate(node)


def _sections(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Where a class/field group/data type defines fields: ``definitions.*`` and inline ``allOf`` items."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, section in (body.get("definitions") or {}).items():
        found.append((f"$.definitions.{name}", section))
    for index, item in enumerate(body.get("allOf") or []):
        if isinstance(item, dict) and _ref_of(item) is None:
            found.append((f"$.allOf[{index}]", item))
    return found


def _check_sections(store: Store, body: dict[str, Any], allowed: frozenset[str] | None) -> None:
    subs: list[dict[str, Any]] = []
    for where, section in _sections(body):
        if not isinstance(section, dict):
            subs.append(_wrong_type(where, "object", section))
            continue
        if "properties" in section:
            _check_fields(
                store,
                section["properties"],
                f"{where}.properties",
                subs,
                top_allowed=allowed,
                namespaced=allowed is not None,
            )
    if subs:
        raise invalid(subs)
    for _, section in _sections(body):
        if isinstance(section.get("properties"), dict):
            _annotate_all(section["properties"])


def _normalise_all_of(
    store: Store, body: dict[str, Any], external: Sequence[Kind]
) -> tuple[list[dict[str, Any]], list[tuple[Kind, dict[str, Any]]]]:
    """``allOf`` with canonical ``$id`` refs and the registry's decoration; also the referenced resources."""
    definitions = body.get("definitions") or {}
    items: list[dict[str, Any]] = []
    targets: list[tuple[Kind, dict[str, Any]]] = []
    seen: set[str] = set()
    subs: list[dict[str, Any]] = []
    for index, raw in enumerate(body.get("allOf") or []):
        where = f"$.allOf[{index}]"
        ref = _ref_of(raw)
        if not isinstance(raw, dict):
            subs.append(_wrong_type(where, "object", raw))
            continue
        if ref is None:
            items.append(raw)
            continue
        if not isinstance(ref, str):
            subs.append(_wrong_type(f"{where}.$ref", "string", ref))
            continue
        if ref.startswith("#/definitions/"):
            if ref[len("#/definitions/") :] not in definitions:
                subs.append(
                    sub_error(f"{where}.$ref", "reference", [ref], f"{where}.$ref: {ref} is not defined in definitions")
                )
                continue
            canonical = ref
        else:
            found = find_resource(store, ref, external)
            if found is None:
                anything = find_resource(store, ref, (*TENANT_KINDS, BEHAVIOURS))
                if anything is not None:
                    subs.append(
                        sub_error(
                            f"{where}.$ref",
                            "reference",
                            [ref],
                            f"{where}.$ref: a {anything[0].label} "
                            f"cannot be referenced here (expected {' or '.join(k.label for k in external)})",
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


def _content(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_OWNED}


def _extends(targets: list[tuple[Kind, dict[str, Any]]]) -> list[str]:
    found: list[str] = []
    for _, doc in targets:
        found.extend([*doc.get("meta:extends", []), doc["$id"]])
    return list(dict.fromkeys(found))


def _prepare_schema(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    _check_top(body, ("type", "title", "description", "allOf"))
    for key in ("properties", "definitions"):
        if key in body:
            raise invalid(
                [
                    sub_error(
                        f"$.{key}",
                        "additionalProperties",
                        [key],
                        f"$.{key}: a schema cannot define "
                        "fields itself; put them in a field group and reference it in allOf",
                    )
                ]
            )
    content = _content(body)
    if not content["allOf"]:
        raise invalid(
            [sub_error("$.allOf", "minItems", [1], "$.allOf: there must be a minimum of 1 items (one class)")]
        )
    items, targets = _normalise_all_of(store, content, (CLASSES, FIELD_GROUPS))
    inline = [item for item in items if "$ref" not in item]
    if inline:
        raise invalid(
            [
                sub_error(
                    "$.allOf", "reference", [], '$.allOf: every item must be a {"$ref": ...} to a class or field group'
                )
            ]
        )
    classes = [doc for kind, doc in targets if kind is CLASSES]
    if len(classes) != 1:
        raise invalid(
            [
                sub_error(
                    "$.allOf",
                    "class",
                    [len(classes)],
                    f"$.allOf: a schema must reference exactly one class, found {len(classes)}",
                )
            ]
        )
    class_id = classes[0]["$id"]
    for kind, doc in targets:
        intended = doc.get("meta:intendedToExtend") or []
        if kind is FIELD_GROUPS and intended and class_id not in intended:
            raise invalid(
                [
                    sub_error(
                        "$.allOf",
                        "compatibility",
                        [doc["$id"], class_id],
                        f"$.allOf: field group "
                        f"{doc['$id']} ({doc.get('title')}) is not intended to extend class {class_id} "
                        f"(meta:intendedToExtend: {intended})",
                    )
                ]
            )
    content["allOf"] = items
    content["meta:class"] = class_id
    content["meta:extends"] = _extends(targets)
    return content


def _prepare_field_group(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    _check_top(body, ("type", "title", "meta:intendedToExtend"))
    content = _content(body)
    intended: list[str] = []
    for index, ref in enumerate(content["meta:intendedToExtend"]):
        if not isinstance(ref, str):
            raise invalid([_wrong_type(f"$.meta:intendedToExtend[{index}]", "string", ref)])
        found = find_resource(store, ref, (CLASSES,))
        if found is None:
            raise not_found(CLASSES, ref)
        intended.append(found[1]["$id"])
    content["meta:intendedToExtend"] = list(dict.fromkeys(intended))
    if "allOf" not in content:
        content["allOf"] = [{"$ref": f"#/definitions/{name}"} for name in content.get("definitions") or {}]
    _check_sections(store, content, frozenset({tenant_namespace(store)}))
    items, targets = _normalise_all_of(store, content, (FIELD_GROUPS, DATATYPES))
    content["allOf"] = items
    extends = _extends(targets)
    if extends:
        content["meta:extends"] = extends
    return content


def _behaviour(ref: Any) -> str | None:
    """The ``$id`` of the behaviour an ``allOf`` ref names, else ``None``."""
    doc = std.global_resource(ref) if isinstance(ref, str) else None
    return doc["$id"] if doc is not None and doc["meta:resourceType"] == "behaviors" else None


def _prepare_class(store: Store, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    _check_top(body, ("type", "title", "description", "allOf"))
    content = _content(body)
    behaviours = [ref for ref in (_behaviour(_ref_of(item)) for item in content["allOf"]) if ref is not None]
    if len(behaviours) != 1:
        raise invalid(
            [
                sub_error(
                    "$.allOf",
                    "behavior",
                    [len(behaviours)],
                    "$.allOf: a class must reference exactly "
                    f"one behavior ({', '.join(std.BEHAVIOURS)}), found {len(behaviours)}",
                )
            ]
        )
    behaviour = behaviours[0]
    allowed = {tenant_namespace(store)}
    if behaviour == std.ADHOC:
        namespace = (previous or {}).get("meta:datasetNamespace") or f"_{secrets.token_hex(16)}"
        allowed = {namespace}
        for _, section in _sections(content):
            props = section.get("properties") if isinstance(section, dict) else None
            if isinstance(props, dict) and "_adhoc" in props:
                section["properties"] = {(namespace if k == "_adhoc" else k): v for k, v in props.items()}
        content["meta:datasetNamespace"] = namespace
    _check_sections(store, content, frozenset(allowed))
    items, targets = _normalise_all_of(store, content, (BEHAVIOURS, FIELD_GROUPS, DATATYPES))
    content["allOf"] = items
    content["meta:extends"] = _extends(targets)
    return content


def _prepare_datatype(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    _check_top(body, ("type", "title"), types=("object", "array"))
    content = _content(body)
    subs: list[dict[str, Any]] = []
    if "properties" in content:
        _check_fields(store, content["properties"], "$.properties", subs, top_allowed=None, namespaced=False)
    if content.get("type") == "array":
        if not isinstance(content.get("items"), dict):
            subs.append(_missing("$", "items"))
        else:
            _check_node(store, content["items"], "$.items", subs)
    if subs:
        raise invalid(subs)
    if isinstance(content.get("properties"), dict):
        _annotate_all(content["properties"])
    if isinstance(content.get("items"), dict):
        std.annotate(content["items"])
    _check_sections(store, content, None)
    if "allOf" in content:
        items, targets = _normalise_all_of(store, content, (DATATYPES,))
        content["allOf"] = items
        if targets:
            content["meta:extends"] = _extends(targets)
    return content


def _prepare(store: Store, kind: Kind, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    if kind is SCHEMAS:
        return _prepare_schema(store, body)
    if kind is FIELD_GROUPS:
        return _prepare_field_group(store, body)
    if kind is CLASSES:
        return _prepare_class(store, body, previous)
    return _prepare_datatype(store, body)


def _refs(doc: dict[str, Any]) -> list[str]:
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


# -- storing --------------------------------------------------------------------------------------------
_ORDER = ("$id", "meta:altId", "meta:resourceType", "version", "title", "type", "description")


def _bump(version: str) -> str:
    major, _, minor = version.partition(".")
    return f"{major}.{int(minor or 0) + 1}" if minor.isdigit() or not minor else f"{version}.1"


def _stamp(ctx: Ctx, kind: Kind, content: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """A complete stored document: ids, version, ``meta:registryMetadata`` and the tenant/sandbox members."""
    store = ctx.store
    now = ctx.now_ms
    if previous is None:
        hex_id = secrets.token_hex(24)
        tenant = tenant_id(store)
        segment = "mixins" if kind is FIELD_GROUPS else kind.name
        resource_id = f"https://ns.adobe.com/{tenant}/{segment}/{hex_id}"
        alt_id = f"_{tenant}.{segment}.{hex_id}"
        version, created = "1.0", now
        creator = ctx.client_id
    else:
        resource_id, alt_id = previous["$id"], previous["meta:altId"]
        version = _bump(previous["version"])
        created = previous["meta:registryMetadata"]["repo:createdDate"]
        creator = previous["meta:registryMetadata"].get("xdm:createdClientId", ctx.client_id)
    doc: dict[str, Any] = {
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
    doc["imsOrg"] = store.org
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
        "xdm:lastModifiedClientId": ctx.client_id,
        "xdm:createdUserId": f"{creator}@techacct.adobe.com",
        "xdm:lastModifiedUserId": f"{ctx.client_id}@techacct.adobe.com",
        "eTag": hashlib.sha256(f"{fingerprint}{now}{secrets.token_hex(4)}".encode()).hexdigest(),
        "meta:globalLibVersion": std.GLOBAL_LIB_VERSION,
    }
    if "meta:class" in content:
        doc["meta:class"] = content["meta:class"]
    doc["meta:containerId"] = "tenant"
    doc["meta:sandboxId"] = store.sandbox_id
    doc["meta:sandboxType"] = sandbox_type(store)
    doc["meta:tenantNamespace"] = tenant_namespace(store)
    if content.get("meta:immutableTags") is not None:
        doc["meta:immutableTags"] = content["meta:immutableTags"]
    doc["_seq"] = previous["_seq"] if previous is not None else ctx.state.next_seq()
    return doc


def _write_view(doc: dict[str, Any]) -> dict[str, Any]:
    """POST/PUT/PATCH answer: the resource plus ``refs`` (after ``allOf``) as the docs show."""
    out: dict[str, Any] = {}
    for key, value in public(doc).items():
        out[key] = value
        if key == "allOf":
            out["refs"] = _refs(doc)
    if "refs" not in out:
        out["refs"] = _refs(doc)
    return out


def _check_title(store: Store, title: str, own_id: str | None) -> None:
    for kind in TENANT_KINDS:
        for doc in collection(store, kind):
            if doc.get("title") == title and doc["$id"] != own_id:
                message = f"Object titles must be unique. An object {doc['$id']} already exists with the same title"
                raise error("XDM-1521-400", "Title not unique", message)


def _descriptors_of(store: Store, schema_id: str) -> list[dict[str, Any]]:
    return [d for d in store["descriptors"] if d.get("xdm:sourceSchema") == schema_id]


def _has_primary_identity(store: Store, schema_id: str) -> bool:
    return any(d.get("@type") == IDENTITY and d.get("xdm:isPrimary") is True for d in _descriptors_of(store, schema_id))


def _datasets_using(store: Store, schema_id: str) -> list[str]:
    """Catalog datasets whose ``schemaRef.id`` is this schema (read straight from the shared store)."""
    found = []
    for dataset in store["dataSets"]:
        ref = (dataset.get("schemaRef") or {}).get("id") if isinstance(dataset.get("schemaRef"), dict) else None
        if ref is not None and (ref == schema_id or (find_schema(store, ref) or {}).get("$id") == schema_id):
            found.append(str(dataset.get("id")))
    return found


def _lock_reason(store: Store, schema: dict[str, Any]) -> str | None:
    """Why only non-destructive changes are allowed (Profile union, or datasets built on the schema)."""
    if UNION_TAG in (schema.get("meta:immutableTags") or []):
        return "it is enabled for Real-Time Customer Profile"
    datasets = _datasets_using(store, schema["$id"])
    if datasets:
        return f"dataset {datasets[0]} uses it"
    return None


def _check_tags(store: Store, doc: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """``meta:immutableTags`` only grows; ``union`` needs a primary identity or identityMap and must merge."""
    tags = doc.get("meta:immutableTags")
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise invalid([_wrong_type("$.meta:immutableTags", "array of strings", tags)])
    old = set((previous or {}).get("meta:immutableTags") or [])
    removed = sorted(old - set(tags))
    if removed:
        raise error(
            CHANGE_NOT_ALLOWED,
            "Schema change not allowed",
            f"meta:immutableTags can only be added to, never removed: {removed} cannot be removed from {doc['$id']}.",
        )
    if UNION_TAG not in tags:
        return
    resolved = resolve(store, doc)
    if UNION_TAG not in old:
        has_map = std.IDENTITY_MAP in doc.get("meta:extends", []) or "identityMap" in resolved["properties"]
        if not has_map and not _has_primary_identity(store, doc["$id"]):
            raise error(
                "XDM-1528-400",
                "Union descriptor validation error",
                "To participate in a union, a schema "
                "must include an identityMap field group or a primary identity descriptor.",
            )
    mine = leaves(resolved["properties"])
    for other in store["schemas"]:
        if other["$id"] == doc["$id"] or other.get("meta:class") != doc.get("meta:class"):
            continue
        if UNION_TAG not in (other.get("meta:immutableTags") or []):
            continue
        theirs = leaves(resolve(store, other)["properties"])
        for path, shape in mine.items():
            if path in theirs and theirs[path][0] != shape[0]:
                raise error(
                    "XDM-1413-400",
                    "Merge Schema Error",
                    f"Cannot merge incompatible data types. The path "
                    f"{path} has already been defined in schema (id={other['$id']}) using a different data "
                    f"type. Types: {theirs[path][0]}, {shape[0]}",
                )


def _breaking(before: dict[str, tuple[Any, Any, Any]], after: dict[str, tuple[Any, Any, Any]]) -> str | None:
    for path, shape in before.items():
        if path not in after:
            return f"field {path} would be removed"
        if after[path][:2] != shape[:2]:
            return f"field {path} would change type from {shape[0]}/{shape[1]} to {after[path][0]}/{after[path][1]}"
    return None


def _replace(ctx: Ctx, kind: Kind, doc: dict[str, Any], content: dict[str, Any]) -> None:
    """Swap a stored resource for its new version, refusing breaking changes to locked schemas."""
    store = ctx.store
    _check_title(store, content["title"], doc["$id"])
    new = _stamp(ctx, kind, content, doc)
    if kind is SCHEMAS:
        _check_tags(store, new, doc)
    locked = [(s, reason) for s in store["schemas"] if (reason := _lock_reason(store, s)) is not None]
    before = {s["$id"]: leaves(resolve(store, s)["properties"]) for s, _ in locked}
    snapshot = dict(doc)
    doc.clear()
    doc.update(new)
    for schema, reason in locked:
        problem = _breaking(before[schema["$id"]], leaves(resolve(store, schema)["properties"]))
        if problem:
            doc.clear()
            doc.update(snapshot)
            raise error(
                CHANGE_NOT_ALLOWED,
                "Schema change not allowed",
                f"Only non-destructive changes are allowed to schema {schema['$id']} because {reason}: {problem}.",
            )


# -- handlers: stats, resources -----------------------------------------------------------------------
def stats(req: Request, ctx: Ctx) -> Response:
    store = ctx.store
    docs = [doc for kind in TENANT_KINDS for doc in collection(store, kind)]

    def item(doc: dict[str, Any]) -> dict[str, Any]:
        return {**_id_view(doc), "meta:resourceType": doc["meta:resourceType"]}

    def when(doc: dict[str, Any], key: str) -> int:
        return int(doc["meta:registryMetadata"][key])

    usage: dict[str, list[dict[str, Any]]] = {}
    for schema in store["schemas"]:
        usage.setdefault(schema["meta:class"], []).append(
            {
                "$id": schema["$id"],
                "meta:altId": schema["meta:altId"],
                "title": schema["title"],
                "description": schema.get("description", ""),
            }
        )
    class_usage = []
    for class_id, schemas in usage.items():
        found = find_resource(store, class_id, (CLASSES,))
        class_usage.append(
            {
                "$id": class_id,
                "title": found[1]["title"] if found else class_id,
                "numberOfSchemas": len(schemas),
                "schemas": schemas,
            }
        )
    body = {
        "imsOrg": store.org,
        "tenantId": tenant_id(store),
        "counts": {
            "schemas": len(store["schemas"]),
            "mixins": len(store["fieldgroups"]),
            "datatypes": len(store.xdm_datatypes),
            "classes": len(store.xdm_classes),
            "unions": len(_unions(store)),
        },
        "recentlyCreatedResources": [
            item(d) for d in sorted(docs, key=lambda d: (when(d, "repo:createdDate"), d["_seq"]), reverse=True)[:5]
        ],
        "recentlyUpdatedResources": [
            item(d) for d in sorted(docs, key=lambda d: (when(d, "repo:lastModifiedDate"), d["_seq"]), reverse=True)[:5]
        ],
        "classUsage": class_usage,
    }
    return Response(200, body)


def _kind(name: str) -> Kind:
    return KINDS[name]


def _container_docs(store: Store, container: str, kind: Kind) -> list[dict[str, Any]]:
    if container == "global":
        return std.listed(kind.resource_type)
    return list(collection(store, kind))


def _lookup(store: Store, container: str, kind: Kind, resource_id: str) -> dict[str, Any]:
    if container == "global":
        doc = std.global_resource(resource_id)
        if doc is not None and doc["meta:resourceType"] == kind.resource_type:
            return doc
        raise not_found(kind, resource_id)
    found = _find_in(collection(store, kind), resource_id)
    if found is None:
        raise not_found(kind, resource_id)
    return found


def list_resources(req: Request, ctx: Ctx, container: str, kind: str) -> Response:
    fmt = list_accept(req)
    q = parse_list_query(req)
    resource_kind = _kind(kind)
    page, following = paginate(_container_docs(ctx.store, container, resource_kind), q)
    results = [_id_view(d) if fmt == "xed-id" else public(d) for d in page]
    global_link = f"/global/{kind}" if container == "tenant" else None
    return Response(200, _list_body(req, q, results, following, f"/{container}/{kind}", global_link=global_link))


def get_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    doc = _lookup(ctx.store, container, _kind(kind), resource_id)
    return Response(200, render(ctx.store, doc, fmt))


def _tenant_only(req: Request, container: str) -> None:
    if container != "tenant":
        raise method_not_allowed(req.method, req.path[len(PREFIX) :])


def create_resource(req: Request, ctx: Ctx, container: str, kind: str) -> Response:
    _tenant_only(req, container)
    resource_kind = _kind(kind)
    store = ctx.store
    content = _prepare(store, resource_kind, json_object(req), None)
    _check_title(store, content["title"], None)
    doc = _stamp(ctx, resource_kind, content, None)
    if resource_kind is SCHEMAS:
        _check_tags(store, doc, None)
    collection(store, resource_kind).add(doc)
    return Response(201, _write_view(doc))


def replace_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    resource_kind = _kind(kind)
    doc = _lookup(ctx.store, container, resource_kind, resource_id)
    content = _prepare(ctx.store, resource_kind, json_object(req), doc)
    _replace(ctx, resource_kind, doc, content)
    return Response(200, _write_view(doc))


def patch_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    resource_kind = _kind(kind)
    doc = _lookup(ctx.store, container, resource_kind, resource_id)
    patched = apply_patch(public(doc), json_body(req), PATCH_READ_ONLY)
    content = _prepare(ctx.store, resource_kind, patched, doc)
    _replace(ctx, resource_kind, doc, content)
    return Response(200, _write_view(doc))


def _in_use(kind: Kind, doc: dict[str, Any], users: list[str]) -> ApiError:
    return error(
        RESOURCE_IN_USE,
        "Resource in use",
        f"The {kind.label} {doc['$id']} cannot be deleted because it is "
        f"referenced by {', '.join(users[:5])}{' and others' if len(users) > 5 else ''}.",
    )


def delete_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    store = ctx.store
    resource_kind = _kind(kind)
    doc = _lookup(store, container, resource_kind, resource_id)
    rid = doc["$id"]
    if resource_kind is SCHEMAS:
        datasets = _datasets_using(store, rid)
        if datasets:
            raise _in_use(resource_kind, doc, [f"dataset {d}" for d in datasets])
        for descriptor in _descriptors_of(store, rid):
            store["descriptors"].remove(descriptor["id"])
    else:
        users = [
            other["$id"]
            for other_kind in TENANT_KINDS
            for other in collection(store, other_kind)
            if other["$id"] != rid
            and (rid in _refs(other) or other.get("meta:class") == rid or rid in other.get("meta:intendedToExtend", []))
        ]
        if users:
            raise _in_use(resource_kind, doc, users)
    collection(store, resource_kind).remove(rid)
    return Response(204)


def list_behaviours(req: Request, ctx: Ctx) -> Response:
    fmt = list_accept(req)
    q = parse_list_query(req)
    page, following = paginate(std.listed("behaviors"), q)
    results = [_id_view(d) if fmt == "xed-id" else public(d) for d in page]
    return Response(200, _list_body(req, q, results, following, "/global/behaviors", global_link=None))


def get_behaviour(req: Request, ctx: Ctx, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    doc = std.global_resource(resource_id)
    if doc is None or doc["meta:resourceType"] != "behaviors":
        raise not_found(BEHAVIOURS, resource_id)
    return Response(200, render(ctx.store, doc, fmt))


# -- unions -----------------------------------------------------------------------------------------
def _unions(store: Store) -> dict[str, list[dict[str, Any]]]:
    members: dict[str, list[dict[str, Any]]] = {}
    for schema in store["schemas"]:
        if UNION_TAG in (schema.get("meta:immutableTags") or []):
            members.setdefault(schema["meta:class"], []).append(schema)
    return members


def _union_doc(store: Store, class_id: str, schemas: list[dict[str, Any]]) -> dict[str, Any]:
    found = find_resource(store, class_id, (CLASSES,))
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
        "imsOrg": store.org,
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
        "meta:sandboxId": store.sandbox_id,
        "meta:sandboxType": sandbox_type(store),
    }


def list_unions(req: Request, ctx: Ctx) -> Response:
    fmt = list_accept(req)
    q = parse_list_query(req)
    docs = [_union_doc(ctx.store, cid, schemas) for cid, schemas in _unions(ctx.store).items()]
    page, following = paginate(docs, q)
    results = [_id_view(d) if fmt == "xed-id" else public(d) for d in page]
    return Response(200, _list_body(req, q, results, following, "/tenant/unions", global_link=None))


def get_union(req: Request, ctx: Ctx, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    for cid, schemas in _unions(ctx.store).items():
        doc = _union_doc(ctx.store, cid, schemas)
        if resource_id in (doc["$id"], doc["meta:altId"]):
            return Response(200, render(ctx.store, doc, fmt))
    raise error(
        UNION_NOT_FOUND,
        "Resource not found",
        f"The requested union resource {resource_id} with version 1 is not found.",
    )


# -- descriptors -------------------------------------------------------------------------------------
def _check_descriptor(store: Store, body: dict[str, Any], own_id: str | None) -> dict[str, Any]:
    """Validate a descriptor body; returns the normalised content (canonical ``xdm:sourceSchema``)."""
    subs = [_missing("$", name) for name in ("@type", "xdm:sourceSchema", "xdm:sourceVersion") if name not in body]
    for name in ("@type", "xdm:sourceSchema", "xdm:sourceProperty", "xdm:namespace", "xdm:property"):
        if (
            name in body
            and not isinstance(body[name], str)
            and not (name == "xdm:namespace" and isinstance(body[name], int))
        ):
            subs.append(_wrong_type(f"$.{name}", "string", body[name]))
    version = body.get("xdm:sourceVersion")
    if "xdm:sourceVersion" in body and not (
        (isinstance(version, int) and not isinstance(version, bool)) or (isinstance(version, str) and version.isdigit())
    ):
        subs.append(_wrong_type("$.xdm:sourceVersion", "integer", version))
    if "xdm:isPrimary" in body and not isinstance(body["xdm:isPrimary"], bool):
        subs.append(_wrong_type("$.xdm:isPrimary", "boolean", body["xdm:isPrimary"]))
    kind = body.get("@type")
    if isinstance(kind, str) and kind not in DESCRIPTOR_TYPES:
        subs.append(
            sub_error(
                "$.@type",
                "enum",
                list(DESCRIPTOR_TYPES),
                f"$.@type: does not have a value in the enumeration {list(DESCRIPTOR_TYPES)}",
            )
        )
    subs.extend(_missing("$", name) for name in DESCRIPTOR_REQUIRED.get(str(kind), ()) if name not in body)
    if (
        kind == IDENTITY
        and isinstance(body.get("xdm:property"), str)
        and body["xdm:property"] not in ("xdm:code", "xdm:id")
    ):
        subs.append(
            sub_error(
                "$.xdm:property",
                "enum",
                ["xdm:code", "xdm:id"],
                "$.xdm:property: does not have a value in the enumeration [xdm:code, xdm:id]",
            )
        )
    if subs:
        raise invalid(subs)
    content = {
        k: copy.deepcopy(v)
        for k, v in body.items()
        if k
        not in (
            "@id",
            "imsOrg",
            "version",
            "meta:containerId",
            "meta:sandboxId",
            "meta:sandboxType",
            "meta:registryMetadata",
        )
    }
    schema = find_schema(store, body["xdm:sourceSchema"])
    if schema is None:
        raise not_found(SCHEMAS, body["xdm:sourceSchema"])
    content["xdm:sourceSchema"] = schema["$id"]
    for key in ("xdm:destinationSchema",):
        if key in content:
            target = find_schema(store, str(content[key]))
            if target is None:
                raise not_found(SCHEMAS, str(content[key]))
            content[key] = target["$id"]
    pointer = content.get("xdm:sourceProperty")
    if isinstance(pointer, str):
        if not pointer.startswith("/") or pointer.endswith("/") or pointer == "/":
            raise invalid(
                [
                    sub_error(
                        "$.xdm:sourceProperty",
                        "pattern",
                        [pointer],
                        "$.xdm:sourceProperty: must start "
                        "with '/' and must not end with '/' (for example /personalEmail/address)",
                    )
                ]
            )
        if field_at(resolve(store, schema), pointer) is None:
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
    if kind == IDENTITY:
        _check_namespace(store, content)
        if content.get("xdm:isPrimary") is True:
            for other in _descriptors_of(store, schema["$id"]):
                if other["@id"] != own_id and other.get("@type") == IDENTITY and other.get("xdm:isPrimary") is True:
                    raise error(
                        PRIMARY_IDENTITY_EXISTS,
                        "Primary identity already defined",
                        f"Schema {schema['$id']} "
                        f"already has a primary identity ({other['xdm:sourceProperty']}, descriptor "
                        f"{other['@id']}); a schema can have at most one.",
                    )
    return content


def _check_namespace(store: Store, content: dict[str, Any]) -> None:
    value = content["xdm:namespace"]
    known = identity_namespaces(store)
    if content["xdm:property"] == "xdm:id":
        number = _number(value)
        match = any(float(ns["id"]) == number for ns in known)
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
                    f"$.xdm:namespace: unknown identity "
                    f"namespace '{value}' for {content['xdm:property']} (known: {codes})",
                )
            ]
        )


def _store_descriptor(ctx: Ctx, content: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    store = ctx.store
    descriptor_id = previous["@id"] if previous else secrets.token_hex(20)
    created = previous["meta:registryMetadata"]["repo:createdDate"] if previous else ctx.now_ms
    doc = {
        "id": descriptor_id,
        "@id": descriptor_id,
        **content,
        "imsOrg": store.org,
        "version": "1",
        "meta:containerId": "tenant",
        "meta:sandboxId": store.sandbox_id,
        "meta:sandboxType": sandbox_type(store),
        "meta:registryMetadata": {
            "repo:createdDate": created,
            "repo:lastModifiedDate": ctx.now_ms,
            "xdm:createdClientId": ctx.client_id,
            "xdm:lastModifiedClientId": ctx.client_id,
            "eTag": hashlib.sha256(f"{descriptor_id}{ctx.now_ms}{secrets.token_hex(4)}".encode()).hexdigest(),
        },
        "_seq": previous["_seq"] if previous else ctx.state.next_seq(),
    }
    return doc


def create_descriptor(req: Request, ctx: Ctx, container: str) -> Response:
    _tenant_only(req, container)
    content = _check_descriptor(ctx.store, json_object(req), None)
    doc = _store_descriptor(ctx, content, None)
    ctx.store["descriptors"].add(doc)
    return Response(201, public(doc))


def list_descriptors(req: Request, ctx: Ctx, container: str) -> Response:
    fmt = descriptor_list_accept(req)
    docs = list(ctx.store["descriptors"]) if container == "tenant" else []

    def item(doc: dict[str, Any]) -> Any:
        if fmt.endswith("-id"):
            return doc["@id"]
        if fmt.endswith("-link"):
            return f"/{container}/descriptors/{doc['@id']}"
        return public(doc)

    if fmt.startswith("xdm-v2"):
        q = parse_list_query(req)
        page, following = paginate(docs, q)
        return Response(
            200, _list_body(req, q, [item(d) for d in page], following, f"/{container}/descriptors", global_link=None)
        )
    filters = [parse_filter(p) for p in req.query.get("property", []) if p.strip()]
    grouped: dict[str, list[Any]] = {}
    for doc in sorted(docs, key=lambda d: d["_seq"]):
        if all(check(doc) for check in filters):
            grouped.setdefault(doc["@type"], []).append(item(doc))
    return Response(200, grouped)


def _descriptor(store: Store, container: str, descriptor_id: str) -> dict[str, Any]:
    doc = store["descriptors"].get(descriptor_id) if container == "tenant" else None
    if doc is None:
        raise error(
            DESCRIPTOR_NOT_FOUND,
            "Resource not found",
            f"The requested descriptor resource {descriptor_id} is not found.",
        )
    return doc


def get_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    descriptor_lookup_accept(req)
    return Response(200, public(_descriptor(ctx.store, container, resource_id)))


def replace_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    """PUT rewrites the whole descriptor and answers ``201 {"@id"}`` as the descriptors guide shows."""
    _tenant_only(req, container)
    doc = _descriptor(ctx.store, container, resource_id)
    content = _check_descriptor(ctx.store, json_object(req), doc["@id"])
    new = _store_descriptor(ctx, content, doc)
    doc.clear()
    doc.update(new)
    return Response(201, {"@id": doc["@id"]})


def delete_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    doc = _descriptor(ctx.store, container, resource_id)
    ctx.store["descriptors"].remove(doc["id"])
    return Response(204)


# -- routing --------------------------------------------------------------------------------------------
_CONTAINER = r"(?P<container>global|tenant)"
_KIND = r"(?P<kind>schemas|fieldgroups|mixins|classes|datatypes)"
_ID = r"(?P<resource_id>.+)"


def routes() -> list[tuple[str, dict[str, Handler]]]:
    """Path patterns (relative to ``PREFIX``; ids may contain ``/`` since ``$id`` arrives URL-decoded)."""
    return [
        ("/stats", {"GET": stats}),
        ("/global/behaviors", {"GET": list_behaviours}),
        (f"/global/behaviors/{_ID}", {"GET": get_behaviour}),
        ("/tenant/unions", {"GET": list_unions}),
        (f"/tenant/unions/{_ID}", {"GET": get_union}),
        (f"/{_CONTAINER}/descriptors", {"GET": list_descriptors, "POST": create_descriptor}),
        (
            f"/{_CONTAINER}/descriptors/{_ID}",
            {"GET": get_descriptor, "PUT": replace_descriptor, "DELETE": delete_descriptor},
        ),
        (f"/{_CONTAINER}/{_KIND}", {"GET": list_resources, "POST": create_resource}),
        (
            f"/{_CONTAINER}/{_KIND}/{_ID}",
            {"GET": get_resource, "PUT": replace_resource, "PATCH": patch_resource, "DELETE": delete_resource},
        ),
    ]

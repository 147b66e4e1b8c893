"""Catalog Service (``/data/foundation/catalog``): datasets and the batches emulated runs write.

Catalog answers objects keyed by id (``{"<id>": {...}}``) for single reads and lists alike, pages with
``start``/``limit`` offsets (no next link), filters with simple ``field=value`` parameters, ``property=``
expressions and ``tags=``, and answers writes with ``["@/dataSets/<id>"]``. Single reads carry an ``E-Tag``
header that ``If-Match`` on PUT/PATCH must match (else 412); ``Pragma: validate-only`` checks a POST/PUT
without storing it. Catalog documents no error bodies, so errors use the generic Platform shape.

Other services call :func:`find_dataset` and :func:`add_batch`; :func:`find_schema`/:func:`resolve_schema`
are thin delegates to the Schema Registry emulator.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from . import runs, schema_registry
from .errors import ApiError, platform_error
from .messages import Request, Response
from .resources import Ctx
from .state import Store

PREFIX = "/data/foundation/catalog"
Handler = Callable[..., Response]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: With ``properties=observableSchema`` Catalog returns at most 20 datasets per page (filter-data guide).
OBSERVABLE_SCHEMA_LIMIT = 20
DEFAULT_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"

#: Fields Catalog owns: ignored in POST/PUT bodies, refused by PATCH.
READ_ONLY = frozenset(
    {
        "id",
        "imsOrg",
        "version",
        "created",
        "updated",
        "createdClient",
        "createdUser",
        "updatedUser",
        "viewId",
        "files",
        "basePath",
        "lastBatchId",
        "lastBatchStatus",
        "lastSuccessfulBatch",
        "lastFailedBatch",
    }
)
#: Query parameters that filter a collection by equality (``name=a,b``, ``name=!a``) besides the list knobs.
SIMPLE_FILTERS = {
    "dataSets": frozenset(
        {
            "name",
            "description",
            "version",
            "created",
            "updated",
            "createdClient",
            "createdUser",
            "updatedUser",
            "enableErrorDiagnostics",
        }
    ),
    "batches": frozenset(
        {
            "status",
            "version",
            "created",
            "updated",
            "createdClient",
            "createdUser",
            "updatedUser",
            "externalId",
            "recordCount",
            "failedRecordCount",
            "size",
            "started",
            "completed",
        }
    ),
}
BATCH_STATUSES = (
    "processing", "success", "failure", "queued", "retrying", "stalled", "aborted", "abandoned", "inactive",
    "failed", "loading", "loaded", "staged", "active", "staging", "deleted",
)  # fmt: skip


# -- errors ----------------------------------------------------------------------------------------
def bad_request(detail: str) -> ApiError:
    return platform_error(400, "BadRequestError", detail)


def method_not_allowed(method: str, path: str) -> ApiError:
    return platform_error(405, "MethodNotAllowedError", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"No endpoint {path}.")


def _not_found(kind: str, object_id: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"The {kind} with id '{object_id}' was not found.")


# -- schema access (Schema Registry emulator) ------------------------------------------------------
def find_schema(store: Store, schema_id: str) -> dict[str, Any] | None:
    """The stored schema document by ``$id`` or ``meta:altId`` (``None`` when unknown)."""
    return schema_registry.find_schema(store, schema_id)


def resolve_schema(store: Store, schema_id: str) -> dict[str, Any] | None:
    """The ``xed-full`` form of a schema, or ``None`` when the registry does not know it."""
    try:
        return schema_registry.resolve_schema(store, schema_id)
    except ApiError:
        return None


def is_union_schema(schema: dict[str, Any]) -> bool:
    return "union" in (schema.get("meta:immutableTags") or [])


# -- public helpers for other services -------------------------------------------------------------
def find_dataset(store: Store, dataset_id: str) -> dict[str, Any] | None:
    """The stored dataset (with ``id``), or ``None``."""
    return store["dataSets"].get(dataset_id)


def add_batch(
    store: Store,
    *,
    batch_id: str,
    dataset_id: str,
    status: str,
    records: int,
    failed: int,
    errors: list[dict[str, Any]],
    created_ms: int,
    updated_ms: int,
    seq: int,
    client_id: str = "acp_foundation_connectors",
    input_bytes: int = 0,
) -> dict[str, Any]:
    """Store a batch shaped like the spec's ``batchResponse`` (as the error-diagnostics guide shows it).

    ``records`` is the number of records that landed, ``failed`` the number rejected. The dataset's
    ``lastBatchId``/``lastBatchStatus``/``lastSuccessfulBatch``/``lastFailedBatch`` follow.
    """
    if status not in BATCH_STATUSES:
        raise ValueError(f"unknown batch status {status!r}")
    batch: dict[str, Any] = {
        "id": batch_id,
        "imsOrg": store.org,
        "status": status,
        "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
        "externalId": batch_id,
        "inputFormat": {"format": "parquet"},
        "started": created_ms,
        "completed": updated_ms,
        "metrics": {
            "inputByteSize": input_bytes,
            "inputFileCount": 1,
            "inputRecordCount": records + failed,
            "outputRecordCount": records,
            "recordCount": records,
            "failedRecordCount": failed,
        },
        "recordCount": records,
        "failedRecordCount": failed,
        "size": input_bytes,
        "errors": copy.deepcopy(errors),
        "created": created_ms,
        "updated": updated_ms,
        "createdClient": client_id,
        "createdUser": f"{client_id}@AdobeID",
        "updatedUser": f"{client_id}@AdobeID",
        "version": "1.0.0",
        "tags": {},
        "_seq": seq,
    }
    if not errors:
        del batch["errors"]
    store["batches"].add(batch)
    dataset = find_dataset(store, dataset_id)
    if dataset is not None:
        dataset["lastBatchId"] = batch_id
        dataset["lastBatchStatus"] = status
        dataset["lastSuccessfulBatch" if status == "success" else "lastFailedBatch"] = batch_id
    return batch


# -- request helpers -------------------------------------------------------------------------------
def _body(req: Request) -> Any:
    if not req.body.strip():
        raise bad_request("The request body is required.")
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from exc


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.")
    return value


def _ref(dataset_id: str) -> str:
    return f"@/dataSets/{dataset_id}"


def _validate_only(req: Request) -> bool:
    return "validate-only" in (req.headers.get("pragma") or "").lower()


def _object_id() -> str:
    """A 24-hex id like Catalog's (Mongo ObjectId style)."""
    return secrets.token_hex(12)


def _bump(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return "1.0.1"


def _strip_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _etag(dataset: dict[str, Any]) -> str:
    return f'"{dataset["version"]}"'


def _check_if_match(req: Request, dataset: dict[str, Any]) -> None:
    """``If-Match`` is optional; when sent it must equal the ``E-Tag`` (the version) or the ``updated`` time."""
    supplied = req.headers.get("if-match")
    if not supplied:
        return
    wanted = _strip_etag(supplied)
    if wanted not in (dataset["version"], str(dataset["updated"])):
        raise platform_error(
            412,
            "PreconditionFailedError",
            f"The supplied version '{supplied}' does not match the current version {_etag(dataset)} of "
            f"dataSet '{dataset['id']}'.",
        )


# -- tags ------------------------------------------------------------------------------------------
def tag_enabled(values: Any) -> bool:
    """``["enabled:true"]`` or ``["enabled: true"]`` (both spellings appear in Adobe's docs)."""
    if not isinstance(values, list):
        return False
    return any(isinstance(v, str) and re.sub(r"\s+", "", v).lower() == "enabled:true" for v in values)


def _check_tags(tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, dict) or not all(
        isinstance(values, list) and all(isinstance(v, str) for v in values) for values in tags.values()
    ):
        raise bad_request("Invalid value for field 'tags': expected an object of string arrays.")


# -- dataset validation ----------------------------------------------------------------------------
def _schema_ref(body: dict[str, Any]) -> dict[str, Any]:
    """``schemaRef`` (derived from the legacy ``schema`` string when absent, as the spec says)."""
    ref = body.get("schemaRef")
    if ref is None and isinstance(body.get("schema"), str):
        ref = {"id": body["schema"], "contentType": DEFAULT_SCHEMA_CONTENT_TYPE}
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise bad_request("Missing required field 'schemaRef.id': a dataset needs the XDM schema it follows.")
    return {"id": ref["id"], "contentType": ref.get("contentType") or DEFAULT_SCHEMA_CONTENT_TYPE}


def _check_dataset(store: Store, doc: dict[str, Any]) -> None:
    """Field types, that the schema exists, and that Profile tags only go on union (Profile) schemas."""
    for name in ("name", "description"):
        if name in doc and not isinstance(doc[name], str):
            raise bad_request(f"Invalid value for field '{name}': expected a string.")
    if "enableErrorDiagnostics" in doc and not isinstance(doc["enableErrorDiagnostics"], bool):
        raise bad_request("Invalid value for field 'enableErrorDiagnostics': expected a boolean.")
    _check_tags(doc.get("tags"))
    schema_id = doc["schemaRef"]["id"]
    schema = find_schema(store, schema_id)
    if schema is None:
        raise bad_request(f"The schema '{schema_id}' referenced by schemaRef.id does not exist in this sandbox.")
    if tag_enabled((doc.get("tags") or {}).get("unifiedProfile")) and not is_union_schema(schema):
        raise bad_request("To enable profile datasets the schema should be valid")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY and not k.startswith("_")}


# -- listing ---------------------------------------------------------------------------------------
_PROPERTY_RE = re.compile(r"(?P<neg>!?)(?P<key>[^~=!<>]+)(?P<rest>.*)", re.DOTALL)
_PROPERTY_OPS = ("==", "!=", "<=", ">=", "~", "<", ">")


def _int_param(req: Request, name: str, default: int) -> int:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid value for query parameter '{name}': '{raw}' is not an integer.") from exc


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything (also nothing), ``**`` is a literal asterisk (filter-data guide)."""
    parts = pattern.split("**")
    return re.compile("\\*".join(".*".join(re.escape(p) for p in part.split("*")) for part in parts), re.DOTALL)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _simple_matches(doc: dict[str, Any], key: str, raw: str) -> bool:
    negate = raw.startswith("!")
    values = [v for v in (raw[1:] if negate else raw).split(",")]
    present = key in doc and doc[key] is not None
    actual = _text(doc[key]) if present else None
    if key == "name":
        hit = present and any(_wildcard(v).fullmatch(actual or "") for v in values)
    else:
        hit = present and actual in values
    return not hit if negate else bool(hit)


def _simple_check(key: str, raw: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: _simple_matches(doc, key, raw)


def _ordered(value: str) -> tuple[Any, ...]:
    """Comparison key: numbers, then dotted versions (``1.0.10`` > ``1.0.3``), then text."""
    try:
        return (0, float(value))
    except ValueError:
        pass
    if re.fullmatch(r"\d+(\.\d+)+", value):
        return (1, tuple(int(p) for p in value.split(".")))
    return (2, value)


def _property_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    match = _PROPERTY_RE.fullmatch(expression)
    if match is None or not match.group("key"):
        raise bad_request(f"Invalid property filter '{expression}'.")
    negate, key, rest = bool(match.group("neg")), match.group("key"), match.group("rest")
    if not rest:
        return lambda doc: (key in doc) != negate
    op = next((o for o in _PROPERTY_OPS if rest.startswith(o)), None)
    if op is None or negate:
        raise bad_request(f"Invalid property filter '{expression}'.")
    operand = rest[len(op) :]
    if op == "~":
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise bad_request(f"Invalid regular expression in property filter '{expression}': {exc}.") from exc
        return lambda doc: key in doc and pattern.search(_text(doc[key])) is not None
    if op == "==":
        return lambda doc: key in doc and _text(doc[key]) == operand
    if op == "!=":
        return lambda doc: key not in doc or _text(doc[key]) != operand

    def compare(doc: dict[str, Any]) -> bool:
        if key not in doc or isinstance(doc[key], (dict, list)):
            return False
        left, right = _ordered(_text(doc[key])), _ordered(operand)
        if left[0] != right[0]:
            return False
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]

    return compare


def _tags_filter(raw: str) -> Callable[[dict[str, Any]], bool]:
    wanted: list[tuple[str, re.Pattern[str]]] = []
    for item in raw.split(","):
        name, sep, value = item.partition(":")
        if not name or not sep:
            raise bad_request(f"Invalid tags filter '{raw}': expected {{TAG_NAME}}:{{TAG_VALUE}}.")
        wanted.append((name, _wildcard(value)))

    def matches(doc: dict[str, Any]) -> bool:
        tags = doc.get("tags") or {}
        return all(any(p.fullmatch(str(v)) for v in tags.get(name) or []) for name, p in wanted)

    return matches


def _sort(pairs: list[tuple[str, dict[str, Any]]], order_by: str | None) -> list[tuple[str, dict[str, Any]]]:
    if not order_by:
        return pairs
    keys: list[tuple[str, bool]] = []
    for item in order_by.split(","):
        item = item.strip()
        direction, sep, name = item.partition(":")
        if not sep:
            direction, name = "asc", item
        if direction.lower() not in ("asc", "desc") or not name:
            raise bad_request(f"Invalid orderBy '{order_by}': use [asc:|desc:]PROPERTY[,...].")
        keys.append((name, direction.lower() == "desc"))

    def sort_key(name: str) -> Callable[[tuple[str, dict[str, Any]]], tuple[Any, ...]]:
        def key(pair: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
            value = pair[0] if name == "id" else pair[1].get(name)
            if value is None:
                return (1, 0, "")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return (0, 0, value)
            return (0, 1, _text(value))

        return key

    ordered = list(pairs)
    for name, descending in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=sort_key(name), reverse=descending)
    return ordered


def _project(doc: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
    if properties is None:
        return doc
    return {name: doc[name] for name in properties if name in doc}


def _listing(
    req: Request,
    collection: str,
    docs: Iterable[dict[str, Any]],
    render: Callable[[dict[str, Any]], dict[str, Any]],
    extra: list[Callable[[dict[str, Any]], bool]] | None = None,
) -> Response:
    """Filter, sort, page and project a collection into Catalog's id-keyed list object."""
    properties = [p for p in (req.param("properties") or "").split(",") if p] or None
    limit = _int_param(req, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"Invalid limit '{limit}': the limit must be between 1 and {MAX_LIMIT}.")
    if properties and "observableSchema" in properties:
        limit = min(limit, OBSERVABLE_SCHEMA_LIMIT)
    start = _int_param(req, "start", 0)
    if start < 0:
        raise bad_request(f"Invalid start '{start}': the offset must not be negative.")
    checks = list(extra or [])
    for key in SIMPLE_FILTERS[collection]:
        for raw in req.query.get(key, []):
            checks.append(_simple_check(key, raw))
    checks.extend(_property_filter(expr) for expr in req.query.get("property", []))
    checks.extend(_tags_filter(raw) for raw in req.query.get("tags", []) if raw)
    public = [(doc["id"], render(doc)) for doc in docs]
    matching = [(doc_id, doc) for doc_id, doc in public if all(check(doc) for check in checks)]
    ordered = _sort(matching, req.param("orderBy") or req.param("sort"))
    return Response(200, {doc_id: _project(doc, properties) for doc_id, doc in ordered[start : start + limit]})


# -- dataset handlers ------------------------------------------------------------------------------
def dataset_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The public form of a stored dataset (no ``id`` inside: the id is the key)."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_") and k != "id"}


def create_dataset(req: Request, ctx: Ctx) -> Response:
    """``POST /dataSets[?requestDataSource=true]`` -> 201, ``Location`` and ``["@/dataSets/<id>"]``."""
    body = _object(_body(req))
    doc = _writable(body)
    doc["schemaRef"] = _schema_ref(body)
    doc.pop("schema", None)
    _check_dataset(ctx.store, doc)
    if _validate_only(req):
        return Response(200, [])
    now, dataset_id = ctx.now_ms, _object_id()
    user = f"{ctx.client_id}@AdobeID"
    dataset: dict[str, Any] = {
        "id": dataset_id,
        "version": "1.0.0",
        "imsOrg": ctx.store.org,
        **doc,
        "tags": doc.get("tags") or {},
        "created": now,
        "updated": now,
        "createdClient": ctx.client_id,
        "createdUser": user,
        "updatedUser": user,
        "viewId": _object_id(),
        "files": f"@/dataSetFiles?dataSetId={dataset_id}",
        "_seq": ctx.state.next_seq(),
    }
    dataset.setdefault("fileDescription", {"persisted": True, "containerFormat": "parquet", "format": "parquet"})
    if (req.param("requestDataSource") or "").lower() == "true" and "dataSourceId" not in dataset:
        dataset["dataSourceId"] = int.from_bytes(secrets.token_bytes(3), "big") + 100000
    ctx.store["dataSets"].add(dataset)
    location = f"{req.base_url}{PREFIX}/dataSets/{dataset_id}"
    return Response(201, [_ref(dataset_id)], {"Location": location})


def list_datasets(req: Request, ctx: Ctx) -> Response:
    runs.refresh(ctx.state, ctx.store)  # emulated runs update lastBatchId/lastBatchStatus when they finish
    return _listing(req, "dataSets", ctx.store["dataSets"], dataset_view)


def _lookup_dataset(ctx: Ctx, dataset_id: str) -> dict[str, Any]:
    dataset = find_dataset(ctx.store, dataset_id)
    if dataset is None:
        raise _not_found("dataSet", dataset_id)
    return dataset


def get_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    runs.refresh(ctx.state, ctx.store)
    dataset = _lookup_dataset(ctx, dataset_id)
    properties = [p for p in (req.param("properties") or "").split(",") if p] or None
    etag = _etag(dataset)
    return Response(200, {dataset_id: _project(dataset_view(dataset), properties)}, {"E-Tag": etag, "ETag": etag})


def _store_update(ctx: Ctx, dataset: dict[str, Any], doc: dict[str, Any]) -> None:
    for key in [k for k in dataset if k not in READ_ONLY and not k.startswith("_")]:
        dataset.pop(key)
    dataset.update(doc)
    dataset["version"] = _bump(dataset["version"])
    dataset["updated"] = ctx.now_ms
    dataset["updatedUser"] = f"{ctx.client_id}@AdobeID"


def put_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    """Full update: writable fields are replaced by the body's."""
    dataset = _lookup_dataset(ctx, dataset_id)
    _check_if_match(req, dataset)
    body = _object(_body(req))
    doc = _writable(body)
    doc["schemaRef"] = _schema_ref(body)
    doc.pop("schema", None)
    doc.setdefault("tags", {})
    _check_dataset(ctx.store, doc)
    if not _validate_only(req):
        _store_update(ctx, dataset, doc)
    return Response(200, [_ref(dataset_id)])


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise bad_request(f"Invalid JSON patch path '{path}'.")
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _patch_one(doc: dict[str, Any], op: str, tokens: list[str], value: Any, path: str) -> None:
    parent: Any = doc
    for token in tokens[:-1]:
        if isinstance(parent, dict) and token in parent:
            parent = parent[token]
        elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
            parent = parent[int(token)]
        else:
            raise bad_request(f"The path '{path}' does not exist.")
    last = tokens[-1]
    if isinstance(parent, dict):
        if op != "add" and last not in parent:
            raise bad_request(f"The path '{path}' does not exist.")
        if op == "remove":
            del parent[last]
        else:
            parent[last] = value
    elif isinstance(parent, list):
        if op == "add" and last == "-":
            parent.append(value)
            return
        if not last.isdigit() or int(last) > len(parent) or (op != "add" and int(last) >= len(parent)):
            raise bad_request(f"The path '{path}' does not exist.")
        index = int(last)
        if op == "add":
            parent.insert(index, value)
        elif op == "replace":
            parent[index] = value
        else:
            del parent[index]
    else:
        raise bad_request(f"The path '{path}' does not exist.")


def patch_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    """JSON Patch (``Content-Type: application/json-patch+json``) on writable fields -> 200 array."""
    if req.content_type != "application/json-patch+json":
        raise bad_request(
            "PATCH on a dataset needs the header Content-Type: application/json-patch+json and a JSON Patch array."
        )
    dataset = _lookup_dataset(ctx, dataset_id)
    _check_if_match(req, dataset)
    operations = _body(req)
    if isinstance(operations, dict):
        operations = [operations]
    if not isinstance(operations, list) or not operations:
        raise bad_request("The request body must be a non-empty JSON Patch array.")
    doc = _writable(dataset_view(dataset))
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad_request("Each JSON Patch operation must be an object.")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise bad_request(f"Unsupported JSON Patch operation '{operation.get('op')}'.")
        if op != "remove" and "value" not in operation:
            raise bad_request(f"Missing 'value' for the '{op}' operation on '{operation.get('path')}'.")
        tokens = _pointer(operation.get("path"))
        if tokens[0] in READ_ONLY:
            raise bad_request(f"The field '/{tokens[0]}' is read-only.")
        _patch_one(doc, op, tokens, copy.deepcopy(operation.get("value")), operation["path"])
    doc["schemaRef"] = _schema_ref(doc)
    _check_dataset(ctx.store, doc)
    _store_update(ctx, dataset, doc)
    return Response(200, [_ref(dataset_id)])


def delete_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    """200 ``["@/dataSets/<id>"]``; an unknown id still answers 200, with ``[]`` (delete-object guide)."""
    removed = ctx.store["dataSets"].remove(dataset_id)
    if removed is None:
        return Response(200, [])
    ctx.store.landed.pop(dataset_id, None)
    return Response(200, [_ref(dataset_id)])


# -- batch handlers --------------------------------------------------------------------------------
def batch_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}


def _related_check(wanted: set[str]) -> Callable[[dict[str, Any]], bool]:
    def check(doc: dict[str, Any]) -> bool:
        return any(o.get("type") == "dataSet" and o.get("id") in wanted for o in doc.get("relatedObjects") or [])

    return check


def _id_check(ids: set[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: doc.get("id") in ids


def _batch_filters(req: Request) -> list[Callable[[dict[str, Any]], bool]]:
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for raw in req.query.get("dataSet", []):
        checks.append(_related_check(set(raw.split(","))))
    for raw in req.query.get("batch", []):
        checks.append(_id_check(set(raw.split(","))))
    after = req.param("createdAfter")
    before = req.param("createdBefore")
    if after:
        bound = _int_param(req, "createdAfter", 0)
        checks.append(lambda doc: doc["created"] > bound)
    if before:
        upper = _int_param(req, "createdBefore", 0)
        checks.append(lambda doc: doc["created"] < upper)
    return checks


def list_batches(req: Request, ctx: Ctx) -> Response:
    """``GET /batches?dataSet=&status=&orderBy=desc:created&limit=...`` (runs are brought up to date first)."""
    runs.refresh(ctx.state, ctx.store)
    return _listing(req, "batches", ctx.store["batches"], batch_view, _batch_filters(req))


def get_batch(req: Request, ctx: Ctx, batch_id: str) -> Response:
    runs.refresh(ctx.state, ctx.store)
    batch = ctx.store["batches"].get(batch_id)
    if batch is None:
        raise _not_found("batch", batch_id)
    return Response(200, {batch_id: batch_view(batch)})


def routes() -> list[tuple[str, dict[str, Handler]]]:
    dataset = r"/dataSets/(?P<dataset_id>[^/]+)"
    return [
        ("/dataSets", {"GET": list_datasets, "POST": create_dataset}),
        (dataset, {"GET": get_dataset, "PUT": put_dataset, "PATCH": patch_dataset, "DELETE": delete_dataset}),
        ("/batches", {"GET": list_batches}),
        (r"/batches/(?P<batch_id>[^/]+)", {"GET": get_batch}),
    ]

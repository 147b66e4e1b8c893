"""Catalog datasets (``/dataSets``): create, read, list, replace, JSON-patch and delete.

Single reads answer ``{"<id>": {...}}`` with an ``E-Tag`` header that ``If-Match`` on PUT/PATCH must match (else
412); ``Pragma: validate-only`` checks a POST/PUT without storing it; writes answer ``["@/dataSets/<id>"]``. A
dataset's schema must exist in the Schema Registry of its sandbox, and Profile-enabled datasets need a union
schema.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from typing import Any

from .. import schema_registry
from ..core.context import Ctx
from ..core.errors import ApiError, platform_error
from ..core.json_patch import PatchFailure, apply_patch
from ..core.messages import Request, Response
from ..core.state import Store
from .errors import bad_request, not_found
from .listing import listing, project
from .models import AUDIT_FIELDS, PREFIX, backend, find_dataset

DEFAULT_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"
PATCH_OPS = frozenset({"add", "replace", "remove"})
BEHAVIOUR_BASE = "https://ns.adobe.com/xdm/data/"
BEHAVIOURS = ("time-series", "adhoc", "record")
#: Fields Catalog owns: ignored in POST/PUT bodies, refused by PATCH.
READ_ONLY = AUDIT_FIELDS | {
    "id",
    "imsOrg",
    "viewId",
    "files",
    "basePath",
    "lastBatchId",
    "lastBatchStatus",
    "lastSuccessfulBatch",
    "lastFailedBatch",
    "classification",
}


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


def _schema_ref(body: dict[str, Any]) -> dict[str, Any]:
    """``schemaRef`` (derived from the legacy ``schema`` string when absent, as the spec says)."""
    ref = body.get("schemaRef")
    if ref is None and isinstance(body.get("schema"), str):
        ref = {"id": body["schema"], "contentType": DEFAULT_SCHEMA_CONTENT_TYPE}
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise bad_request("Missing required field 'schemaRef.id': a dataset needs the XDM schema it follows.")
    return {"id": ref["id"], "contentType": ref.get("contentType") or DEFAULT_SCHEMA_CONTENT_TYPE}


def _classification(store: Store, doc: dict[str, Any]) -> dict[str, str]:
    """``{dataBehavior, managedBy}`` (the spec's dataSetResponse requires both): the behaviour of the schema's
    class (``record``, ``time-series`` or ``adhoc``); datasets created through the API are the customer's."""
    schema = schema_registry.find_schema(store, doc["schemaRef"]["id"]) or {}
    extends = schema.get("meta:extends") or []
    behaviour = next((b for b in BEHAVIOURS if f"{BEHAVIOUR_BASE}{b}" in extends), "record")
    return {"dataBehavior": behaviour, "managedBy": "CUSTOMER"}


def _check_dataset(store: Store, doc: dict[str, Any]) -> None:
    """Field types, that the schema exists, and that Profile tags only go on union (Profile) schemas."""
    for name in ("name", "description"):
        if name in doc and not isinstance(doc[name], str):
            raise bad_request(f"Invalid value for field '{name}': expected a string.")
    if "enableErrorDiagnostics" in doc and not isinstance(doc["enableErrorDiagnostics"], bool):
        raise bad_request("Invalid value for field 'enableErrorDiagnostics': expected a boolean.")
    _check_tags(doc.get("tags"))
    schema_id = doc["schemaRef"]["id"]
    schema = schema_registry.find_schema(store, schema_id)
    if schema is None:
        raise bad_request(f"The schema '{schema_id}' referenced by schemaRef.id does not exist in this sandbox.")
    if tag_enabled((doc.get("tags") or {}).get("unifiedProfile")) and "union" not in (
        schema.get("meta:immutableTags") or []
    ):
        raise bad_request("To enable profile datasets the schema should be valid")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY and not k.startswith("_")}


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
    dataset["classification"] = _classification(ctx.store, doc)
    if (req.param("requestDataSource") or "").lower() == "true" and "dataSourceId" not in dataset:
        dataset["dataSourceId"] = int.from_bytes(secrets.token_bytes(3), "big") + 100000
    ctx.store["dataSets"].add(dataset)
    location = f"{req.base_url}{PREFIX}/dataSets/{dataset_id}"
    return Response(201, [_ref(dataset_id)], {"Location": location})


def list_datasets(req: Request, ctx: Ctx) -> Response:
    ctx.state.refresh(ctx.store)  # emulated runs update lastBatchId/lastBatchStatus when they finish
    return listing(req, "dataSets", ctx.store["dataSets"], dataset_view)


def _lookup_dataset(ctx: Ctx, dataset_id: str) -> dict[str, Any]:
    dataset = find_dataset(ctx.store, dataset_id)
    if dataset is None:
        raise not_found("dataSet", dataset_id)
    return dataset


def get_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    ctx.state.refresh(ctx.store)
    dataset = _lookup_dataset(ctx, dataset_id)
    properties = [p for p in (req.param("properties") or "").split(",") if p] or None
    etag = _etag(dataset)
    return Response(200, {dataset_id: project(dataset_view(dataset), properties)}, {"E-Tag": etag, "ETag": etag})


def _store_update(ctx: Ctx, dataset: dict[str, Any], doc: dict[str, Any]) -> None:
    for key in [k for k in dataset if k not in READ_ONLY and not k.startswith("_")]:
        dataset.pop(key)
    dataset.update(doc)
    dataset["version"] = _bump(dataset["version"])
    dataset["updated"] = ctx.now_ms
    dataset["updatedUser"] = f"{ctx.client_id}@AdobeID"
    dataset["classification"] = _classification(ctx.store, doc)


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


def _patch_error(failure: PatchFailure) -> ApiError:
    if failure.kind == "not_a_list":
        return bad_request("The request body must be a non-empty JSON Patch array.")
    if failure.kind == "not_an_object":
        return bad_request("Each JSON Patch operation must be an object.")
    if failure.kind == "bad_op":
        return bad_request(f"Unsupported JSON Patch operation '{failure.op}'.")
    if failure.kind == "missing" and "value" in failure.members:
        return bad_request(f"Missing 'value' for the '{failure.op}' operation on '{failure.path}'.")
    if failure.kind in ("bad_pointer", "whole_document"):
        return bad_request(f"Invalid JSON patch path '{failure.path}'.")
    if failure.kind == "read_only":
        return bad_request(f"The field '/{failure.root}' is read-only.")
    if failure.kind == "not_found":
        return bad_request(f"The path '{failure.path}' does not exist.")
    return bad_request(failure.message)


def patch_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    """JSON Patch (``Content-Type: application/json-patch+json``) on writable fields -> 200 array."""
    if req.content_type != "application/json-patch+json":
        raise bad_request(
            "PATCH on a dataset needs the header Content-Type: application/json-patch+json and a JSON Patch array."
        )
    dataset = _lookup_dataset(ctx, dataset_id)
    _check_if_match(req, dataset)
    doc = apply_patch(
        _writable(dataset_view(dataset)), _body(req), ops=PATCH_OPS, read_only=READ_ONLY, errors=_patch_error
    )
    doc["schemaRef"] = _schema_ref(doc)
    _check_dataset(ctx.store, doc)
    _store_update(ctx, dataset, doc)
    return Response(200, [_ref(dataset_id)])


def delete_dataset(req: Request, ctx: Ctx, dataset_id: str) -> Response:
    """200 ``["@/dataSets/<id>"]``; an unknown id still answers 200, with ``[]`` (delete-object guide)."""
    removed = ctx.store["dataSets"].remove(dataset_id)
    if removed is None:
        return Response(200, [])
    backend(ctx.store).landed.pop(dataset_id, None)
    return Response(200, [_ref(dataset_id)])

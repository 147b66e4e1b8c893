"""Base, source and target connections, connection specs and explore."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .. import schema_registry
from ..catalog.models import find_dataset
from ..core.context import Ctx
from ..core.errors import flow_error
from ..core.messages import Request, Response
from ..core.query import ensure_no_query
from ..core.redaction import mask_params
from . import resources as res
from . import sources, specs
from .validation import validate, validate_request


# -- connection specs --------------------------------------------------------------------------------
def list_connection_specs(req: Request, ctx: Ctx) -> Response:
    return res.list_static(req, "connectionSpecs", list(specs.CONNECTION_SPECS.values()))


def get_connection_spec(req: Request, ctx: Ctx, spec_id: str) -> Response:
    return res.get_static(req, specs.CONNECTION_SPECS, spec_id, "Connection spec")


def _spec(spec_ref: dict[str, Any]) -> dict[str, Any]:
    spec = specs.CONNECTION_SPECS.get(spec_ref["id"])
    if spec is None:
        raise flow_error("1413-400", "The spec ID provided is invalid. Please provide a valid spec ID and try again.")
    return spec


def _spec_ref(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, str]:
    return {"id": spec["id"], "version": ref.get("version") or spec["version"]}


# -- base connections -------------------------------------------------------------------------------
def _masked(resource: dict[str, Any]) -> dict[str, Any]:
    """Public view with secret ``auth.params`` replaced, because the API returns a partial credential view."""
    doc = res.view(resource)
    auth = doc.get("auth")
    if isinstance(auth, dict) and isinstance(auth.get("params"), dict):
        spec = specs.CONNECTION_SPECS.get(doc["connectionSpec"]["id"], {})
        params = mask_params(auth["params"], specs.secret_param_names(spec, auth.get("specName")))
        doc["auth"] = {**auth, "params": params}
    return doc


masked_view = _masked


def _check_auth(spec: dict[str, Any], auth: Any) -> None:
    if not spec.get("authSpec"):
        return
    if not isinstance(auth, dict):
        raise flow_error("1100-400", "Missing required field 'auth'.")
    chosen = specs.auth_spec(spec, auth["specName"])
    if chosen is None:
        raise flow_error(
            "1415-400",
            f"The auth spec '{auth['specName']}' could not be found for the connection spec ID {spec['id']}.",
        )
    validate(auth.get("params"), chosen["spec"], prefix="auth.params")


def create_connection(req: Request, ctx: Ctx) -> Response:
    ensure_no_query(req.query)
    body = res.require_object(req.json())
    res.reject_state(body)
    validate_request(body, "connection_create")
    spec = _spec(body["connectionSpec"])
    _check_auth(spec, body.get("auth"))
    fields: dict[str, Any] = {"name": body["name"]}
    if "description" in body:
        fields["description"] = body["description"]
    fields["connectionSpec"] = _spec_ref(spec, body["connectionSpec"])
    if "auth" in body:
        fields["auth"] = {"specName": body["auth"]["specName"], "params": copy.deepcopy(body["auth"]["params"])}
    resource = res.build(ctx, fields)
    ctx.store["connections"].add(resource)
    location = f"{req.base_url}{res.SERVICE_PREFIX}/connections/{resource['id']}"
    return res.id_etag(resource, 201, {"Location": location})


def list_connections(req: Request, ctx: Ctx) -> Response:
    return res.list_response(ctx, req, "connections", _masked)


def get_connection(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    return res.items(_masked(res.lookup(ctx, "connections", resource_id)))


def patch_connection(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    resource = res.lookup(ctx, "connections", resource_id)
    res.check_if_match(req, resource)
    doc, _ = res.apply_patch(resource, req.json(), {"connectionSpec": "1414-400"})
    validate_request(doc, "connection_create")
    spec = _spec(doc["connectionSpec"])
    if "auth" in doc or "auth" in resource:
        _check_auth(spec, doc.get("auth"))
    res.take_patched(resource, doc, ("name", "description", "auth"))
    res.touch(ctx, resource)
    return res.id_etag(resource)


def _flows_using(ctx: Ctx, predicate: Any) -> list[str]:
    return [flow["id"] for flow in ctx.store["flows"] if predicate(flow)]


def delete_connection(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    res.lookup(ctx, "connections", resource_id)
    store = ctx.store

    def uses_base(flow: dict[str, Any]) -> bool:
        for kind, key in (("sourceConnections", "sourceConnectionIds"), ("targetConnections", "targetConnectionIds")):
            for conn_id in flow.get(key, []):
                conn = store[kind].get(conn_id)
                if conn is not None and conn.get("baseConnectionId") == resource_id:
                    return True
        return False

    if _flows_using(ctx, uses_base):
        raise flow_error(
            "1418-400",
            f"The base connection with the ID {resource_id} cannot be deleted because the base connection is "
            "being used in one or more flows. Please ensure that corresponding flows are deleted before "
            "deleting a base connection.",
        )
    return res.delete(ctx, "connections", resource_id)


def test_connection(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    res.lookup(ctx, "connections", resource_id)
    return Response(200, {"result": True})


# -- explore ----------------------------------------------------------------------------------------
_EXPLORE_PARAMS = ("objectType", "object", "preview", "fileType", "FileType", "CompressionType", "filters")


def explore_connection(req: Request, ctx: Ctx, resource_id: str) -> Response:
    """Explore of a registered table source (:mod:`.sources`): ``root`` answers a bare array of tables;
    ``table`` a flat schema in the source's column style, plus ``data`` with ``preview=true``."""
    ensure_no_query(req.query, _EXPLORE_PARAMS)
    connection = res.lookup(ctx, "connections", resource_id)
    spec = specs.CONNECTION_SPECS.get(connection["connectionSpec"]["id"], {})
    object_type = (req.param("objectType") or "").lower()
    if not object_type:
        raise flow_error("1100-400", "Missing required query parameter 'objectType'.")
    if object_type not in ("root", "table", "file", "folder", "rest"):
        raise flow_error("1452-400", f"Invalid value {req.param('objectType')} for field objectType.")
    source = sources.for_spec(connection["connectionSpec"]["id"])
    if source is None:
        raise flow_error(
            "1100-400", f"Explore is not available for connection spec '{spec.get('name')}' in the emulator."
        )
    if object_type not in ("root", "table"):
        raise flow_error("1100-400", f"objectType '{object_type}' is not supported by connection spec '{source.name}'.")
    if req.param("filters") is not None:
        raise flow_error("1100-400", f"Row filtering is not supported for connection spec '{source.name}'.")
    if object_type == "root":
        return Response(200, source.explore_root())
    path = req.param("object")
    if not path:
        raise flow_error("1100-400", "Missing required query parameter 'object' for objectType 'table'.")
    table = source.table_of(path)
    if table is None:
        raise flow_error(
            "1101-404",
            f"The requested resource is not found. Error from flow provider: Table '{path}' does not exist.",
        )
    doc = source.table_schema(table)
    preview = (req.param("preview") or "false").lower()
    if preview not in ("true", "false"):
        raise flow_error("1452-400", f"Invalid value {req.param('preview')} for field preview.")
    if preview == "true":
        doc["data"] = source.sample_rows(table)
    return Response(200, doc)


# -- source connections -----------------------------------------------------------------------------
def _check_source(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a source connection document; returns its connection spec."""
    spec = _spec(doc["connectionSpec"])
    if "sourceSpec" not in spec:
        raise flow_error("1100-400", f"The connection spec '{spec['name']}' cannot be used as a source.")
    fmt = doc["data"]["format"]
    if fmt not in spec.get("_dataFormats", []):
        raise flow_error(
            "1100-400",
            f"Invalid value for field 'data.format': '{fmt}' is not supported by connection spec "
            f"'{spec['name']}' (expected one of {spec.get('_dataFormats')}).",
        )
    base_id = doc.get("baseConnectionId")
    if spec.get("_requiresBaseConnection") and not base_id:
        raise flow_error("1100-400", "Missing required field 'baseConnectionId'.")
    if base_id:
        base = ctx.store["connections"].get(base_id)
        if base is None:
            raise flow_error("1100-400", f"The base connection with the ID {base_id} could not be found.")
        if base["connectionSpec"]["id"] != spec["id"]:
            raise flow_error(
                "1100-400",
                f"The connection spec ID {spec['id']} does not match the connection spec "
                f"{base['connectionSpec']['id']} of base connection {base_id}.",
            )
    validate(doc.get("params", {}), spec["sourceSpec"]["spec"], prefix="params")
    source = sources.for_spec(spec["id"])
    if source is not None:
        source.check_params(doc.get("params", {}))
    return spec


def _inherited(ctx: Ctx, base_id: str | None) -> dict[str, Any]:
    base = ctx.store["connections"].get(base_id) if base_id else None
    if base is None:
        return {}
    return {"baseConnection": {"id": base["id"], "connectionSpec": dict(base["connectionSpec"])}}


def create_source_connection(req: Request, ctx: Ctx) -> Response:
    return _create_data_connection(req, ctx, "sourceConnections", _check_source)


# -- target connections -----------------------------------------------------------------------------
def canonical_schema_id(ctx: Ctx, schema_id: str) -> str:
    """The ``$id`` of a schema given by ``$id`` or ``meta:altId`` (unknown ids are returned unchanged)."""
    schema = schema_registry.find_schema(ctx.store, schema_id)
    return str(schema["$id"]) if schema is not None else schema_id


def _check_dataset(ctx: Ctx, doc: dict[str, Any]) -> None:
    """Cross-service check of a Data Lake target: the dataset exists in Catalog (same sandbox) and was made
    for the schema the connection names, as a real dataflow cannot land data otherwise."""
    dataset_id = doc["params"]["dataSetId"]
    dataset = find_dataset(ctx.store, dataset_id)
    if dataset is None:
        raise flow_error(
            "1100-400",
            f"Invalid value for field 'params.dataSetId': the dataset with the ID {dataset_id} could not be found "
            f"in sandbox '{ctx.store.sandbox}'. Create it first (POST /data/foundation/catalog/dataSets).",
        )
    schema_ref: dict[str, Any] = dataset["schemaRef"] if isinstance(dataset.get("schemaRef"), dict) else {}
    dataset_schema = str(schema_ref.get("id") or "")
    wanted = doc["data"]["schema"]["id"]
    if canonical_schema_id(ctx, dataset_schema) != canonical_schema_id(ctx, wanted):
        raise flow_error(
            "1100-400",
            f"Invalid value for field 'data.schema.id': '{wanted}' is not the schema of dataset {dataset_id} "
            f"(its schemaRef.id is '{dataset_schema}').",
        )


def _check_target(ctx: Ctx, doc: dict[str, Any], check_dataset: bool = True) -> dict[str, Any]:
    spec = _spec(doc["connectionSpec"])
    if "targetSpec" not in spec:
        raise flow_error("1100-400", f"The connection spec '{spec['name']}' cannot be used as a target.")
    validate(doc.get("params", {}), spec["targetSpec"]["spec"], prefix="params")
    base_id = doc.get("baseConnectionId")
    if base_id and ctx.store["connections"].get(base_id) is None:
        raise flow_error("1100-400", f"The base connection with the ID {base_id} could not be found.")
    if check_dataset and spec["id"] == specs.DATA_LAKE_SPEC_ID:
        _check_dataset(ctx, doc)
    return spec


def create_target_connection(req: Request, ctx: Ctx) -> Response:
    return _create_data_connection(req, ctx, "targetConnections", _check_target)


# -- shared source/target handlers ------------------------------------------------------------------
_SCHEMAS = {"sourceConnections": "source_connection_create", "targetConnections": "target_connection_create"}
_KEY_FOR = {"sourceConnections": "sourceConnectionIds", "targetConnections": "targetConnectionIds"}


def _create_data_connection(
    req: Request, ctx: Ctx, collection: str, check: Callable[[Ctx, dict[str, Any]], dict[str, Any]]
) -> Response:
    """POST of a source or target connection: validate, check against its spec, store."""
    ensure_no_query(req.query)
    body = res.require_object(req.json())
    res.reject_state(body)
    validate_request(body, _SCHEMAS[collection])
    spec = check(ctx, body)
    fields: dict[str, Any] = {"name": body["name"]}
    if "description" in body:
        fields["description"] = body["description"]
    if body.get("baseConnectionId"):
        fields["baseConnectionId"] = body["baseConnectionId"]
    fields["data"] = copy.deepcopy(body["data"])
    fields["params"] = copy.deepcopy(body.get("params", {}))
    fields["connectionSpec"] = _spec_ref(spec, body["connectionSpec"])
    # Source connections always carry inheritedAttributes (empty without a base connection).
    if collection == "sourceConnections" or body.get("baseConnectionId"):
        fields["inheritedAttributes"] = _inherited(ctx, body.get("baseConnectionId"))
    resource = res.build(ctx, fields)
    ctx.store[collection].add(resource)
    return res.id_etag(resource, 201)


def list_data_connections(req: Request, ctx: Ctx, collection: str) -> Response:
    return res.list_response(ctx, req, collection)


def get_data_connection(req: Request, ctx: Ctx, collection: str, resource_id: str) -> Response:
    ensure_no_query(req.query)
    return res.items(res.view(res.lookup(ctx, collection, resource_id)))


def patch_data_connection(req: Request, ctx: Ctx, collection: str, resource_id: str) -> Response:
    ensure_no_query(req.query)
    resource = res.lookup(ctx, collection, resource_id)
    res.check_if_match(req, resource)
    immutable = {"connectionSpec": "1414-400", "baseConnectionId": "1100-400", "inheritedAttributes": "1100-400"}
    doc, _ = res.apply_patch(resource, req.json(), immutable)
    validate_request(doc, _SCHEMAS[collection])
    if collection == "sourceConnections":
        _check_source(ctx, doc)
    else:
        # The Catalog cross-check runs when the patch touches what it checks (renames keep working even if
        # the dataset has gone since, as the check is about where data lands).
        touched = any(doc.get(key) != resource.get(key) for key in ("params", "data"))
        _check_target(ctx, doc, check_dataset=touched)
    res.take_patched(resource, doc, ("name", "description", "data", "params"))
    res.touch(ctx, resource)
    return res.id_etag(resource)


def delete_data_connection(req: Request, ctx: Ctx, collection: str, resource_id: str) -> Response:
    """Refused with ``1447-400`` while a flow references the connection."""
    ensure_no_query(req.query)
    res.lookup(ctx, collection, resource_id)
    key = _KEY_FOR[collection]
    if _flows_using(ctx, lambda flow: resource_id in flow.get(key, [])):
        raise flow_error("1447-400", f"Found active flows containing id {resource_id}.")
    return res.delete(ctx, collection, resource_id)

"""Flow specs and flows (dataflows): create, read, patch, enable/disable and delete.

``scheduleParams`` must be typed on create (integers/booleans, as the flow spec's JSON schema says) but are
echoed back as strings, as documented GET /flows responses show (``"startTime": "1612310466"``,
``"backfill": "true"``), and so is ``mappingVersion``. PATCH accepts either form.
"""

from __future__ import annotations

import copy
from typing import Any

from ..core.context import Ctx
from ..core.errors import flow_error
from ..core.messages import Request, Response
from ..core.query import ensure_no_query
from ..data_prep.models import find_mapping_set, output_schema_id
from . import resources as res
from . import runs, specs
from .connections import canonical_schema_id
from .models import backend
from .validation import validate, validate_request

_FLOW_IMMUTABLE = {
    "flowSpec": "1100-400",
    "inheritedAttributes": "1100-400",
    "runs": "1100-400",
    "lastOperation": "1100-400",
    "lastRunDetails": "1100-400",
}


# -- flow specs -------------------------------------------------------------------------------------
def list_flow_specs(req: Request, ctx: Ctx) -> Response:
    return res.list_static(req, "flowSpecs", list(specs.FLOW_SPECS.values()))


def get_flow_spec(req: Request, ctx: Ctx, spec_id: str) -> Response:
    return res.get_static(req, specs.FLOW_SPECS, spec_id, "Flow spec")


# -- validation -------------------------------------------------------------------------------------
def _typed_schedule(params: dict[str, Any]) -> dict[str, Any]:
    """Undo the string echo so a patched schedule can be checked against the spec's JSON schema."""
    typed: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("startTime", "interval") and isinstance(value, str) and value.strip().isdigit():
            typed[key] = int(value)
        elif key == "backfill" and isinstance(value, str) and value.lower() in ("true", "false"):
            typed[key] = value.lower() == "true"
        else:
            typed[key] = value
    return typed


def _echo_schedule(params: dict[str, Any]) -> dict[str, str]:
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()}


def _echo_transformations(transformations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy with ``mappingVersion`` as a string, as GET /flows shows it (``"mappingVersion": "0"``)."""
    echoed = copy.deepcopy(transformations)
    for transformation in echoed:
        params = transformation.get("params")
        if isinstance(params, dict) and isinstance(params.get("mappingVersion"), int):
            params["mappingVersion"] = str(params["mappingVersion"])
    return echoed


def _check_connections(ctx: Ctx, spec: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Existence and spec compatibility of the flow's connections; returns ``inheritedAttributes``."""
    inherited: dict[str, Any] = {"sourceConnections": [], "targetConnections": []}
    for kind, key, allowed_key in (
        ("sourceConnections", "sourceConnectionIds", "sourceConnectionSpecIds"),
        ("targetConnections", "targetConnectionIds", "targetConnectionSpecIds"),
    ):
        label = "source" if kind == "sourceConnections" else "target"
        for conn_id in doc[key]:
            conn = ctx.store[kind].get(conn_id)
            if conn is None:
                raise flow_error("1100-400", f"The {label} connection with the ID {conn_id} could not be found.")
            conn_spec = conn["connectionSpec"]["id"]
            if conn_spec not in spec[allowed_key]:
                raise flow_error(
                    "1100-400",
                    f"The connection spec {conn_spec} of {label} connection {conn_id} is not supported by flow "
                    f"spec '{spec['name']}'.",
                )
            entry: dict[str, Any] = {"id": conn_id, "connectionSpec": dict(conn["connectionSpec"])}
            base = conn.get("inheritedAttributes", {}).get("baseConnection")
            if base:
                entry["baseConnection"] = copy.deepcopy(base)
            inherited[kind].append(entry)
    inherited["properties"] = {"isSourceFlow": True}
    return inherited


def _check_transformations(spec: dict[str, Any], transformations: list[dict[str, Any]]) -> None:
    by_name = {t["name"]: t for t in spec["transformationSpecs"]}
    for index, transformation in enumerate(transformations):
        known = by_name.get(transformation["name"])
        if known is None:
            raise flow_error(
                "1100-400",
                f"Invalid value for field 'transformations[{index}].name': '{transformation['name']}' is not "
                f"supported by flow spec '{spec['name']}' (supported: {sorted(by_name)}).",
            )
        validate(transformation["params"], known["spec"], prefix=f"transformations[{index}].params")
    names = {t["name"] for t in transformations}
    for required in spec.get("_requiredTransformations", []):
        if required not in names:
            raise flow_error(
                "1100-400",
                f"Missing transformation '{required}': flow spec '{spec['name']}' requires a '{required}' "
                "transformation with params.deltaColumn.name for table-based (CRM) sources.",
            )


def _check_mapping(ctx: Ctx, doc: dict[str, Any]) -> None:
    """Cross-service check of ``Mapping`` transformations: the Data Prep mapping set exists at that version
    and maps into the schema of the flow's target connection(s)."""
    targets = [ctx.store["targetConnections"].get(conn_id) for conn_id in doc["targetConnectionIds"]]
    target_schemas = {
        canonical_schema_id(ctx, str(conn["data"]["schema"]["id"]))
        for conn in targets
        if conn is not None and isinstance((conn.get("data") or {}).get("schema"), dict)
    }
    for index, transformation in enumerate(doc["transformations"]):
        if transformation["name"] != "Mapping":
            continue
        params = transformation["params"]
        mapping_id, version = params["mappingId"], params.get("mappingVersion")
        field = f"transformations[{index}].params"
        mapping = find_mapping_set(ctx.store, mapping_id, version)
        if mapping is None:
            which = f" at version {version}" if version not in (None, "") else ""
            raise flow_error(
                "1100-400",
                f"Invalid value for field '{field}.mappingId': the mapping set {mapping_id}{which} could not be "
                f"found in sandbox '{ctx.store.sandbox}' (create it with POST /data/foundation/conversion/"
                "mappingSets).",
            )
        output = canonical_schema_id(ctx, output_schema_id(mapping))
        wrong = sorted(target_schemas - {output})
        if wrong:
            raise flow_error(
                "1100-400",
                f"Invalid value for field '{field}.mappingId': mapping set {mapping_id} maps into schema "
                f"'{output}', but the target connection's data.schema.id is '{wrong[0]}'.",
            )


def _check_flow(
    ctx: Ctx, doc: dict[str, Any], schedule: dict[str, Any], check_mapping: bool = True
) -> tuple[dict, dict]:
    """Validate a flow document; returns its flow spec and ``inheritedAttributes``."""
    spec = specs.FLOW_SPECS.get(doc["flowSpec"]["id"])
    if spec is None:
        raise flow_error("1413-400", "The spec ID provided is invalid. Please provide a valid spec ID and try again.")
    inherited = _check_connections(ctx, spec, doc)
    validate(schedule, spec["scheduleSpec"]["spec"], prefix="scheduleParams")
    _check_transformations(spec, doc["transformations"])
    if check_mapping:
        _check_mapping(ctx, doc)
    if "options" in doc and "optionSpec" in spec:
        validate(doc["options"], spec["optionSpec"]["spec"], prefix="options")
    return spec, inherited


def _set_schedule(ctx: Ctx, flow: dict[str, Any], schedule: dict[str, Any], from_start: bool = False) -> None:
    """Store the typed schedule and arm the scheduler.

    A new flow gets one run per slot since ``startTime`` (capped); after an update or a re-enable the
    schedule resumes at the next slot from now, without catching up on missed ones.
    """
    flow["_schedule"] = {
        "startTime": schedule["startTime"],
        "frequency": schedule["frequency"],
        "interval": schedule.get("interval"),
    }
    now = ctx.state.clock.now()
    flow["_next_slot"] = float(schedule["startTime"]) if from_start else runs.first_slot_from(flow["_schedule"], now)
    armed = flow.get("state") == "enabled" and not (schedule["frequency"] == "once" and flow.get("_once_done"))
    if armed:
        backend(ctx.store).scheduled_flows.add(flow["id"])
    else:
        backend(ctx.store).scheduled_flows.discard(flow["id"])


# -- handlers ---------------------------------------------------------------------------------------
def create_flow(req: Request, ctx: Ctx) -> Response:
    ensure_no_query(req.query)
    body = res.require_object(req.json())
    res.reject_state(body)
    validate_request(body, "flow_create")
    spec, inherited = _check_flow(ctx, body, body["scheduleParams"])
    now = ctx.now_ms
    fields: dict[str, Any] = {"name": body["name"]}
    if "description" in body:
        fields["description"] = body["description"]
    fields["flowSpec"] = {"id": spec["id"], "version": body["flowSpec"].get("version") or spec["version"]}
    resource = res.build(ctx, fields)
    resource.update(
        sourceConnectionIds=list(body["sourceConnectionIds"]),
        targetConnectionIds=list(body["targetConnectionIds"]),
        inheritedAttributes=inherited,
        scheduleParams=_echo_schedule(body["scheduleParams"]),
        transformations=_echo_transformations(body["transformations"]),
    )
    if "options" in body:
        resource["options"] = copy.deepcopy(body["options"])
    resource["runs"] = f"/runs?property=flowId=={resource['id']}"
    resource["lastOperation"] = {
        "started": now,
        "updated": now,
        "percentCompleted": 100.0,
        "status": {"value": "completed", "errors": []},
        "ops": [],
        "operation": "create",
    }
    ctx.store["flows"].add(resource)
    _set_schedule(ctx, resource, body["scheduleParams"], from_start=True)
    return res.id_etag(resource, 201)


def list_flows(req: Request, ctx: Ctx) -> Response:
    ctx.state.refresh(ctx.store)
    return res.list_response(ctx, req, "flows")


def get_flow(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    ctx.state.refresh(ctx.store)
    return res.items(res.view(res.lookup(ctx, "flows", resource_id)))


def patch_flow(req: Request, ctx: Ctx, resource_id: str) -> Response:
    ensure_no_query(req.query)
    ctx.state.refresh(ctx.store)
    flow = res.lookup(ctx, "flows", resource_id)
    res.check_if_match(req, flow)
    doc, ops = res.apply_patch(flow, req.json(), _FLOW_IMMUTABLE)
    validate_request(doc, "flow_create")
    schedule = _typed_schedule(doc["scheduleParams"])
    # The Data Prep cross-check runs when the patch touches the mapping or the target it must match.
    touched = any(doc.get(key) != flow.get(key) for key in ("transformations", "targetConnectionIds"))
    _, inherited = _check_flow(ctx, doc, schedule, check_mapping=touched)
    fields = ("name", "description", "sourceConnectionIds", "targetConnectionIds", "transformations", "options")
    res.take_patched(flow, doc, fields)
    flow["transformations"] = _echo_transformations(flow["transformations"])
    flow["inheritedAttributes"] = inherited
    flow["scheduleParams"] = _echo_schedule(schedule)
    core = {k: schedule.get(k) for k in ("startTime", "frequency", "interval")}
    if core != flow["_schedule"]:
        _set_schedule(ctx, flow, schedule)
    now = ctx.now_ms
    flow["lastOperation"] = {
        "started": now,
        "updated": now,
        "percentCompleted": 100.0,
        "status": {"value": "completed", "errors": []},
        "ops": ops,
        "operation": "update",
    }
    res.touch(ctx, flow)
    return res.id_etag(flow)


def flow_action(req: Request, ctx: Ctx, resource_id: str) -> Response:
    """``POST /flows/{id}/action?op=enable|disable``; ``If-Match`` is optional here (as in the spec)."""
    ensure_no_query(req.query, ("op", "subOp"))
    ctx.state.refresh(ctx.store)
    flow = res.lookup(ctx, "flows", resource_id)
    op = (req.param("op") or "").lower()
    if op in ("finalize", "finalize_update", "publish"):
        raise flow_error("1402-400", f"The action '{op}' is supported for provider requests only.")
    if op not in ("enable", "disable"):
        raise flow_error(
            "1434-400",
            f"Unsupported operation '{req.param('op')}' received. Please use one of the supported operation "
            "types and try again.",
        )
    if req.headers.get("if-match"):
        res.check_if_match(req, flow)
    wanted = "enabled" if op == "enable" else "disabled"
    if flow["state"] != wanted:
        flow["state"] = wanted
        if wanted == "enabled":
            _set_schedule(ctx, flow, flow["_schedule"])
        else:
            backend(ctx.store).scheduled_flows.discard(flow["id"])
        res.touch(ctx, flow)
    return res.id_etag(flow)


def delete_flow(req: Request, ctx: Ctx, resource_id: str) -> Response:
    """Deletes the flow; its runs are kept (still listed by ``flowId``) and unfinished ones still finish."""
    ensure_no_query(req.query)
    ctx.state.refresh(ctx.store)
    res.lookup(ctx, "flows", resource_id)
    backend(ctx.store).scheduled_flows.discard(resource_id)
    return res.delete(ctx, "flows", resource_id)

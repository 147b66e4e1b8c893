"""What every Flow Service resource shares: metadata, etags, envelopes, list/get/delete and JSON-patch."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from ..core import pagination
from ..core import query as q
from ..core.context import Ctx
from ..core.errors import ApiError, flow_error, not_found
from ..core.json_patch import PatchFailure
from ..core.json_patch import apply_patch as json_patch
from ..core.messages import Request, Response
from .validation import validate_request

SERVICE_PREFIX = "/data/foundation/flowservice"

META_ROOTS = frozenset(
    {
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "name",
        "description",
        "state",
        "version",
        "etag",
    }
)

#: Top-level fields a ``property`` filter may start with, per collection (others give ``1449-400``).
FILTER_ROOTS: dict[str, frozenset[str]] = {
    "connections": META_ROOTS | {"connectionSpec", "auth"},
    "sourceConnections": META_ROOTS
    | {"baseConnectionId", "data", "params", "connectionSpec", "providerRefId", "inheritedAttributes"},
    "targetConnections": META_ROOTS
    | {"baseConnectionId", "data", "params", "connectionSpec", "providerRefId", "inheritedAttributes"},
    "flows": META_ROOTS
    | {
        "flowSpec",
        "sourceConnectionIds",
        "targetConnectionIds",
        "inheritedAttributes",
        "scheduleParams",
        "transformations",
        "runs",
        "lastOperation",
        "lastRunDetails",
        "options",
    },
    "runs": META_ROOTS | {"flowId", "flowSpec", "providerRefId", "params", "metrics", "activities"},
    "connectionSpecs": frozenset(
        {"id", "name", "providerId", "version", "attributes", "authSpec", "sourceSpec", "targetSpec"}
    ),
    "flowSpecs": frozenset(
        {
            "id",
            "name",
            "providerId",
            "version",
            "attributes",
            "sourceConnectionSpecIds",
            "targetConnectionSpecIds",
        }
    ),
}

#: Fields no PATCH may touch (the service owns them).
READ_ONLY = frozenset(META_ROOTS - {"name", "description"})


def new_etag() -> str:
    """An etag shaped like the service's, literal double quotes included."""
    return f'"{secrets.token_hex(4)}-0000-0200-0000-{secrets.token_hex(6)}"'


def view(resource: dict[str, Any]) -> dict[str, Any]:
    """The public (shallow) copy of a stored resource."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def build(ctx: Ctx, fields: dict[str, Any], state: str | None = "enabled") -> dict[str, Any]:
    """A new resource with the metadata block every Flow Service resource carries."""
    now, etag = ctx.now_ms, new_etag()
    resource: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "createdAt": now,
        "updatedAt": now,
        "createdBy": ctx.client_id,
        "updatedBy": ctx.client_id,
        "createdClient": ctx.client_id,
        "updatedClient": ctx.client_id,
        "sandboxId": ctx.store.sandbox_id,
        "sandboxName": ctx.store.sandbox,
        "imsOrgId": ctx.store.org,
    }
    resource.update(fields)
    if state is not None:
        resource["state"] = state
    resource.update({"version": etag, "etag": etag, "_seq": ctx.state.next_seq()})
    return resource


def touch(ctx: Ctx, resource: dict[str, Any]) -> None:
    """Record an update: new etag/version and updated* metadata."""
    etag = new_etag()
    resource.update(updatedAt=ctx.now_ms, updatedBy=ctx.client_id, updatedClient=ctx.client_id, version=etag, etag=etag)


def lookup(ctx: Ctx, collection: str, resource_id: str) -> dict[str, Any]:
    resource = ctx.store[collection].get(resource_id)
    if resource is None:
        raise not_found(collection, resource_id)
    return resource


def id_etag(resource: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"id": resource["id"], "etag": resource["etag"]}, headers or {})


def items(*docs: dict[str, Any]) -> Response:
    """The ``{"items": [...]}`` envelope used even for get-by-id."""
    return Response(200, {"items": list(docs)})


def _strip_quotes(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def check_if_match(req: Request, resource: dict[str, Any]) -> None:
    """``1403-400`` without ``If-Match``; ``1404-412`` when it is stale (quotes optional, as docs differ)."""
    supplied = req.headers.get("if-match")
    if not supplied:
        raise flow_error("1403-400")
    if _strip_quotes(supplied) != _strip_quotes(resource["etag"]):
        raise flow_error(
            "1404-412",
            f"The supplied version '{supplied}' does not match the current version on entity "
            f"'{resource['etag']}'. Please ensure that the supplied version matches the current version on "
            "entity and try again.",
        )


def list_response(
    ctx: Ctx,
    req: Request,
    collection: str,
    render: Callable[[dict[str, Any]], dict[str, Any]] = view,
) -> Response:
    """A list page (or ``{"count": N}``) with a relative ``_links.next.href``."""
    config = ctx.state.config
    lq = q.parse_list_query(req.query, FILTER_ROOTS[collection], config.default_page_size, config.max_page_size)
    coll = ctx.store[collection]
    if lq.count:
        return Response(200, {"count": pagination.count(lq, lambda: coll)})
    page, after = pagination.select(lq, coll.after, lambda: coll)
    links = pagination.next_link(f"/{collection}", lq, after)
    return Response(200, {"items": [render(r) for r in page], "_links": links})


def list_static(req: Request, collection: str, docs: list[dict[str, Any]]) -> Response:
    """Lists of catalog documents (specs): filters and ``count``, a single page."""
    lq = q.parse_list_query(req.query, FILTER_ROOTS[collection], 1000, 1000)
    matching = [d for d in docs if lq.accepts(d)]
    if lq.count:
        return Response(200, {"count": len(matching)})
    return Response(200, {"items": [view(d) for d in matching[: lq.limit]], "_links": {}})


def get_static(req: Request, docs: dict[str, dict[str, Any]], doc_id: str, kind: str) -> Response:
    """One catalog document (a spec) by id; ``1101-404`` naming its ``kind`` ("Flow spec") when unknown."""
    q.ensure_no_query(req.query)
    doc = docs.get(doc_id)
    if doc is None:
        raise flow_error(
            "1101-404",
            f"The requested resource is not found. Error from flow provider: {kind} with id {doc_id} does not exist.",
        )
    return items(view(doc))


# -- JSON patch -------------------------------------------------------------------------------------
PATCH_OPS = frozenset({"add", "replace", "remove"})


def _patch_error(refusals: dict[str, str]) -> Callable[[PatchFailure], ApiError]:
    """Flow Service's codes for a refused patch (``refusals``: top-level field -> code)."""

    def error(failure: PatchFailure) -> ApiError:
        if failure.kind == "bad_op":
            return flow_error(
                "1434-400",
                f"Unsupported operation '{failure.op}' received. Please use one of the supported operation "
                "types and try again.",
            )
        if failure.kind == "missing" and "value" in failure.members:
            return flow_error(
                "1100-400", f"Missing required field 'value' for operation '{failure.op}' on '{failure.path}'."
            )
        if failure.kind == "read_only":
            code = refusals[failure.root or ""]
            message = (
                "The connection spec of a connection cannot be updated."
                if code == "1414-400"
                else f"The field '/{failure.root}' cannot be updated."
            )
            return flow_error(code, message)
        if failure.kind == "not_found":
            return flow_error(
                "1455-400",
                f'An error has occurred while validating patch instructions: Missing field "{failure.path}".',
            )
        return flow_error("1100-400", f"Invalid patch path '{failure.path}'.")

    return error


def apply_patch(
    resource: dict[str, Any], body: Any, immutable: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply a JSON-patch array to a copy of the resource's public fields.

    ``immutable`` maps a top-level field to the Flow Service error code refusing it (read-only metadata
    answers ``1100-400``). Returns the patched document and the normalised operations.
    """
    ops = [body] if isinstance(body, dict) else body
    validate_request(ops, "patch_operations")
    refusals = {field: "1100-400" for field in READ_ONLY}
    refusals.update(immutable or {})
    doc = json_patch(view(resource), ops, ops=PATCH_OPS, read_only=frozenset(refusals), errors=_patch_error(refusals))
    normalised = [
        {"op": str(raw["op"]).lower(), "path": raw["path"], **({"value": raw["value"]} if "value" in raw else {})}
        for raw in ops
    ]
    for operation in normalised:
        if operation["op"] == "remove":
            operation.pop("value", None)
    return doc, normalised


def take_patched(resource: dict[str, Any], doc: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Copy ``fields`` of a patched document into the stored resource (a field the patch removed goes)."""
    for key in fields:
        if key in doc:
            resource[key] = doc[key]
        else:
            resource.pop(key, None)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise flow_error("1100-400", "The request body must be a JSON object.")
    return body


def reject_state(body: dict[str, Any]) -> None:
    if "state" in body:
        raise flow_error("1410-400", "`State` is not allowed in the create request.")


def delete(ctx: Ctx, collection: str, resource_id: str) -> Response:
    ctx.store[collection].remove(resource_id)
    return Response(204)

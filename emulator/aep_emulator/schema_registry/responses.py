"""Request handlers: each reads the request (``Accept``, query, body), asks the backend and shapes the answer.

Handlers take ``(req, ctx, **path_parameters)`` and return a :class:`~aep_emulator.core.messages.Response`; errors are
raised as :class:`~aep_emulator.core.errors.ApiError` in the registry's shape.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.context import Ctx
from ..core.messages import Request, Response
from . import standard as std
from .backend import SchemaRegistryBackend, write_view
from .formats import descriptor_list_accept, descriptor_lookup_accept, list_accept, lookup_accept
from .kinds import BEHAVIOURS, DESCRIPTOR_NOT_FOUND, KINDS, PREFIX, UNION_NOT_FOUND, Kind
from .listing import list_body, paginate, parse_list_query, property_filters
from .model import Doc, Registry, id_view, public
from .resolve import render
from .xdm_errors import error, invalid, method_not_allowed, not_found, sub_error, wrong_type


def backend(ctx: Ctx) -> SchemaRegistryBackend:
    return SchemaRegistryBackend(ctx.store, client_id=ctx.client_id, now_ms=ctx.now_ms, next_seq=ctx.state.next_seq)


def json_body(req: Request) -> Any:
    """The parsed body; an empty or malformed one is an ``XDM-4000-400`` (the registry's own shape)."""
    if not req.body.strip():
        raise invalid([sub_error("$", "required", [], "$: the request body is empty but it is required")])
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid([sub_error("$", "json", [], f"$: the request body is not valid JSON ({exc})")]) from exc


def json_object(req: Request) -> Doc:
    body = json_body(req)
    if not isinstance(body, dict):
        raise invalid([wrong_type("$", "object", body)])
    return body


def _tenant_only(req: Request, container: str) -> None:
    if container != "tenant":
        raise method_not_allowed(req.method, req.path[len(PREFIX) :])


def _listing(req: Request, docs: list[Doc], path: str, *, global_link: str | None = None) -> Response:
    fmt = list_accept(req)
    q = parse_list_query(req)
    page, following = paginate(docs, q)
    results = [id_view(d) if fmt == "xed-id" else public(d) for d in page]
    return Response(200, list_body(req, q, results, following, path, global_link=global_link))


def _lookup(registry: Registry, container: str, kind: Kind, resource_id: str) -> Doc:
    doc = registry.in_container(container, kind, resource_id)
    if doc is None:
        raise not_found(kind, resource_id)
    return doc


# -- stats ------------------------------------------------------------------------------------------------
def stats(req: Request, ctx: Ctx) -> Response:
    return Response(200, Registry(ctx.store).stats())


# -- schemas, field groups, classes, data types -----------------------------------------------------------
def list_resources(req: Request, ctx: Ctx, container: str, kind: str) -> Response:
    docs = Registry(ctx.store).container_docs(container, KINDS[kind])
    global_link = f"/global/{kind}" if container == "tenant" else None
    return _listing(req, docs, f"/{container}/{kind}", global_link=global_link)


def get_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    registry = Registry(ctx.store)
    return Response(200, render(registry, _lookup(registry, container, KINDS[kind], resource_id), fmt))


def create_resource(req: Request, ctx: Ctx, container: str, kind: str) -> Response:
    _tenant_only(req, container)
    return Response(201, write_view(backend(ctx).create(KINDS[kind], json_object(req))))


def replace_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    registry = backend(ctx)
    doc = _lookup(registry, container, KINDS[kind], resource_id)
    return Response(200, write_view(registry.replace(KINDS[kind], doc, json_object(req))))


def patch_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    registry = backend(ctx)
    doc = _lookup(registry, container, KINDS[kind], resource_id)
    return Response(200, write_view(registry.patch(KINDS[kind], doc, json_body(req))))


def delete_resource(req: Request, ctx: Ctx, container: str, kind: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    registry = backend(ctx)
    registry.delete(KINDS[kind], _lookup(registry, container, KINDS[kind], resource_id))
    return Response(204)


# -- behaviours and unions --------------------------------------------------------------------------------
def list_behaviours(req: Request, ctx: Ctx) -> Response:
    return _listing(req, std.listed("behaviors"), "/global/behaviors")


def get_behaviour(req: Request, ctx: Ctx, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    doc = std.global_resource(resource_id)
    if doc is None or doc["meta:resourceType"] != "behaviors":
        raise not_found(BEHAVIOURS, resource_id)
    return Response(200, render(Registry(ctx.store), doc, fmt))


def list_unions(req: Request, ctx: Ctx) -> Response:
    return _listing(req, Registry(ctx.store).unions(), "/tenant/unions")


def get_union(req: Request, ctx: Ctx, resource_id: str) -> Response:
    fmt = lookup_accept(req)
    registry = Registry(ctx.store)
    for doc in registry.unions():
        if resource_id in (doc["$id"], doc["meta:altId"]):
            return Response(200, render(registry, doc, fmt))
    raise error(
        UNION_NOT_FOUND,
        "Resource not found",
        f"The requested union resource {resource_id} with version 1 is not found.",
    )


# -- descriptors ------------------------------------------------------------------------------------------
def _descriptor(registry: Registry, container: str, descriptor_id: str) -> Doc:
    doc = registry.descriptor(descriptor_id) if container == "tenant" else None
    if doc is None:
        raise error(
            DESCRIPTOR_NOT_FOUND,
            "Resource not found",
            f"The requested descriptor resource {descriptor_id} is not found.",
        )
    return doc


def create_descriptor(req: Request, ctx: Ctx, container: str) -> Response:
    _tenant_only(req, container)
    return Response(201, public(backend(ctx).create_descriptor(json_object(req))))


def list_descriptors(req: Request, ctx: Ctx, container: str) -> Response:
    """Grouped by ``@type`` (ids, links or documents), or paged ``results`` with the ``xdm-v2`` formats."""
    fmt = descriptor_list_accept(req)
    docs = Registry(ctx.store).descriptors() if container == "tenant" else []

    def item(doc: Doc) -> Any:
        if fmt.endswith("-id"):
            return doc["@id"]
        if fmt.endswith("-link"):
            return f"/{container}/descriptors/{doc['@id']}"
        return public(doc)

    if fmt.startswith("xdm-v2"):
        q = parse_list_query(req)
        page, following = paginate(docs, q)
        body = list_body(req, q, [item(d) for d in page], following, f"/{container}/descriptors", global_link=None)
        return Response(200, body)
    filters = property_filters(req)
    grouped: dict[str, list[Any]] = {}
    for doc in sorted(docs, key=lambda d: d["_seq"]):
        if all(check(doc) for check in filters):
            grouped.setdefault(doc["@type"], []).append(item(doc))
    return Response(200, grouped)


def get_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    descriptor_lookup_accept(req)
    return Response(200, public(_descriptor(Registry(ctx.store), container, resource_id)))


def replace_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    """PUT rewrites the whole descriptor and answers ``201 {"@id"}`` as the descriptors guide shows."""
    _tenant_only(req, container)
    registry = backend(ctx)
    doc = registry.replace_descriptor(_descriptor(registry, container, resource_id), json_object(req))
    return Response(201, {"@id": doc["@id"]})


def delete_descriptor(req: Request, ctx: Ctx, container: str, resource_id: str) -> Response:
    _tenant_only(req, container)
    registry = backend(ctx)
    registry.delete_descriptor(_descriptor(registry, container, resource_id))
    return Response(204)

"""``/query-templates``: saved SQL with default ``queryParameters``; create, list, count, get, replace, delete."""

from __future__ import annotations

import uuid
from typing import Any

from ..core.context import Ctx
from ..core.errors import ApiError
from ..core.messages import Request, Response
from .listing import bad_request, filters, page, unique_ms
from .models import PREFIX, backend, iso, message
from .queries import json_object

TEMPLATE_GETTERS: dict[str, Any] = {
    "created": lambda d: d["_created_ms"],
    "updated": lambda d: d["_updated_ms"],
    "name": lambda d: d["name"],
    "userId": lambda d: d.get("userId"),
    "lastUpdatedBy": lambda d: d.get("lastUpdatedBy"),
    "id": lambda d: d["id"],
}


def _check(body: dict[str, Any]) -> dict[str, Any]:
    for name in ("name", "sql"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise bad_request(f"Missing required field '{name}': a query template needs a name and its sql")
    parameters = body.get("queryParameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise bad_request("Invalid value for field 'queryParameters': expected an object")
    out = {"sql": body["sql"], "name": body["name"]}
    if parameters:
        out["queryParameters"] = dict(parameters)
    return out


def view(req: Request, template: dict[str, Any]) -> dict[str, Any]:
    href = f"{req.base_url}{PREFIX}/query-templates/{template['id']}"
    out = {k: v for k, v in template.items() if not k.startswith("_")}
    out["_links"] = {
        "self": {"href": href, "method": "GET"},
        "delete": {"href": href, "method": "DELETE"},
        "update": {"href": href, "method": "PUT", "body": '{"sql": "new sql", "name": "new name"}'},
    }
    return out


def create_template(req: Request, ctx: Ctx) -> Response:
    content = _check(json_object(req))
    now = unique_ms(backend(ctx.store).last_ms, ctx.now_ms)
    template = {
        **content,
        "id": str(uuid.uuid4()),
        "created": iso(now),
        "updated": iso(now),
        "userId": f"{ctx.client_id}@AdobeID",
        "_created_ms": now,
        "_updated_ms": now,
        "_seq": ctx.state.next_seq(),
    }
    backend(ctx.store).templates.add(template)
    return Response(202, view(req, template))


def list_templates(req: Request, ctx: Ctx) -> Response:
    config = ctx.state.config
    body = page(
        req,
        "/query-templates",
        "templates",
        backend(ctx.store).templates,
        lambda t: view(req, t),
        TEMPLATE_GETTERS,
        default_limit=config.default_page_size,
        max_limit=config.max_page_size,
    )
    return Response(200, body)


def count_templates(req: Request, ctx: Ctx) -> Response:
    checks = filters(req, TEMPLATE_GETTERS)
    total = sum(1 for t in backend(ctx.store).templates if all(check(t) for check in checks))
    return Response(200, {"totalCount": total, "version": 1})


def _lookup(ctx: Ctx, template_id: str) -> dict[str, Any]:
    template = backend(ctx.store).templates.get(template_id)
    if template is None:
        raise ApiError(404, message(404, "Query template not found"))
    return template


def get_template(req: Request, ctx: Ctx, template_id: str) -> Response:
    return Response(200, view(req, _lookup(ctx, template_id)))


def put_template(req: Request, ctx: Ctx, template_id: str) -> Response:
    """Full overwrite (``name`` and ``sql`` required) -> 202 with ``lastUpdatedBy``."""
    template = _lookup(ctx, template_id)
    content = _check(json_object(req))
    template.pop("queryParameters", None)
    template.update(content)
    template["_updated_ms"] = ctx.now_ms
    template["updated"] = iso(ctx.now_ms)
    template["lastUpdatedBy"] = f"{ctx.client_id}@AdobeID"
    return Response(202, view(req, template))


def delete_template(req: Request, ctx: Ctx, template_id: str) -> Response:
    _lookup(ctx, template_id)
    backend(ctx.store).templates.remove(template_id)
    return Response(202, message(202, "Deleted"))

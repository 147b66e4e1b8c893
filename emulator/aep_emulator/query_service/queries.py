"""``/queries`` (create, list, get, cancel/soft-delete) and ``/connection_parameters``.

``POST /queries`` answers 202 with a ``SUBMITTED`` query; :func:`.runner.refresh` moves it along the clock and
runs its SQL at the end (a read of one query moves that query alone while none is due to run).
``PATCH {"op": "cancel"}`` kills a query that is not terminal (409 otherwise); ``{"op": "soft_delete"}`` hides
it from lists. Queries the PostgreSQL endpoint ran are listed too (client ``PostgreSQL``); the commands a driver
issues by itself are hidden unless ``excludeHidden=false``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.context import Ctx
from ..core.errors import ApiError
from ..core.messages import Request, Response
from . import sql as sqltext
from .listing import bad_request, page
from .models import TERMINAL, backend, message, touch
from .runner import links, new_query, refresh_one
from .wire_address import address_of

CLIENT_API = "API"
VERSION = 1
_DB_NAME = re.compile(r"^(?P<sandbox>[a-z0-9][a-z0-9-]*):(?P<database>[A-Za-z0-9_.-]+)$")
QUERY_GETTERS: dict[str, Any] = {
    "created": lambda d: d["_created_ms"],
    "updated": lambda d: d["_updated_ms"],
    "state": lambda d: d["state"],
    "id": lambda d: d["id"],
    "sql": lambda d: f"{d['request'].get('sql') or ''}\n{d.get('effectiveSQL') or ''}",
    "templateId": lambda d: d.get("templateId"),
    "templateName": lambda d: d.get("templateName"),
    "client": lambda d: d.get("client"),
    "userId": lambda d: d.get("userId"),
    "scheduleId": lambda d: d.get("scheduleId"),
    "scheduleRunId": lambda d: d.get("scheduleRunId"),
    "referenced_datasets": lambda d: d.get("_referenced") or [],
    "name": lambda d: d["request"].get("name"),
}
#: Filters Adobe allows only with ``==`` and at most this many ``||``-joined values.
QUERY_EQUAL_ONLY = {"referenced_datasets": 10}


def json_object(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        raise bad_request("The request body is required")
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def view(req: Request, query: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in query.items() if not k.startswith("_")}
    out["_links"] = links(req.base_url, query)
    return out


def check_query_def(ctx: Ctx, body: dict[str, Any], where: str = "") -> tuple[str, dict[str, Any] | None]:
    """The SQL of a ``query_def`` (from ``sql`` or ``templateId``, ``$key`` substituted) and its template."""
    db_name = body.get("dbName")
    if not isinstance(db_name, str) or not db_name:
        raise bad_request(f"Missing required field '{where}dbName' (for example '{ctx.store.sandbox}:all')")
    match = _DB_NAME.match(db_name)
    if match is None or match.group("sandbox") != ctx.store.sandbox:
        raise bad_request(
            f"Invalid value '{db_name}' for field '{where}dbName': expected '{ctx.store.sandbox}:all' "
            f"(the sandbox of x-sandbox-name)"
        )
    for name in ("name", "description", "sql", "templateId"):
        if name in body and not isinstance(body[name], str):
            raise bad_request(f"Invalid value for field '{where}{name}': expected a string")
    for name in ("queryParameters", "ctasParameters", "insertIntoParameters"):
        if name in body and not isinstance(body[name], dict):
            raise bad_request(f"Invalid value for field '{where}{name}': expected an object")
    ctas, into = body.get("ctasParameters"), body.get("insertIntoParameters")
    if ctas is not None and not isinstance(ctas.get("datasetName"), str):
        raise bad_request(f"Missing required field '{where}ctasParameters.datasetName'")
    if into is not None and not isinstance(into.get("datasetName"), str):
        raise bad_request(f"Missing required field '{where}insertIntoParameters.datasetName'")
    if ctas is not None and into is not None:
        raise bad_request("Give either ctasParameters or insertIntoParameters, not both")
    has_sql, has_template = bool(body.get("sql")), bool(body.get("templateId"))
    if has_sql == has_template:
        raise bad_request(f"Give either '{where}sql' or '{where}templateId' (exactly one)")
    template = None
    parameters: dict[str, Any] = {}
    if has_template:
        template = backend(ctx.store).templates.get(body["templateId"])
        if template is None:
            raise bad_request(f"Query template '{body['templateId']}' not found")
        sql = template["sql"]
        parameters.update(template.get("queryParameters") or {})
    else:
        sql = body["sql"]
    parameters.update(body.get("queryParameters") or {})
    missing = sqltext.missing_parameters(sql, parameters)
    if missing:
        raise bad_request(f"Missing value in '{where}queryParameters' for: {', '.join('$' + m for m in missing)}")
    return sqltext.substitute(sql, parameters), template


def create_query(req: Request, ctx: Ctx) -> Response:
    """``POST /queries`` -> 202 ``SUBMITTED``."""
    body = json_object(req)
    sql, template = check_query_def(ctx, body)
    query = new_query(
        ctx.state,
        ctx.store,
        body,
        sql,
        client=CLIENT_API,
        client_id=ctx.client_id,
        template_name=template["name"] if template else None,
    )
    return Response(202, view(req, query))


def list_queries(req: Request, ctx: Ctx) -> Response:
    ctx.state.refresh(ctx.store)
    exclude_deleted = (req.param("excludeSoftDeleted") or "true").lower() != "false"
    exclude_hidden = (req.param("excludeHidden") or "true").lower() != "false"
    docs = [
        q
        for q in backend(ctx.store).queries
        if not (exclude_deleted and q.get("_deleted")) and not (exclude_hidden and q.get("_hidden"))
    ]
    body = page(
        req,
        "/queries",
        "queries",
        docs,
        lambda q: view(req, q),
        QUERY_GETTERS,
        equal_only=QUERY_EQUAL_ONLY,
        default_limit=ctx.state.config.default_page_size,
        max_limit=ctx.state.config.max_page_size,
    )
    return Response(200, body)


def _lookup(ctx: Ctx, query_id: str) -> dict[str, Any]:
    """The query, brought up to the clock alone unless a query is due to run (:func:`.runner.refresh_one`)."""
    query = backend(ctx.store).queries.get(query_id)
    if query is None:
        raise ApiError(404, message(404, "Query not found"))
    refresh_one(ctx.state, ctx.store, query)
    return query


def get_query(req: Request, ctx: Ctx, query_id: str) -> Response:
    return Response(200, view(req, _lookup(ctx, query_id)))


def patch_query(req: Request, ctx: Ctx, query_id: str) -> Response:
    """``{"op": "cancel"}`` -> 202 (``KILLED``) or 409; ``{"op": "soft_delete"}`` -> 202."""
    body = json_object(req)
    op = body.get("op")
    if op not in ("cancel", "soft_delete"):
        raise bad_request("Invalid value for field 'op': expected 'cancel' or 'soft_delete'")
    query = _lookup(ctx, query_id)
    if op == "soft_delete":
        query["_deleted"] = True
        return Response(202, message(202, "Query soft delete request received"))
    if query["state"] in TERMINAL:
        raise ApiError(
            409, message(409, "Query termination request failed because the job might already have terminated")
        )
    query["state"] = "KILLED"
    touch(query, ctx.now_ms)
    backend(ctx.store).active.discard(query_id)
    return Response(202, message(202, "Query cancel request received"))


def connection_parameters(req: Request, ctx: Ctx) -> Response:
    """The PostgreSQL endpoint's address, the org as user, ``<sandbox>:all`` and the caller's token echoed."""
    host, port = address_of(ctx.state)
    token = req.headers.get("authorization", "").partition(" ")[2].strip()
    return Response(
        200,
        {
            "username": ctx.store.org,
            "dbName": f"{ctx.store.sandbox}:all",
            "host": host,
            "port": port,
            "token": token,
            "version": VERSION,
        },
    )

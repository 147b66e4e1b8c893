"""Catalog batches (``GET /batches``, ``GET /batches/{id}``): written by emulated runs, read here. Reads bring
runs up to date first, so a batch appears once its run is terminal on the emulator clock."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..core.context import Ctx
from ..core.messages import Request, Response
from .errors import not_found
from .listing import int_param, listing


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
        bound = int_param(req, "createdAfter", 0)
        checks.append(lambda doc: doc["created"] > bound)
    if before:
        upper = int_param(req, "createdBefore", 0)
        checks.append(lambda doc: doc["created"] < upper)
    return checks


def list_batches(req: Request, ctx: Ctx) -> Response:
    """``GET /batches?dataSet=&status=&orderBy=desc:created&limit=...`` (runs are brought up to date first)."""
    ctx.state.refresh(ctx.store)
    return listing(req, "batches", ctx.store["batches"], batch_view, _batch_filters(req))


def get_batch(req: Request, ctx: Ctx, batch_id: str) -> Response:
    ctx.state.refresh(ctx.store)
    batch = ctx.store["batches"].get(batch_id)
    if batch is None:
        raise not_found("batch", batch_id)
    return Response(200, {batch_id: batch_view(batch)})

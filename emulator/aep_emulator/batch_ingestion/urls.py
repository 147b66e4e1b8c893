"""The Batch Ingestion API's URL table (``/data/foundation/import``).

Uploads (``PUT``/``PATCH``) carry raw bytes, which the gateway's JSON content-type check would refuse, so their
route authenticates through :func:`~aep_emulator.core.gateway.authenticate` with the body left out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route

from ..core import gateway
from ..core.errors import platform_method_not_allowed as method_not_allowed
from ..core.errors import platform_unknown_endpoint as unknown_endpoint
from ..core.messages import Request, Response
from ..core.routing import EXCHANGE, Handler, route
from ..core.state import EmulatorState
from . import batches, uploads
from .models import PREFIX

__all__ = ["PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]

FILE_PATH = "/batches/{batch_id}/datasets/{dataset_id}/files/{file_path:path}"
RAW_BODY = ("PUT", "PATCH")


def _raw_body(handler: Handler, request_id: str) -> Handler:
    """``handler`` behind the gateway's checks of everything but the (binary) body's content type."""

    def run(req: Request, state: EmulatorState, **params: Any) -> Response:
        ctx = gateway.authenticate(state, dataclasses.replace(req, body=b""), request_id)
        return handler(req, ctx, **params)

    return run


def _file_route() -> Route:
    handlers: dict[str, Handler] = {
        "PUT": uploads.put_file,
        "PATCH": uploads.patch_file,
        "HEAD": uploads.head_file,
        "POST": uploads.file_action,
    }

    async def endpoint(request: StarletteRequest) -> StarletteResponse:
        exchange = request.scope[EXCHANGE]
        handler = handlers[request.method]
        params = dict(request.path_params)
        if request.method in RAW_BODY:
            return exchange.answer(_raw_body(handler, exchange.request_id), params, gateway=False)
        return exchange.answer(handler, params)

    return Route(FILE_PATH, endpoint, methods=list(handlers))


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    return [
        route("/batches", POST=batches.create_batch),
        route("/batches/{batch_id}", POST=batches.batch_action),
        _file_route(),
    ]

"""The ASGI application: IMS and the Platform services (one Starlette route table each), the control plane.

:class:`EmulatorApp` reads each request, answers the control plane (loopback callers only, :mod:`.core.access`)
or hands the request to :class:`~.core.exchange.Platform`, the raw ASGI layer that applies fault rules and
journals around the Starlette router. It also wires the services together: Flow Service runs are brought up to
the clock before any sandbox is read, and a finished run lands its data through :mod:`.ingestion`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Mount, Router
from starlette.types import Receive, Scope, Send

from . import ingestion, pages
from .batch_ingestion import processing as batch_processing
from .batch_ingestion import urls as batch_ingestion_urls
from .catalog import urls as catalog_urls
from .catalog.models import CatalogBackend
from .core import control_api
from .core.access import ControlAccess
from .core.config import EmulatorConfig
from .core.exchange import Exchange, Platform, not_routed
from .core.messages import Request
from .core.routing import EXCHANGE, ServiceUrls
from .core.state import EmulatorState
from .data_access import urls as data_access_urls
from .data_prep import urls as data_prep_urls
from .data_prep.models import DataPrepBackend
from .flow_service import control as flow_control
from .flow_service import runs, specs
from .flow_service import urls as flow_service_urls
from .flow_service.models import FlowServiceBackend
from .ims import urls as ims_urls
from .query_service import control as query_control
from .query_service import models as query_models
from .query_service import runner as query_runner
from .query_service import urls as query_urls
from .query_service import wire as query_wire
from .schema_registry import urls as schema_registry_urls

#: The Platform services, each a ``urls`` module (:class:`~.core.routing.ServiceUrls`).
SERVICES: tuple[ServiceUrls, ...] = (
    flow_service_urls,
    schema_registry_urls,
    catalog_urls,
    data_prep_urls,
    batch_ingestion_urls,
    data_access_urls,
    query_urls,
)
#: The resource collections of every sandbox (``/state`` and ``stats()`` list them in this order).
COLLECTIONS = (
    *FlowServiceBackend.COLLECTIONS,
    *schema_registry_urls.COLLECTIONS,
    *CatalogBackend.COLLECTIONS,
    *DataPrepBackend.COLLECTIONS,
    *query_models.QueryBackend.COLLECTIONS,
)


def wire(state: EmulatorState) -> EmulatorState:
    """Connect the services of ``state``: runs follow the clock, finished runs ingest, connection secrets mask."""
    state.refreshers.append(runs.refresh)
    state.refreshers.append(query_runner.refresh)
    state.refreshers.append(batch_processing.refresh)  # completed batches are processed on the clock
    state.ingestion = ingestion.PIPELINE
    state.secret_names = specs.secret_names
    return state


class EmulatorApp:
    """ASGI callable; ``state`` is the live in-memory state (also reachable from Python tests).

    The control plane answers loopback callers only, unless ``control_from_anywhere`` is set together with a
    ``control_token`` that other callers send as ``x-emulator-token`` (see :mod:`.core.access`).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        control_from_anywhere: bool = False,
        control_token: str | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.access = ControlAccess(control_from_anywhere, control_token)
        self.state = wire(EmulatorState(self.config, COLLECTIONS))
        self.on_startup: list[Callable[[], None]] = []
        #: Query Service's PostgreSQL endpoint: started with the app (lifespan), stopped with it.
        self.pg = query_wire.PgEndpoint(self.state, port=self.config.pg_port)
        self.on_startup.append(self.pg.start)
        self.platform = Platform(self.state, _starlette(_platform_routes(), self._not_routed))
        endpoints = [*flow_control.ENDPOINTS, *ingestion.ENDPOINTS, *query_control.ENDPOINTS]
        control_routes = control_api.routes(self.state, pages.PAGES, endpoints)
        self.control = _starlette([Mount(control_api.PREFIX, app=_router(control_routes))], control_api.not_routed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        path = scope.get("path", "/")
        scope = {**scope, "path": path.rstrip("/") if len(path) > 1 else path}
        req = Request.from_starlette(StarletteRequest(scope), body)
        replay = _replay(body)
        if req.path == control_api.PREFIX or req.path.startswith(control_api.PREFIX + "/"):
            refusal = self.access.refusal(scope.get("client"), req.headers)
            if refusal is not None:
                await refusal.render()(scope, replay, send)
                return
            await self.control({**scope, control_api.REQUEST: req}, replay, send)
            return
        await self.platform.serve(req, scope, replay, send)

    def commit_due(self) -> int:
        """Perform the ``commit_later`` requests whose time has come on the emulator clock; returns how many."""
        return self.platform.commit_due()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for callback in self.on_startup:
                    callback()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pg.stop()
                self.state.close()  # spooled uploads go with the server
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _not_routed(self, request: StarletteRequest, exc: Exception) -> StarletteResponse:
        """404/405 of the router, in the shape of the service the path belongs to (after the gateway's checks)."""
        exchange: Exchange = request.scope[EXCHANGE]
        path = exchange.req.path
        service = next((s for s in SERVICES if path == s.PREFIX or path.startswith(s.PREFIX + "/")), None)
        if service is None:
            return not_routed(exchange)
        relative = path[len(service.PREFIX) :]
        status = exc.status_code if isinstance(exc, HTTPException) else 404

        def refuse(req: Request, ctx: Any) -> Any:
            if status == 405:
                raise service.method_not_allowed(req.method, relative)
            raise service.unknown_endpoint(relative)

        return exchange.answer(refuse, {})


def create_app(
    config: EmulatorConfig | None = None, *, control_from_anywhere: bool = False, control_token: str | None = None
) -> EmulatorApp:
    """A fresh emulator ASGI app with its own state (control plane options: see :class:`EmulatorApp`)."""
    return EmulatorApp(config, control_from_anywhere=control_from_anywhere, control_token=control_token)


def _platform_routes() -> list[BaseRoute]:
    return [*ims_urls.routes(), *(Mount(s.PREFIX, app=_router(s.routes())) for s in SERVICES)]


def _router(routes: list[BaseRoute]) -> Router:
    # A path with a trailing slash is already stripped; redirecting would only hide unknown endpoints.
    return Router(routes, redirect_slashes=False)


ExceptionHandler = Callable[[StarletteRequest, Exception], Awaitable[StarletteResponse]]


def _starlette(routes: list[BaseRoute], not_found: ExceptionHandler) -> Starlette:
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.router.redirect_slashes = False
    return app


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """``receive`` for the router: the body already read, then a disconnect."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive

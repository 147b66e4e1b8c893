"""URL tables: each service's ``urls.py`` lists Starlette routes whose endpoints run plain synchronous handlers.

A handler is ``handler(req, ctx, **path_params) -> Response`` (:mod:`.messages`); ``ctx`` is the gateway's
:class:`~.context.Ctx`, or the :class:`~.state.EmulatorState` for routes outside the gateway (IMS). The endpoint
Starlette calls hands the handler to the request's :class:`Exchange` (set up by the app), which resolves the
context, runs the handler under the state lock, applies fault rules and journals the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route

from .errors import ApiError
from .messages import Response

Handler = Callable[..., Response]
#: The scope key holding the request's :class:`Exchange`.
EXCHANGE = "aep.exchange"


class Exchange(Protocol):
    def answer(self, handler: Handler, params: dict[str, Any], *, gateway: bool = True) -> StarletteResponse: ...


class ServiceUrls(Protocol):
    """What a service's ``urls`` module provides: its base path, routes relative to it, and its 404/405 errors."""

    PREFIX: str

    def routes(self) -> list[BaseRoute]: ...

    def unknown_endpoint(self, path: str) -> ApiError: ...

    def method_not_allowed(self, method: str, path: str) -> ApiError: ...


def route(path: str, *, gateway: bool = True, **handlers: Handler) -> Route:
    """A Starlette route for ``path`` (a path template such as ``/flows/{resource_id}``) with one handler per
    method (``GET=..., POST=...``); ``gateway=False`` for routes the Adobe I/O gateway does not guard (IMS)."""

    async def endpoint(request: StarletteRequest) -> StarletteResponse:
        handler = handlers.get(request.method) or handlers["GET"]  # Starlette routes HEAD to GET
        exchange: Exchange = request.scope[EXCHANGE]
        return exchange.answer(handler, dict(request.path_params), gateway=gateway)

    return Route(path, endpoint, methods=list(handlers))

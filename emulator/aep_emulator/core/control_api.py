"""Server side of the control plane under ``/__emulator/`` (never journaled, never faulted, no auth).

Only loopback callers reach it unless the server was started otherwise (:mod:`.access`, checked by the app).
``/__emulator/ui/...`` serves the read-only resource pages (:mod:`.pages`). Services add their own calls as
:class:`ControlEndpoint` (Flow Service: run outcomes, sample rows; ingestion: the records a dataset holds).

Calls that read state (``/state``, ``/journal``, ``/stats``, ``/clock``, the dataset records and the pages)
first perform the ``commit_later`` requests that are due on the emulator clock; ``/clock/advance`` does so
after moving the clock. So a test advances the clock instead of sleeping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route

from . import pages, redaction
from .errors import ApiError
from .faults import FaultRule
from .messages import Request, Response
from .state import EmulatorState

PREFIX = "/__emulator"
#: The scope key holding the control request (:class:`~.messages.Request`, body already read).
REQUEST = "aep.request"
ControlHandler = Callable[..., Response]


@dataclass(frozen=True)
class ControlEndpoint:
    """One control call: ``handler(state, req, **path_params)``; ``reads_state`` performs due late commits first."""

    path: str
    handler: ControlHandler
    methods: tuple[str, ...]
    reads_state: bool = False


def bad(message: str) -> ApiError:
    """A 400 of the control plane."""
    return ApiError(400, {"error": message})


def body(req: Request) -> dict[str, Any]:
    """The JSON object a control call sent (``{}`` without a body)."""
    if not req.body.strip():
        return {}
    try:
        data = json.loads(req.body)
    except ValueError as exc:
        raise bad(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    return data


def _commit_due(state: EmulatorState) -> None:
    """Perform the ``commit_later`` requests due on the emulator clock (see :mod:`.faults`)."""
    with state.lock:
        state.faults.commit_due(state.clock.now())


def _health(state: EmulatorState, req: Request) -> Response:
    return Response(200, {"status": "ok"})


def _reset(state: EmulatorState, req: Request) -> Response:
    state.reset()
    return Response(200, {"reset": True})


def _wants_secrets(req: Request) -> bool:
    return (req.param("secrets") or "").lower() == "true"


def _journal(state: EmulatorState, req: Request) -> Response:
    """Journal entries, masked (:mod:`.redaction`) unless ``?secrets=true``."""
    if req.method == "DELETE":
        with state.lock:
            state.journal.clear()
        return Response(204)
    method = (req.param("method") or "").upper()
    try:
        path = re.compile(req.param("path") or ".*")
    except re.error as exc:
        raise bad(f"invalid path regex: {exc}") from exc
    with state.lock:
        entries = [e for e in state.journal if (not method or e["method"] == method) and path.fullmatch(e["path"])]
        serials = state.tokens.serials()
    if not _wants_secrets(req):  # outside the lock: entries are never changed once recorded
        entries = [redaction.journal_entry(e, serials, state.secret_names) for e in entries]
    return Response(200, entries)


def _faults(state: EmulatorState, req: Request) -> Response:
    if req.method == "GET":
        return Response(200, state.faults.list())
    if req.method == "DELETE":
        with state.lock:  # not between a pending commit being taken and performed
            state.faults.clear()
        return Response(204)
    try:
        rule = FaultRule.from_dict(body(req))
    except (TypeError, ValueError, re.error) as exc:
        raise bad(str(exc)) from exc
    return Response(201, {"id": state.faults.add(rule)})


def _fault(state: EmulatorState, req: Request, fault_id: str) -> Response:
    with state.lock:
        removed = state.faults.remove(fault_id)
    if not removed:
        raise ApiError(404, {"error": f"fault {fault_id} not found"})
    return Response(204)


def _held(state: EmulatorState, req: Request, fault_id: str) -> Response:
    hold = state.faults.gate(fault_id)
    if hold is None and not any(rule["id"] == fault_id for rule in state.faults.list()):
        raise ApiError(404, {"error": f"fault {fault_id} not found"})
    return Response(200, hold.to_dict() if hold else {"held": 0, "passed": 0, "released": False})


def _release(state: EmulatorState, req: Request, fault_id: str) -> Response:
    if not state.faults.release(fault_id):
        raise ApiError(404, {"error": f"fault {fault_id} not found"})
    return Response(200, state.faults.gate(fault_id).to_dict())  # type: ignore[union-attr]


def _clock(state: EmulatorState, req: Request) -> Response:
    return Response(200, {"now": state.clock.now(), "offset": state.clock.offset})


def _advance(state: EmulatorState, req: Request) -> Response:
    seconds = body(req).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise bad("seconds must be a non-negative number")
    with state.lock:
        now = state.clock.advance(seconds)
        state.faults.commit_due(now)
    return Response(200, {"now": now, "offset": state.clock.offset})


def _issue_token(state: EmulatorState, req: Request) -> Response:
    data = body(req)
    client_id = str(data.get("client_id") or "emulator-client")
    token = state.issue_token(client_id, str(data.get("scope") or "openid,AdobeID"))
    return Response(
        200, {"access_token": token.value, "token_type": "bearer", "expires_in": state.config.token_lifetime}
    )


def _expire(state: EmulatorState, req: Request) -> Response:
    return Response(200, {"expired": state.expire_tokens()})


def _state(state: EmulatorState, req: Request) -> Response:
    """Every resource of every sandbox by collection (connection secrets masked unless ``?secrets=true``)."""
    secrets = _wants_secrets(req)
    with state.lock:
        state.refresh_all()
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in state.collections}
        for store in state.stores.values():
            for name in state.collections:
                for resource in store[name]:
                    public = {k: v for k, v in resource.items() if not k.startswith("_")}
                    out[name].append(public if secrets else redaction.mask_document(public, state.secret_names))
    return Response(200, out)


def _stats(state: EmulatorState, req: Request) -> Response:
    return Response(200, {**state.stats(), "pending_commits": state.faults.pending()})


def _config(state: EmulatorState, req: Request) -> Response:
    if req.method == "PATCH":
        try:
            config = state.configure(body(req))
        except (TypeError, ValueError) as exc:
            raise bad(str(exc)) from exc
        return Response(200, config.to_dict())
    return Response(200, state.config.to_dict())


_ENDPOINTS = (
    ControlEndpoint("/health", _health, ("GET",)),
    ControlEndpoint("/reset", _reset, ("POST",)),
    ControlEndpoint("/journal", _journal, ("GET", "DELETE"), reads_state=True),
    ControlEndpoint("/faults", _faults, ("GET", "POST", "DELETE")),
    ControlEndpoint("/faults/{fault_id}", _fault, ("DELETE",)),
    ControlEndpoint("/faults/{fault_id}/held", _held, ("GET",)),
    ControlEndpoint("/faults/{fault_id}/release", _release, ("POST",)),
    ControlEndpoint("/clock", _clock, ("GET",), reads_state=True),
    ControlEndpoint("/clock/advance", _advance, ("POST",)),
    ControlEndpoint("/tokens", _issue_token, ("POST",)),
    ControlEndpoint("/tokens/expire", _expire, ("POST",)),
    ControlEndpoint("/state", _state, ("GET",), reads_state=True),
    ControlEndpoint("/stats", _stats, ("GET",), reads_state=True),
    ControlEndpoint("/config", _config, ("GET", "PATCH")),
)
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def routes(state: EmulatorState, pages_of: pages.Pages, extra: Sequence[ControlEndpoint] = ()) -> list[BaseRoute]:
    """The control plane's routes (relative to ``PREFIX``): the generic calls, the services' ``extra`` ones and
    the resource pages."""
    table: list[BaseRoute] = [_route(state, endpoint) for endpoint in (*_ENDPOINTS, *extra)]

    async def page(request: StarletteRequest) -> StarletteResponse:
        _commit_due(state)
        return pages.handle(state, pages_of, request.scope[REQUEST]).render()

    table += [Route(path, page, methods=_ALL_METHODS) for path in (pages.SUB_PATH, pages.SUB_PATH + "/{rest:path}")]
    return table


def _route(state: EmulatorState, endpoint: ControlEndpoint) -> Route:
    async def run(request: StarletteRequest) -> StarletteResponse:
        if endpoint.reads_state:
            _commit_due(state)
        try:
            response = endpoint.handler(state, request.scope[REQUEST], **request.path_params)
        except ApiError as exc:
            response = Response(exc.status, exc.body, exc.headers)
        return response.render()

    return Route(endpoint.path, run, methods=endpoint.methods)


async def not_routed(request: StarletteRequest, exc: Exception) -> StarletteResponse:
    """The control plane's 404 and 405."""
    path = request.scope["path"]
    if getattr(exc, "status_code", 404) == 405:
        return Response(405, {"error": f"{request.method} not allowed on {path}"}).render()
    return Response(404, {"error": f"no control endpoint {path}"}).render()

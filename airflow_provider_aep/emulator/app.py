"""The ASGI application: IMS, the gateway, Flow Service routes, fault injection and the journal.

A bare ASGI callable (served by uvicorn) rather than a framework app: fault injection needs to close the
connection without answering, and handlers are plain synchronous functions run under the state lock, which
keeps every request cheap and serialises writes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from . import catalog, control_api, data_prep, flow_service, gateway, ims, schema_registry
from .access import ControlAccess
from .config import EmulatorConfig
from .errors import ApiError, attach_request_id, default_fault_body, flow_error, gateway_error
from .faults import FaultRule
from .messages import Request, Response
from .resources import Ctx
from .state import EmulatorState

log = logging.getLogger(__name__)

Handler = Callable[..., Response]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

IMS_TOKEN_PATH = "/ims/token/v3"

#: The Platform services the emulator serves, each a module with ``PREFIX``, ``routes()``,
#: ``unknown_endpoint(path)`` and ``method_not_allowed(method, path)`` (errors in that service's shape).
SERVICES: tuple[Any, ...] = (flow_service, schema_registry, catalog, data_prep)


def _compile(service: Any) -> list[tuple[re.Pattern[str], dict[str, Handler]]]:
    return [(re.compile(re.escape(service.PREFIX) + pattern), methods) for pattern, methods in service.routes()]


class EmulatorApp:
    """ASGI callable; ``state`` is the live in-memory state (also reachable from Python tests).

    The control plane answers loopback callers only, unless ``control_from_anywhere`` is set together with a
    ``control_token`` that other callers send as ``x-emulator-token`` (see :mod:`.access`).
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
        self.state = EmulatorState(self.config)
        self.routes = {service.PREFIX: (service, _compile(service)) for service in SERVICES}
        self.on_startup: list[Callable[[], None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        req = Request.from_scope(scope, body)
        if req.path == control_api.PREFIX or req.path.startswith(control_api.PREFIX + "/"):
            refusal = self.access.refusal(scope.get("client"), req.headers)
            await _send(send, refusal or control_api.handle(self.state, req), None)
            return
        await self._serve(req, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for callback in self.on_startup:
                    callback()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, req: Request, send: Send) -> None:
        request_id = req.headers.get("x-request-id") or str(uuid.uuid4())
        started = time.time()
        rule = self.state.faults.take(req.method, req.path)
        if rule is not None:
            with self.state.lock:
                self.state.faults_injected[rule.stat_key] += 1
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.action == "drop":
                self._journal(req, 0, started, rule)
                await _drop(send)
                return
            if rule.action == "respond":
                response = _fault_response(rule, req.path, request_id)
                self._journal(req, response.status, started, rule)
                await _send(send, response, request_id)
                return
        response = self.dispatch(req, request_id)
        if rule is not None and rule.action == "commit_then_drop":
            self._journal(req, 0, started, rule)
            await _drop(send)
            return
        if rule is not None and rule.action == "commit_then_fail":
            response = _fault_response(rule, req.path, request_id)
        self._journal(req, response.status, started, rule)
        await _send(send, response, request_id)

    def dispatch(self, req: Request, request_id: str) -> Response:
        """Route one non-control request to its handler; errors become responses."""
        try:
            with self.state.lock:
                if req.path == IMS_TOKEN_PATH:
                    return ims.token(self.state, req)
                service = self._service_of(req.path)
                if service is not None:
                    ctx = gateway.authenticate(self.state, req, request_id)
                    return self._route(req, ctx, service)
                raise gateway_error(404, "404010", "Resource not found")
        except ApiError as exc:
            return Response(exc.status, attach_request_id(exc.body, request_id), exc.headers)
        except Exception:  # a bug must still answer like a server error, and be visible in the log
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            error = flow_error("1102-500")
            return Response(500, attach_request_id(error.body, request_id))

    def _service_of(self, path: str) -> Any:
        for prefix, (service, _) in self.routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return service
        return None

    def _route(self, req: Request, ctx: Ctx, service: Any) -> Response:
        relative = req.path[len(service.PREFIX) :]
        for pattern, methods in self.routes[service.PREFIX][1]:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            handler = methods.get(req.method)
            if handler is None:
                raise service.method_not_allowed(req.method, relative)
            return handler(req, ctx, **match.groupdict())
        raise service.unknown_endpoint(relative)

    def _journal(self, req: Request, status: int, started: float, rule: FaultRule | None) -> None:
        self.state.record(
            {
                "method": req.method,
                "path": req.path,
                "query": req.query,
                "headers": req.headers,
                "body": req.journal_body(),
                "status": status,
                "time": started,
                "fault": rule.id if rule is not None else None,
            }
        )


def create_app(
    config: EmulatorConfig | None = None, *, control_from_anywhere: bool = False, control_token: str | None = None
) -> EmulatorApp:
    """A fresh emulator ASGI app with its own state (control plane options: see :class:`EmulatorApp`)."""
    return EmulatorApp(config, control_from_anywhere=control_from_anywhere, control_token=control_token)


def _fault_response(rule: FaultRule, path: str, request_id: str) -> Response:
    status = rule.status or 503
    body = copy.deepcopy(rule.body) if rule.body is not None else default_fault_body(status, path)
    headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
    return Response(status, attach_request_id(body, request_id), headers)


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


async def _send(send: Send, response: Response, request_id: str | None) -> None:
    payload = response.encode()
    headers = [(b"content-length", str(len(payload)).encode())]
    if payload:
        headers.append((b"content-type", response.media_type.encode("latin-1")))
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    headers.extend((k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers.items())
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Send) -> None:
    """Close the TCP connection without any response bytes (what a crashed hop or LB reset looks like).

    uvicorn hands the app a bound ``send`` of its per-request cycle, which owns the transport. Marking the
    cycle disconnected stops uvicorn from writing its fallback 500.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise ConnectionAbortedError("emulator fault: drop (server without transport access)")
    cycle.disconnected = True
    transport.close()
    await asyncio.sleep(0)

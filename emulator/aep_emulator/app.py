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
from .faults import FaultRule, PendingCommit
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
        self.commit_due()
        request_id = req.headers.get("x-request-id") or str(uuid.uuid4())
        started = time.time()
        arrived = self.state.clock.now()
        rule = self.state.faults.take(req.method, req.path)
        if rule is not None:
            with self.state.lock:
                self.state.faults_injected[rule.stat_key] += 1
            if rule.action == "hold":
                await self._hold(rule)
            elif rule.latency:
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
            if rule.action == "commit_later":
                with self.state.lock:  # journaled before any later request can perform it
                    response = self._defer(req, request_id, rule, arrived, started)
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

    async def _hold(self, rule: FaultRule) -> None:
        """Wait (without blocking the event loop) until the rule is released or its ``latency`` bound passes."""
        gate = self.state.faults.hold(rule)
        gate.waiting += 1
        try:
            deadline = time.monotonic() + rule.latency
            # A short poll, not a thread per held request: a release may come from another thread.
            while not gate.released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            gate.waiting -= 1
            gate.passed += 1

    def dispatch(self, req: Request, request_id: str) -> Response:
        """Route one non-control request to its handler; errors become responses."""
        return self._guarded(req, request_id, lambda: self._handle(req, self._context(req, request_id)))

    def commit_due(self) -> int:
        """Perform the ``commit_later`` requests whose time has come on the emulator clock; returns how many."""
        with self.state.lock:
            return self.state.faults.commit_due(self.state.clock.now())

    def _defer(self, req: Request, request_id: str, rule: FaultRule, arrived: float, started: float) -> Response:
        """``commit_later``: resolve the gateway context now, perform the request later, answer the fault now.

        A request the gateway refuses (token, API key, org, sandbox, content type; unknown path) is answered
        with that refusal at once and nothing is deferred: a real gateway never forwards it.
        """

        def resolve() -> Response:
            ctx = self._context(req, request_id)

            def perform() -> None:
                performed = time.time()
                response = self._guarded(req, request_id, lambda: self._handle(req, ctx))
                self._journal(req, response.status, performed, rule, arrived_at=started)

            self.state.faults.defer(PendingCommit(rule.id, arrived + float(rule.commit_after or 0.0), perform))
            return _fault_response(rule, req.path, request_id)

        return self._guarded(req, request_id, resolve)

    def _guarded(self, req: Request, request_id: str, work: Callable[[], Response]) -> Response:
        """``work()`` under the state lock; an ``ApiError`` becomes its response, a bug a logged 500."""
        try:
            with self.state.lock:
                return work()
        except ApiError as exc:
            return Response(exc.status, attach_request_id(exc.body, request_id), exc.headers)
        except Exception:  # a bug must still answer like a server error, and be visible in the log
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            error = flow_error("1102-500")
            return Response(500, attach_request_id(error.body, request_id))

    def _context(self, req: Request, request_id: str) -> Ctx | None:
        """The gateway's view of a request: ``None`` for IMS, else the caller and sandbox (or its refusal)."""
        if req.path == IMS_TOKEN_PATH:
            return None
        if self._service_of(req.path) is None:
            raise gateway_error(404, "404010", "Resource not found")
        return gateway.authenticate(self.state, req, request_id)

    def _handle(self, req: Request, ctx: Ctx | None) -> Response:
        """Run the handler of a request whose context :meth:`_context` resolved."""
        if ctx is None:
            return ims.token(self.state, req)
        return self._route(req, ctx, self._service_of(req.path))

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

    def _journal(
        self, req: Request, status: int, started: float, rule: FaultRule | None, *, arrived_at: float | None = None
    ) -> None:
        entry = {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "headers": req.headers,
            "body": req.journal_body(),
            "status": status,
            "time": started,
            "fault": rule.id if rule is not None else None,
        }
        if arrived_at is None:
            self.state.record(entry)
            return
        # A late commit: journaled (marked) but not counted as a request or a response, nobody received it.
        entry.update(committed_late=True, arrived=arrived_at)
        with self.state.lock:
            self.state.journal.append(entry)


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

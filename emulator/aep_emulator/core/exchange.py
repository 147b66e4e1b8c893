"""The life of one IMS/Platform request: request id, fault rules, the gateway, the handler under the state lock,
the journal. A raw ASGI layer (:class:`Platform`) around the Starlette router of the emulated services, because a
fault may close the connection without any answer, or answer at once and perform the request later.

Handlers are plain synchronous functions run under the state lock in the event loop's thread: that keeps every
request cheap and serialises writes. The router's endpoints (:func:`.routing.route`) hand their handler to the
request's :class:`Exchange`, which resolves the gateway context first, so a refused token wins over a 404/405.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.responses import Response as StarletteResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import gateway, journal
from .errors import ApiError, attach_request_id, default_fault_body, flow_error, gateway_error
from .faults import FaultRule, PendingCommit
from .messages import Request, Response
from .routing import EXCHANGE, Handler
from .state import EmulatorState

log = logging.getLogger(__name__)


class Exchange:
    """One request on its way through the router: ``answer`` runs its handler (or defers it, ``commit_later``)."""

    def __init__(self, state: EmulatorState, req: Request, rule: FaultRule | None) -> None:
        self.state = state
        self.req = req
        self.rule = rule
        self.request_id = req.headers.get("x-request-id") or str(uuid.uuid4())
        self.started = time.time()
        self.arrived = state.clock.now()
        #: Set when the exchange journaled the request itself (``commit_later``: before anyone can perform it).
        self.journaled = False

    def answer(self, handler: Handler, params: dict[str, Any], *, gateway: bool = True) -> StarletteResponse:
        """Run ``handler(req, ctx, **params)``; ``gateway=False`` passes the state instead of a gateway context."""

        def resolve() -> Any:
            return self._context() if gateway else self.state

        if self.rule is not None and self.rule.action == "commit_later":
            with self.state.lock:
                response = self._defer(handler, params, resolve)
                self.journal(response.status)
                self.journaled = True
        else:
            response = self.guarded(lambda: handler(self.req, resolve(), **params))
        return response.render(self.request_id)

    def refuse(self, error: ApiError) -> StarletteResponse:
        """An answer no handler gives (the gateway's 404 for a path outside every service)."""
        response = Response(error.status, attach_request_id(error.body, self.request_id), error.headers)
        return response.render(self.request_id)

    def _context(self) -> Any:
        return gateway.authenticate(self.state, self.req, self.request_id)

    def _defer(self, handler: Handler, params: dict[str, Any], resolve: Callable[[], Any]) -> Response:
        """``commit_later``: resolve the context now, perform the request later, answer the fault now.

        A request the gateway refuses is answered with that refusal at once and nothing is deferred: a real
        gateway never forwards it.
        """

        def defer() -> Response:
            ctx = resolve()

            def perform() -> None:
                performed = time.time()
                response = self.guarded(lambda: handler(self.req, ctx, **params))
                late = journal.entry(self.req, response.status, performed, self.rule.id if self.rule else None)
                late.update(committed_late=True, arrived=self.started)
                with self.state.lock:
                    self.state.journal.record(late, counted=False)  # nobody received this answer

            assert self.rule is not None
            due = self.arrived + float(self.rule.commit_after or 0.0)
            self.state.faults.defer(PendingCommit(self.rule.id, due, perform))
            return self.fault_response()

        return self.guarded(defer)

    def guarded(self, work: Callable[[], Response]) -> Response:
        """``work()`` under the state lock; an ``ApiError`` becomes its response, a bug a logged 500."""
        try:
            with self.state.lock:
                return work()
        except ApiError as exc:
            return Response(exc.status, attach_request_id(exc.body, self.request_id), exc.headers)
        except Exception:  # a bug must still answer like a server error, and be visible in the log
            log.exception("emulator handler failed for %s %s", self.req.method, self.req.path)
            return Response(500, attach_request_id(flow_error("1102-500").body, self.request_id))

    def fault_response(self) -> Response:
        """What the request's fault rule answers: its ``body``, or the one the real hop would give."""
        assert self.rule is not None
        rule = self.rule
        status = rule.status or 503
        body = copy.deepcopy(rule.body) if rule.body is not None else default_fault_body(status, self.req.path)
        headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
        return Response(status, attach_request_id(body, self.request_id), headers)

    def journal(self, status: int) -> None:
        rule_id = self.rule.id if self.rule is not None else None
        self.state.record(journal.entry(self.req, status, self.started, rule_id))


def not_routed(exchange: Exchange) -> StarletteResponse:
    """The gateway's answer to a path no service serves (before any token check)."""
    return exchange.refuse(gateway_error(404, "404010", "Resource not found"))


class Platform:
    """Serves IMS and the Platform services through ``router``, with fault injection and the journal."""

    def __init__(self, state: EmulatorState, router: ASGIApp) -> None:
        self.state = state
        self.router = router

    def commit_due(self) -> int:
        """Perform the ``commit_later`` requests whose time has come on the emulator clock; returns how many."""
        with self.state.lock:
            return self.state.faults.commit_due(self.state.clock.now())

    async def serve(self, req: Request, scope: Scope, receive: Receive, send: Send) -> None:
        self.commit_due()
        rule = self.state.faults.take(req.method, req.path)
        exchange = Exchange(self.state, req, rule)
        if rule is not None:
            with self.state.lock:
                self.state.faults_injected[rule.stat_key] += 1
            if rule.action == "hold":
                await self._hold(rule)
            elif rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.action == "drop":
                exchange.journal(0)
                await _drop(send)
                return
            if rule.action == "respond":
                response = exchange.fault_response()
                exchange.journal(response.status)
                await response.render(exchange.request_id)(scope, receive, send)
                return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.router({**scope, EXCHANGE: exchange}, receive, capture)
        status = next((m["status"] for m in messages if m["type"] == "http.response.start"), 500)
        if rule is not None and rule.action == "commit_then_drop":
            exchange.journal(0)
            await _drop(send)
            return
        if rule is not None and rule.action == "commit_then_fail":
            response = exchange.fault_response()
            exchange.journal(response.status)
            await response.render(exchange.request_id)(scope, receive, send)
            return
        if not exchange.journaled:
            exchange.journal(status)
        for message in messages:
            await send(message)

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

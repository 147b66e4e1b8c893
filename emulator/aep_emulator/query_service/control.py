"""Query Service's control call: ``POST /queries/hold`` ``{"held": true|false}`` keeps every query that reaches
its end ``IN_PROGRESS`` (so a test can cancel it) until released; a reset releases it."""

from __future__ import annotations

from ..core.control_api import ControlEndpoint, bad, body
from ..core.messages import Request, Response
from ..core.state import EmulatorState
from .models import QueryHold


def _hold(state: EmulatorState, req: Request) -> Response:
    held = body(req).get("held", True)
    if not isinstance(held, bool):
        raise bad("held must be true or false")
    with state.lock:
        state.refresh_all()  # queries already due finish before the hold starts
        state.backend(QueryHold).held = held
    return Response(200, {"held": held})


ENDPOINTS = (ControlEndpoint("/queries/hold", _hold, ("POST",)),)

"""Flow Service's control calls: force run outcomes (``POST /runs/outcome``) and change sample rows of the
emulated sources (``POST /sources/rows/touch``)."""

from __future__ import annotations

from ..core.config import RUN_OUTCOMES
from ..core.control_api import ControlEndpoint, bad, body
from ..core.errors import ApiError
from ..core.messages import Request, Response
from ..core.state import EmulatorState
from . import incremental, runs


def _outcome(state: EmulatorState, req: Request) -> Response:
    data = body(req)
    outcome = data.get("outcome")
    if outcome not in RUN_OUTCOMES:
        raise bad(f"outcome must be one of {RUN_OUTCOMES}")
    failed = data.get("failed_records", 0)
    if not isinstance(failed, int) or failed < 0:
        raise bad("failed_records must be a non-negative integer")
    with state.lock:
        changed = runs.force_outcome(state, outcome, data.get("flow_id"), data.get("run_id"), failed)
    return Response(200, {"updated": changed})


def _touch(state: EmulatorState, req: Request) -> Response:
    """``{"table", "rows"?: 1, "source"?}``: change sample rows, so the next incremental run copies them."""
    data = body(req)
    table = data.get("table")
    if not isinstance(table, str) or not table:
        raise bad("table must be a table name such as Hubspot.Contacts")
    try:
        with state.lock:
            state.refresh_all()  # runs that are due ingest what they read before the change
            return Response(200, incremental.touch(state, table, data.get("rows", 1), data.get("source")))
    except LookupError as exc:
        raise ApiError(404, {"error": str(exc)}) from exc
    except ValueError as exc:
        raise bad(str(exc)) from exc


ENDPOINTS = (
    ControlEndpoint("/runs/outcome", _outcome, ("POST",)),
    ControlEndpoint("/sources/rows/touch", _touch, ("POST",)),
)

"""Flow runs: on-demand creation, lazy materialisation of scheduled runs, and clock-driven status.

A run is ``scheduled`` until ``createdAt + run_start_delay``, ``inProgress`` for ``run_duration`` more
seconds, then terminal. Status is recomputed from the emulator clock whenever runs or flows are read
(``refresh``), so advancing the clock is enough to finish a run. The outcome (``success``, ``failed`` or
``partial`` = success with failed records) is fixed at creation from the configuration or a forced
outcome, and can be changed until the run is terminal. Terminal runs never change again.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..core.context import Ctx
from ..core.errors import ApiError, flow_error
from ..core.messages import Request, Response
from ..core.query import ensure_no_query
from ..core.state import EmulatorState, Store
from . import incremental
from . import resources as res
from .models import backend, controls
from .run_metrics import render
from .validation import validate_request

FREQUENCY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


# -- schedule ---------------------------------------------------------------------------------------
def period_seconds(schedule: dict[str, Any]) -> int | None:
    unit = FREQUENCY_SECONDS.get(schedule["frequency"])
    return None if unit is None else unit * int(schedule["interval"])


def first_slot_from(schedule: dict[str, Any], now_s: float) -> float:
    """The first schedule slot at or after ``now_s`` (slots are ``startTime + k * period``)."""
    start = float(schedule["startTime"])
    period = period_seconds(schedule)
    if period is None or now_s <= start:
        return start
    steps = -(-(now_s - start) // period)
    return start + steps * period


def _materialise(state: EmulatorState, store: Store, flow: dict[str, Any], now_s: float) -> None:
    schedule = flow["_schedule"]
    if flow.get("state") != "enabled":
        return
    if schedule["frequency"] == "once":
        if now_s >= schedule["startTime"]:
            backend(store).scheduled_flows.discard(flow["id"])
            flow["_once_done"] = True
            new_run(state, store, flow, int(schedule["startTime"] * 1000), flow["updatedClient"], "scheduled")
        return
    period = period_seconds(schedule)
    slot = flow["_next_slot"]
    if period is None or now_s < slot:
        return
    due = int((now_s - slot) // period) + 1
    cap = state.config.max_scheduled_runs
    if due > cap:
        slot += (due - cap) * period
        due = cap
    for index in range(due):
        at = slot + index * period
        window = (int((at - period) * 1000), int(at * 1000))
        new_run(state, store, flow, int(at * 1000), flow["updatedClient"], "scheduled", window=window)
    flow["_next_slot"] = slot + due * period


# -- run documents ----------------------------------------------------------------------------------
def new_run(
    state: EmulatorState,
    store: Store,
    flow: dict[str, Any],
    created_ms: int,
    client_id: str,
    trigger: str,
    params: dict[str, Any] | None = None,
    window: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Create and store a run of ``flow`` (status fields are filled by :func:`_advance`)."""
    outcome, failed = controls(state).outcome_for(flow["id"])
    delay_ms = int(state.config.run_start_delay * 1000)
    duration_ms = int(state.config.run_duration * 1000)
    run: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "createdAt": created_ms,
        "updatedAt": created_ms,
        "createdBy": client_id,
        "updatedBy": client_id,
        "createdClient": client_id,
        "updatedClient": client_id,
        "sandboxId": store.sandbox_id,
        "sandboxName": store.sandbox,
        "imsOrgId": store.org,
        "flowId": flow["id"],
        "flowSpec": dict(flow["flowSpec"]),
        "providerRefId": f"M-{flow['id']}-incremental-0:{uuid.uuid4()}",
    }
    if params:
        run["params"] = params
    run.update(
        _seq=state.next_seq(),
        _phase=None,
        _trigger=trigger,
        _outcome=outcome,
        _failed=failed,
        _start=created_ms + delay_ms,
        _end=created_ms + delay_ms + duration_ms,
        _window=window,
        _copy_window=incremental.copy_window(flow, created_ms + delay_ms, window, trigger),
        _sources=list(flow.get("sourceConnectionIds", [])),
        _targets=list(flow.get("targetConnectionIds", [])),
        _rows=state.config.rows_per_run,
        _mapping=_mapping_reference(flow),
    )
    store["runs"].add(run)
    backend(store).active_runs.add(run["id"])
    _advance(state, store, run, state.clock.now_ms())
    return run


def _mapping_reference(flow: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(mappingId, mappingVersion)`` of the flow's Mapping transformation, as the run started with it."""
    for transformation in flow.get("transformations") or []:
        if not isinstance(transformation, dict):
            continue
        params = transformation.get("params")
        if transformation.get("name") == "Mapping" and isinstance(params, dict) and params.get("mappingId"):
            version = params.get("mappingVersion")
            return str(params["mappingId"]), None if version is None else str(version)
    return None


def _phase_at(run: dict[str, Any], now_ms: int) -> str:
    if now_ms < run["_start"]:
        return "scheduled"
    if now_ms < run["_end"]:
        return "inProgress"
    return "terminal"


def _advance(state: EmulatorState, store: Store, run: dict[str, Any], now_ms: int) -> bool:
    """Bring ``run`` up to ``now_ms``; returns True once it is terminal."""
    phase = _phase_at(run, now_ms)
    if phase != run["_phase"]:
        run["_phase"] = phase
        render(run, phase, state, store)
        etag = res.new_etag()
        run.update(etag=etag, version=etag)
        if phase == "terminal":
            backend(store).active_runs.discard(run["id"])
            _update_last_run(store, run)
    return phase == "terminal"


def _update_last_run(store: Store, run: dict[str, Any]) -> None:
    """``lastRunDetails`` on the flow shows the newest run that has finished."""
    flow = store["flows"].get(run["flowId"])
    if flow is None:
        return
    current = flow.get("_last_run_key")
    key = (run["createdAt"], run["_seq"])
    if current is not None and tuple(current) > key:
        return
    flow["_last_run_key"] = key
    flow["lastRunDetails"] = {
        "id": run["id"],
        "state": run["state"],
        "startedAtUTC": run["_start"],
        "completedAtUTC": run["_end"],
    }


def refresh(state: EmulatorState, store: Store) -> None:
    """Materialise due scheduled runs and move active runs along the emulator clock."""
    now_ms = state.clock.now_ms()
    for flow_id in list(backend(store).scheduled_flows):
        flow = store["flows"].get(flow_id)
        if flow is None:
            backend(store).scheduled_flows.discard(flow_id)
        else:
            _materialise(state, store, flow, now_ms / 1000)
    for run_id in list(backend(store).active_runs):
        run = store["runs"].get(run_id)
        if run is None:
            backend(store).active_runs.discard(run_id)
        else:
            _advance(state, store, run, now_ms)


def force_outcome(
    state: EmulatorState, outcome: str, flow_id: str | None, run_id: str | None, failed_records: int
) -> int:
    """Change the outcome of not-yet-terminal runs (all, one flow's, or one run); returns how many changed.

    Without ``run_id`` the outcome also applies to runs created later (of ``flow_id``, or of every flow).
    """
    state.refresh_all()
    changed = 0
    found_run = False
    for store in state.stores.values():
        for active_id in list(backend(store).active_runs):
            run = store["runs"].get(active_id)
            if run is None or (flow_id and run["flowId"] != flow_id) or (run_id and run["id"] != run_id):
                continue
            run["_outcome"], run["_failed"] = outcome, failed_records
            changed += 1
        if run_id and store["runs"].get(run_id) is not None:
            found_run = True
    if run_id:
        if not found_run:
            raise ApiError(404, {"error": f"run {run_id} not found"})
        return changed
    if flow_id:
        controls(state).by_flow[flow_id] = (outcome, failed_records)
    else:
        controls(state).default = (outcome, failed_records)
        controls(state).by_flow.clear()
    return changed


# -- handlers ---------------------------------------------------------------------------------------
def list_runs(req: Request, ctx: Ctx) -> Response:
    ctx.state.refresh(ctx.store)
    return res.list_response(ctx, req, "runs")


def get_run(req: Request, ctx: Ctx, resource_id: str) -> Response:
    """One run, brought up to the emulator clock first. Only this run: refreshing every active run on each
    GET made a poll cost O(active runs), 6 ms of emulator CPU per poll with 10,000 runs in flight (the
    deferred-waits benchmark). Lists, flows and batches still refresh everything they show."""
    ensure_no_query(req.query)
    run = res.lookup(ctx, "runs", resource_id)
    if run["id"] in backend(ctx.store).active_runs:
        _advance(ctx.state, ctx.store, run, ctx.state.clock.now_ms())
    return res.items(res.view(run))


def _epoch(value: Any) -> int:
    return int(value)


def create_run(req: Request, ctx: Ctx) -> Response:
    """On-demand run of a flow scheduled ``once``; answers ``{"items": [{"id", "etag"}]}``."""
    ensure_no_query(req.query)
    body = res.require_object(req.json())
    if not body.get("flowId"):
        raise flow_error("1446-400", "The flow ID cannot be null or empty. Please update the flow ID and try again.")
    validate_request(body, "run_create")
    ctx.state.refresh(ctx.store)
    flow = ctx.store["flows"].get(body["flowId"])
    if flow is None:
        raise flow_error("1430-400", f"Flow not found with id {body['flowId']}.")
    frequency = flow["_schedule"]["frequency"]
    if frequency != "once":
        raise flow_error(
            "1100-400",
            f"On-demand runs are only supported for flows scheduled with frequency 'once'; flow {flow['id']} "
            f"has frequency '{frequency}'.",
        )
    if flow.get("state") != "enabled":
        raise flow_error("1444-400", f"Flow {flow['id']} is not in expected state enabled.")
    params = dict(body.get("params") or {})
    for key in ("startTime", "windowStartTime", "windowEndTime"):
        if key in params:
            params[key] = _epoch(params[key])
    delta = params.get("deltaColumn", {}).get("name") if isinstance(params.get("deltaColumn"), dict) else None
    previous = flow.get("_run_delta_column")
    if delta and previous and delta != previous:
        raise flow_error(
            "1100-400",
            f"The deltaColumn cannot be changed after the first run of flow {flow['id']} "
            f"(was '{previous}', got '{delta}').",
        )
    if delta:
        flow["_run_delta_column"] = delta
    window = None
    if "windowStartTime" in params and "windowEndTime" in params:
        window = (params["windowStartTime"] * 1000, params["windowEndTime"] * 1000)
    run = new_run(ctx.state, ctx.store, flow, ctx.now_ms, ctx.client_id, "onDemand", params, window)
    return Response(201, {"items": [{"id": run["id"], "etag": run["etag"]}]})

"""``/schedules`` and their runs.

A schedule is ``REGISTERING`` for a second of emulator time, then ``ENABLED``; ``PATCH {"body": [{"op":
"replace", "path": "/state", "value": "enable|disable"}]}`` switches it, and only a ``DISABLED`` schedule with
no active run can be deleted. ``POST /schedules/{id}/runs`` triggers a run (an ``ENABLED`` schedule only): it
executes the schedule's query as a new query whose ``scheduleId``/``scheduleRunId`` are the schedule's and the
run's ids; the run's state follows that query's. Run ids are base64 of ``manual__<timestamp>``. Runs due by the
cron expression are not materialised (trigger them explicitly).
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from ..core.context import Ctx
from ..core.errors import ApiError
from ..core.messages import Request, Response
from .listing import bad_request, page, unique_ms
from .models import PREFIX, TERMINAL, backend, iso, message, touch
from .queries import check_query_def, json_object
from .runner import new_query

SCHEDULE_GETTERS: dict[str, Any] = {
    "created": lambda d: d["_created_ms"],
    "updated": lambda d: d["_updated_ms"],
    "templateId": lambda d: d["query"].get("templateId"),
    "userId": lambda d: d.get("userId"),
    "state": lambda d: d["state"],
    "id": lambda d: d["id"],
}
RUN_GETTERS: dict[str, Any] = {
    "created": lambda d: d["_created_ms"],
    "updated": lambda d: d["_updated_ms"],
    "state": lambda d: d["state"],
    "externalTrigger": lambda d: str(d["externalTrigger"]).lower(),
}
_ALIASES = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")
_RUN_STATE = {"SUBMITTED": "IN_PROGRESS", "IN_PROGRESS": "IN_PROGRESS", "SUCCESS": "SUCCESS"}
_INACTIVE = "Schedule already in the state request OR Schedule is in Inactive state. Please try after sometime"


def _check_schedule(schedule: Any) -> dict[str, Any]:
    if not isinstance(schedule, dict):
        raise bad_request("Missing required field 'schedule': an object with 'schedule' and 'startDate'")
    cron = schedule.get("schedule")
    if not isinstance(cron, str) or not (cron in _ALIASES or len(cron.split()) in (5, 6, 7)):
        raise bad_request("Invalid value for field 'schedule.schedule': a cron expression or @once/@hourly/@daily...")
    if not isinstance(schedule.get("startDate"), str) or not schedule["startDate"]:
        raise bad_request("Missing required field 'schedule.startDate' (UTC, e.g. 2020-01-08T12:30:00.000Z)")
    max_runs = schedule.get("maxActiveRuns", 1)
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise bad_request("Invalid value for field 'schedule.maxActiveRuns': expected a positive integer")
    return {**schedule, "maxActiveRuns": max_runs}


def _links(req: Request, schedule: dict[str, Any]) -> dict[str, Any]:
    href = f"{req.base_url}{PREFIX}/schedules/{schedule['id']}"
    return {
        "self": {"href": href, "method": "GET"},
        "enable": {
            "href": href,
            "method": "PATCH",
            "body": '{"body":[{"op":"replace","path":"/state","value":"enable"}]}',
        },
        "disable": {
            "href": href,
            "method": "PATCH",
            "body": '{"body":[{"op":"replace","path":"/state","value":"disable"}]}',
        },
        "delete": {"href": href, "method": "DELETE"},
        "runs": {"href": f"{href}/runs", "method": "GET"},
        "trigger": {"href": f"{href}/runs", "method": "POST"},
    }


def view(req: Request, schedule: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in schedule.items() if not k.startswith("_")}
    out["_links"] = _links(req, schedule)
    return out


def create_schedule(req: Request, ctx: Ctx) -> Response:
    body = json_object(req)
    query = body.get("query")
    if not isinstance(query, dict):
        raise bad_request("Missing required field 'query': the query_def the schedule runs")
    check_query_def(ctx, query, "query.")
    schedule_def = _check_schedule(body.get("schedule"))
    now = unique_ms(backend(ctx.store).last_ms, ctx.now_ms)
    slug = re.sub(r"[^a-z0-9]", "_", str(query.get("name") or "scheduled_query").lower())[:40]
    org = ctx.store.org.split("@")[0].lower()
    schedule: dict[str, Any] = {
        "state": "REGISTERING",
        "query": query,
        "schedule": schedule_def,
        "id": f"{org}_{uuid.uuid4()}_{slug}{uuid.uuid4().hex[:6]}",
        "userId": f"{ctx.client_id}@AdobeID",
        "updatedUserId": f"{ctx.client_id}@AdobeID",
        "version": 2,
        "created": iso(now),
        "updated": iso(now),
        "_created_ms": now,
        "_updated_ms": now,
        "_seq": ctx.state.next_seq(),
    }
    backend(ctx.store).schedules.add(schedule)
    backend(ctx.store).registering.add(schedule["id"])
    return Response(202, view(req, schedule))


def list_schedules(req: Request, ctx: Ctx) -> Response:
    ctx.state.refresh(ctx.store)
    config = ctx.state.config
    body = page(
        req,
        "/schedules",
        "schedules",
        backend(ctx.store).schedules,
        lambda s: view(req, s),
        SCHEDULE_GETTERS,
        default_limit=config.default_page_size,
        max_limit=config.max_page_size,
    )
    return Response(200, body)


def _lookup(ctx: Ctx, schedule_id: str) -> dict[str, Any]:
    ctx.state.refresh(ctx.store)
    schedule = backend(ctx.store).schedules.get(schedule_id)
    if schedule is None:
        raise ApiError(404, message(404, "Schedule not found"))
    return schedule


def get_schedule(req: Request, ctx: Ctx, schedule_id: str) -> Response:
    return Response(200, view(req, _lookup(ctx, schedule_id)))


def patch_schedule(req: Request, ctx: Ctx, schedule_id: str) -> Response:
    """``{"body": [{"op": "replace", "path": "/state"|"/schedule/schedule", "value": ...}]}`` -> 202."""
    operations = json_object(req).get("body")
    if not isinstance(operations, list) or not operations:
        raise bad_request("Missing required field 'body': a list of {op, path, value} operations")
    schedule = _lookup(ctx, schedule_id)
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("op") != "replace":
            raise bad_request("Invalid operation in 'body': only {'op': 'replace', ...} is supported")
        path, value = operation.get("path"), operation.get("value")
        if path == "/state":
            if value not in ("enable", "disable"):
                raise bad_request("Invalid value for '/state': expected 'enable' or 'disable'")
            wanted = "ENABLED" if value == "enable" else "DISABLED"
            if schedule["state"] in ("REGISTERING", wanted):
                raise bad_request(_INACTIVE)
            schedule["state"] = wanted
        elif path == "/schedule/schedule":
            schedule["schedule"] = _check_schedule({**schedule["schedule"], "schedule": value})
        else:
            raise bad_request(f"Invalid path '{path}' in 'body': use /state or /schedule/schedule")
    touch(schedule, ctx.now_ms)
    schedule["updatedUserId"] = f"{ctx.client_id}@AdobeID"
    return Response(202, message(202, "Request to patch accepted"))


def _runs(ctx: Ctx, schedule_id: str) -> list[dict[str, Any]]:
    runs = [r for r in backend(ctx.store).runs if r["scheduleId"] == schedule_id]
    for run in runs:
        _follow(ctx, run)
    return runs


def _follow(ctx: Ctx, run: dict[str, Any]) -> None:
    """The run's state is its query's (KILLED/FAILED/TIMEOUT are a ``FAILED`` run)."""
    query = backend(ctx.store).queries.get(run["_query_id"])
    state = _RUN_STATE.get(query["state"], "FAILED") if query else "FAILED"
    if state != run["state"]:
        run["state"] = state
        touch(run, query["_updated_ms"] if query else ctx.now_ms)


def delete_schedule(req: Request, ctx: Ctx, schedule_id: str) -> Response:
    schedule = _lookup(ctx, schedule_id)
    active = [r for r in _runs(ctx, schedule_id) if r["state"] == "IN_PROGRESS"]
    if schedule["state"] != "DISABLED" or active:
        raise bad_request(
            "Please disable the schedule before requesting delete operation OR There are active run(s) for this "
            "schedule, please wait for completion of the run(s) before requesting delete operation"
        )
    backend(ctx.store).schedules.remove(schedule_id)
    return Response(202, message(202, "Schedule deleted successfully"))


def _run_view(req: Request, run: dict[str, Any]) -> dict[str, Any]:
    href = f"{req.base_url}{PREFIX}/schedules/{run['scheduleId']}/runs/{run['id']}"
    out = {k: v for k, v in run.items() if not k.startswith("_")}
    out["_links"] = {
        "self": {"href": href, "method": "GET"},
        "cancel": {"href": href, "method": "PATCH", "body": '{"op": "cancel"}'},
    }
    return out


def trigger_run(req: Request, ctx: Ctx, schedule_id: str) -> Response:
    schedule = _lookup(ctx, schedule_id)
    if schedule["state"] != "ENABLED":
        raise bad_request("Schedule is disabled. Immediate run cannot be triggered")
    qs = backend(ctx.store)
    now = unique_ms(qs.last_ms, ctx.now_ms)
    run_id = base64.b64encode(f"manual__{iso(now).replace('Z', '+00:00')}".encode()).decode()
    query_def = schedule["query"]
    sql, template = check_query_def(ctx, query_def, "query.")
    query = new_query(
        ctx.state,
        ctx.store,
        dict(query_def),
        sql,
        client="Scheduled Query",
        client_id=ctx.client_id,
        template_name=template["name"] if template else None,
        schedule=(schedule_id, run_id),
    )
    run = {
        "id": run_id,
        "scheduleId": schedule_id,
        "state": "IN_PROGRESS",
        "externalTrigger": True,
        "created": iso(now),
        "updated": iso(now),
        "version": 1,
        "_created_ms": now,
        "_updated_ms": now,
        "_query_id": query["id"],
        "_seq": ctx.state.next_seq(),
    }
    qs.runs.add(run)
    return Response(202, message(202, "Request to trigger run of a scheduled query accepted."))


def list_runs(req: Request, ctx: Ctx, schedule_id: str) -> Response:
    _lookup(ctx, schedule_id)
    config = ctx.state.config
    body = page(
        req,
        f"/schedules/{schedule_id}/runs",
        "runsSchedules",
        _runs(ctx, schedule_id),
        lambda r: _run_view(req, r),
        RUN_GETTERS,
        default_limit=config.default_page_size,
        max_limit=config.max_page_size,
    )
    return Response(200, body)


def _run(ctx: Ctx, schedule_id: str, run_id: str) -> dict[str, Any]:
    _lookup(ctx, schedule_id)
    run = backend(ctx.store).runs.get(run_id)
    if run is None or run["scheduleId"] != schedule_id:
        raise ApiError(404, message(404, "Run not found"))
    _follow(ctx, run)
    return run


def get_run(req: Request, ctx: Ctx, schedule_id: str, run_id: str) -> Response:
    run = _run(ctx, schedule_id, run_id)
    query = backend(ctx.store).queries.get(run["_query_id"]) or {}
    ended = query.get("state") in TERMINAL
    task = {
        "taskId": query.get("id", ""),
        "state": run["state"],
        "message": "Processed Successfully"
        if run["state"] == "SUCCESS"
        else "; ".join(e["message"] for e in query.get("errors", [])) or str(query.get("state", "")),
        "startDate": iso(query.get("_starts_ms", run["_created_ms"])),
        "endDate": iso(query["_updated_ms"]) if ended else "",
        "duration": max(0, (query["_updated_ms"] - query["_starts_ms"]) // 1000) if ended else 0,
    }
    return Response(200, {**_run_view(req, run), "taskStatusList": [task]})


def patch_run(req: Request, ctx: Ctx, schedule_id: str, run_id: str) -> Response:
    if json_object(req).get("op") != "cancel":
        raise bad_request("Invalid value for field 'op': expected 'cancel'")
    run = _run(ctx, schedule_id, run_id)
    query = backend(ctx.store).queries.get(run["_query_id"])
    if query is not None and query["state"] not in TERMINAL:
        query["state"] = "KILLED"
        touch(query, ctx.now_ms)
        backend(ctx.store).active.discard(query["id"])
        _follow(ctx, run)
    return Response(202, message(202, "Request to cancel run of a scheduled query accepted"))

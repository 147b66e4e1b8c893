"""Server side of the control plane under ``/__emulator/`` (never journaled, never faulted, no auth).

Only loopback callers reach it unless the server was started otherwise (:mod:`.access`, checked by the app).
``/__emulator/ui/...`` serves the read-only resource pages (:mod:`.pages`).

Calls that read state (``/state``, ``/journal``, ``/stats``, ``/clock``, the dataset records and the pages)
first perform the ``commit_later`` requests that are due on the emulator clock; ``/clock/advance`` does so
after moving the clock. So a test advances the clock instead of sleeping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from . import incremental, ingestion, pages, redaction, runs
from .config import RUN_OUTCOMES
from .connections import masked_view
from .errors import ApiError
from .faults import FaultRule
from .messages import Request, Response
from .resources import view
from .state import COLLECTIONS, EmulatorState, Store

PREFIX = "/__emulator"


def _bad(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        data = json.loads(req.body)
    except ValueError as exc:
        raise _bad(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _bad("expected a JSON object")
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
        raise _bad(f"invalid path regex: {exc}") from exc
    with state.lock:
        entries = [e for e in state.journal if (not method or e["method"] == method) and path.fullmatch(e["path"])]
        serials = {value: token.serial for value, token in state.tokens.items()}
    if not _wants_secrets(req):  # outside the lock: entries are never changed once recorded
        entries = [redaction.journal_entry(e, serials) for e in entries]
    return Response(200, entries)


def _faults(state: EmulatorState, req: Request) -> Response:
    if req.method == "GET":
        return Response(200, state.faults.list())
    if req.method == "DELETE":
        with state.lock:  # not between a pending commit being taken and performed
            state.faults.clear()
        return Response(204)
    try:
        rule = FaultRule.from_dict(_body(req))
    except (TypeError, ValueError, re.error) as exc:
        raise _bad(str(exc)) from exc
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
    seconds = _body(req).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise _bad("seconds must be a non-negative number")
    with state.lock:
        now = state.clock.advance(seconds)
        state.faults.commit_due(now)
    return Response(200, {"now": now, "offset": state.clock.offset})


def _issue_token(state: EmulatorState, req: Request) -> Response:
    data = _body(req)
    client_id = str(data.get("client_id") or "emulator-client")
    token = state.issue_token(client_id, str(data.get("scope") or "openid,AdobeID"))
    return Response(
        200, {"access_token": token.value, "token_type": "bearer", "expires_in": state.config.token_lifetime}
    )


def _expire(state: EmulatorState, req: Request) -> Response:
    return Response(200, {"expired": state.expire_tokens()})


def _outcome(state: EmulatorState, req: Request) -> Response:
    data = _body(req)
    outcome = data.get("outcome")
    if outcome not in RUN_OUTCOMES:
        raise _bad(f"outcome must be one of {RUN_OUTCOMES}")
    failed = data.get("failed_records", 0)
    if not isinstance(failed, int) or failed < 0:
        raise _bad("failed_records must be a non-negative integer")
    with state.lock:
        changed = runs.force_outcome(state, outcome, data.get("flow_id"), data.get("run_id"), failed)
    return Response(200, {"updated": changed})


def _touch(state: EmulatorState, req: Request) -> Response:
    """``{"table", "rows"?: 1, "source"?}``: change sample rows, so the next incremental run copies them."""
    data = _body(req)
    table = data.get("table")
    if not isinstance(table, str) or not table:
        raise _bad("table must be a table name such as Hubspot.Contacts")
    try:
        with state.lock:
            runs.refresh_all(state)  # runs that are due ingest what they read before the change
            return Response(200, incremental.touch(state, table, data.get("rows", 1), data.get("source")))
    except LookupError as exc:
        raise ApiError(404, {"error": str(exc)}) from exc
    except ValueError as exc:
        raise _bad(str(exc)) from exc


def _state(state: EmulatorState, req: Request) -> Response:
    secrets = _wants_secrets(req)
    with state.lock:
        runs.refresh_all(state)
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in COLLECTIONS}
        for store in state.stores.values():
            for name in COLLECTIONS:
                render: Callable[[dict[str, Any]], dict[str, Any]] = (
                    masked_view if name == "connections" and not secrets else view
                )
                out[name].extend(render(r) for r in store[name])
    return Response(200, out)


def _stores_for(state: EmulatorState, req: Request, dataset_id: str) -> list[Store]:
    """Stores to read a dataset from: ``?org=``/``?sandbox=`` narrow them; without ``sandbox`` the ``prod``
    stores are tried first, then every other (so a single store, or the only one holding it, just works)."""
    org, sandbox = req.param("org"), req.param("sandbox")
    stores = [s for s in state.stores.values() if (org is None or s.org == org)]
    if sandbox is not None:
        return [s for s in stores if s.sandbox == sandbox]
    return sorted(stores, key=lambda s: s.sandbox != "prod")


def _dataset_records(state: EmulatorState, req: Request, dataset_id: str, kind: str) -> Response:
    """``GET /datasets/{id}/records`` (landed) or ``/failed-records`` (rejected rows), ``?batch=`` optional."""
    batch_id = req.param("batch") or None
    with state.lock:
        runs.refresh_all(state)
        for store in _stores_for(state, req, dataset_id):
            known = store["dataSets"].get(dataset_id) is not None or dataset_id in store.landed
            if not known:
                continue
            if kind == "records":
                return Response(200, ingestion.landed_records(store, dataset_id, batch_id))
            return Response(200, ingestion.failed_records(store, dataset_id, batch_id))
    raise ApiError(404, {"error": f"dataset {dataset_id} not found"})


def _landed(state: EmulatorState, req: Request, dataset_id: str) -> Response:
    return _dataset_records(state, req, dataset_id, "records")


def _failed(state: EmulatorState, req: Request, dataset_id: str) -> Response:
    return _dataset_records(state, req, dataset_id, "failed")


def _stats(state: EmulatorState, req: Request) -> Response:
    return Response(200, {**state.stats(), "pending_commits": state.faults.pending()})


def _config(state: EmulatorState, req: Request) -> Response:
    if req.method == "PATCH":
        try:
            config = state.configure(_body(req))
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from exc
        return Response(200, config.to_dict())
    return Response(200, state.config.to_dict())


_ROUTES: list[tuple[frozenset[str], re.Pattern[str], Callable[..., Response]]] = [
    (frozenset({"GET"}), re.compile(r"/health"), _health),
    (frozenset({"POST"}), re.compile(r"/reset"), _reset),
    (frozenset({"GET", "DELETE"}), re.compile(r"/journal"), _journal),
    (frozenset({"GET", "POST", "DELETE"}), re.compile(r"/faults"), _faults),
    (frozenset({"DELETE"}), re.compile(r"/faults/(?P<fault_id>[^/]+)"), _fault),
    (frozenset({"GET"}), re.compile(r"/faults/(?P<fault_id>[^/]+)/held"), _held),
    (frozenset({"POST"}), re.compile(r"/faults/(?P<fault_id>[^/]+)/release"), _release),
    (frozenset({"GET"}), re.compile(r"/clock"), _clock),
    (frozenset({"POST"}), re.compile(r"/clock/advance"), _advance),
    (frozenset({"POST"}), re.compile(r"/tokens"), _issue_token),
    (frozenset({"POST"}), re.compile(r"/tokens/expire"), _expire),
    (frozenset({"POST"}), re.compile(r"/runs/outcome"), _outcome),
    (frozenset({"POST"}), re.compile(r"/sources/rows/touch"), _touch),
    (frozenset({"GET"}), re.compile(r"/state"), _state),
    (frozenset({"GET"}), re.compile(r"/stats"), _stats),
    (frozenset({"GET"}), re.compile(r"/datasets/(?P<dataset_id>[^/]+)/records"), _landed),
    (frozenset({"GET"}), re.compile(r"/datasets/(?P<dataset_id>[^/]+)/failed-records"), _failed),
    (frozenset({"GET", "PATCH"}), re.compile(r"/config"), _config),
]


#: Handlers that read state, so they first perform the due ``commit_later`` requests.
_READS_STATE = frozenset({_journal, _clock, _state, _stats, _landed, _failed})


def handle(state: EmulatorState, req: Request) -> Response:
    """Dispatch one control-plane request."""
    sub_path = req.path[len(PREFIX) :] or "/"
    if sub_path == pages.SUB_PATH or sub_path.startswith(pages.SUB_PATH + "/"):
        _commit_due(state)
        return pages.handle(state, req)
    try:
        for methods, pattern, handler in _ROUTES:
            match = pattern.fullmatch(sub_path)
            if match:
                if req.method not in methods:
                    return Response(405, {"error": f"{req.method} not allowed on {req.path}"})
                if handler in _READS_STATE:
                    _commit_due(state)
                return handler(state, req, **match.groupdict())
        return Response(404, {"error": f"no control endpoint {req.path}"})
    except ApiError as exc:
        return Response(exc.status, exc.body, exc.headers)

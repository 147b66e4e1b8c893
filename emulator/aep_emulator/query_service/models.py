"""Query Service's state in one org's sandbox: queries, templates, schedules and their runs (the JSON documents
the API answers, with ``_``-prefixed bookkeeping keys), and the queries not yet terminal on the emulator clock.

A query is ``SUBMITTED`` for ``query_start_delay`` seconds, then ``IN_PROGRESS`` for ``query_duration`` seconds;
its SQL runs when it reaches its terminal state (``SUCCESS`` or ``FAILED``) in :func:`.runner.refresh` (or
:func:`.runner.refresh_one`, what a read of one query does). While the
control plane holds queries (``POST /__emulator/queries/hold``) they stay ``IN_PROGRESS`` whatever the clock says.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..core.state import EmulatorState, Named, Store

PREFIX = "/data/foundation/query"
TERMINAL = frozenset({"SUCCESS", "FAILED", "KILLED", "TIMEOUT"})
#: Seconds a schedule stays ``REGISTERING`` before it is ``ENABLED``.
REGISTERING_SECONDS = 1.0


def iso(ms: int) -> str:
    """Epoch milliseconds as Adobe's ``2020-01-08T21:47:46.865Z``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: str) -> int | None:
    """An ISO timestamp or epoch-milliseconds string as epoch milliseconds (``None`` when neither)."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


class QueryBackend:
    """Query Service in one org's sandbox (``store.backend(QueryBackend)``)."""

    COLLECTIONS = ("queries", "queryTemplates", "querySchedules", "queryScheduleRuns")
    queries = Named("queries")
    templates = Named("queryTemplates")
    schedules = Named("querySchedules")
    runs = Named("queryScheduleRuns")

    def __init__(self, store: Store) -> None:
        self.store = store
        #: Queries not yet terminal (ids), advanced by :func:`.runner.refresh`.
        self.active: set[str] = set()
        #: ``(end ms, seq, id)`` of the queries made active, a heap: the next query due to run is its head once
        #: the ones no longer active are popped (:func:`.runner.refresh_one`).
        self.ends: list[tuple[int, int, str]] = []
        #: Schedules still ``REGISTERING``.
        self.registering: set[str] = set()
        #: The last creation time handed out (creation times are unique, see :func:`.listing.unique_ms`).
        self.last_ms = [0]


class QueryHold:
    """The control plane's hold: while ``held``, no query leaves ``IN_PROGRESS`` (``state.backend(QueryHold)``)."""

    def __init__(self, state: EmulatorState) -> None:
        self.held = False


def backend(store: Store) -> QueryBackend:
    return store.backend(QueryBackend)


def touch(doc: dict[str, Any], ms: int) -> None:
    doc["_updated_ms"] = ms
    doc["updated"] = iso(ms)


def message(status: int, text: str) -> dict[str, Any]:
    """Adobe's action answer (``{"message", "statusCode"}``), also used for this service's errors."""
    return {"message": text, "statusCode": status}

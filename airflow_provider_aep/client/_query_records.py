"""Plain values of Query Service answers, shared by the sync client, the async reads of the triggers and the
operators: a query's or a scheduled run's phase, its summary (JSON-safe, for XCom and trigger events) and the
error a failed query raises, with Query Service's own codes (``53400``, ``42P01``...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from airflow_provider_aep.client.errors import AEPError

Phase = Literal["running", "success", "failed"]

#: Query states after which nothing changes (Adobe's ``query.state``); the rest are SUBMITTED and IN_PROGRESS.
TERMINAL_QUERY_STATES = frozenset({"SUCCESS", "FAILED", "KILLED", "TIMEOUT"})
#: Scheduled-run states that end a run; compared upper-cased (Adobe's examples spell them ``success`` too).
FAILED_RUN_STATES = frozenset({"FAILED", "KILLED", "CANCELLED", "CANCELED", "TIMEOUT"})


def query_phase(state: Any) -> Phase:
    """``running`` until a terminal state; ``success`` only for SUCCESS."""
    text = str(state or "").upper()
    if text == "SUCCESS":
        return "success"
    return "failed" if text in TERMINAL_QUERY_STATES else "running"


def run_phase(state: Any) -> Phase:
    """A scheduled run's phase: SUCCESS, or one of :data:`FAILED_RUN_STATES`, else still running."""
    text = str(state or "").upper()
    if text == "SUCCESS":
        return "success"
    return "failed" if text in FAILED_RUN_STATES else "running"


def link_id(link: Any) -> str | None:
    """The id a ``_links`` entry names: its ``id``, else the last segment of its ``href``."""
    if isinstance(link, list):
        link = link[0] if link else None
    if not isinstance(link, Mapping):
        return None
    if isinstance(link.get("id"), str) and link["id"]:
        return str(link["id"])
    href = link.get("href")
    if isinstance(href, str) and href.strip("/"):
        return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    return None


def query_errors(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``errors[]`` as ``{"code", "message", "errorType"}`` dicts (codes as text)."""
    found = []
    for error in item.get("errors") or []:
        if isinstance(error, Mapping):
            code = error.get("code")
            found.append(
                {
                    "code": str(code) if code not in (None, "") else None,
                    "message": str(error.get("message") or ""),
                    "errorType": error.get("errorType"),
                }
            )
    return found


def query_summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the operators and triggers keep of a query: JSON-safe, without the SQL (it may quote values)."""
    links = item.get("_links") if isinstance(item.get("_links"), Mapping) else {}
    referenced = links.get("referenced_datasets") if isinstance(links, Mapping) else None
    row_count = item.get("rowCount")
    return {
        "id": item.get("id"),
        "state": item.get("state"),
        "name": item.get("name") or (item.get("request") or {}).get("name"),
        "row_count": row_count if isinstance(row_count, int) and not isinstance(row_count, bool) else None,
        "errors": query_errors(item),
        "created_dataset_id": link_id(links.get("created_dataset")) if isinstance(links, Mapping) else None,
        "referenced_dataset_ids": [i for i in (link_id(r) for r in referenced or []) if i]
        if isinstance(referenced, list)
        else [],
        "elapsed_ms": item.get("elapsedTime"),
        "is_ctas": bool(item.get("isCTAS")),
        "is_insert_into": bool(item.get("isInsertInto")),
    }


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """``[53400] LIMIT exceeds max value; [58000] ...`` (or ``no error details``)."""
    texts = [f"[{e['code']}] {e['message']}" if e.get("code") else str(e.get("message")) for e in errors]
    return "; ".join(t for t in texts if t) or "no error details"


def run_summary(run: Mapping[str, Any], schedule_id: str) -> dict[str, Any]:
    """What the sensor returns of a scheduled run: ids, state and each task's state and message."""
    tasks = [
        {"taskId": t.get("taskId"), "state": t.get("state"), "message": t.get("message")}
        for t in run.get("taskStatusList") or []
        if isinstance(t, Mapping)
    ]
    return {
        "id": run.get("id"),
        "schedule_id": run.get("scheduleId") or schedule_id,
        "state": run.get("state"),
        "external_trigger": str(run.get("externalTrigger")).lower() == "true",
        "created": run.get("created"),
        "tasks": tasks,
    }


class AEPQueryFailedError(AEPError):
    """A query ended FAILED, KILLED or TIMEOUT. ``codes`` are Query Service's error codes (``53400``, ``42P01``),
    ``summary`` is :func:`query_summary` of the query."""

    def __init__(self, summary: Mapping[str, Any]) -> None:
        self.summary = dict(summary)
        self.query_id = summary.get("id")
        self.state = summary.get("state")
        self.codes = [str(e["code"]) for e in summary.get("errors") or [] if e.get("code")]
        super().__init__(f"query {self.query_id} ended {self.state}: {describe_errors(summary.get('errors') or [])}")


class AEPQueryServiceMismatchError(AEPError, ValueError):
    """A template or schedule with the requested name exists but differs in ``field``: reusing it would run
    another query than the one asked for."""

    def __init__(self, what: str, name: str, field: str, existing: Any, asked: Any) -> None:
        self.what, self.name, self.field, self.existing, self.asked = what, name, field, existing, asked
        super().__init__(
            f"{what} {name!r} exists with {field} {existing!r}, but {asked!r} was asked for; rename it or fix the input"
        )


__all__ = [
    "FAILED_RUN_STATES",
    "TERMINAL_QUERY_STATES",
    "AEPQueryFailedError",
    "AEPQueryServiceMismatchError",
    "Phase",
    "describe_errors",
    "link_id",
    "query_errors",
    "query_phase",
    "query_summary",
    "run_phase",
    "run_summary",
]

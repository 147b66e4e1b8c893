"""Incremental copy: which sample rows a run of a flow with a delta column reads, and changing sample rows.

A table source's dataflow names a delta column (the Copy transformation's ``deltaColumn``, or the one the
flow's first on-demand run sent), and each run copies the rows whose delta column falls in its window
``(start, end]``, as Adobe's CRM sources do:

* a run with a window (on-demand ``params.windowStartTime``/``windowEndTime``; a scheduled slot,
  ``(slot - period, slot]``) uses it, except that the first scheduled run of a flow whose ``backfill`` is not
  ``false`` starts with all history;
* any other run (a ``once`` flow's own first run, an on-demand run without a window) starts where the flow's
  previous run ended its window (all history for the first run) and ends when it starts copying.

So a second run right after the first copies nothing unless rows changed. :func:`touch` changes rows (the
control plane's ``POST /__emulator/sources/rows/touch``): it sets the delta column of a table's first ``rows``
sample rows to the emulator's now, so the next run copies them again. Flows without a delta column copy every
row on every run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..core.state import EmulatorState, Store
from ..data_prep.expressions.dates import EvaluationError, parse_any_date
from . import sources
from .models import controls

#: The format of a touched delta value when the sample value's own format is not recognised.
ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def delta_column(flow: Mapping[str, Any]) -> str | None:
    """The flow's delta column: its Copy transformation's ``deltaColumn.name``, else its first run's."""
    for transformation in flow.get("transformations") or []:
        params = transformation.get("params") if isinstance(transformation, Mapping) else None
        if transformation.get("name") == "Copy" and isinstance(params, Mapping):
            name = (params.get("deltaColumn") or {}).get("name")
            if isinstance(name, str) and name:
                return name
    named = flow.get("_run_delta_column")
    return named if isinstance(named, str) and named else None


def copy_window(
    flow: dict[str, Any], start_ms: int, window: tuple[int, int] | None, trigger: str
) -> tuple[int | None, int]:
    """The ``(start, end]`` (epoch ms; ``None``: all history) a new run of ``flow`` copies; moves the flow's
    watermark (``_copy_end``) to its end."""
    previous = flow.get("_copy_end")
    if window is None:
        chosen: tuple[int | None, int] = (previous, start_ms)
    elif trigger == "scheduled" and previous is None and str(flow_backfill(flow)).lower() != "false":
        chosen = (None, window[1])
    else:
        chosen = window
    flow["_copy_end"] = max(chosen[1], previous or chosen[1])
    return chosen


def flow_backfill(flow: Mapping[str, Any]) -> Any:
    return (flow.get("scheduleParams") or {}).get("backfill")


def _moment(value: Any) -> int | None:
    """A delta column value as epoch ms (``None`` when it is not a date)."""
    if not isinstance(value, str):
        return None
    try:
        return int(parse_any_date(value).timestamp() * 1000)
    except EvaluationError:
        return None


def _formatted(moment_ms: int, like: Any) -> str:
    """``moment_ms`` in the format of the sample value ``like`` (HubSpot's ``...Z``, Salesforce's ``.000+0000``)."""
    moment = dt.datetime.fromtimestamp(moment_ms / 1000, dt.timezone.utc)
    if isinstance(like, str) and like.endswith(".000+0000"):
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return moment.strftime(ISO_SECONDS)


def changed_rows(state: EmulatorState, source: sources.EmulatedSource, table: str) -> dict[int, int]:
    """``{row index: epoch ms}`` of the table's rows :func:`touch` changed since the last reset."""
    return dict(controls(state).row_changes.get((source.key, table), {}))


def rows_for_run(state: EmulatorState, store: Store, run: Mapping[str, Any], plan: Any, count: int) -> list[dict]:
    """The rows a run reads: the table's sample rows as last changed, those in the run's window only when
    the flow has a delta column, reduced to the source connection's columns."""
    source: sources.EmulatedSource | None = plan.source
    table = source.table_in(plan.params) if source is not None else None
    if source is None or table is None:
        return []
    flow = store["flows"].get(run["flowId"]) or {}
    delta = delta_column(flow)
    changes = changed_rows(state, source, table)
    rows = source.sample_rows(table, count)
    picked = []
    for index, row in enumerate(rows):
        moment = changes.get(index)
        if delta is not None and moment is not None:
            row[delta] = _formatted(moment, row.get(delta))
        else:
            moment = _moment(row.get(delta)) if delta is not None else None
        window = run.get("_copy_window")
        if delta is not None and window is not None and moment is not None:
            start, end = window
            if (start is not None and moment <= start) or moment > end:
                continue
        picked.append(row)
    selected = source.selected_columns(plan.params, table)
    return [{name: row.get(name) for name in selected} for row in picked]


def touch(state: EmulatorState, table_path: str, rows: int, source_key: str | None = None) -> dict[str, Any]:
    """Change the first ``rows`` sample rows of a table (an explore path such as ``Hubspot.Contacts``, or a
    Salesforce object): their delta column becomes the emulator's now, so the next run of a flow reading the
    table copies them. The clock first moves 1 ms, so the change is after every run that has started."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError("rows must be a positive integer")
    candidates = [s for s in sources.registered_sources() if source_key in (None, s.key)]
    found = [(s, s.table_of(table_path)) for s in candidates if s.table_of(table_path) is not None]
    if not found:
        known = sorted(path for s in candidates for path in s.table_paths())
        raise LookupError(f"no emulated table {table_path!r}; known tables: {known}")
    source, table = found[0]
    if source.delta_column is None or table is None:
        raise ValueError(f"source {source.key!r} has no delta column: every run copies every row")
    with state.lock:
        now_ms = int(state.clock.advance(0.001) * 1000)
        changes = controls(state).row_changes.setdefault((source.key, table), {})
        for index in range(rows):
            changes[index] = now_ms
        sample = source.sample_rows(table, rows)
    value = _formatted(now_ms, sample[0].get(source.delta_column)) if sample else None
    return {"source": source.key, "table": table_path, "rows": rows, "column": source.delta_column, "value": value}

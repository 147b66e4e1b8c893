"""``AEPDataflowRunEventTrigger``: an event trigger for ``AssetWatcher`` that announces AEP's own dataflow runs.

Dataflows scheduled inside AEP (``frequency`` minute/hour/...) run without Airflow. This trigger polls the
Flow Service for the runs of one dataflow (``flow_id``) or of every dataflow writing to a dataset
(``dataset_id``) and yields one ``TriggerEvent`` per run that has **newly finished**, so a DAG scheduled on
the watched asset starts each time fresh data has landed::

    Asset("aep-hubspot-contacts", watchers=[AssetWatcher(
        name="aep_contacts_runs", trigger=AEPDataflowRunEventTrigger(flow_id="..."))])

The event payload (``triggering_asset_events[asset][i].extra["payload"]``) is
:func:`~airflow_provider_aep.assets.run_event_extra` of the run (flow/run ids, status, records read,
written and failed, bytes, duration, batch id, error codes, sample-errors link) plus ``run``, the run
summary (:class:`~airflow_provider_aep.client.models.FlowRun` fields; error *codes* only, as messages can
quote source rows).

**Cursor.** Airflow restarts ``run()`` from scratch after a triggerer restart, so the trigger keeps a cursor:
a watermark (``createdAt`` in epoch ms) below which every run has been dealt with, and the ids of the
finished runs at or above it (less a look-back, for clock skew) that were already announced. Each poll lists the runs
created since the watermark (oldest first, all pages), announces finished runs not yet seen (in order of
completion), then moves the watermark up to the oldest run still in progress (or the newest run). Runs
that finish out of order (an hourly run that takes two hours) are therefore neither lost nor repeated.

Where the cursor lives:

* Airflow 3.3+: the asset state store (``self.asset_state_store``, key ``aep_run_cursor:<flow|dataset>:<id>``),
  written after every event, so a restarted triggerer resumes exactly where it stopped: no repeat and no loss,
  also for runs that finished while the triggerer was down.
* Airflow 3.0-3.2 (no state store), or when the store fails or the watcher's trigger is shared by several
  assets: a cursor in the triggerer process's memory. ``run()`` re-created in the same process resumes;
  a new triggerer process starts over from a **baseline**: the runs that have finished by then count as
  seen, so nothing is repeated, but runs that finished while no triggerer was running are not announced.
  Pass ``not_before`` (epoch seconds) to announce every run created since then on a fresh start instead.

The first start without a stored cursor takes the same baseline (``not_before`` aside): a new watcher
announces runs that finish from now on, not the flow's history. The cursor is saved right after the event is
handed to the triggerer; a crash between the two re-announces that one run (at least once), so consumers
that must not double-count should key on ``payload["run_id"]``.

Errors inside the loop (connection missing, AEP down, a malformed answer) are logged without secrets and
retried with back-off up to ``MAX_BACKOFF`` seconds; they never end the watcher.

The constructor does no I/O and keeps only deterministic JSON-safe kwargs (no secrets, no ``now()``):
Airflow identifies a watcher's trigger by the hash of its kwargs, re-computed at every DAG parse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_aep.assets import normalize_dataset_id, run_event_extra
from airflow_provider_aep.client.errors import Redactor
from airflow_provider_aep.client.http import property_filter
from airflow_provider_aep.client.models import FlowRun
from airflow_provider_aep.triggers.polling import serialized

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
    from airflow_provider_aep.client.config import AEPSettings

CURSOR_VERSION = 1
LOOKBACK_MS = 15 * 60 * 1000
"""Runs created up to this long before the watermark are listed again (their ids stay in ``seen``), so a run
whose ``createdAt`` is slightly older than a newer run's (clock skew, lazily materialised schedule slots)
is still found."""
STALE_PENDING_MS = 24 * 3600 * 1000
"""A run still unfinished this long after the newest run was created no longer holds the watermark down (a
stuck run would otherwise make every poll list everything since); if it ever finishes it is not announced."""
MAX_BACKOFF = 600.0
MAX_PAGES = 50

_MEMORY: dict[str, dict[str, Any]] = {}
"""Fallback cursors (no asset state store), per trigger identity, for ``run()`` re-created in this process."""


@dataclass
class RunCursor:
    """Watermark (epoch ms) + ids of the finished runs at or above ``watermark - LOOKBACK_MS`` already handled."""

    watermark: int = 0
    seen: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"version": CURSOR_VERSION, "watermark": self.watermark, "seen": sorted(self.seen)}

    @classmethod
    def from_json(cls, value: Any) -> RunCursor | None:
        """The cursor stored by this version, or None for anything else (then a new baseline is taken)."""
        if not isinstance(value, Mapping) or value.get("version") != CURSOR_VERSION:
            return None
        watermark, seen = value.get("watermark"), value.get("seen")
        if isinstance(watermark, bool) or not isinstance(watermark, int) or not isinstance(seen, list):
            return None
        return cls(watermark=watermark, seen={str(s) for s in seen})

    def unseen_finished(self, runs: Iterable[FlowRun]) -> list[FlowRun]:
        """Finished runs not handled yet, in the order they finished (then created)."""
        new = [r for r in runs if r.phase != "running" and r.id not in self.seen]
        return sorted(new, key=lambda r: (r.completed_at or r.created_at or 0, r.created_at or 0, r.id))

    def advance(self, runs: list[FlowRun]) -> None:
        """Move the watermark up to the oldest run still in progress (or the newest run) and prune ``seen``."""
        created = [r.created_at for r in runs if r.created_at is not None]
        if not created:
            return
        newest = max(created)
        pending = [
            r.created_at
            for r in runs
            if r.phase == "running" and r.created_at is not None and r.created_at >= newest - STALE_PENDING_MS
        ]
        self.watermark = max(self.watermark, min(pending) if pending else newest)
        floor = self.watermark - LOOKBACK_MS
        self.seen = {
            r.id for r in runs if r.phase != "running" and r.id in self.seen and (r.created_at or floor) >= floor
        }


def _summary(run: FlowRun) -> dict[str, Any]:
    summary = run.to_dict()
    summary["errors"] = [{"code": e.get("code", "")} for e in run.errors]  # messages can quote source rows
    return summary


class AEPDataflowRunEventTrigger(BaseEventTrigger):
    """Yield one event per newly finished run of ``flow_id``, or of every flow writing to ``dataset_id``.

    See the module docstring for the cursor and the Airflow-version fallback.

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param flow_id: the dataflow whose runs to announce (exactly one of ``flow_id`` and ``dataset_id``).
    :param dataset_id: announce the runs of every dataflow writing to this dataset (its Catalog id, 24 hex
        digits).
    :param poll_interval: seconds between polls; after a failed poll the wait doubles, up to ``MAX_BACKOFF``.
    :param include_failed: False announces successful runs only (partial runs, success with failed records,
        count as successful: read ``records_failed``).
    :param not_before: where to start when no cursor is stored (epoch seconds): every run created since then
        is announced. By default the watcher starts from the runs finished when it first starts.
    """

    def __init__(
        self,
        *,
        aep_conn_id: str = "aep_default",
        flow_id: str | None = None,
        dataset_id: str | None = None,
        poll_interval: float = 60.0,
        include_failed: bool = True,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        if bool(flow_id) == bool(dataset_id):
            raise ValueError("AEPDataflowRunEventTrigger needs exactly one of flow_id or dataset_id")
        self.aep_conn_id = aep_conn_id
        self.flow_id = flow_id or None
        self.dataset_id = normalize_dataset_id(dataset_id) if dataset_id else None
        self.poll_interval = max(float(poll_interval), 0.0)
        self.include_failed = bool(include_failed)
        self.not_before = float(not_before) if not_before is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self, "aep_conn_id", "flow_id", "dataset_id", "poll_interval", "include_failed", "not_before")

    @property
    def cursor_key(self) -> str:
        """State-store key: one asset may have several watchers, so the key names what is watched."""
        return f"aep_run_cursor:flow:{self.flow_id}" if self.flow_id else f"aep_run_cursor:dataset:{self.dataset_id}"

    @property
    def _memory_key(self) -> str:
        return f"{self.aep_conn_id}|{self.cursor_key}"

    # ------------------------------------------------------------------ cursor storage
    async def _load_cursor(self) -> RunCursor | None:
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            try:
                cursor = RunCursor.from_json(await store.aget(self.cursor_key))
                if cursor is not None:
                    self.log.info("AEP run watcher %s resumes at watermark %d", self.cursor_key, cursor.watermark)
                    return cursor
            except Exception as exc:  # e.g. several watched assets: no single accessor
                self.log.warning("Asset state store unavailable (%s); keeping the cursor in memory", exc)
        return RunCursor.from_json(_MEMORY.get(self._memory_key))

    async def _save_cursor(self, cursor: RunCursor) -> None:
        value = cursor.to_json()
        _MEMORY[self._memory_key] = value
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(self.cursor_key, value)
        except Exception as exc:
            self.log.warning("Could not save the AEP run cursor in the asset state store (%s)", exc)

    # ------------------------------------------------------------------ AEP reads
    async def _targets(self, client: AsyncFlowServiceClient) -> dict[str, str | None]:
        """``{flow id: target connection id writing to the dataset (None in flow mode)}``."""
        if self.flow_id:
            return {self.flow_id: None}
        assert self.dataset_id is not None
        dataset_filter = [property_filter("params.dataSetId", self.dataset_id)]
        connections = await client.list_resources("targetConnections", filters=dataset_filter, max_pages=MAX_PAGES)
        target_ids = [str(c["id"]) for c in connections if isinstance(c, Mapping) and c.get("id")]
        if not target_ids:
            return {}
        target_filter = ["targetConnectionIds[]==" + ",".join(target_ids)]
        flows = await client.list_resources("flows", filters=target_filter, max_pages=MAX_PAGES)
        found: dict[str, str | None] = {}
        for flow in flows:
            if not isinstance(flow, Mapping) or not flow.get("id"):
                continue
            targets = [t for t in flow.get("targetConnectionIds") or [] if t in target_ids]
            if targets:  # the server filter is not trusted
                found[str(flow["id"])] = targets[0]
        return found

    async def _runs(self, client: AsyncFlowServiceClient, flows: Iterable[str], since_ms: int) -> list[FlowRun]:
        flow_ids = sorted(set(flows))
        if not flow_ids:
            return []
        filters = ["flowId==" + ",".join(flow_ids), f"createdAt>={max(since_ms, 0)}"]
        items = await client.list_resources("runs", filters=filters, orderby="createdAt", max_pages=MAX_PAGES)
        runs = [FlowRun.from_api(item, url="/runs") for item in items]
        floor = None if self.not_before is None else self.not_before * 1000  # never announce runs before it
        # the server filter is not trusted
        return [r for r in runs if r.flow_id in flow_ids and (floor is None or (r.created_at or floor) >= floor)]

    async def _baseline(self, client: AsyncFlowServiceClient, flows: Iterable[str]) -> RunCursor:
        if self.not_before is not None:
            return RunCursor(watermark=int(self.not_before * 1000))
        flow_ids = sorted(set(flows))
        runs: list[FlowRun] = []
        if flow_ids:
            filters = ["flowId==" + ",".join(flow_ids)]
            # The newest page only: the runs finished by now count as seen.
            items = await client.list_resources("runs", filters=filters, orderby="-createdAt", max_pages=1)
            runs = [r for r in (FlowRun.from_api(i, url="/runs") for i in items) if r.flow_id in flow_ids]
        cursor = RunCursor(seen={r.id for r in runs if r.phase != "running"})
        cursor.advance(runs)
        self.log.info(
            "AEP run watcher %s starts after %d finished run(s), watermark %d",
            self.cursor_key,
            len(cursor.seen),
            cursor.watermark,
        )
        return cursor

    def _payload(self, run: FlowRun, settings: AEPSettings, target_connection_id: str | None) -> dict[str, Any]:
        summary = _summary(run)
        extra = run_event_extra(
            summary,
            sandbox=settings.sandbox_name,
            org_id=settings.org_id,
            dataset_id=self.dataset_id,
            target_connection_id=target_connection_id,
        )
        return {**extra, "run": summary}

    # ------------------------------------------------------------------ the loop
    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from airflow_provider_aep._compat import amask_secret
        from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        cursor = await self._load_cursor()
        client: AsyncFlowServiceClient | None = None
        settings: AEPSettings | None = None
        redact = Redactor()
        failures = 0
        runs: list[FlowRun] = []
        targets: dict[str, str | None] = {}
        try:
            while True:
                try:
                    if client is None or settings is None:
                        conn = await BaseHook.aget_connection(self.aep_conn_id)
                        settings = settings_from_connection(conn)
                        redact.add(settings.client_secret)
                        client = AsyncFlowServiceClient(settings, on_secret=amask_secret)
                        await client.__aenter__()
                        redact = client.redact
                    targets = await self._targets(client)
                    if cursor is None:
                        cursor = await self._baseline(client, targets)
                        await self._save_cursor(cursor)
                        runs = []
                    else:
                        runs = await self._runs(client, targets, cursor.watermark - LOOKBACK_MS)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # logged and retried: an exception would end the watcher
                    failures += 1
                    delay = min(max(self.poll_interval, 1.0) * 2 ** min(failures - 1, 10), MAX_BACKOFF)
                    self.log.warning(
                        "AEP run watcher %s: poll failed (%s: %s); retrying in %.0fs",
                        self.cursor_key,
                        type(exc).__name__,
                        redact(str(exc)),
                        delay,
                    )
                    if client is not None:
                        await _close(client)
                        client = None
                    await asyncio.sleep(delay if self.poll_interval else 0)
                    continue
                assert settings is not None
                for run in cursor.unseen_finished(runs):
                    cursor.seen.add(run.id)
                    if run.phase == "success" or self.include_failed:
                        self.log.info(
                            "AEP run %s of flow %s finished %s: announcing it", run.id, run.flow_id, run.status
                        )
                        yield TriggerEvent(self._payload(run, settings, targets.get(run.flow_id or "")))
                    await self._save_cursor(cursor)
                before = cursor.to_json()
                cursor.advance(runs)
                if cursor.to_json() != before:
                    await self._save_cursor(cursor)
                await asyncio.sleep(self.poll_interval)
        finally:
            if client is not None:
                await _close(client)


async def _close(client: AsyncFlowServiceClient) -> None:
    with contextlib.suppress(Exception):  # closing a broken transport must not hide the original error
        await client.aclose()


__all__ = ["AEPDataflowRunEventTrigger", "RunCursor"]

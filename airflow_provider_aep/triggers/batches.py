"""``AEPBatchTrigger``: waits in the triggerer for a batch to end (Catalog's status), without a worker slot.

Like :class:`~airflow_provider_aep.triggers.runs.AEPFlowRunTrigger` it carries only JSON-safe arguments (the
connection id, never a token), polls on a fixed grid, and cancels nothing in AEP on ``cleanup()``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.client.batches import batch_summary, batch_verdict
from airflow_provider_aep.client.errors import Redactor
from airflow_provider_aep.client.models import FAILED_RECORDS_POLICIES, FailedRecordsPolicy
from airflow_provider_aep.triggers.runs import EventStatus, next_poll_at, serialized

CATALOG_BATCHES = "/data/foundation/catalog/batches"


def batch_event(status: EventStatus, summary: dict[str, Any] | None, message: str) -> dict[str, Any]:
    """The one payload shape the batch operator's and sensor's ``execute_complete`` understand."""
    return {"status": status, "batch": summary, "message": message}


class AEPBatchTrigger(BaseTrigger):
    """Poll a batch (``GET /data/foundation/catalog/batches/{id}``) until it is terminal.

    Yields exactly one event ``{"status": "success"|"failed"|"timeout"|"error", "batch": summary|None,
    "message": str}`` (:func:`batch_event`).

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param batch_id: the batch to wait for.
    :param poll_interval: seconds between polls (the first is 0.5-1x as long, at random).
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    :param failed_records_policy: what a successful batch with failed records is: ``ignore`` or ``warn``
        (a ``success`` event) or ``fail`` (a ``failed`` event).
    """

    def __init__(
        self,
        *,
        aep_conn_id: str,
        batch_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        failed_records_policy: FailedRecordsPolicy = "warn",
    ) -> None:
        super().__init__()
        if not batch_id:
            raise ValueError("AEPBatchTrigger needs a batch_id")
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise ValueError(f"failed_records_policy must be one of {FAILED_RECORDS_POLICIES}")
        self.aep_conn_id = aep_conn_id
        self.batch_id = batch_id
        self.poll_interval = max(float(poll_interval), 0.0)
        self.deadline = float(deadline) if deadline is not None else None
        self.failed_records_policy = failed_records_policy

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self, "aep_conn_id", "batch_id", "poll_interval", "deadline", "failed_records_policy")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        payload = await self.watch()
        self.log.info("AEP batch watch ended: %s", payload["message"])
        yield TriggerEvent(payload)

    async def cleanup(self) -> None:
        """Deliberately cancels nothing: this also runs on triggerer restarts."""

    async def watch(self) -> dict[str, Any]:
        """Poll until the batch is terminal or the deadline passes; every failure becomes an ``error`` event."""
        from airflow.sdk import BaseHook

        from airflow_provider_aep._compat import amask_secret
        from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
        from airflow_provider_aep.client.catalog import keyed_objects
        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        redact = Redactor()
        summary: dict[str, Any] | None = None
        try:
            conn = await BaseHook.aget_connection(self.aep_conn_id)
            settings = settings_from_connection(conn)
            redact.add(settings.client_secret)
            async with AsyncFlowServiceClient(settings, on_secret=amask_secret) as client:
                redact = client.redact
                next_poll, first_poll, last_status = time.monotonic(), True, None
                while True:
                    resp = await client.request("GET", f"{CATALOG_BATCHES}/{self.batch_id}")
                    found = [b for b in keyed_objects(client.json(resp), url=str(resp.url)) if b["id"] == self.batch_id]
                    if not found:
                        return batch_event("error", None, f"Catalog does not know batch {self.batch_id}")
                    summary = batch_summary(found[0])
                    phase, message = batch_verdict(summary, self.failed_records_policy)
                    if summary["status"] != last_status:
                        self.log.info("AEP %s", message)
                        last_status = summary["status"]
                    if phase != "running":
                        return batch_event(phase, summary, message)
                    remaining = None if self.deadline is None else self.deadline - time.time()
                    if remaining is not None and remaining <= 0:
                        return batch_event("timeout", summary, f"Timed out waiting for AEP: {message}")
                    step = self.poll_interval * (random.uniform(0.5, 1.0) if first_poll else 1.0)
                    next_poll, first_poll = next_poll_at(next_poll, step, time.monotonic()), False
                    delay = next_poll - time.monotonic()
                    await asyncio.sleep(max(0.0, delay if remaining is None else min(delay, remaining)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an event, not a crash: the task reports it with context
            return batch_event("error", summary, redact(f"{type(exc).__name__}: {exc}"))


__all__ = ["AEPBatchTrigger", "batch_event"]

"""Triggers that wait in the triggerer for a Query Service query (``AEPQueryTrigger``) or a scheduled query's run
(``AEPScheduledQueryRunTrigger``) to end, without holding a worker slot.

They read through :class:`~airflow_provider_aep.client.async_flow_service.AsyncFlowServiceClient` (the
triggers' httpx client: same retries, token cache and redaction as the sync client), which takes full
``/data/foundation/query/...`` paths. Like ``AEPFlowRunTrigger`` they are stateless between polls and cancel
nothing in AEP: ``cleanup()`` also runs when a triggerer restarts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.client._query_records import query_phase, query_summary, run_phase, run_summary
from airflow_provider_aep.client.config import QUERY_SERVICE_PATH
from airflow_provider_aep.client.errors import Redactor
from airflow_provider_aep.triggers.runs import next_poll_at, serialized

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient


def query_event(status: str, message: str, **payload: Any) -> dict[str, Any]:
    """``{"status": success|failed|timeout|error, "message", ...}``: what the operators' ``execute_complete`` read."""
    return {"status": status, "message": message, **payload}


async def _get(client: AsyncFlowServiceClient, path: str) -> dict[str, Any]:
    resp = await client.request("GET", QUERY_SERVICE_PATH + path)
    body = client.json(resp)
    if not isinstance(body, Mapping) or not body.get("id"):
        raise ValueError(f"GET {path} answered no object with an 'id'")
    return dict(body)


class _QueryServiceWait(BaseTrigger):
    """Poll ``check()`` every ``poll_interval`` seconds until it returns an event or ``deadline`` passes."""

    def __init__(self, *, aep_conn_id: str, poll_interval: float = 30.0, deadline: float | None = None) -> None:
        super().__init__()
        self.aep_conn_id = aep_conn_id
        self.poll_interval = max(float(poll_interval), 0.0)
        self.deadline = float(deadline) if deadline is not None else None

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        raise NotImplementedError

    def waiting_for(self) -> str:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        payload = await self.watch()
        self.log.info("Query Service wait ended: %s", payload["message"])
        yield TriggerEvent(payload)

    async def cleanup(self) -> None:
        """Deliberately cancels nothing: this also runs when the triggerer restarts (``on_kill`` cancels)."""

    async def watch(self) -> dict[str, Any]:
        from airflow.sdk import BaseHook

        from airflow_provider_aep._compat import amask_secret
        from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        redact = Redactor()
        try:
            conn = await BaseHook.aget_connection(self.aep_conn_id)
            settings = settings_from_connection(conn)
            redact.add(settings.client_secret)
            async with AsyncFlowServiceClient(settings, on_secret=amask_secret) as client:
                redact = client.redact
                next_poll = time.monotonic()
                while True:
                    event = await self.check(client)
                    if event is not None:
                        return event
                    remaining = None if self.deadline is None else self.deadline - time.time()
                    if remaining is not None and remaining <= 0:
                        return query_event("timeout", f"Timed out waiting for {self.waiting_for()}")
                    next_poll = next_poll_at(next_poll, self.poll_interval, time.monotonic())
                    delay = next_poll - time.monotonic()
                    await asyncio.sleep(max(0.0, delay if remaining is None else min(delay, remaining)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an event, not a crash: the task reports it with context
            return query_event("error", redact(f"{type(exc).__name__}: {exc}"))


class AEPQueryTrigger(_QueryServiceWait):
    """Wait for a query to reach SUCCESS, FAILED, KILLED or TIMEOUT; yields one event with ``query``
    (:func:`~airflow_provider_aep.client._query_records.query_summary`).

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param query_id: the query to wait for.
    :param poll_interval: seconds between polls.
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    """

    def __init__(
        self, *, aep_conn_id: str, query_id: str, poll_interval: float = 30.0, deadline: float | None = None
    ) -> None:
        super().__init__(aep_conn_id=aep_conn_id, poll_interval=poll_interval, deadline=deadline)
        self.query_id = query_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self, "aep_conn_id", "query_id", "poll_interval", "deadline")

    def waiting_for(self) -> str:
        return f"query {self.query_id}"

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        summary = query_summary(await _get(client, f"/queries/{self.query_id}"))
        phase = query_phase(summary["state"])
        if phase == "running":
            return None
        return query_event(phase, f"query {self.query_id} ended {summary['state']}", query=summary)


class AEPScheduledQueryRunTrigger(_QueryServiceWait):
    """Wait for a run of a scheduled query to end (SUCCESS, or FAILED/KILLED/...); yields one event with ``run``.

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param schedule_id: the scheduled query.
    :param run_id: its run to wait for.
    :param poll_interval: seconds between polls.
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    """

    def __init__(
        self,
        *,
        aep_conn_id: str,
        schedule_id: str,
        run_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__(aep_conn_id=aep_conn_id, poll_interval=poll_interval, deadline=deadline)
        self.schedule_id = schedule_id
        self.run_id = run_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self, "aep_conn_id", "schedule_id", "run_id", "poll_interval", "deadline")

    def waiting_for(self) -> str:
        return f"run {self.run_id} of scheduled query {self.schedule_id}"

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        run = await _get(client, f"/schedules/{self.schedule_id}/runs/{self.run_id}")
        phase = run_phase(run.get("state"))
        if phase == "running":
            return None
        summary = run_summary(run, self.schedule_id)
        return query_event(phase, f"{self.waiting_for()} ended {run.get('state')}", run=summary)


__all__ = ["AEPQueryTrigger", "AEPScheduledQueryRunTrigger", "query_event"]

"""Triggers that wait in the triggerer for a Query Service query (``AEPQueryTrigger``) or a scheduled query's run
(``AEPScheduledQueryRunTrigger``) to end, without holding a worker slot.

They read through :class:`~airflow_provider_aep.client.async_flow_service.AsyncFlowServiceClient` (the
triggers' httpx client: same retries, token cache and redaction as the sync client), which takes full
``/data/foundation/query/...`` paths. The loop is :class:`~airflow_provider_aep.triggers.polling.AEPPollingTrigger`'s:
stateless between polls, nothing cancelled in AEP (``on_kill`` cancels a query).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client._query_records import query_phase, query_summary, run_phase, run_summary
from airflow_provider_aep.client.config import QUERY_SERVICE_PATH
from airflow_provider_aep.triggers.polling import AEPPollingTrigger, serialized

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


class AEPQueryTrigger(AEPPollingTrigger):
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

    async def on_kill(self) -> None:
        """Cancel the query when a user kills the deferred task (mark failed, clear): Airflow 3.3+ calls this;
        triggerer restarts do not. A query that already ended (409) is left as it is."""
        from airflow_provider_aep.client.errors import AEPAPIError, Redactor

        redact = Redactor()
        async with await self.connect(redact) as client:
            try:
                await client.request(
                    "PATCH", f"{QUERY_SERVICE_PATH}/queries/{self.query_id}", json_body={"op": "cancel"}
                )
            except AEPAPIError as err:
                if err.status != 409:
                    raise
                self.log.info("Query %s had already ended", self.query_id)
                return
        self.log.info("Cancelled query %s: its task was killed", self.query_id)

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        summary = query_summary(await _get(client, f"/queries/{self.query_id}"))
        phase = query_phase(summary["state"])
        if phase == "running":
            return None
        return query_event(phase, f"query {self.query_id} ended {summary['state']}", query=summary)


class AEPScheduledQueryRunTrigger(AEPPollingTrigger):
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

"""``AEPFlowRunTrigger``: waits in the triggerer for a dataflow run to end, without holding a worker slot.

The loop is :class:`~airflow_provider_aep.triggers.polling.AEPPollingTrigger`'s: JSON-safe arguments (the
connection id, never a token), polls on a fixed grid, nothing cancelled in AEP on ``cleanup()``; this module
adds what one poll of a run reads (a run id, or a flow's newest run) and the progress lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.models import (
    FAILED_RECORDS_POLICIES,
    FailedRecordsPolicy,
    FlowRun,
    run_not_before,
    run_verdict,
)
from airflow_provider_aep.triggers.polling import AEPPollingTrigger, EventStatus, serialized

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient


def run_event(status: EventStatus, run: FlowRun | None, message: str) -> dict[str, Any]:
    """The one payload shape the sensor's ``execute_complete`` understands."""
    return {"status": status, "run": run.to_dict() if run is not None else None, "message": message}


PROGRESS_EVERY = 60.0
"""Seconds between progress lines while nothing changes (a change of status is always logged)."""


@dataclass
class Progress:
    """Logs how a deferred wait is going: on every status change, else at most once per ``PROGRESS_EVERY``.

    A trigger may poll every few seconds for hours; a line per poll would flood the trigger log, none at
    all leaves a user staring at a deferred task without knowing whether AEP is moving.
    """

    started: float
    last_status: str | None = None
    last_logged: float = float("-inf")

    def report(self, log: Any, run: FlowRun | None) -> None:
        now = time.monotonic()
        status = run.status if run is not None else "not started"
        if status == self.last_status and now - self.last_logged < PROGRESS_EVERY:
            return
        elapsed = int(now - self.started)
        done = run is not None and run.phase != "running"
        records = ""
        if run is not None and run.output_records:
            records = f", {run.output_records} records" + ("" if done else " so far")
        log.info(
            "AEP run %s %s %s after %dm%02ds%s",
            run.id if run else "(none yet)",
            "ended" if done else "is",
            status,
            *divmod(elapsed, 60),
            records,
        )
        self.last_status, self.last_logged = status, now


class AEPFlowRunTrigger(AEPPollingTrigger):
    """Poll a run (``run_id``) or the newest run of a flow (``flow_id``) until it is terminal.

    Yields exactly one event ``{"status": "success"|"failed"|"timeout"|"error", "run": summary|None,
    "message": str}`` (:func:`run_event`).

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param flow_id: the dataflow whose newest run to wait for; with ``run_id``, the flow the run must belong to.
    :param run_id: the run to wait for.
    :param poll_interval: seconds between polls (the first is 0.5-1x as long, at random).
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    :param failed_records_policy: what a successful run with failed records is: ``ignore`` or ``warn``
        (a ``success`` event) or ``fail`` (a ``failed`` event).
    :param not_before: flow-id mode only: runs created before this (epoch seconds) are ignored.
    """

    end_line = "AEP run watch ended: %s"

    def __init__(
        self,
        *,
        aep_conn_id: str,
        flow_id: str | None = None,
        run_id: str | None = None,
        poll_interval: float = 60.0,
        deadline: float | None = None,
        failed_records_policy: FailedRecordsPolicy = "warn",
        not_before: float | None = None,
    ) -> None:
        if not flow_id and not run_id:
            raise ValueError("AEPFlowRunTrigger needs a flow_id or a run_id")
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise ValueError(f"failed_records_policy must be one of {FAILED_RECORDS_POLICIES}")
        super().__init__(aep_conn_id=aep_conn_id, poll_interval=poll_interval, deadline=deadline)
        self.flow_id = flow_id
        self.run_id = run_id
        self.failed_records_policy = failed_records_policy
        self.not_before = float(not_before) if not_before is not None else None
        self._run: FlowRun | None = None  # the last run polled: timeout and error events report it
        self._progress: Progress | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(
            self, "aep_conn_id", "flow_id", "run_id", "poll_interval", "deadline", "failed_records_policy", "not_before"
        )

    def waiting_for(self) -> str:
        run = self._run
        return "the AEP run: " + (f"run {run.id} is still {run.status}" if run else "no run has started")

    def event(self, status: EventStatus, message: str) -> dict[str, Any]:
        return run_event(status, self._run, message)

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        if self._progress is None:  # elapsed time counts from the first poll, once connected
            self._progress = Progress(started=time.monotonic())
        self._run = run = await self._poll(client)
        self._progress.report(self.log, run)
        if run is not None:
            phase, message = run_verdict(run, self.failed_records_policy)
            if phase == "success" or phase == "failed":
                return run_event(phase, run, message)
        return None

    async def _poll(self, client: AsyncFlowServiceClient) -> FlowRun | None:
        if self.run_id:
            run = await client.get_run(self.run_id)
            if self.flow_id and run.flow_id and run.flow_id != self.flow_id:
                raise ValueError(f"run {run.id} belongs to flow {run.flow_id}, not {self.flow_id}")
            return run
        return run_not_before(await client.latest_run(self.flow_id), self.not_before)  # type: ignore[arg-type]


__all__ = ["PROGRESS_EVERY", "AEPFlowRunTrigger", "Progress", "run_event"]

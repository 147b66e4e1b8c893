"""``AEPFlowRunTrigger``: waits in the triggerer for a dataflow run to end, without holding a worker slot.

The trigger is stateless between polls and only carries JSON-safe arguments, so a triggerer restart simply
starts polling again. It never cancels anything in AEP: ``cleanup()`` also runs on triggerer restarts.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.client.errors import Redactor
from airflow_provider_aep.client.models import (
    FAILED_RECORDS_POLICIES,
    FailedRecordsPolicy,
    FlowRun,
    run_not_before,
    run_verdict,
)

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient

EventStatus = Literal["success", "failed", "timeout", "error"]


def run_event(status: EventStatus, run: FlowRun | None, message: str) -> dict[str, Any]:
    """The one payload shape the sensor's ``execute_complete`` understands."""
    return {"status": status, "run": run.to_dict() if run is not None else None, "message": message}


def serialized(trigger: BaseTrigger, *arguments: str) -> tuple[str, dict[str, Any]]:
    """What a trigger's ``serialize()`` returns: its class path and the named constructor ``arguments``, read
    from its attributes of the same names, from which the triggerer builds it again."""
    cls = type(trigger)
    return f"{cls.__module__}.{cls.__qualname__}", {name: getattr(trigger, name) for name in arguments}


def next_poll_at(previous: float, interval: float, now: float) -> float:
    """The next tick of a fixed ``interval`` grid after the poll due at ``previous`` (monotonic seconds).

    Polls keep to the grid instead of sleeping ``interval`` after each answer, so a slow answer does not
    push every later poll back (with 0.4 s answers a 2 s interval became a 2.4 s period: 0.82 of the polls
    due). A poll whose answer came after the next tick skips the missed ticks rather than firing them
    back to back: never more than one poll per interval, however slow AEP is. (The trigger makes its
    first interval 0.5-1x long at random, so waits that start together do not poll in lockstep.)
    """
    following = previous + interval
    if following < now and interval > 0:
        following += math.ceil((now - following) / interval) * interval
    return following


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


class AEPFlowRunTrigger(BaseTrigger):
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
        super().__init__()
        if not flow_id and not run_id:
            raise ValueError("AEPFlowRunTrigger needs a flow_id or a run_id")
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise ValueError(f"failed_records_policy must be one of {FAILED_RECORDS_POLICIES}")
        self.aep_conn_id = aep_conn_id
        self.flow_id = flow_id
        self.run_id = run_id
        self.poll_interval = max(float(poll_interval), 0.0)
        self.deadline = float(deadline) if deadline is not None else None
        self.failed_records_policy = failed_records_policy
        self.not_before = float(not_before) if not_before is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(
            self, "aep_conn_id", "flow_id", "run_id", "poll_interval", "deadline", "failed_records_policy", "not_before"
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        payload = await self.watch()
        self.log.info("AEP run watch ended: %s", payload["message"])
        yield TriggerEvent(payload)

    async def cleanup(self) -> None:
        """Nothing to release, and deliberately nothing to cancel: this also runs on triggerer restarts."""

    async def watch(self) -> dict[str, Any]:
        """Poll until the run is terminal or the deadline passes; every failure becomes an ``error`` event."""
        from airflow.sdk import BaseHook

        from airflow_provider_aep._compat import amask_secret
        from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        redact = Redactor()
        run: FlowRun | None = None
        try:
            conn = await BaseHook.aget_connection(self.aep_conn_id)
            settings = settings_from_connection(conn)
            redact.add(settings.client_secret)
            async with AsyncFlowServiceClient(settings, on_secret=amask_secret) as client:
                redact = client.redact
                progress = Progress(started=time.monotonic())
                next_poll, first_poll = time.monotonic(), True
                while True:
                    run = await self._poll(client)
                    progress.report(self.log, run)
                    if run is not None:
                        phase, message = run_verdict(run, self.failed_records_policy)
                        if phase == "success" or phase == "failed":
                            return run_event(phase, run, message)
                    remaining = None if self.deadline is None else self.deadline - time.time()
                    if remaining is not None and remaining <= 0:
                        state = f"run {run.id} is still {run.status}" if run else "no run has started"
                        return run_event("timeout", run, f"Timed out waiting for the AEP run: {state}")
                    # The first interval is 0.5-1x long, at random: waits deferred together (a mapped task
                    # group) then poll spread over half an interval instead of all at the same instants.
                    step = self.poll_interval * (random.uniform(0.5, 1.0) if first_poll else 1.0)
                    next_poll, first_poll = next_poll_at(next_poll, step, time.monotonic()), False
                    delay = next_poll - time.monotonic()
                    await asyncio.sleep(max(0.0, delay if remaining is None else min(delay, remaining)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an event, not a crash: the task reports it with context
            return run_event("error", run, redact(f"{type(exc).__name__}: {exc}"))

    async def _poll(self, client: AsyncFlowServiceClient) -> FlowRun | None:
        if self.run_id:
            run = await client.get_run(self.run_id)
            if self.flow_id and run.flow_id and run.flow_id != self.flow_id:
                raise ValueError(f"run {run.id} belongs to flow {run.flow_id}, not {self.flow_id}")
            return run
        return run_not_before(await client.latest_run(self.flow_id), self.not_before)  # type: ignore[arg-type]

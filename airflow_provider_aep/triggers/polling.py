"""``AEPPollingTrigger``: the shared loop of the triggers that wait for one AEP job to end (a dataflow run, a
batch, a query, a scheduled query's run): poll on a fixed grid until the job ends, the deadline passes or
something fails, and yield exactly one event.

Subclasses say what one poll reads and what it concludes (:meth:`~AEPPollingTrigger.check`). They carry only
JSON-safe arguments (the connection id, never a token), so a triggerer restart simply polls again, and they
cancel nothing in AEP on ``cleanup()``, which also runs on triggerer restarts.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.client.errors import Redactor

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient

EventStatus = Literal["success", "failed", "timeout", "error"]


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


def serialized(trigger: BaseTrigger, *arguments: str) -> tuple[str, dict[str, Any]]:
    """What a trigger's ``serialize()`` returns: its class path and the named constructor ``arguments``, read
    from its attributes of the same names, from which the triggerer builds it again."""
    cls = type(trigger)
    return f"{cls.__module__}.{cls.__qualname__}", {name: getattr(trigger, name) for name in arguments}


class AEPPollingTrigger(BaseTrigger):
    """Poll :meth:`check` every ``poll_interval`` seconds until it returns an event.

    Every event is ``{"status": "success"|"failed"|"timeout"|"error", "message": str, ...}`` (:meth:`event` adds
    what the subclass last saw). The first interval is 0.5-1x long, at random, so waits deferred together (a
    mapped task) do not poll in lockstep.

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param poll_interval: seconds between polls.
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    """

    end_line = "AEP wait ended: %s"
    """The trigger log's last line (``%s``: the event's message); a subclass keeps the wording its users'
    log searches already look for."""

    def __init__(self, *, aep_conn_id: str, poll_interval: float = 30.0, deadline: float | None = None) -> None:
        super().__init__()
        self.aep_conn_id = aep_conn_id
        self.poll_interval = max(float(poll_interval), 0.0)
        self.deadline = float(deadline) if deadline is not None else None

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        """One poll: the final event when the job has ended, else None."""
        raise NotImplementedError

    def waiting_for(self) -> str:
        """What is waited for, for the timeout message (``batch 01H...``)."""
        raise NotImplementedError

    def event(self, status: EventStatus, message: str) -> dict[str, Any]:
        """A ``timeout`` or ``error`` event, with whatever the subclass last saw of the job."""
        return {"status": status, "message": message}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        payload = await self.watch()
        self.log.info(self.end_line, payload["message"])
        yield TriggerEvent(payload)

    async def cleanup(self) -> None:
        """Deliberately cancels nothing: this also runs when the triggerer restarts."""

    async def connect(self, redact: Redactor) -> AsyncFlowServiceClient:
        """A client for the trigger's connection (read without blocking the loop); ``redact`` learns its secret."""
        from airflow.sdk import BaseHook

        from airflow_provider_aep._compat import amask_secret
        from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        conn = await BaseHook.aget_connection(self.aep_conn_id)
        settings = settings_from_connection(conn)
        redact.add(settings.client_secret)
        return AsyncFlowServiceClient(settings, on_secret=amask_secret)

    async def watch(self) -> dict[str, Any]:
        """Poll until the job ends or the deadline passes; every failure becomes an ``error`` event."""
        redact = Redactor()
        try:
            async with await self.connect(redact) as client:
                redact = client.redact
                next_poll, first_poll = time.monotonic(), True
                while True:
                    event = await self.check(client)
                    if event is not None:
                        return event
                    remaining = None if self.deadline is None else self.deadline - time.time()
                    if remaining is not None and remaining <= 0:
                        return self.event("timeout", f"Timed out waiting for {self.waiting_for()}")
                    # Jitter only the first interval: waits deferred together then stay spread out on the grid.
                    step = self.poll_interval * (random.uniform(0.5, 1.0) if first_poll else 1.0)
                    next_poll, first_poll = next_poll_at(next_poll, step, time.monotonic()), False
                    delay = next_poll - time.monotonic()
                    await asyncio.sleep(max(0.0, delay if remaining is None else min(delay, remaining)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an event, not a crash: the task reports it with context
            return self.event("error", redact(f"{type(exc).__name__}: {exc}"))


__all__ = ["AEPPollingTrigger", "EventStatus", "next_poll_at", "serialized"]

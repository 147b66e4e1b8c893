"""DAG runs of a trial: one (:func:`run_one`), or 2-3 at once (:func:`run_concurrently`) that onboard the same
connection and tables, their creates overlapping for real (``tests/reliability/trials.py`` tells how).
"""

from __future__ import annotations

import math
import threading
from typing import Any

from tests.reliability.audit import NATURAL_KEYS, owner_run
from tests.reliability.pipeline import PipelineResult, run_onboarding
from tests.reliability.plan import HOLD_TASKS, TrialPlan

CONCURRENT_CONN_ID = "aep_concurrent"
CONCURRENT_READ_TIMEOUT = 2.0
GUARD = 300.0
"""Seconds after which a barrier or rendezvous that never completes fails the trial (a deadlock guard only:
nothing waits on it in a trial that works)."""


class Rendezvous:
    """Where concurrent DAG runs meet before a teardown: a run that tears down waits at a point (a table's map
    index, or ``BASE_TEARDOWN_POINT``) until every other run has reached it or ended, i.e. has finished that
    table's work (every table's, before the base connection). Points only grow, and only runs that tear down
    wait, on runs that do not wait on them: it cannot deadlock (``GUARD`` only turns a bug into a failure)."""

    def __init__(self, runs: int) -> None:
        self._at: dict[int, float] = dict.fromkeys(range(runs), -1.0)
        self._cond = threading.Condition()

    def arrive(self, run: int, point: int, *, wait: bool) -> None:
        with self._cond:
            self._at[run] = point
            self._cond.notify_all()
            if wait and not self._cond.wait_for(lambda: min(self._at.values()) >= point, timeout=GUARD):
                raise AssertionError(f"run {run} waited for the others at teardown point {point}: {self._at}")

    def leave(self, run: int) -> None:
        with self._cond:
            self._at[run] = math.inf
            self._cond.notify_all()


class OwnerLedger:
    """The owner (run id) of every resource seen in the emulator's state before a teardown: what the audit
    compares a teardown's deletes with."""

    def __init__(self, control: Any) -> None:
        self.control = control
        self.owners: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def see(self) -> None:
        state = self.control.state()
        with self._lock:
            for collection in NATURAL_KEYS:
                for item in state.get(collection, []):
                    self.owners[item["id"]] = owner_run(item)


def run_one(
    plan: TrialPlan, k: int, ledger: OwnerLedger, *, conn_id: str | None = None, **kwargs: Any
) -> PipelineResult:
    """DAG run ``k`` of the trial (with its teardown, if it is one that tears down)."""
    teardown = k in plan.teardown_runs
    see = kwargs.pop("teardown_point", None)

    def point(at: int) -> None:
        if see is not None:
            see(at)
        if teardown:
            ledger.see()  # who owns what, just before this teardown deletes anything

    return run_onboarding(
        connection_name=plan.connection_name,
        tables=plan.tables,
        retries=3,
        run_id=plan.run_ids[k],
        teardown=teardown,
        teardown_data=plan.teardown_data,
        teardown_point=point,
        aep_conn_id=conn_id,
        **kwargs,
    )


def run_concurrently(control: Any, plan: TrialPlan, ledger: OwnerLedger) -> list[PipelineResult]:
    """``plan.runs`` DAG runs at once; their POSTs of ``plan.hold_path`` are held by the emulator until all are in
    flight, and only then are the trial's faults added (so none of the runs can fail before sending it)."""
    assert plan.hold_path is not None
    hold = control.add_fault(method="POST", path=plan.hold_path, action="hold", count=plan.runs)
    hold_task = HOLD_TASKS[plan.hold_path]
    start = threading.Barrier(plan.runs)  # every run starts the held task at once: their POSTs come together
    meet = Rendezvous(plan.runs)
    results: list[PipelineResult | None] = [None] * plan.runs
    errors: list[BaseException] = []

    def before(task: str) -> None:
        if task == hold_task:
            start.wait(timeout=GUARD)

    def work(k: int) -> None:
        try:
            results[k] = run_one(
                plan,
                k,
                ledger,
                conn_id=CONCURRENT_CONN_ID,
                between_tasks=before,
                teardown_point=lambda at: meet.arrive(k, at, wait=k in plan.teardown_runs),
            )
        except BaseException as err:  # a bug, not a task failure (run_onboarding returns those)
            errors.append(err)
            start.abort()
        finally:
            meet.leave(k)

    threads = [threading.Thread(target=work, args=(k,), name=f"dag-run-{k}") for k in range(plan.runs)]
    for thread in threads:
        thread.start()
    try:
        control.wait_held(hold, plan.runs, timeout=GUARD)
        for fault in plan.faults:
            fault.id = control.add_fault(method=fault.method, path=fault.path, **fault.rule)
    finally:
        control.release(hold)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]

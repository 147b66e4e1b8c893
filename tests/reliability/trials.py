"""Randomized fault trials of the onboarding pipeline against the emulator: plan, inject, check, count.

The plan of a trial (its tables, its fault rules and their kinds) is drawn in ``tests/reliability/plan.py``, its
DAG runs are started by ``tests/reliability/concurrent.py`` and what they leave is judged by
``tests/reliability/audit.py``; this module runs trials, clears their failed DAG runs and counts.

After the pipeline, every faulted request that was still sleeping in the emulator is awaited (by polling
the journal), then the emulator's resources are compared with what the pipeline reported: exactly one base
connection and, per table, one field group, schema, dataset, mapping set, source connection, target
connection and dataflow, linked to each other (the schema holds the field group, the dataset and the mapping
set are for the schema, the target connection writes to the dataset, the dataflow uses the mapping set, ...).
Anything else is a duplicate (same natural key twice: title, name, or name + spec), an orphan (not referenced
by the pipeline: half-created and unexplained) or an inconsistency. A trial that failed is then "cleared"
like a DAG run: run again without faults, after which the same must hold.

Ownership and concurrency (issue 20). Some trials tear down (``run_onboarding(teardown=True)``, the task group's
teardown tasks, with ``teardown_data`` in about half of them); a failed one is cleared with its teardown again,
as clearing a DAG run reruns its teardown tasks. Other trials are *concurrent*: 2-3 DAG runs (threads, each its
own ``run_id``) onboard the same connection name and tables at once. Their creates overlap for real: every run
waits at the same task (a barrier), and the emulator holds their POSTs of that create (``hold`` rule, first in
line) until all of them are in flight (``wait_held``); only then are the trial's faults added and the POSTs
released, so the faults hit the rest of the runs. In half of the concurrent trials one of the runs tears down;
its teardown of a table waits (:class:`Rendezvous`) until every other run has finished that table's work, as a
teardown would only ever meet runs whose tasks no longer change what they use. Concurrent runs use the
``aep_concurrent`` connection (read timeout :data:`CONCURRENT_READ_TIMEOUT`), so a hold is never long enough to
time a client out on a loaded machine; there the ``read_timeout`` and ``slow_commit`` kinds are slow answers.

:func:`audit.resource_audit` defines what is counted after every run of a trial has ended: duplicates left, orphans,
owned resources a teardown left, missing resources and broken links (see its docstring).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep.client.errors import AEPAPIError, AEPError, AEPTransportError
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from tests.reliability.audit import committed_creates, deleted_by_journal, resource_audit
from tests.reliability.concurrent import OwnerLedger, run_concurrently, run_one
from tests.reliability.pipeline import PipelineResult, run_onboarding
from tests.reliability.plan import PlannedFault, TrialPlan, service_of

LAND_DEADLINE = 10.0


class ClientLogCounter(logging.Handler):
    """Counts what the client logs when it retries, refreshes a token, reconciles a create or reuses one."""

    PATTERNS = {
        "client_retries": "Attempt %d failed",
        "token_refreshes_after_401": "AEP answered 401",
        "reconciled_creates": "The earlier create of",
        "title_clashes_resolved": "%s %r already exists",
        "reconcile_timeouts": "appeared in",
        "reused_existing": "Reusing existing",
        "convergence_losers_deleted": "%s %s lost a race",
        "convergence_losers_kept": "%s %s duplicates",
    }

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()
        #: Creates found by the lookup after an ambiguous failure, by collection (``dataSets``, ``schemas``...).
        self.reconciled: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = str(record.msg)
        for name, pattern in self.PATTERNS.items():  # (several threads log here at once in concurrent trials)
            if msg.startswith(pattern) or (pattern == "appeared in" and pattern in msg):
                self.counts[name] += 1
                if name == "reconciled_creates" and record.args:
                    self.reconciled[str(record.args[0])] += 1


def clear_failure(error: BaseException) -> str | None:
    """Why ``error`` would NOT be a clear failure for an Airflow user, or None if it is clear.

    Clear means: a typed provider/Airflow exception whose message names what failed (the HTTP method and
    URL with the status for API errors, the method and URL for transport errors).
    """
    if not isinstance(error, (AEPError, AirflowException)):
        return f"untyped {type(error).__name__}"
    text = str(error)
    if isinstance(error, AEPAPIError):
        if error.method not in text or "/" not in text or f"HTTP {error.status}" not in text:
            return f"API error message lacks method/URL/status: {text!r}"
    elif isinstance(error, AEPTransportError):
        if error.method not in text or "no response" not in text:
            return f"transport error message lacks method or cause: {text!r}"
    elif len(text) < 20:
        return f"message too short: {text!r}"
    return None


def wait_until_landed(control: Any, planned: list[PlannedFault]) -> None:
    """Wait (polling, bounded) until every request a latency rule delayed has been handled by the emulator."""
    slow = [f for f in planned if f.rule.get("latency")]
    if not slow:
        return
    deadline = time.monotonic() + LAND_DEADLINE
    while True:
        live = {r["id"]: r["hits"] for r in control.faults()}
        taken = {f.id: live.get(f.id, f.rule["count"]) for f in slow}
        journal = Counter(e["fault"] for e in control.journal() if e["fault"])
        if all(journal[fid] >= hits for fid, hits in taken.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"delayed requests never landed: taken {taken}, journaled {dict(journal)}")
        time.sleep(0.05)


@dataclass
class TrialOutcome:
    plan: TrialPlan
    ok: bool
    failure: str | None = None
    failed_task: str | None = None
    unclear: str | None = None
    recovered: bool | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    faults_by_kind: Counter = field(default_factory=Counter)
    faults_by_service: Counter = field(default_factory=Counter)
    emulator_faults: Counter = field(default_factory=Counter)
    client: Counter = field(default_factory=Counter)
    reconciled: Counter = field(default_factory=Counter)
    task_retries: int = 0
    failed_tries: Counter = field(default_factory=Counter)
    false_mismatches: list[str] = field(default_factory=list)
    requests: int = 0
    runs_per_flow: list[int] = field(default_factory=list)
    on_demand_runs_per_flow: list[int] = field(default_factory=list)
    extra_runs: list[dict[str, Any]] = field(default_factory=list)
    runs_not_successful: list[str] = field(default_factory=list)
    records_landed: int = 0
    patches: int = 0
    seconds: float = 0.0
    dag_runs: int = 0
    duplicates_before_convergence: int = 0
    teardown_deleted: int = 0
    teardown_left: int = 0
    deleted_by_journal: dict[str, set[str]] = field(default_factory=dict)


def _try_key(task: str, error: BaseException) -> str:
    status = getattr(error, "status", None)
    return f"{task.split('[')[0]}: {type(error).__name__}" + (f" {status}" if status else "")


class _Counted:
    """The client's log counted into ``outcome`` while the pipeline runs (one counter for every thread)."""

    def __init__(self, outcome: TrialOutcome) -> None:
        self.outcome = outcome
        self.counter = ClientLogCounter()
        self.log = logging.getLogger("airflow_provider_aep.client")

    def __enter__(self) -> _Counted:
        self.log.addHandler(self.counter)
        self.previous_level = self.log.level
        self.log.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.removeHandler(self.counter)
        self.log.setLevel(self.previous_level)
        self.outcome.client.update(self.counter.counts)
        self.outcome.reconciled.update(self.counter.reconciled)


def _record(outcome: TrialOutcome, result: PipelineResult) -> None:
    outcome.dag_runs += 1
    outcome.task_retries += result.task_retries
    outcome.failed_tries.update(_try_key(t.task, t.error) for t in result.failed_tries)
    # A reuse check that refuses the pipeline's own resource under a transient fault is a provider bug.
    outcome.false_mismatches += [
        t.describe()
        for t in result.failed_tries
        if isinstance(t.error, (AEPResourceMismatchError, AEPInvalidArgumentError))
    ]
    outcome.teardown_deleted += sum(1 for deleted in result.teardown_results.values() if deleted)
    outcome.teardown_left += sum(1 for deleted in result.teardown_results.values() if not deleted)


def _phase_figures(outcome: TrialOutcome, journal: list[dict[str, Any]], plan: TrialPlan) -> None:
    """What one phase's journal says: duplicates before convergence, and the deletes it answered."""
    made = committed_creates(journal, plan.faults)
    outcome.duplicates_before_convergence += sum(n - 1 for n in made.values() if n > 1)
    for collection, ids in deleted_by_journal(journal).items():
        outcome.deleted_by_journal.setdefault(collection, set()).update(ids)


def run_trial(emulator: Any, plan: TrialPlan) -> TrialOutcome:
    """Reset the emulator, inject ``plan``'s faults, run the pipeline (or several at once), wait for
    stragglers, clear the failed DAG runs and audit."""
    from airflow_provider_aep.client.auth import TOKENS
    from airflow_provider_aep.client.schema_registry import TENANTS

    control = emulator.control
    control.reset()
    TOKENS.clear()  # the reset forgot every token; a real worker would meet a 401 and refresh
    TENANTS.clear()  # a new worker process looks the tenant id up again (GET /stats)
    control.configure(run_start_delay=0.0, run_duration=0.0)
    started = time.monotonic()
    outcome = TrialOutcome(plan=plan, ok=False)
    ledger = OwnerLedger(control)
    earlier = None
    if plan.rerun:  # an earlier DAG run onboarded the tables; its requests are not this trial's
        earlier = run_onboarding(
            connection_name=plan.connection_name, tables=plan.tables, retries=0, run_id=f"trial_{plan.seed}_earlier"
        )
        assert earlier.ok, earlier.failure
        control.clear_journal()

    with _Counted(outcome):
        if plan.concurrent:
            results = run_concurrently(control, plan, ledger)
        else:
            for fault in plan.faults:
                fault.id = control.add_fault(method=fault.method, path=fault.path, **fault.rule)
            results = [run_one(plan, 0, ledger)]
        wait_until_landed(control, plan.faults)
    for result in results:
        _record(outcome, result)
    outcome.ok = all(r.ok for r in results)

    def audit() -> dict[str, Any]:
        """The emulator's state against what the DAG runs of this trial (``results``, as they are now) made."""
        return resource_audit(
            control.state(),
            results[0],
            plan.tables,
            plan.connection_name,
            earlier=earlier,
            others=results[1:],
            owners_seen=ledger.owners,
            deleted_elsewhere=outcome.deleted_by_journal,
        )

    by_id = {f.id: f for f in plan.faults}
    journal = control.journal()
    outcome.faults_by_kind = Counter(by_id[e["fault"]].kind for e in journal if e["fault"] in by_id)
    outcome.faults_by_service = Counter(service_of(e["path"]) for e in journal if e["fault"] in by_id)
    outcome.emulator_faults = Counter(control.stats()["faults_injected"])
    outcome.requests = len(journal)
    outcome.patches = sum(1 for e in journal if e["method"] == "PATCH")
    _phase_figures(outcome, journal, plan)

    failed = [k for k, r in enumerate(results) if not r.ok]
    if failed:
        first = results[failed[0]]
        assert first.failure is not None
        outcome.failure = f"{type(first.failure.error).__name__}: {first.failure.error}"
        outcome.failed_task = first.failure.task
        unclear = [clear_failure(failure.error) for k in failed if (failure := results[k].failure) is not None]
        outcome.unclear = next((u for u in unclear if u is not None), None)
        before = audit()
        # Clear each failed DAG run: the same pipeline again (same run id, same teardown), without faults, must
        # finish and reuse what exists (what it owns included: its teardown then deletes it).
        control.clear_faults()
        control.clear_journal()
        with _Counted(outcome):
            for k in failed:
                results[k] = run_one(plan, k, ledger)
                _record(outcome, results[k])
        journal = control.journal()
        outcome.requests += len(journal)
        outcome.patches += sum(1 for e in journal if e["method"] == "PATCH")
        _phase_figures(outcome, journal, plan)
        outcome.recovered = all(results[k].ok for k in failed)
        outcome.audit["duplicates_before_recovery"] = before["duplicates"]
        outcome.audit["unreferenced_before_recovery"] = before["orphans"]
        outcome.audit["owned_left_before_recovery"] = before["owned_left"]
        outcome.audit["before_recovery_detail"] = before["detail"]
    outcome.audit.update(audit())
    # The first run of a new `once` flow has no params (its schedule started it); on-demand runs carry params.
    runs = control.state()["runs"]
    every = Counter(r["flowId"] for r in runs if r.get("flowId"))
    on_demand = Counter(r["flowId"] for r in runs if r.get("flowId") and r.get("params"))
    flows = {f for result in results for f in result.flow_ids.values()}
    outcome.runs_per_flow = [every[f] for f in flows]
    outcome.on_demand_runs_per_flow = [on_demand[f] for f in flows]
    if not plan.concurrent:  # concurrent runs share a flow: each takes a run of its own (the creator adopts its first)
        wanted_runs = 2 if plan.rerun else 1  # the flow's own first run (adopted), plus one per later DAG run
        result = results[0]
        for path, flow in result.flow_ids.items():
            if every[flow] > wanted_runs:
                outcome.extra_runs.append(
                    {"table": path, "runs": every[flow], "created_flag": result.flows_created.get(path)}
                )
    for result in results:
        for path, run in result.runs.items():
            outcome.records_landed += int(run.get("output_records") or 0)
            if run.get("status") != "success":
                outcome.runs_not_successful.append(f"{result.run_id} {path}: {run.get('status')}")
    outcome.seconds = time.monotonic() - started
    return outcome


def summarize(outcomes: list[TrialOutcome], *, seed: int, seconds: float) -> dict[str, Any]:
    """The figures that go into docs/reliability.md."""
    faults: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    emulator_faults: Counter[str] = Counter()
    client: Counter[str] = Counter()
    reconciled: Counter[str] = Counter()
    planned: Counter[str] = Counter()
    planned_services: Counter[str] = Counter()
    for o in outcomes:
        faults.update(o.faults_by_kind)
        by_service.update(o.faults_by_service)
        emulator_faults.update(o.emulator_faults)
        client.update(o.client)
        reconciled.update(o.reconciled)
        planned.update(f.kind for f in o.plan.faults)
        planned_services.update(service_of(f.path) for f in o.plan.faults)
    failed = [o for o in outcomes if not o.ok]
    failed_tries: Counter[str] = Counter()
    for o in outcomes:
        failed_tries.update(o.failed_tries)
    durations = sorted(o.seconds for o in outcomes)
    green = [o for o in outcomes if o.ok]
    return {
        "seed": seed,
        "trials": len(outcomes),
        "outcomes": {
            "green": len(green),
            "failed_clearly": sum(1 for o in failed if o.unclear is None),
            "failed_unclearly": sum(1 for o in failed if o.unclear is not None),
            "green_after_clearing_the_failed_run": sum(1 for o in failed if o.recovered),
            "failed_without_a_persistent_fault": sum(
                1 for o in failed if not any(f.kind == "persistent_5xx" for f in o.plan.faults)
            ),
        },
        "tables_per_trial": dict(sorted(Counter(len(o.plan.tables) for o in outcomes).items())),
        "reruns_over_existing_resources": sum(o.plan.rerun for o in outcomes),
        "ownership_and_concurrency": {
            "trials_with_teardown": sum(o.plan.teardown for o in outcomes),
            "of_which_with_teardown_data": sum(o.plan.teardown_data for o in outcomes),
            "of_which_concurrent": sum(o.plan.teardown and o.plan.concurrent for o in outcomes),
            "concurrent_trials": sum(o.plan.concurrent for o in outcomes),
            "concurrent_trials_by_runs": dict(
                sorted(Counter(o.plan.runs for o in outcomes if o.plan.concurrent).items())
            ),
            "held_creates_by_collection": dict(
                sorted(Counter(o.plan.hold_path.rsplit("/", 1)[-1] for o in outcomes if o.plan.hold_path).items())
            ),
            "dag_runs": sum(o.dag_runs for o in outcomes),
            "duplicates_before_convergence": sum(o.duplicates_before_convergence for o in outcomes),
            "convergence_losers_deleted": client["convergence_losers_deleted"],
            "convergence_losers_kept_mapping_sets": client["convergence_losers_kept"],
            "duplicates_left": sum(o.audit.get("duplicates", 0) for o in outcomes),
            "mapping_set_losers_left_unreferenced": sum(o.audit.get("mapping_set_losers", 0) for o in outcomes),
            "orphans": sum(o.audit.get("orphans", 0) for o in outcomes),
            "owned_left_after_teardown": sum(o.audit.get("owned_left", 0) for o in outcomes),
            "owned_left_after_a_failed_run_teardown_before_clearing": sum(
                o.audit.get("owned_left_before_recovery", 0) for o in outcomes
            ),
            "mapping_sets_left_by_teardown_no_delete_in_data_prep": sum(
                o.audit.get("mapping_sets_left_by_teardown", 0) for o in outcomes
            ),
            "teardown_deletes": sum(o.teardown_deleted for o in outcomes),
            "teardown_tasks_that_left_their_resource": sum(o.teardown_left for o in outcomes),
            "deleted_by_a_teardown_not_its_own": sum(o.audit.get("deleted_not_owned", 0) for o in outcomes),
        },
        "fault_rules_planned_by_kind": dict(sorted(planned.items())),
        "fault_rules_planned_by_service": dict(sorted(planned_services.items())),
        "faults_injected_by_kind": dict(sorted(faults.items())),
        "faults_injected_by_service": dict(sorted(by_service.items())),
        "faults_injected_total": sum(faults.values()),
        "emulator_stats_faults_injected": dict(sorted(emulator_faults.items())),
        "requests_seen_by_emulator": sum(o.requests for o in outcomes),
        "client_retries": client["client_retries"],
        "token_refreshes_after_401": client["token_refreshes_after_401"],
        "creates_reconciled_by_lookup": client["reconciled_creates"],
        "creates_reconciled_by_lookup_by_collection": dict(sorted(reconciled.items())),
        "schema_registry_title_clashes_resolved": client["title_clashes_resolved"],
        "existing_resources_reused": client["reused_existing"],
        "reconcile_windows_expired_then_resent": client["reconcile_timeouts"],
        "task_retries": sum(o.task_retries for o in outcomes),
        "failed_task_tries_by_task_and_error": dict(failed_tries.most_common()),
        "duplicates": sum(o.audit.get("duplicates", 0) for o in outcomes),
        "duplicates_before_recovery": sum(o.audit.get("duplicates_before_recovery", 0) for o in outcomes),
        "unreferenced_after_a_failed_run_adopted_by_clearing": sum(
            o.audit.get("unreferenced_before_recovery", 0) for o in outcomes
        ),
        "orphans": sum(o.audit.get("orphans", 0) for o in outcomes),
        "missing": sum(o.audit.get("missing", 0) for o in outcomes),
        "inconsistent": sum(o.audit.get("inconsistent", 0) for o in outcomes),
        "false_mismatches": sum(len(o.false_mismatches) for o in outcomes),
        "runs_per_flow": dict(sorted(Counter(n for o in outcomes for n in o.runs_per_flow).items())),
        "runs_per_flow_in_green_first_runs": dict(
            sorted(Counter(n for o in green if not o.plan.rerun for n in o.runs_per_flow).items())
        ),
        "runs_per_flow_in_green_reruns": dict(
            sorted(Counter(n for o in green if o.plan.rerun for n in o.runs_per_flow).items())
        ),
        "patch_requests": sum(o.patches for o in outcomes),
        "on_demand_runs_per_flow": dict(
            sorted(Counter(n for o in outcomes for n in o.on_demand_runs_per_flow).items())
        ),
        "records_landed": sum(o.records_landed for o in outcomes),
        "seconds_total": round(seconds, 2),
        "seconds_per_trial": {
            "mean": round(sum(durations) / max(1, len(durations)), 3),
            "median": round(durations[len(durations) // 2], 3) if durations else 0,
            "max": round(durations[-1], 3) if durations else 0,
        },
        "failures": [
            {
                "trial": o.plan.index,
                "seed": o.plan.seed,
                "task": o.failed_task,
                "rerun": o.plan.rerun,
                "error": o.failure[:300] if o.failure else None,
                "unclear": o.unclear,
                "recovered": o.recovered,
                "faults": [f"{f.kind} {f.method} {f.path} x{f.rule['count']}" for f in o.plan.faults],
            }
            for o in failed
        ],
        "extra_runs": [
            {
                "trial": o.plan.index,
                "seed": o.plan.seed,
                "green": o.ok,
                "rerun": o.plan.rerun,
                "runs": o.extra_runs,
                "faults": [f"{f.kind} {f.method} {f.path} x{f.rule['count']}" for f in o.plan.faults],
            }
            for o in outcomes
            if o.extra_runs
        ],
        "problems": [
            {
                "trial": o.plan.index,
                "seed": o.plan.seed,
                "runs": o.plan.runs,
                "teardown_runs": o.plan.teardown_runs,
                "teardown_data": o.plan.teardown_data,
                "hold": o.plan.hold_path,
                "audit": o.audit,
                "false_mismatches": o.false_mismatches,
                "runs_not_successful": o.runs_not_successful,
                "failure": o.failure,
                "faults": [f.__dict__ for f in o.plan.faults],
            }
            for o in outcomes
            if o.audit.get("duplicates")
            or o.audit.get("duplicates_before_recovery")
            or o.audit.get("orphans")
            or o.audit.get("owned_left")
            or o.audit.get("deleted_not_owned")
            or o.audit.get("missing")
            or o.audit.get("inconsistent")
            or o.false_mismatches
            or o.runs_not_successful
            or o.unclear
            or o.recovered is False
        ],
    }

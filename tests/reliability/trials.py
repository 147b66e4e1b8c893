"""Randomized fault trials of the onboarding pipeline against the emulator: plan, inject, check, count.

A trial is seeded (``random.Random(seed + i)``), so any trial can be replayed alone. It picks 1-3 HubSpot
tables and 1-4 fault rules, each of one *kind* aimed at one endpoint the pipeline calls:

======================  =================================================================================
kind                    emulator rule
======================  =================================================================================
``http_5xx``            answer 500/502/503 (any endpoint, IMS included)
``http_429``            answer 429, with ``Retry-After: 0``, ``Retry-After: 1`` or none
``read_timeout``        answer after 1 s, past the 0.5 s read timeout (the request is still processed)
``drop``                close the connection without an answer, before processing
``commit_then_fail``    perform a create, then answer 500/502/503/504
``commit_then_drop``    perform a create, then close the connection
``slow_commit``         perform a create 0.8 s late, after the client gave up at 0.5 s
``http_401``            answer 401 ``401013`` (Flow Service only): once is a token refresh, twice fails the try
``persistent_5xx``      (rare) 503 or 429 ``Retry-After: 0`` on every try: the task must fail clearly
======================  =================================================================================

After the pipeline, every faulted request that was still sleeping in the emulator is awaited (by polling
the journal), then the emulator's resources are compared with what the pipeline reported: exactly one base
connection, one source connection per table, one target connection and one dataflow per table; anything
else is a duplicate (same natural key twice) or an orphan (not referenced by the pipeline). A trial that
failed is then "cleared" like a DAG run: run again without faults, after which the same must hold.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep.client.errors import AEPAPIError, AEPError, AEPTransportError
from airflow_provider_aep.client.models import DATA_LAKE_CONNECTION_SPEC_ID, HUBSPOT_CONNECTION_SPEC_ID
from tests.reliability.pipeline import PipelineResult, run_onboarding

FS = "/data/foundation/flowservice"
IMS = "/ims/token/v3"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies", "Hubspot.Deals", "Hubspot.Owners", "Hubspot.Tickets"]
CRM_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
READ_TIMEOUT = 0.5
TIMEOUT_LATENCY = 1.0  # past the read timeout
SLOW_COMMIT_LATENCY = 0.8  # past the read timeout, inside the reconciliation window (2 more read timeouts)
LAND_DEADLINE = 10.0

CREATES = [f"{FS}/connections", f"{FS}/sourceConnections", f"{FS}/targetConnections", f"{FS}/flows", f"{FS}/runs"]
READS = [
    f"{FS}/connections",  # the lookup before a create
    f"{FS}/connections/[^/]+",  # the source-connection task reads the base connection's spec
    f"{FS}/connections/[^/]+/explore",
    f"{FS}/sourceConnections",
    f"{FS}/sourceConnections/[^/]+",
    f"{FS}/targetConnections",
    f"{FS}/targetConnections/[^/]+",
    f"{FS}/flowSpecs",
    f"{FS}/flows",
    f"{FS}/flows/[^/]+",
    f"{FS}/runs",
    f"{FS}/runs/[^/]+",
]
ANY_ENDPOINT = [("POST", IMS), *(("POST", p) for p in CREATES), *(("GET", p) for p in READS)]
KIND_WEIGHTS = {
    "http_5xx": 20,
    "http_429": 16,
    "read_timeout": 10,
    "drop": 12,
    "commit_then_fail": 16,
    "commit_then_drop": 12,
    "slow_commit": 8,
    "http_401": 6,
    "persistent_5xx": 3,
}
# Natural keys the provider looks resources up by (see FlowServiceClient.create_*).
NATURAL_KEYS = {
    "connections": ("name", "connectionSpec.id"),
    "sourceConnections": ("name", "baseConnectionId"),
    "targetConnections": ("name", "connectionSpec.id"),
    "flows": ("name", "flowSpec.id"),
}


@dataclass
class PlannedFault:
    kind: str
    method: str
    path: str
    rule: dict[str, Any]
    id: str | None = None


@dataclass
class TrialPlan:
    index: int
    seed: int
    tables: list[str]
    faults: list[PlannedFault]

    @property
    def connection_name(self) -> str:
        return f"HubSpot fault trial {self.seed}"


def plan_trial(seed: int, index: int) -> TrialPlan:
    rng = random.Random(seed + index)
    tables = sorted(rng.sample(TABLES, rng.randint(1, 3)))
    kinds, weights = zip(*KIND_WEIGHTS.items(), strict=True)
    faults = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choices(kinds, weights)[0]
        count = rng.choice((1, 1, 2))
        if kind in ("commit_then_fail", "commit_then_drop", "slow_commit"):
            method, path = "POST", rng.choice(CREATES)
        elif kind == "http_401":
            method, path = rng.choice(ANY_ENDPOINT[1:])  # IMS answers bad credentials with 400/401 for good
        else:
            method, path = rng.choice(ANY_ENDPOINT)
        if kind == "http_5xx":
            rule = {"status": rng.choice((500, 502, 503))}
        elif kind == "http_429":
            rule = {"status": 429, "retry_after": rng.choices((None, "0", "1"), (4, 4, 2))[0]}
        elif kind == "read_timeout":
            rule = {"action": "delay", "latency": TIMEOUT_LATENCY}
        elif kind == "drop":
            rule = {"action": "drop"}
        elif kind == "http_401":
            rule = {"status": 401}
        elif kind == "commit_then_fail":
            rule = {"action": "commit_then_fail", "status": rng.choice((500, 502, 503, 504))}
        elif kind == "commit_then_drop":
            rule = {"action": "commit_then_drop"}
        elif kind == "slow_commit":
            rule = {"action": "delay", "latency": SLOW_COMMIT_LATENCY}
        else:  # persistent_5xx: more failures than 4 tries x 5 attempts can absorb
            count = 40
            rule = rng.choice(({"status": 503}, {"status": 429, "retry_after": "0"}))
        faults.append(PlannedFault(kind, method, path, {"count": count, **rule}))
    return TrialPlan(index=index, seed=seed + index, tables=tables, faults=faults)


class ClientLogCounter(logging.Handler):
    """Counts what the client logs when it retries, refreshes a token or reconciles a create."""

    PATTERNS = {
        "client_retries": "Attempt %d failed",
        "token_refreshes_after_401": "AEP answered 401",
        "reconciled_creates": "The earlier create of",
        "reconcile_timeouts": "appeared in",
        "reused_existing": "Reusing existing %s %s (matched",
    }

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        for name, pattern in self.PATTERNS.items():
            if str(record.msg).startswith(pattern) or (pattern == "appeared in" and pattern in str(record.msg)):
                self.counts[name] += 1


def dig(item: Any, path: str) -> Any:
    for part in path.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def resource_audit(state: dict[str, list[dict[str, Any]]], result: PipelineResult, tables: list[str]) -> dict:
    """Duplicates (same natural key twice), orphans (not referenced by the pipeline) and missing resources."""
    expected = {
        "connections": {result.base_connection_id} - {None},
        "sourceConnections": set(result.source_connection_ids.values()),
        "targetConnections": {result.target_connection_id} - {None},
        "flows": set(result.flow_ids.values()),
    }
    wanted = {"connections": 1, "sourceConnections": len(tables), "targetConnections": 1, "flows": len(tables)}
    audit: dict[str, Any] = {"duplicates": 0, "orphans": 0, "missing": 0, "detail": []}
    for collection, key in NATURAL_KEYS.items():
        items = state.get(collection, [])
        keys = Counter(tuple(str(dig(item, k)) for k in key) for item in items)
        dupes = sum(n - 1 for n in keys.values() if n > 1)
        orphans = [item["id"] for item in items if item["id"] not in expected[collection]]
        missing = max(0, wanted[collection] - len(expected[collection] & {i["id"] for i in items}))
        audit["duplicates"] += dupes
        audit["orphans"] += len(orphans)
        audit["missing"] += missing
        if dupes or orphans or missing:
            audit["detail"].append(
                {"collection": collection, "count": len(items), "duplicates": dupes, "orphans": orphans}
            )
    if result.ok:
        sources = {dig(s, "params.path") for s in state.get("sourceConnections", [])}
        if sources != set(tables):
            audit["detail"].append({"source tables": sorted(map(str, sources)), "expected": tables})
            audit["missing"] += 1
        specs = {
            "connections": ("connectionSpec.id", HUBSPOT_CONNECTION_SPEC_ID),
            "targetConnections": ("connectionSpec.id", DATA_LAKE_CONNECTION_SPEC_ID),
            "flows": ("flowSpec.id", CRM_FLOW_SPEC_ID),
        }
        for collection, (path, spec) in specs.items():
            if any(dig(item, path) != spec for item in state.get(collection, [])):
                audit["detail"].append({"collection": collection, "wrong spec": True})
                audit["missing"] += 1
    return audit


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
    emulator_faults: Counter = field(default_factory=Counter)
    client: Counter = field(default_factory=Counter)
    task_retries: int = 0
    failed_tries: Counter = field(default_factory=Counter)
    requests: int = 0
    runs_per_flow: list[int] = field(default_factory=list)
    seconds: float = 0.0


def _try_key(task: str, error: BaseException) -> str:
    status = getattr(error, "status", None)
    return f"{task.split('[')[0]}: {type(error).__name__}" + (f" {status}" if status else "")


def run_trial(emulator: Any, plan: TrialPlan) -> TrialOutcome:
    """Reset the emulator, inject ``plan``'s faults, run the pipeline, wait for stragglers and audit."""
    from airflow_provider_aep.client.auth import TOKENS

    control = emulator.control
    control.reset()
    TOKENS.clear()  # the reset forgot every token; a real worker would meet a 401 and refresh
    control.configure(run_start_delay=0.0, run_duration=0.0)
    for fault in plan.faults:
        fault.id = control.add_fault(method=fault.method, path=fault.path, **fault.rule)

    counter = ClientLogCounter()
    client_log = logging.getLogger("airflow_provider_aep.client")
    client_log.addHandler(counter)
    previous_level = client_log.level
    client_log.setLevel(logging.INFO)
    started = time.monotonic()
    try:
        result = run_onboarding(connection_name=plan.connection_name, tables=plan.tables, retries=3)
        wait_until_landed(control, plan.faults)
    finally:
        client_log.removeHandler(counter)
        client_log.setLevel(previous_level)
    outcome = TrialOutcome(plan=plan, ok=result.ok, task_retries=result.task_retries, client=counter.counts)
    outcome.failed_tries.update(_try_key(t.task, t.error) for t in result.failed_tries)
    kinds = {f.id: f.kind for f in plan.faults}
    journal = control.journal()
    outcome.faults_by_kind = Counter(kinds[e["fault"]] for e in journal if e["fault"])
    outcome.emulator_faults = Counter(control.stats()["faults_injected"])
    outcome.requests = len(journal)

    if result.failure is not None:
        outcome.failure = f"{type(result.failure.error).__name__}: {result.failure.error}"
        outcome.failed_task = result.failure.task
        outcome.unclear = clear_failure(result.failure.error)
        before = resource_audit(control.state(), result, plan.tables)
        # Clear the DAG run: the same pipeline again, without faults, must finish and reuse what exists.
        control.clear_faults()
        result = run_onboarding(connection_name=plan.connection_name, tables=plan.tables, retries=3)
        outcome.recovered = result.ok
        outcome.task_retries += result.task_retries
        outcome.audit = resource_audit(control.state(), result, plan.tables)
        outcome.audit["duplicates_before_recovery"] = before["duplicates"]
    else:
        outcome.audit = resource_audit(control.state(), result, plan.tables)
    # On-demand runs (POST /runs) carry params; the run a `once` schedule makes by itself does not.
    runs = Counter(r["flowId"] for r in control.state()["runs"] if r.get("flowId") and r.get("params"))
    outcome.runs_per_flow = [runs[f] for f in result.flow_ids.values()]
    outcome.seconds = time.monotonic() - started
    return outcome


def summarize(outcomes: list[TrialOutcome], *, seed: int, seconds: float) -> dict[str, Any]:
    """The figures that go into docs/reliability.md."""
    faults: Counter[str] = Counter()
    emulator_faults: Counter[str] = Counter()
    client: Counter[str] = Counter()
    planned: Counter[str] = Counter()
    for o in outcomes:
        faults.update(o.faults_by_kind)
        emulator_faults.update(o.emulator_faults)
        client.update(o.client)
        planned.update(f.kind for f in o.plan.faults)
    failed = [o for o in outcomes if not o.ok]
    failed_tries: Counter[str] = Counter()
    for o in outcomes:
        failed_tries.update(o.failed_tries)
    durations = sorted(o.seconds for o in outcomes)
    return {
        "seed": seed,
        "trials": len(outcomes),
        "outcomes": {
            "green": sum(o.ok for o in outcomes),
            "failed_clearly": sum(1 for o in failed if o.unclear is None),
            "failed_unclearly": sum(1 for o in failed if o.unclear is not None),
            "green_after_clearing_the_failed_run": sum(1 for o in failed if o.recovered),
        },
        "tables_per_trial": dict(sorted(Counter(len(o.plan.tables) for o in outcomes).items())),
        "fault_rules_planned_by_kind": dict(sorted(planned.items())),
        "faults_injected_by_kind": dict(sorted(faults.items())),
        "faults_injected_total": sum(faults.values()),
        "emulator_stats_faults_injected": dict(sorted(emulator_faults.items())),
        "requests_seen_by_emulator": sum(o.requests for o in outcomes),
        "client_retries": client["client_retries"],
        "token_refreshes_after_401": client["token_refreshes_after_401"],
        "creates_reconciled_by_lookup": client["reconciled_creates"],
        "existing_resources_reused_on_task_retry": client["reused_existing"],
        "reconcile_windows_expired_then_resent": client["reconcile_timeouts"],
        "task_retries": sum(o.task_retries for o in outcomes),
        "failed_task_tries_by_task_and_error": dict(failed_tries.most_common()),
        "duplicates": sum(o.audit.get("duplicates", 0) for o in outcomes),
        "duplicates_before_recovery": sum(o.audit.get("duplicates_before_recovery", 0) for o in outcomes),
        "orphans": sum(o.audit.get("orphans", 0) for o in outcomes),
        "missing": sum(o.audit.get("missing", 0) for o in outcomes),
        "on_demand_runs_per_flow": dict(sorted(Counter(n for o in outcomes for n in o.runs_per_flow).items())),
        "seconds_total": round(seconds, 2),
        "seconds_per_trial": {
            "mean": round(sum(durations) / max(1, len(durations)), 3),
            "median": round(durations[len(durations) // 2], 3) if durations else 0,
            "max": round(durations[-1], 3) if durations else 0,
        },
        "failures": [
            {
                "trial": o.plan.index,
                "task": o.failed_task,
                "error": o.failure[:300] if o.failure else None,
                "unclear": o.unclear,
                "recovered": o.recovered,
            }
            for o in failed
        ],
        "problems": [
            {
                "trial": o.plan.index,
                "seed": o.plan.seed,
                "audit": o.audit,
                "faults": [f.__dict__ for f in o.plan.faults],
            }
            for o in outcomes
            if o.audit.get("duplicates")
            or o.audit.get("orphans")
            or o.audit.get("missing")
            or o.unclear
            or o.recovered is False
        ],
    }

"""Randomized fault trials of the onboarding pipeline against the emulator: plan, inject, check, count.

A trial is seeded (``random.Random(seed + i)``), so any trial can be replayed alone. It picks 1-3 HubSpot
tables and 1-4 fault rules, each of one *kind* aimed at one endpoint the pipeline calls, on either side: the
Flow Service, the Schema Registry, Catalog, Data Prep or IMS:

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
``commit_later``        answer a create 502/504 at once, perform it 0.3 s later (the gateway gave up, the
                        backend did not): the client must wait its settle window instead of re-sending
``http_401``            answer 401 ``401013`` (Platform only): once is a token refresh, twice fails the try
``persistent_5xx``      (rare) 503 or 429 ``Retry-After: 0`` on every try: the task must fail clearly
======================  =================================================================================

The creates are ``POST`` of base/source/target connections, dataflows and runs (Flow Service), field groups
and schemas (Schema Registry), datasets (Catalog) and mapping sets (Data Prep). A 5xx on a Schema Registry,
Catalog or Data Prep path carries the generic Platform error document those services answer with, not the
Flow Service's.

After the pipeline, every faulted request that was still sleeping in the emulator is awaited (by polling
the journal), then the emulator's resources are compared with what the pipeline reported: exactly one base
connection and, per table, one field group, schema, dataset, mapping set, source connection, target
connection and dataflow, linked to each other (the schema holds the field group, the dataset and the mapping
set are for the schema, the target connection writes to the dataset, the dataflow uses the mapping set, ...).
Anything else is a duplicate (same natural key twice: title, name, or name + spec), an orphan (not referenced
by the pipeline: half-created and unexplained) or an inconsistency. A trial that failed is then "cleared"
like a DAG run: run again without faults, after which the same must hold.
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
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from tests.reliability.pipeline import PipelineResult, resource_names, run_onboarding

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
IMS = "/ims/token/v3"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies", "Hubspot.Deals", "Hubspot.Owners", "Hubspot.Tickets"]
CRM_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
PROFILE_CLASS_ID = "https://ns.adobe.com/xdm/context/profile"
READ_TIMEOUT = 0.5
TIMEOUT_LATENCY = 1.0  # past the read timeout
SLOW_COMMIT_LATENCY = 0.8  # past the read timeout, inside the reconciliation window (2 more read timeouts)
LAND_DEADLINE = 10.0
RERUN_SHARE = 0.25  # of the trials run the DAG again over resources an earlier, fault-free run made

CREATES = [
    f"{FS}/connections",
    f"{FS}/sourceConnections",
    f"{FS}/targetConnections",
    f"{FS}/flows",
    f"{FS}/runs",
    f"{SR}/tenant/fieldgroups",
    f"{SR}/tenant/schemas",
    f"{CATALOG}/dataSets",
    f"{CONVERSION}/mappingSets",
]
READS = [
    f"{FS}/connections",  # the lookup before a create
    f"{FS}/connections/[^/]+",  # the source-connection task reads the base connection's spec
    f"{FS}/connections/[^/]+/explore",  # root (the tables) and object_type=table (the columns)
    f"{FS}/sourceConnections",
    f"{FS}/sourceConnections/[^/]+",
    f"{FS}/targetConnections",
    f"{FS}/targetConnections/[^/]+",
    f"{FS}/flowSpecs",
    f"{FS}/flows",
    f"{FS}/flows/[^/]+",
    f"{FS}/runs",
    f"{FS}/runs/[^/]+",
    f"{SR}/stats",  # the tenant id
    f"{SR}/tenant/fieldgroups",  # the lookup by title
    f"{SR}/tenant/fieldgroups/.+",  # the resource, after a reuse or a reconciled create ($id in the path)
    f"{SR}/tenant/schemas",
    f"{SR}/tenant/schemas/.+",
    f"{CATALOG}/dataSets",  # the lookup by name
    f"{CONVERSION}/mappingSets",  # the lookup by name
    f"{CONVERSION}/mappingSets/[^/]+",  # the dataflow task reads the mapping set's version
]
ANY_ENDPOINT = [
    ("POST", IMS),
    *(("POST", p) for p in CREATES),
    ("POST", f"{CONVERSION}/mappingSets/validate"),  # stores nothing: retried like a read
    *(("GET", p) for p in READS),
]
COMMIT_LATER_AFTER = 0.3
"""Seconds (emulator clock, running in real time) a ``commit_later`` create lands after its 502/504."""
KIND_WEIGHTS = {
    "http_5xx": 20,
    "http_429": 16,
    "read_timeout": 10,
    "drop": 12,
    "commit_then_fail": 16,
    "commit_then_drop": 12,
    "slow_commit": 8,
    "commit_later": 8,
    "http_401": 6,
    "persistent_5xx": 3,
}
# Natural keys the provider looks resources up by (FlowServiceClient.create_*, SchemaRegistryClient.create,
# CatalogClient.create_dataset, DataPrepClient.create_mapping_set).
NATURAL_KEYS = {
    "connections": ("name", "connectionSpec.id"),
    "sourceConnections": ("name", "baseConnectionId"),
    "targetConnections": ("name", "connectionSpec.id"),
    "flows": ("name", "flowSpec.id"),
    "fieldgroups": ("title",),
    "schemas": ("title",),
    "dataSets": ("name",),
    "mappingSets": ("name",),
}
#: What the pipeline never makes: any of these is an orphan.
NEVER_MADE = ("descriptors",)
PLATFORM_ERROR_TITLES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
PLATFORM_ERROR_TITLES[504] = "Gateway Timeout"


def error_body(status: int, path: str) -> dict[str, Any] | None:
    """The body of an injected 5xx: the generic Platform error document off the Flow Service (None: default)."""
    if status < 500 or path.startswith((FS, IMS)):
        return None
    title = PLATFORM_ERROR_TITLES.get(status, "Server Error")
    return {"type": "/placeholder/type/uri", "status": status, "title": title, "detail": f"Injected {status}"}


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
    #: The tables were onboarded before (a DAG run that went well): this run reuses everything, under faults.
    rerun: bool = False

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
        if kind in ("commit_then_fail", "commit_then_drop", "slow_commit", "commit_later"):
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
        elif kind == "commit_later":
            rule = {"action": "commit_later", "status": rng.choice((502, 504)), "commit_after": COMMIT_LATER_AFTER}
        else:  # persistent_5xx: more failures than 4 tries x 5 attempts can absorb
            count = 40
            rule = rng.choice(({"status": 503}, {"status": 429, "retry_after": "0"}))
        body = error_body(rule.get("status") or 0, path)
        if body is not None:
            rule["body"] = body
        faults.append(PlannedFault(kind, method, path, {"count": count, **rule}))
    rerun = rng.random() < RERUN_SHARE
    return TrialPlan(index=index, seed=seed + index, tables=tables, faults=faults, rerun=rerun)


class ClientLogCounter(logging.Handler):
    """Counts what the client logs when it retries, refreshes a token, reconciles a create or reuses one."""

    PATTERNS = {
        "client_retries": "Attempt %d failed",
        "token_refreshes_after_401": "AEP answered 401",
        "reconciled_creates": "The earlier create of",
        "title_clashes_resolved": "%s %r already exists",
        "reconcile_timeouts": "appeared in",
        "reused_existing": "Reusing existing",
    }

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()
        #: Creates found by the lookup after an ambiguous failure, by collection (``dataSets``, ``schemas``...).
        self.reconciled: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = str(record.msg)
        for name, pattern in self.PATTERNS.items():
            if msg.startswith(pattern) or (pattern == "appeared in" and pattern in msg):
                self.counts[name] += 1
                if name == "reconciled_creates" and record.args:
                    self.reconciled[str(record.args[0])] += 1


def dig(item: Any, path: str) -> Any:
    for part in path.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _expected(result: PipelineResult) -> dict[str, set[str]]:
    return {
        "connections": {result.base_connection_id} if result.base_connection_id else set(),
        "sourceConnections": set(result.source_connection_ids.values()),
        "targetConnections": set(result.target_connection_ids.values()),
        "flows": set(result.flow_ids.values()),
        "fieldgroups": set(result.field_group_ids.values()),
        "schemas": set(result.schema_ids.values()),
        "dataSets": set(result.dataset_ids.values()),
        "mappingSets": set(result.mapping_set_ids.values()),
    }


def _links(state: dict[str, list[dict[str, Any]]], result: PipelineResult, path: str, names: dict[str, str]) -> list:
    """What is wrong with one table's resources and their links to each other (empty: all good)."""
    by_id = {name: {item["id"]: item for item in state.get(name, [])} for name in NATURAL_KEYS}
    fg = by_id["fieldgroups"].get(result.field_group_ids.get(path, ""))
    schema = by_id["schemas"].get(result.schema_ids.get(path, ""))
    dataset = by_id["dataSets"].get(result.dataset_ids.get(path, ""))
    mapping = by_id["mappingSets"].get(result.mapping_set_ids.get(path, ""))
    source = by_id["sourceConnections"].get(result.source_connection_ids.get(path, ""))
    target = by_id["targetConnections"].get(result.target_connection_ids.get(path, ""))
    flow = by_id["flows"].get(result.flow_ids.get(path, ""))
    found = {
        "field group": fg,
        "schema": schema,
        "dataset": dataset,
        "mapping set": mapping,
        "source connection": source,
        "target connection": target,
        "dataflow": flow,
    }
    problems: list[str] = [f"{what} missing" for what, item in found.items() if item is None]
    if problems:
        return problems
    assert fg and schema and dataset and mapping and source and target and flow  # for the type checker
    transformations = {t.get("name"): t.get("params") or {} for t in flow.get("transformations") or []}
    checks = {
        "field group title": fg.get("title") == names["field_group"],
        "field group extends Profile": "https://ns.adobe.com/xdm/context/profile"
        in fg.get("meta:intendedToExtend", []),
        "schema title": schema.get("title") == names["schema"],
        "schema holds the field group": fg["id"] in {ref.get("$ref") for ref in schema.get("allOf") or []},
        "dataset name": dataset.get("name") == names["dataset"],
        "dataset is for the schema": dig(dataset, "schemaRef.id") == schema["id"],
        "mapping set name": mapping.get("name") == names["mapping_set"],
        "mapping set is for the schema": dig(mapping, "outputSchema.schemaRef.id") == schema["id"],
        "source reads the table": dig(source, "params.path") == path,
        "source is on the base connection": source.get("baseConnectionId") == result.base_connection_id,
        "target name": target.get("name") == names["target_connection"],
        "target is Data Lake": dig(target, "connectionSpec.id") == DATA_LAKE_CONNECTION_SPEC_ID,
        "target writes the dataset": dig(target, "params.dataSetId") == dataset["id"],
        "target has the schema": dig(target, "data.schema.id") == schema["id"],
        "dataflow name": flow.get("name") == names["dataflow"],
        "dataflow is CRMToAEP": dig(flow, "flowSpec.id") == CRM_FLOW_SPEC_ID,
        "dataflow connects source and target": flow.get("sourceConnectionIds") == [source["id"]]
        and flow.get("targetConnectionIds") == [target["id"]],
        "dataflow uses the mapping set": dig(transformations, "Mapping.mappingId") == mapping["id"],
    }
    return [what for what, ok in checks.items() if not ok]


def resource_audit(
    state: dict[str, list[dict[str, Any]]],
    result: PipelineResult,
    tables: list[str],
    connection_name: str | None = None,
    *,
    earlier: PipelineResult | None = None,
) -> dict[str, Any]:
    """Duplicates (same natural key twice), orphans (not referenced by the pipeline), missing and broken links.

    Missing resources and links are only checked for a pipeline that finished (``result.ok``). What an
    ``earlier`` (finished) run of the same pipeline made counts as referenced too.
    """
    expected = _expected(result)
    for collection, ids in (_expected(earlier) if earlier is not None else {}).items():
        expected[collection] |= ids
    wanted = {name: len(tables) for name in NATURAL_KEYS} | {"connections": 1}
    audit: dict[str, Any] = {"duplicates": 0, "orphans": 0, "missing": 0, "inconsistent": 0, "detail": []}
    for collection, key in NATURAL_KEYS.items():
        items = state.get(collection, [])
        keys = Counter(tuple(str(dig(item, k)) for k in key) for item in items)
        dupes = sum(n - 1 for n in keys.values() if n > 1)
        orphans = [item["id"] for item in items if item["id"] not in expected[collection]]
        missing = max(0, wanted[collection] - len(expected[collection] & {i["id"] for i in items})) if result.ok else 0
        audit["duplicates"] += dupes
        audit["orphans"] += len(orphans)
        audit["missing"] += missing
        if dupes or orphans or missing:
            dupe_keys = [list(k) for k, n in keys.items() if n > 1]
            audit["detail"].append(
                {"collection": collection, "count": len(items), "duplicates": dupe_keys, "orphans": orphans}
            )
    for collection in NEVER_MADE:
        made = [item.get("id") for item in state.get(collection, [])]
        audit["orphans"] += len(made)
        if made:
            audit["detail"].append({"collection": collection, "orphans": made})
    # Runs and the batches they land belong to the pipeline's dataflows and datasets.
    flows, datasets = expected["flows"], expected["dataSets"]
    stray_runs = [r["id"] for r in state.get("runs", []) if r.get("flowId") not in flows]
    stray_batches = [
        b["id"]
        for b in state.get("batches", [])
        if not {o.get("id") for o in b.get("relatedObjects") or [] if o.get("type") == "dataSet"} & datasets
    ]
    if stray_runs or stray_batches:
        audit["orphans"] += len(stray_runs) + len(stray_batches)
        audit["detail"].append({"runs without a pipeline flow": stray_runs, "batches elsewhere": stray_batches})
    if result.ok:
        base = {item["id"]: item for item in state.get("connections", [])}.get(result.base_connection_id or "")
        if base is None or dig(base, "connectionSpec.id") != HUBSPOT_CONNECTION_SPEC_ID:
            audit["inconsistent"] += 1
            audit["detail"].append({"base connection": "missing or not HubSpot"})
        if sorted(result.tables) != sorted(tables):
            audit["inconsistent"] += 1
            audit["detail"].append({"tables": result.tables, "expected": tables})
        for path in result.tables:
            names = resource_names(connection_name, path) if connection_name else {}
            wrong = _links(state, result, path, names) if names else []
            if wrong:
                audit["inconsistent"] += len(wrong)
                audit["detail"].append({"table": path, "wrong": wrong})
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


def _try_key(task: str, error: BaseException) -> str:
    status = getattr(error, "status", None)
    return f"{task.split('[')[0]}: {type(error).__name__}" + (f" {status}" if status else "")


def service_of(path: str) -> str:
    """``flowservice``, ``schemaregistry``, ``catalog``, ``conversion`` or ``ims``."""
    return "ims" if path.startswith("/ims/") else path.split("/")[3]


def _run_counted(control: Any, plan: TrialPlan, outcome: TrialOutcome, *, faulted: bool = True) -> PipelineResult:
    """One pipeline run with the client's log counted into ``outcome`` (then the delayed requests landed)."""
    counter = ClientLogCounter()
    client_log = logging.getLogger("airflow_provider_aep.client")
    client_log.addHandler(counter)
    previous_level = client_log.level
    client_log.setLevel(logging.INFO)
    try:
        result = run_onboarding(connection_name=plan.connection_name, tables=plan.tables, retries=3)
        if faulted:
            wait_until_landed(control, plan.faults)
    finally:
        client_log.removeHandler(counter)
        client_log.setLevel(previous_level)
    outcome.client.update(counter.counts)
    outcome.reconciled.update(counter.reconciled)
    outcome.task_retries += result.task_retries
    outcome.failed_tries.update(_try_key(t.task, t.error) for t in result.failed_tries)
    # A reuse check that refuses the pipeline's own resource under a transient fault is a provider bug.
    outcome.false_mismatches += [
        t.describe()
        for t in result.failed_tries
        if isinstance(t.error, (AEPResourceMismatchError, AEPInvalidArgumentError))
    ]
    return result


def run_trial(emulator: Any, plan: TrialPlan) -> TrialOutcome:
    """Reset the emulator, inject ``plan``'s faults, run the pipeline, wait for stragglers and audit."""
    from airflow_provider_aep.client.auth import TOKENS
    from airflow_provider_aep.client.schema_registry import TENANTS

    control = emulator.control
    control.reset()
    TOKENS.clear()  # the reset forgot every token; a real worker would meet a 401 and refresh
    TENANTS.clear()  # a new worker process looks the tenant id up again (GET /stats)
    control.configure(run_start_delay=0.0, run_duration=0.0)
    started = time.monotonic()
    outcome = TrialOutcome(plan=plan, ok=False)
    earlier = None
    if plan.rerun:  # an earlier DAG run onboarded the tables; its requests are not this trial's
        earlier = run_onboarding(connection_name=plan.connection_name, tables=plan.tables, retries=0)
        assert earlier.ok, earlier.failure
        control.clear_journal()
    for fault in plan.faults:
        fault.id = control.add_fault(method=fault.method, path=fault.path, **fault.rule)

    result = _run_counted(control, plan, outcome)
    outcome.ok = result.ok
    by_id = {f.id: f for f in plan.faults}
    journal = control.journal()
    outcome.faults_by_kind = Counter(by_id[e["fault"]].kind for e in journal if e["fault"])
    outcome.faults_by_service = Counter(service_of(e["path"]) for e in journal if e["fault"])
    outcome.emulator_faults = Counter(control.stats()["faults_injected"])
    outcome.requests = len(journal)
    outcome.patches = sum(1 for e in journal if e["method"] == "PATCH")

    if result.failure is not None:
        outcome.failure = f"{type(result.failure.error).__name__}: {result.failure.error}"
        outcome.failed_task = result.failure.task
        outcome.unclear = clear_failure(result.failure.error)
        before = resource_audit(control.state(), result, plan.tables, plan.connection_name, earlier=earlier)
        # Clear the DAG run: the same pipeline again, without faults, must finish and reuse what exists.
        control.clear_faults()
        control.clear_journal()
        result = _run_counted(control, plan, outcome, faulted=False)
        outcome.requests += len(control.journal())
        outcome.patches += sum(1 for e in control.journal() if e["method"] == "PATCH")
        outcome.recovered = result.ok
        outcome.audit = resource_audit(control.state(), result, plan.tables, plan.connection_name)
        outcome.audit["duplicates_before_recovery"] = before["duplicates"]
        outcome.audit["unreferenced_before_recovery"] = before["orphans"]
        outcome.audit["before_recovery_detail"] = before["detail"]
    else:
        outcome.audit = resource_audit(control.state(), result, plan.tables, plan.connection_name)
    # The first run of a new `once` flow has no params (its schedule started it); on-demand runs carry params.
    runs = control.state()["runs"]
    every = Counter(r["flowId"] for r in runs if r.get("flowId"))
    on_demand = Counter(r["flowId"] for r in runs if r.get("flowId") and r.get("params"))
    outcome.runs_per_flow = [every[f] for f in result.flow_ids.values()]
    outcome.on_demand_runs_per_flow = [on_demand[f] for f in result.flow_ids.values()]
    wanted_runs = 2 if plan.rerun else 1  # the flow's own first run (adopted), plus one per later DAG run
    for path, flow in result.flow_ids.items():
        if every[flow] > wanted_runs:
            outcome.extra_runs.append(
                {"table": path, "runs": every[flow], "created_flag": result.flows_created.get(path)}
            )
    for path, run in result.runs.items():
        outcome.records_landed += int(run.get("output_records") or 0)
        if run.get("status") != "success":
            outcome.runs_not_successful.append(f"{path}: {run.get('status')}")
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
            or o.audit.get("missing")
            or o.audit.get("inconsistent")
            or o.false_mismatches
            or o.runs_not_successful
            or o.unclear
            or o.recovered is False
        ],
    }

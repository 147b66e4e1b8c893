"""The plan of a randomized fault trial (see ``tests/reliability/trials.py``): which tables, which faults.

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

Some trials are reruns over resources an earlier run made, some tear down, some run 2-3 DAG runs at once
(``tests/reliability/concurrent.py``); :func:`plan_trial` draws all of it from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
IMS = "/ims/token/v3"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies", "Hubspot.Deals", "Hubspot.Owners", "Hubspot.Tickets"]
READ_TIMEOUT = 0.5
TIMEOUT_LATENCY = 1.0  # past the read timeout
SLOW_COMMIT_LATENCY = 0.8  # past the read timeout, inside the reconciliation window (2 more read timeouts)
RERUN_SHARE = 0.25  # of the trials run the DAG again over resources an earlier, fault-free run made
CONCURRENT_SHARE = 0.2  # of the trials (not reruns) run 2-3 DAG runs at once
TEARDOWN_SHARE = 0.3  # of the trials are one DAG run with teardown
CONCURRENT_TEARDOWN_SHARE = 0.5  # of the concurrent trials have one run that tears down

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
#: The create each collection's concurrent trial holds, by the task (of the first table) that sends it.
HOLD_TASKS = {
    f"{FS}/connections": "create_base_connection",
    f"{FS}/sourceConnections": "create_source_connection[0]",
    f"{FS}/targetConnections": "create_target_connection[0]",
    f"{FS}/flows": "create_dataflow[0]",
    f"{SR}/tenant/fieldgroups": "create_field_group[0]",
    f"{SR}/tenant/schemas": "create_schema[0]",
    f"{CATALOG}/dataSets": "create_dataset[0]",
    f"{CONVERSION}/mappingSets": "create_mapping_set[0]",
}
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
    #: DAG runs at once (1: the usual single run).
    runs: int = 1
    #: Which of the runs tear down (their index), and whether they delete the data side too.
    teardown_runs: tuple[int, ...] = ()
    teardown_data: bool = False
    #: The create whose POSTs the emulator holds until every concurrent run has sent it.
    hold_path: str | None = None

    @property
    def connection_name(self) -> str:
        return f"HubSpot fault trial {self.seed}"

    @property
    def run_ids(self) -> list[str]:
        return [f"trial_{self.seed}_run_{k}" for k in range(self.runs)]

    @property
    def teardown(self) -> bool:
        return bool(self.teardown_runs)

    @property
    def concurrent(self) -> bool:
        return self.runs > 1


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
    # Drawn after everything above, so the tables, faults and reruns of every seed stay what they were.
    mode, teardown_data = rng.random(), rng.random() < 0.5
    runs, teardown_runs, hold_path = 1, (), None
    if not rerun and mode < CONCURRENT_SHARE:
        runs = rng.choice((2, 3))
        hold_path = rng.choice(sorted(HOLD_TASKS))
        if rng.random() < CONCURRENT_TEARDOWN_SHARE:
            teardown_runs = (rng.randrange(runs),)
    elif mode >= 1 - TEARDOWN_SHARE:
        teardown_runs = (0,)
    return TrialPlan(
        index=index,
        seed=seed + index,
        tables=tables,
        faults=faults,
        rerun=rerun,
        runs=runs,
        teardown_runs=teardown_runs,
        teardown_data=teardown_data and bool(teardown_runs),
        hold_path=hold_path,
    )


def service_of(path: str) -> str:
    """``flowservice``, ``schemaregistry``, ``catalog``, ``conversion`` or ``ims``."""
    return "ims" if path.startswith("/ims/") else path.split("/")[3]

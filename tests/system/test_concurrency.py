"""Concurrency: parallel mapped tasks create each resource exactly once; same-name racers are not deduplicated.

* On the real local Airflow (LocalExecutor, ``[core] parallelism`` 8 from the harness), the onboarding DAG
  maps its ``onboard_table`` task group over 4 tables. Each source-connection POST is held 1 s by the
  emulator so the mapped task instances really overlap; every table must end up with exactly one source
  connection, dataflow, schema and dataset (different names per table, so the lookups never collide).
* In one process, 8 threads race ``create_once`` for the *same* name. The Flow Service has no uniqueness
  constraint and no idempotency key, so racers that all look up before any of them has created will all
  create: the provider's exactly-once guarantee is about retries, not about concurrent creators of one name.
  The test records how many were created and checks that afterwards every lookup converges on the oldest.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime

import pytest

from airflow_provider_aep.client.models import HUBSPOT_CONNECTION_SPEC_ID
from tests.reliability.artifacts import write_artifact

pytestmark = pytest.mark.system

FS = "/data/foundation/flowservice"
DAG_ID = "aep_hubspot_onboarding"
TABLES = ["Hubspot.Companies", "Hubspot.Contacts", "Hubspot.Deals", "Hubspot.Owners"]


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def test_parallel_mapped_source_connections_are_created_exactly_once(airflow_server, airflow_api, system_emulator):
    control = system_emulator.control
    control.clear_faults()
    control.add_fault(method="POST", path=FS + "/sourceConnections", action="delay", latency=1.0, count=len(TABLES))
    try:
        run = airflow_api.run_dag(DAG_ID, conf={"connection_name": "concurrency check", "tables": TABLES}, timeout=480)
    finally:
        control.clear_faults()
    run_id = run["dag_run_id"]
    tis = airflow_api.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}

    sources = [t for t in tis if t["task_id"] == "onboard_table.create_source_connection"]
    assert len(sources) == len(TABLES) and all(t["state"] == "success" for t in sources)
    overlap = max_overlap([(_time(t["start_date"]), _time(t["end_date"])) for t in sources])
    assert overlap >= 2, "the mapped source-connection tasks did not run in parallel"

    base_id = airflow_api.xcom(DAG_ID, run_id, "create_base_connection")
    state = control.state()
    mine = [s for s in state["sourceConnections"] if s["baseConnectionId"] == base_id]
    per_table = Counter(s["params"]["path"] for s in mine)
    assert per_table == dict.fromkeys(TABLES, 1), per_table
    flows = [f for f in state["flows"] if set(f["sourceConnectionIds"]) & {s["id"] for s in mine}]
    assert Counter(tuple(f["sourceConnectionIds"]) for f in flows) == {(s["id"],): 1 for s in mine}
    assert Counter(d["name"] for d in state["dataSets"]) == {f"concurrency check: {t}": 1 for t in TABLES}
    assert Counter(s["title"] for s in state["schemas"]) == {f"concurrency check: {t}": 1 for t in TABLES}

    report = {
        "tables": len(TABLES),
        "parallelism": airflow_server.env.get("AIRFLOW__CORE__PARALLELISM"),
        "max_concurrent_source_connection_tasks": overlap,
        "source_connections_per_table": dict(per_table),
        "dataflows": len(flows),
    }
    write_artifact("concurrency-mapped.json", report)
    print(f"\nmapped concurrency: {json.dumps(report)}")


RACERS = 8
ROUNDS = 5
AUTH_PARAMS = ("clientId", "clientSecret", "accessToken", "refreshToken")


def test_threads_racing_create_once_for_one_name(system_emulator, monkeypatch):
    """Documents behaviour, it does not promise dedup: see the module docstring and docs/reliability.md."""
    from airflow_provider_aep.client.auth import TokenCache
    from airflow_provider_aep.client.flow_service import FlowServiceClient
    from airflow_provider_aep.hooks.flow_service import settings_from_connection
    from tests.conftest import aep_conn_json

    class Conn:
        conn_id = "aep_default"

        def __init__(self, data: dict) -> None:
            self.__dict__.update(data, extra=json.dumps(data["extra"]), port=None)

    settings = settings_from_connection(Conn(json.loads(aep_conn_json(system_emulator.url))))
    cache = TokenCache()
    created_per_round = []
    for round_number in range(ROUNDS):
        name = f"race {round_number}"
        body = {
            "name": name,
            "auth": {
                "specName": "Basic Authentication",
                "params": dict.fromkeys(AUTH_PARAMS, "v" * 8),
            },
            "connectionSpec": {"id": HUBSPOT_CONNECTION_SPEC_ID, "version": "1.0"},
        }
        barrier = threading.Barrier(RACERS)
        results: list = [None] * RACERS

        def racer(index: int, body=body, barrier=barrier, results=results) -> None:
            with FlowServiceClient(settings, token_cache=cache) as client:
                client.auth.token()  # everyone holds a token before the start line
                barrier.wait()
                results[index] = client.create_connection(body)

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert all(r is not None for r in results), "a racer failed"
        with FlowServiceClient(settings, token_cache=cache) as client:
            found = client.find_connections(name=name, connection_spec_id=HUBSPOT_CONNECTION_SPEC_ID)
            oldest = found[0]["id"]
            created = sum(r.created for r in results)
            assert created == len(found) >= 1  # every create a racer reported exists; nothing else does
            assert {r.id for r in results} <= {f["id"] for f in found}
            # Afterwards everyone converges: a later create_once (a retry, the next DAG run) uses the oldest.
            assert {client.create_connection(body).id for _ in range(3)} == {oldest}
        created_per_round.append(created)

    report = {"racers": RACERS, "rounds": ROUNDS, "connections_created_per_round": created_per_round}
    write_artifact("concurrency-same-name-race.json", report)
    print(f"\nsame-name race: {json.dumps(report)}")

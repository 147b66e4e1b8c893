"""Data-aware scheduling and lineage on a real Airflow (issue 12, deliverable 6, bullets 1 and 3).

This test starts its own Airflow (scheduler + dag-processor + triggerer + api-server; the shared one's
environment is fixed) with a DAG folder written into its home:

* ``aep_da_producer``: ``AEPOnboardingTaskGroup(source="hubspot", tables=["Hubspot.Contacts"],
  asset_alias="aep-hubspot")`` against the session emulator;
* ``aep_da_on_alias``: scheduled on ``AssetAlias("aep-hubspot")``;
* ``aep_da_on_dataset``: scheduled on the concrete ``aep://<org>/<sandbox>/datasets/<id>`` asset. The dataset
  id is only known once the producer has created the dataset, so this DAG file is written after the first
  producer run (with the URI that run's alias event resolved to), and the producer runs a second time: every
  resource is reused (lookups before creates) and a new AEP run lands, whose event reaches both consumers.

Airflow's OpenLineage file transport is configured for this Airflow; the events it wrote must carry the
HubSpot table input (with its schema facet), the ``aep://`` dataset output and the column lineage.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ORG_ID, aep_conn_json, hubspot_conn_json
from tests.system.airflow_server import AirflowClient, LocalAirflow

TIMEOUT = float(os.environ.get("AEP_SYSTEM_DATA_AWARENESS_TIMEOUT", "240"))
ALIAS = "aep-hubspot"
TABLE = "Hubspot.Contacts"
PRODUCER = "aep_da_producer"
ON_ALIAS = "aep_da_on_alias"
ON_DATASET = "aep_da_on_dataset"
SENSOR = "onboard_table.wait_for_run"
OL_NAMESPACE = "aep-data-awareness"
AEP_NAMESPACE = f"aep://{ORG_ID.split('@')[0].lower()}/prod"

PRODUCER_DAG = f"""
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

with DAG(dag_id={PRODUCER!r}, schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    AEPOnboardingTaskGroup(
        "hubspot",
        source="hubspot",
        connection_name="HubSpot data awareness",
        tables=[{TABLE!r}],
        asset_alias={ALIAS!r},
        poll_interval=1,
        prefix_group_id=False,
    )
"""

CONSUMER_DAG = """
from datetime import datetime

from airflow.sdk import DAG, Asset, AssetAlias, task

with DAG(dag_id={dag_id!r}, schedule=[{schedule}], start_date=datetime(2024, 1, 1), catchup=False):

    @task
    def consume():
        return "consumed"

    consume()
"""


def write_consumer(folder: Path, dag_id: str, schedule: str) -> None:
    (folder / f"{dag_id}.py").write_text(textwrap.dedent(CONSUMER_DAG.format(dag_id=dag_id, schedule=schedule)))


@pytest.fixture
def data_airflow(system_emulator, request: pytest.FixtureRequest) -> Iterator[tuple[LocalAirflow, Path]]:
    system_emulator.control.reset()
    system_emulator.control.configure(run_start_delay=0.5, run_duration=1.0)
    home = Path(tempfile.mkdtemp(prefix="aep-data-awareness-airflow-"))
    dags = home / "dag_sources"
    dags.mkdir()
    (dags / f"{PRODUCER}.py").write_text(PRODUCER_DAG)
    write_consumer(dags, ON_ALIAS, f"AssetAlias({ALIAS!r})")
    ol_file = home / "ol.json"
    server = LocalAirflow.create(
        home,
        connections={"aep_default": aep_conn_json(system_emulator.url), "hubspot_default": hubspot_conn_json()},
        dag_sources=[dags],
        extra_env={
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(ol_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": OL_NAMESPACE,
        },
    )
    failed = True
    try:
        server.start()
        server.wait_until_ready(timeout=TIMEOUT)
        yield server, server.dags_folder  # the DAG folder Airflow reads (dag_sources is linked into it once)
        report = getattr(request.node, "rep_call", None)  # set by tests/system/conftest.py
        failed = report is None or report.failed
    finally:
        if failed:
            print(server.log_tail(80))
        server.stop()
        if failed:
            print(f"\ndata-awareness Airflow home kept for inspection: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def run_producer(api: AirflowClient, run_id: str) -> dict[str, Any]:
    api.trigger(PRODUCER, run_id=run_id)
    run = api.wait_for_run(PRODUCER, run_id, timeout=TIMEOUT)
    tis = api.task_instances(PRODUCER, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    return api.xcom(PRODUCER, run_id, "summary")


def consumer_events(api: AirflowClient, dag_id: str, count: int) -> list[dict[str, Any]]:
    """The triggering asset events of ``dag_id``'s successful runs, once there are ``count`` of them."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        events: list[dict[str, Any]] = []
        for run in runs:
            if run["state"] == "success":
                upstream = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
                events += upstream["asset_events"]
        if len(events) >= count:
            assert all(r["run_type"] == "asset_triggered" for r in runs), runs
            assert not [r for r in runs if r["state"] == "failed"], runs
            return events
        assert time.monotonic() < deadline, f"{dag_id}: runs {[(r['dag_run_id'], r['state']) for r in runs]}"
        time.sleep(1)


def assert_run_metrics(event: dict[str, Any], table: dict[str, Any]) -> None:
    extra = event["extra"]
    assert extra["run_id"] and extra["batch_id"], extra
    assert extra["records_written"] > 0, extra
    assert extra["flow_id"] == table["flow_id"] and extra["dataset_id"] == table["dataset_id"], extra
    assert extra["status"] == "success" and extra["sandbox"] == "prod", extra


def test_onboarding_success_triggers_alias_and_dataset_consumers_with_lineage(system_emulator, data_airflow):
    server, dags = data_airflow
    api = server.client()
    for dag_id in (PRODUCER, ON_ALIAS):
        api.wait_for_dag(dag_id, timeout=TIMEOUT)

    # 1. first onboarding: creates everything; its run's event goes through the alias
    (table,) = run_producer(api, "first")["tables"]
    assert table["table"] == TABLE and table["status"] == "success" and table["records"] > 0
    uri = f"{AEP_NAMESPACE}/datasets/{table['dataset_id']}"
    (first,) = consumer_events(api, ON_ALIAS, 1)
    assert first["uri"] == uri and first["name"] == uri  # the alias resolved to the table's dataset
    assert_run_metrics(first, table)
    assert first["extra"]["run_id"] == table["run_id"]
    assert first["source_dag_id"] == PRODUCER and first["source_task_id"] == SENSOR

    # 2. a consumer on the concrete dataset asset, now that its id is known; a second onboarding run
    write_consumer(dags, ON_DATASET, f"Asset(name={uri!r}, uri={uri!r})")
    api.wait_for_dag(ON_DATASET, timeout=TIMEOUT)
    # runs copy the rows changed since the previous run (delta column): change some, so the second one lands them
    system_emulator.control.touch_rows(TABLE, 2)
    (again,) = run_producer(api, "second")["tables"]
    assert again["dataset_id"] == table["dataset_id"] and again["run_id"] != table["run_id"]  # reused, new run
    (on_dataset,) = consumer_events(api, ON_DATASET, 1)
    assert on_dataset["uri"] == uri
    assert_run_metrics(on_dataset, again)
    assert on_dataset["extra"]["run_id"] == again["run_id"]
    on_alias = consumer_events(api, ON_ALIAS, 2)
    assert sorted(e["extra"]["run_id"] for e in on_alias) == sorted([table["run_id"], again["run_id"]])

    # 3. OpenLineage events of the producer, written by the file transport
    ol_file = server.home / "ol.json"
    deadline = time.monotonic() + 60
    while True:
        events = (
            [json.loads(line) for line in ol_file.read_text().splitlines() if line.strip()] if ol_file.exists() else []
        )
        complete = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith(f"{PRODUCER}.")]
        if any(e["job"]["name"] == f"{PRODUCER}.{SENSOR}" for e in complete):
            break
        assert time.monotonic() < deadline, f"no COMPLETE event of {SENSOR} in {ol_file}: {len(events)} events"
        time.sleep(1)
    assert all(e["job"]["namespace"] == OL_NAMESPACE for e in complete)
    source_ns = "aep-source://hubspot/" + table_base(api)
    inputs = [i for e in complete for i in e.get("inputs", [])]
    assert (source_ns, TABLE) in {(i["namespace"], i["name"]) for i in inputs}, inputs
    schemas = [
        [f["name"] for f in i["facets"]["schema"]["fields"]]
        for i in inputs
        if (i["namespace"], i["name"]) == (source_ns, TABLE) and "schema" in i.get("facets", {})
    ]
    assert schemas and all(schemas), inputs  # the explored columns (create_source_connection's input)
    wait = [e for e in complete if e["job"]["name"] == f"{PRODUCER}.{SENSOR}"]
    for event in wait:
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [(source_ns, TABLE)]
        (output,) = event["outputs"]
        assert (output["namespace"], output["name"]) == (AEP_NAMESPACE, f"datasets/{table['dataset_id']}")
        lineage = output["facets"]["columnLineage"]["fields"]
        assert lineage, output
        for field in lineage.values():
            assert {(f["namespace"], f["name"]) for f in field["inputFields"]} == {(source_ns, TABLE)}
    assert {e["run"]["facets"]["externalQuery"]["externalQueryId"] for e in wait} == {table["run_id"], again["run_id"]}


def table_base(api: AirflowClient) -> str:
    return str(api.xcom(PRODUCER, "first", "summary")["connection_id"])

"""End to end: ``dags_examples/hubspot_onboarding.py`` through ``dag.test()`` against the emulator.

``dag.test()`` runs every task in this process and the deferred sensor's trigger inline, over real HTTP.
"""

from __future__ import annotations

import os

import pytest

# Read when the DAG file is parsed (the session DagBag); set at collection, before any test runs.
os.environ.setdefault("AEP_ONBOARDING_POKE_INTERVAL", "0.2")

DAG_ID = "aep_hubspot_onboarding"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies"]
RESOURCES = (
    "connections",
    "sourceConnections",
    "targetConnections",
    "flows",
    "fieldgroups",
    "schemas",
    "dataSets",
    "mappingSets",
)
GROUP = "onboard_table"
TEARDOWN_TASKS = {
    "delete_base_connection",
    *(
        f"{GROUP}.{task}"
        for task in (
            "delete_dataflow",
            "delete_source_connection",
            "delete_target_connection",
            "delete_dataset",
            "delete_schema",
            "delete_field_group",
        )
    ),
}


@pytest.fixture
def onboarding_emulator(aep_emulator, connections):
    connections(aep_emulator.url)
    # Runs stay scheduled a moment, so the sensor really defers and its trigger polls.
    aep_emulator.control.configure(run_start_delay=0.3, run_duration=0.3)
    return aep_emulator


def task_states(dag_run) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    for ti in dag_run.get_task_instances():
        states.setdefault(ti.task_id, set()).add(str(ti.state))
    return states


def summary_of(dag_run) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=DAG_ID, run_id=dag_run.run_id, task_id="summary", key="return_value")
            .one()
        )
        return XComModel.deserialize_value(row)


def resource_ids(emulator) -> dict[str, set[str]]:
    state = emulator.control.state()
    return {name: {item.get("$id") or item["id"] for item in state[name]} for name in RESOURCES}


def test_onboarding_creates_the_target_side_lands_records_and_a_second_run_creates_nothing_new(
    run_dag, onboarding_emulator
):
    from airflow.utils.state import DagRunState

    first = run_dag(DAG_ID)
    states = task_states(first)
    assert first.state == DagRunState.SUCCESS, states
    assert {t: s for t, s in states.items() if t not in TEARDOWN_TASKS and s != {"success"}} == {}
    assert {t: s for t, s in states.items() if t in TEARDOWN_TASKS and s != {"skipped"}} == {}

    # Mapped instances show their table in the grid, not 0/1 (map_index_template); resource_names too, although
    # Airflow renders its label before it pushes the XCom the other tasks' labels read.
    shown = {(ti.task_id, ti.rendered_map_index) for ti in first.get_task_instances() if ti.task_id.startswith(GROUP)}
    for task in ("resource_names", "explore_table", "create_schema", "create_dataflow", "wait_for_run"):
        assert {index for task_id, index in shown if task_id == f"{GROUP}.{task}"} == set(TABLES), shown

    created = resource_ids(onboarding_emulator)
    assert {name: len(ids) for name, ids in created.items()} == {
        "connections": 1,
        "sourceConnections": 2,
        "targetConnections": 2,
        "flows": 2,
        "fieldgroups": 2,
        "schemas": 2,
        "dataSets": 2,
        "mappingSets": 2,
    }
    summary = summary_of(first)
    tables = {t["table"]: t for t in summary["tables"]}
    assert sorted(tables) == sorted(TABLES)
    assert {summary["connection_id"]} == created["connections"]
    for key, name in (("schema_id", "schemas"), ("dataset_id", "dataSets"), ("flow_id", "flows")):
        assert {t[key] for t in tables.values()} == created[name]
    for table in tables.values():
        assert table["status"] == "success" and table["failed_records"] == 0
        landed = onboarding_emulator.control.landed_records(table["dataset_id"])
        assert len(landed) == table["records"] > 0
    assert not any("SECRET" in str(value) for value in summary.values())

    onboarding_emulator.control.advance_clock(60)  # nothing left running: the second run must start new runs
    # Runs copy the rows whose Updated_At changed since the previous run's window: 3 contacts changed since.
    onboarding_emulator.control.touch_rows("Hubspot.Contacts", 3)
    second = run_dag(DAG_ID)
    assert second.state == DagRunState.SUCCESS, task_states(second)
    assert resource_ids(onboarding_emulator) == created
    again = {t["table"]: t for t in summary_of(second)["tables"]}
    for table, first_table in tables.items():
        assert again[table]["run_id"] != first_table["run_id"]
        assert {k: v for k, v in again[table].items() if k in ("schema_id", "dataset_id", "mapping_set_id")} == {
            k: v for k, v in first_table.items() if k in ("schema_id", "dataset_id", "mapping_set_id")
        }
        landed = onboarding_emulator.control.landed_records(first_table["dataset_id"])
        assert len(landed) == first_table["records"] + again[table]["records"]  # a second batch landed
    assert {table: again[table]["records"] for table in TABLES} == {"Hubspot.Contacts": 3, "Hubspot.Companies": 0}


def test_the_summary_task_logs_what_landed_as_a_table(run_dag, onboarding_emulator, caplog):
    import logging

    from airflow.utils.state import DagRunState

    with caplog.at_level(logging.INFO, logger="airflow_provider_aep.task_groups"):
        dag_run = run_dag(DAG_ID, conf={"tables": TABLES})
    assert dag_run.state == DagRunState.SUCCESS, task_states(dag_run)
    summary = summary_of(dag_run)
    [logged] = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_aep.task_groups"]
    title, header, *rows = logged.splitlines()
    assert title == f"Onboarded 2 tables from hubspot (base connection {summary['connection_id']}):"
    assert header.split() == ["table", "status", "records", "failed", "dataset", "dataflow", "run"]
    for row, table in zip(rows, sorted(summary["tables"], key=lambda t: t["table"]), strict=True):
        cells = [table["table"], "success", "10", "0", table["dataset_id"], table["flow_id"], table["run_id"]]
        assert row.split() == cells
        assert row.index(table["dataset_id"]) == header.index("dataset")  # columns line up


def test_onboarding_with_teardown_deletes_what_the_run_created(run_dag, onboarding_emulator):
    from airflow.utils.state import DagRunState

    dag_run = run_dag(DAG_ID, conf={"teardown": True, "teardown_data": True, "tables": ["Hubspot.Deals"]})
    states = task_states(dag_run)
    assert dag_run.state == DagRunState.SUCCESS, states
    assert all(s == {"success"} for s in states.values()), states
    left = resource_ids(onboarding_emulator)
    # Data Prep has no delete for mapping sets; everything else this run made is gone.
    assert {name: ids for name, ids in left.items() if ids} == {"mappingSets": left["mappingSets"]}
    assert len(left["mappingSets"]) == 1


def test_a_rerun_with_another_table_set_and_teardown_leaves_the_first_runs_resources(run_dag, onboarding_emulator):
    from airflow.utils.state import DagRunState

    first = run_dag(DAG_ID, conf={"tables": ["Hubspot.Contacts"]})
    assert first.state == DagRunState.SUCCESS, task_states(first)
    kept = resource_ids(onboarding_emulator)
    second = run_dag(DAG_ID, conf={"tables": ["Hubspot.Companies"], "teardown": True})
    assert second.state == DagRunState.SUCCESS, task_states(second)
    now = resource_ids(onboarding_emulator)
    # The shared base connection was reused, so the teardown left it; Companies' flow and connections are gone.
    assert now["connections"] == kept["connections"]
    for name in ("flows", "sourceConnections", "targetConnections"):
        assert now[name] == kept[name], name
    # Without teardown_data, Companies' dataset, schema and field group stay (they may hold data).
    assert len(now["dataSets"]) == 2 and len(now["schemas"]) == 2


def test_two_onboardings_side_by_side_in_one_sandbox(run_dag, onboarding_emulator):
    """Before: the second onboarding failed create_dataflow on every try (same derived names)."""
    from airflow.utils.state import DagRunState

    first = run_dag(DAG_ID, conf={"tables": ["Hubspot.Contacts"]})
    second = run_dag(DAG_ID, conf={"tables": ["Hubspot.Contacts"], "connection_name": "HubSpot (second portal)"})
    assert first.state == second.state == DagRunState.SUCCESS, task_states(second)
    counts = {name: len(ids) for name, ids in resource_ids(onboarding_emulator).items()}
    assert counts == {name: 2 for name in RESOURCES}


def test_dag_file_is_cheap_to_parse():
    """DAG files are parsed every few seconds: no HTTP client, no provider client, no network at import."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).parents[1] / "dags_examples" / "hubspot_onboarding.py"
    code = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(json.dumps([m for m in sys.modules if m.startswith(('requests', 'airflow_provider_aep.client.'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "requests" not in loaded
    assert not [m for m in loaded if m.endswith(("flow_service", "async_flow_service"))], loaded


def test_teardown_runs_after_a_failed_dataflow_run_and_the_dag_run_fails(run_dag, onboarding_emulator):
    """Teardown tasks are Airflow teardowns: they run after the table's work whether it succeeded or failed."""
    from airflow.utils.state import DagRunState

    onboarding_emulator.control.set_run_outcome("failed")  # every run of this test fails
    dag_run = run_dag(DAG_ID, conf={"teardown": True, "teardown_data": True, "tables": ["Hubspot.Deals"]})
    states = task_states(dag_run)
    assert dag_run.state == DagRunState.FAILED, states
    assert states["onboard_table.wait_for_run"] == {"failed"}, states
    teardowns = [task for task in states if "delete_" in task]
    assert len(teardowns) == 7 and all(states[task] == {"success"} for task in teardowns), states
    left = resource_ids(onboarding_emulator)
    assert {name: ids for name, ids in left.items() if ids} == {"mappingSets": left["mappingSets"]}


@pytest.mark.parametrize(
    ("teardown", "teardown_data", "expected"),
    [
        (False, True, (False, False)),
        ("false", "true", (False, False)),
        ("True", "false", (True, False)),
        (True, "1", (True, True)),
    ],
)
def test_teardown_flags_as_text_mean_what_they_say(teardown, teardown_data, expected):
    """``"false"`` as text and ``False`` mean the same to every teardown task (one function, ``all_true``)."""
    from airflow.sdk import DAG

    from airflow_provider_aep.operators.base import all_true
    from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

    with DAG("flags", schedule=None) as dag:
        AEPOnboardingTaskGroup(
            "onboard",
            source="hubspot",
            connection_name="c",
            tables=["T"],
            teardown=teardown,
            teardown_data=teardown_data,
        )
    flow = dag.get_task("onboard.onboard_table.delete_dataflow")
    dataset = dag.get_task("onboard.onboard_table.delete_dataset")
    assert (all_true(flow.enabled), all_true(dataset.enabled)) == expected
    assert flow.is_teardown and dataset.is_teardown


def test_a_failed_teardown_fails_the_dag_run(run_dag, onboarding_emulator):
    """AEP refuses the dataflow's delete (a 400 that is not an in-use answer): the teardown task fails without
    retries, and the DAG run fails although every task of the work succeeded."""
    from airflow.utils.state import DagRunState

    onboarding_emulator.control.add_fault(
        method="DELETE", path="/data/foundation/flowservice/flows/.*", status=400, count=1
    )
    dag_run = run_dag(DAG_ID, conf={"teardown": True, "tables": ["Hubspot.Deals"]})
    states = task_states(dag_run)
    assert dag_run.state == DagRunState.FAILED, states
    assert states["onboard_table.delete_dataflow"] == {"failed"}, states
    assert states["onboard_table.wait_for_run"] == {"success"} and states["summary"] == {"success"}, states


# --------------------------------------------------------------------------- asset events, on by default
ORG = "0123456789abcdef01234567"  # tests/conftest.py's ORG_ID as an aep:// URI spells it
CONSUMER = "aep_hubspot_landed"  # dags_examples/aep_dataset_consumer.py


def asset_events_of(dag_run) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent, AssetModel.uri)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id)
        ).all()
        return [
            {
                "uri": uri,
                "task": event.source_task_id,
                "aliases": sorted(a.name for a in event.source_aliases),
                "extra": event.extra,
            }
            for event, uri in rows
        ]


def consumer_in_db() -> None:
    """The consumer DAG as the DAG processor would store it (as ``dag.test()`` stores the DAGs of its bundle),
    unpaused: then an asset event queues its run."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    from tests.airflow_compat import sync_dags_to_db

    sync_dags_to_db()
    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == CONSUMER).update({"is_paused": False})


def queued_consumer_runs() -> list[str]:
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri)
            .join(AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id)
            .filter(AssetDagRunQueue.target_dag_id == CONSUMER)
            .all()
        )
        return [uri for (uri,) in rows]


def test_the_onboarding_emits_its_datasets_asset_event_by_default(run_dag, dagbag, onboarding_emulator):
    """No asset_alias anywhere in the example DAG: each table's ``wait_for_run`` declares its own alias and emits
    the dataset's event through it; the example consumer DAG, scheduled on that alias, is queued."""
    from airflow.sdk import AssetAlias
    from airflow.utils.state import DagRunState

    from airflow_provider_aep.asset_events import default_asset_alias

    alias = default_asset_alias(DAG_ID, f"{GROUP}.wait_for_run")
    sensor = dagbag.get_dag(DAG_ID).get_task(f"{GROUP}.wait_for_run")
    assert sensor.outlets == [AssetAlias(name=alias)]
    assert list(dagbag.get_dag(CONSUMER).timetable.asset_condition.objects) == [AssetAlias(name=alias)]
    consumer_in_db()

    dag_run = run_dag(DAG_ID, conf={"tables": ["Hubspot.Contacts"]})
    assert dag_run.state == DagRunState.SUCCESS, task_states(dag_run)
    [table] = summary_of(dag_run)["tables"]
    uri = f"aep://{ORG}/prod/datasets/{table['dataset_id']}"
    [event] = asset_events_of(dag_run)
    assert (event["uri"], event["task"], event["aliases"]) == (uri, f"{GROUP}.wait_for_run", [alias])
    extra = event["extra"]
    assert (extra["dataset_id"], extra["run_id"], extra["status"]) == (table["dataset_id"], table["run_id"], "success")
    assert extra["records_written"] == table["records"] > 0 and extra["records_failed"] == 0
    assert extra["batch_id"] and extra["bytes_written"] > 0 and extra["duration_seconds"] > 0
    assert extra["error_codes"] == []
    assert queued_consumer_runs() == [uri]


def test_an_onboarding_told_not_to_emits_no_asset_event(run_dag, dagbag, onboarding_emulator):
    """``tests/dags/aep_onboarding_quiet.py``: the same onboarding with ``emit_asset_events=False``."""
    from airflow.utils.state import DagRunState

    assert dagbag.get_dag("aep_onboarding_quiet").get_task(f"{GROUP}.wait_for_run").outlets == []
    dag_run = run_dag("aep_onboarding_quiet")
    assert dag_run.state == DagRunState.SUCCESS, task_states(dag_run)
    assert onboarding_emulator.control.state()["dataSets"]  # it did land data
    assert asset_events_of(dag_run) == []

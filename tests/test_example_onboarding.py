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
RESOURCES = ("connections", "sourceConnections", "targetConnections", "flows")
TEARDOWN_TASKS = {"delete_dataflow", "delete_source_connection", "delete_target_connection", "delete_base_connection"}


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
    return {name: {item["id"] for item in state[name]} for name in RESOURCES}


def test_onboarding_pipeline_runs_and_a_second_run_creates_nothing_new(run_dag, onboarding_emulator):
    from airflow.utils.state import DagRunState

    first = run_dag(DAG_ID)
    states = task_states(first)
    assert first.state == DagRunState.SUCCESS, states
    assert all(s == {"success"} for task, s in states.items() if task not in TEARDOWN_TASKS), states
    assert all(states[task] == {"skipped"} for task in TEARDOWN_TASKS), states
    assert len(states) == 13

    created = resource_ids(onboarding_emulator)
    assert {name: len(ids) for name, ids in created.items()} == {
        "connections": 1,
        "sourceConnections": 2,
        "targetConnections": 1,
        "flows": 2,
    }
    summary = summary_of(first)
    assert sorted(summary["tables"]) == sorted(TABLES)
    assert {summary["connection_id"]} == created["connections"]
    assert set(summary["source_connection_ids"]) == created["sourceConnections"]
    assert {summary["target_connection_id"]} == created["targetConnections"]
    assert set(summary["flow_ids"]) == created["flows"]
    assert [run["status"] for run in summary["runs"]] == ["success", "success"]
    assert all(run["records"] > 0 for run in summary["runs"])

    sources = onboarding_emulator.control.state()["sourceConnections"]
    assert sorted(s["params"]["path"] for s in sources) == sorted(TABLES)
    assert not any("SECRET" in str(value) for value in summary.values())

    onboarding_emulator.control.advance_clock(60)  # nothing left running: the second run must start new runs
    second = run_dag(DAG_ID)
    assert second.state == DagRunState.SUCCESS, task_states(second)
    assert resource_ids(onboarding_emulator) == created
    again = summary_of(second)
    assert {k: v for k, v in again.items() if k != "runs"} == {k: v for k, v in summary.items() if k != "runs"}
    assert {r["id"] for r in again["runs"]}.isdisjoint({r["id"] for r in summary["runs"]})


def test_onboarding_with_teardown_deletes_everything(run_dag, onboarding_emulator):
    from airflow.utils.state import DagRunState

    dag_run = run_dag(DAG_ID, conf={"teardown": True, "tables": ["Hubspot.Deals"]})
    states = task_states(dag_run)
    assert dag_run.state == DagRunState.SUCCESS, states
    assert all(s == {"success"} for s in states.values()), states
    assert resource_ids(onboarding_emulator) == {name: set() for name in RESOURCES}
    summary = summary_of(dag_run)
    assert summary["tables"] == ["Hubspot.Deals"] and len(summary["flow_ids"]) == 1


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

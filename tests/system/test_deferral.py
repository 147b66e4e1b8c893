"""The onboarding DAG on a real scheduler + triggerer: the run sensor defers and its trigger finishes it."""

from __future__ import annotations

DAG_ID = "aep_hubspot_onboarding"
SENSOR = "wait_for_run"


def test_sensor_defers_to_the_real_triggerer(airflow_api, fresh_emulator) -> None:
    # Runs stay scheduled/in progress for a few seconds, so the sensor's first check cannot finish it.
    fresh_emulator.control.configure(run_start_delay=2.0, run_duration=2.0)
    run = airflow_api.run_dag(DAG_ID, conf={"tables": ["Hubspot.Contacts", "Hubspot.Deals"]}, timeout=180)
    run_id = run["dag_run_id"]
    tis = airflow_api.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}

    sensors = [t for t in tis if t["task_id"] == SENSOR]
    assert sorted(t["map_index"] for t in sensors) == [0, 1]
    for ti in sensors:
        assert ti["state"] == "success"
        assert ti["try_number"] == 1  # deferring is not a retry
        files = airflow_api.task_log_files(DAG_ID, run_id, SENSOR, ti["map_index"])
        trigger_logs = [p for p in files if ".trigger." in p.name]
        assert trigger_logs, f"map_index {ti['map_index']} never ran in the triggerer: {files}"
        trigger_text = "\n".join(p.read_text(errors="replace") for p in trigger_logs)
        assert "AEP run watch ended" in trigger_text
        assert "success" in trigger_text

    summary = airflow_api.xcom(DAG_ID, run_id, "summary")
    assert [r["status"] for r in summary["runs"]] == ["success", "success"]
    state = fresh_emulator.control.state()
    assert len(state["connections"]) == 1 and len(state["flows"]) == 2

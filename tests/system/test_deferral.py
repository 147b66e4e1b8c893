"""The onboarding DAG on a real scheduler + triggerer: the run sensor defers and its trigger finishes it.

The emulated runs are held in progress (a run duration of an hour on the emulator's clock) until every
sensor has deferred; only then does the test advance the emulator's clock. So the sensors defer however
slow or busy the machine is (before, a run could end before the sensor's first check and never defer).
"""

from __future__ import annotations

DAG_ID = "aep_hubspot_onboarding"
SENSOR = "onboard_table.wait_for_run"
TABLES = ["Hubspot.Contacts", "Hubspot.Deals"]


def test_sensor_defers_to_the_real_triggerer(airflow_api, fresh_emulator) -> None:
    fresh_emulator.control.configure(run_start_delay=0.0, run_duration=3600.0)
    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)
    run_id = airflow_api.trigger(DAG_ID, conf={"tables": TABLES})
    deferred = airflow_api.wait_for_tasks(DAG_ID, run_id, SENSOR, "deferred", count=len(TABLES), timeout=240)
    assert sorted(t["map_index"] for t in deferred) == [0, 1]
    fresh_emulator.control.advance_clock(7200)  # now every run is done; the triggers see it on their next poll
    run = airflow_api.wait_for_run(DAG_ID, run_id, timeout=180)
    tis = airflow_api.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}

    for ti in [t for t in tis if t["task_id"] == SENSOR]:
        assert ti["state"] == "success"
        assert ti["try_number"] == 1  # deferring is not a retry
        files = airflow_api.task_log_files(DAG_ID, run_id, SENSOR, ti["map_index"])
        trigger_logs = [p for p in files if ".trigger." in p.name]
        assert trigger_logs, f"map_index {ti['map_index']} never ran in the triggerer: {files}"
        trigger_text = "\n".join(p.read_text(errors="replace") for p in trigger_logs)
        assert "AEP run watch ended" in trigger_text
        assert "success" in trigger_text

    summary = airflow_api.xcom(DAG_ID, run_id, "summary")
    assert sorted(t["table"] for t in summary["tables"]) == sorted(TABLES)
    assert [t["status"] for t in summary["tables"]] == ["success", "success"]
    for table in summary["tables"]:
        assert len(fresh_emulator.control.landed_records(table["dataset_id"])) == table["records"] > 0
    state = fresh_emulator.control.state()
    assert len(state["connections"]) == 1 and len(state["flows"]) == 2 and len(state["dataSets"]) == 2

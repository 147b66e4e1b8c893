"""End to end: the HubSpot onboarding lands the contacts, then ``dags_examples/query_service.py`` checks them,
writes a CTAS dataset of companies with their contact counts and reads the row counts back, through
``dag.test()`` against the emulator (the deferred query's trigger runs inline)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("AEP_ONBOARDING_POKE_INTERVAL", "0.2")
os.environ.setdefault("AEP_QUERY_POKE_INTERVAL", "0.2")


def test_query_service_example_after_the_onboarding(aep_emulator, connections, monkeypatch, run_dag):
    from tests.conftest import xcoms_of

    connections(aep_emulator.url)
    conn = {"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}}
    monkeypatch.setenv("AIRFLOW_CONN_AEP_QUERY_SERVICE_DEFAULT", json.dumps(conn))
    aep_emulator.control.configure(run_start_delay=0.2, run_duration=0.2, query_start_delay=0.1, query_duration=0.1)
    for _onboarding in (1, 2):  # the second run lands a new version of the contacts touched in between
        assert str(run_dag("aep_hubspot_onboarding", {"tables": ["Hubspot.Contacts"]}).state) == "success"
        aep_emulator.control.touch_rows("Hubspot.Contacts", 2, source="hubspot")
    for _attempt in (1, 2):  # the second run drops the first run's dataset and writes it again
        dag_run = run_dag("aep_query_service")
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert set(states.values()) == {"success"}, states
        report = xcoms_of(dag_run)[("report", -1, "return_value")]
        assert report["records"] == report["contacts"] + 2, report  # two contacts are there in two versions
        assert report["companies"] > 0, report
        assert report["contacts_with_a_company"] <= report["contacts"]

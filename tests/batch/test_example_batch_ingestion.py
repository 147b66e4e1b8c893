"""End to end: ``dags_examples/batch_ingestion.py`` through ``dag.test()`` against the emulator's Batch Ingestion.

A generated export lands in a dataset made from the file's columns; a second run lands a second batch and makes
no second field group, schema or dataset; the ingest task's asset event reaches its alias.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("AEP_BATCH_POKE_INTERVAL", "0.2")

from tests.conftest import xcoms_of

DAG_ID = "aep_batch_ingestion"


@pytest.fixture
def batch_emulator(aep_emulator, connections, tmp_path, monkeypatch):
    connections(aep_emulator.url)
    return aep_emulator


def _ids(emulator, collection: str) -> set[str]:
    return {str(item.get("id") or item.get("$id")) for item in emulator.control.state().get(collection, [])}


def _customer_ids(records: list[dict]) -> set[str]:
    tenant = [key for key in records[0] if key.startswith("_") and key != "_id"]
    return {r[tenant[0]]["files"]["customers"]["customerId"] for r in records}


def test_example_lands_the_export_once_per_run_and_reuses_the_target_side(run_dag, batch_emulator):
    first = run_dag(DAG_ID, conf={"records": 1500})
    assert first.state == "success", first
    summary = xcoms_of(first)[("ingest", -1, "return_value")]
    assert summary["status"] == "success"
    assert summary["records"] == 1500 and summary["failed_records"] == 0
    dataset_id = summary["dataset_id"]
    landed = batch_emulator.control.landed_records(dataset_id, batch_id=summary["id"])
    assert len(landed) == 1500
    assert _customer_ids(landed) == {f"C{n:07d}" for n in range(1500)}
    report = xcoms_of(first)[("report", -1, "return_value")]
    assert report["records"] == 1500 and report["id"] == summary["id"]
    made = {c: _ids(batch_emulator, c) for c in ("fieldgroups", "schemas", "dataSets")}

    second = run_dag(DAG_ID, conf={"records": 10})
    assert second.state == "success", second
    again = xcoms_of(second)[("ingest", -1, "return_value")]
    assert again["id"] != summary["id"] and again["dataset_id"] == dataset_id and again["records"] == 10
    assert {c: _ids(batch_emulator, c) for c in made} == made
    assert len(batch_emulator.control.landed_records(dataset_id)) == 1510

"""End to end through ``dag.test()`` against the emulator: ``tests/dags/aep_asset_events.py`` triggers a run,
and its sensors leave asset events in the metadata DB for ``aep://<org>/prod/datasets/<id>``, one through
the alias (dataset resolved at run time, deferred sensor) and one for the static outlet, both with the
run's metrics in ``extra``."""

from __future__ import annotations

import pytest

DAG_ID = "aep_asset_events"
ALIAS = "aep-hubspot-contacts"
ORG = "0123456789abcdef01234567"  # tests/conftest.py's ORG_ID as the URI spells it


@pytest.fixture
def dataset_pipeline(emulator, pipeline, monkeypatch, airflow_db) -> dict[str, str]:
    """A ready dataflow whose dataset the DAG's static outlet names (read when ``run_dag`` parses the DAG)."""
    from tests.airflow_compat import forget_dag

    monkeypatch.setenv("AEP_ASSET_EVENTS_DATASET_ID", pipeline["dataset"])
    forget_dag("aep_asset_events")  # its static outlet is read from the environment when it is parsed
    emulator.control.configure(run_start_delay=0.3, run_duration=0.3)  # the alias sensor really defers
    emulator.control.advance_clock(60)  # the flow's own first run has finished
    emulator.control.touch_rows("Hubspot.Contacts", 4)  # what the DAG's incremental run copies
    return pipeline


def asset_events(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id).where(AssetModel.uri == uri)
        ).all()
        return [
            {
                "task": r.source_task_id,
                "run": r.source_run_id,
                "aliases": sorted(a.name for a in r.source_aliases),
                "extra": r.extra,
            }
            for r in rows
        ]


def alias_assets(name: str) -> list[str]:
    from airflow.models.asset import AssetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        alias = session.scalars(select(AssetAliasModel).where(AssetAliasModel.name == name)).one()
        return [a.uri for a in alias.assets]


def test_a_successful_run_leaves_asset_events_with_its_metrics(dataset_pipeline, run_dag):
    from airflow.utils.state import DagRunState

    from tests.conftest import AEP_CLIENT_SECRET, xcoms_of

    uri = f"aep://{ORG}/prod/datasets/{dataset_pipeline['dataset']}"
    dag_run = run_dag(DAG_ID, conf={"flow_id": dataset_pipeline["flow"]})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert dag_run.state == DagRunState.SUCCESS, states

    xcoms = xcoms_of(dag_run)
    run_id = xcoms["run_flow", -1, "return_value"]
    summary = xcoms["wait_alias", -1, "return_value"]
    assert summary["id"] == run_id and summary["phase"] == "success"

    events = {e["task"]: e for e in asset_events(uri) if e["run"] == dag_run.run_id}
    assert set(events) == {"wait_alias", "wait_static"}, asset_events(uri)
    assert events["wait_alias"]["aliases"] == [ALIAS]
    assert events["wait_static"]["aliases"] == []
    assert alias_assets(ALIAS) == [uri]  # the alias now resolves to the dataset's asset
    for event in events.values():
        extra = event["extra"]
        assert (extra["run_id"], extra["flow_id"], extra["sandbox"]) == (run_id, dataset_pipeline["flow"], "prod")
        assert extra["dataset_id"] == dataset_pipeline["dataset"]
        assert extra["records_read"] == summary["input_records"] > 0
        assert extra["records_written"] == summary["output_records"] > 0
        assert extra["records_failed"] == 0
        assert extra["bytes_read"] == summary["input_bytes"] > 0
        assert extra["bytes_written"] == summary["output_bytes"] > 0
        assert extra["duration_seconds"] == summary["duration_ms"] / 1000 > 0
        assert extra["batch_id"] == summary["batches"][dataset_pipeline["target"]][0]
        assert AEP_CLIENT_SECRET not in str(extra)

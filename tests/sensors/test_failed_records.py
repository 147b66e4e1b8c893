"""Failed records from emulated ingestion: a non-numeric string mapped into an integer field.

Over real HTTP against the emulator: the mapping set writes ``iif(Vid > 1035, "n/a", Vid)`` into the
integer ``vid`` field, so the five sample rows with a larger ``Vid`` cannot be ingested (Data Prep cannot
turn ``"n/a"`` into an integer) and the other five land. The sensor's failed-records policy then decides.
"""

from __future__ import annotations

import pytest

from airflow_provider_aep.exceptions import AEPFlowRunFailedError
from airflow_provider_aep.operators.catalog import CreateDatasetOperator
from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
from airflow_provider_aep.operators.flows import CreateDataflowOperator
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator
from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

from ..operators.conftest import TABLE


@pytest.fixture
def partial_run(emulator, base_connection_id, explored, context) -> dict[str, str]:
    """A finished run of a flow whose mapping makes half of the rows fail."""
    group = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    vid = context["ti"].xcoms["field_paths"]["Vid"]
    schema = CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=group).execute(context)
    dataset = CreateDatasetOperator(task_id="d", name="Contacts", schema_id=schema).execute(context)
    mapping = CreateMappingSetOperator(
        task_id="m",
        schema_id=schema,
        table=explored,
        mapping_overrides={"Vid": None},
        calculated_fields={vid: 'iif(Vid > 1035, "n/a", Vid)'},
    ).execute(context)
    source = CreateSourceConnectionOperator(task_id="src", base_connection_id=base_connection_id, table_path=TABLE)
    target = CreateTargetConnectionOperator(task_id="tgt", dataset_id=dataset, schema_id=schema)
    flow = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=source.execute(context),
        target_connection_id=target.execute(context),
        delta_column="Updated_At",
        mapping_id=mapping,
    ).execute(context)
    run_id = TriggerFlowRunOperator(task_id="run", flow_id=flow, adopt_first_run=True).execute(context)
    emulator.control.advance_clock(3600)
    return {"run": run_id, "dataset": dataset}


def test_policy_fail_fails_the_task_with_the_ingestion_error_codes(partial_run, context):
    with pytest.raises(AEPFlowRunFailedError, match="5 records failed") as info:
        AEPFlowRunSensor(task_id="w", run_id=partial_run["run"], failed_records_policy="fail").execute(context)
    assert info.value.run["failed_records"] == 5
    assert any(error["code"].startswith("MAPPER-") for error in info.value.run["errors"]), info.value.run["errors"]
    assert "MAPPER-" in str(info.value)  # the task log says why, not only how many
    assert info.value.run["sample_errors_url"].endswith("row_error_samples.json")


@pytest.mark.parametrize("policy", ["warn", "ignore"])
def test_policy_warn_or_ignore_accepts_the_partial_run(partial_run, context, emulator, policy):
    summary = AEPFlowRunSensor(task_id="w", run_id=partial_run["run"], failed_records_policy=policy).execute(context)
    assert (summary["status"], summary["output_records"], summary["failed_records"]) == ("success", 5, 5)
    landed = emulator.control.landed_records(partial_run["dataset"])
    assert len(landed) == 5

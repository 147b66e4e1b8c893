"""Onboard HubSpot tables into Adobe Experience Platform, end to end.

base connection → explore (selected tables) → one source connection per table → Data Lake target
connection → one ``once`` dataflow per table → on-demand run → wait (deferred) → optional teardown →
summary. Every create step looks its resource up by name first, so re-running the DAG reuses what exists
and only starts new ingestion runs.

Connections (Airflow UI, secrets backend or ``AIRFLOW_CONN_*`` environment variables):
``aep_default`` (type ``adobe_experience_platform``) and ``hubspot_default`` (type ``hubspot``).
The dataset and XDM schema must already exist in AEP (Catalog / Schema Registry); pass their ids as
params. ``AEP_ONBOARDING_POKE_INTERVAL`` (seconds, default 60) sets how often runs are polled.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, task

from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator, DeleteConnectionOperator
from airflow_provider_aep.operators.explore import AEPExploreConnectionOperator
from airflow_provider_aep.operators.flows import CreateDataflowOperator, DeleteDataflowOperator
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from airflow_provider_aep.operators.source_connections import (
    CreateSourceConnectionOperator,
    DeleteSourceConnectionOperator,
)
from airflow_provider_aep.operators.target_connections import (
    CreateTargetConnectionOperator,
    DeleteTargetConnectionOperator,
)
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

log = logging.getLogger(__name__)
POKE_INTERVAL = float(os.environ.get("AEP_ONBOARDING_POKE_INTERVAL", "60"))

with DAG(
    dag_id="aep_hubspot_onboarding",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "hubspot"],
    # Every task is safe to retry: creates look up before they POST, runs are reconciled, deletes accept 404.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "connection_name": Param("HubSpot (Airflow onboarding)", type="string", minLength=1),
        "tables": Param(
            ["Hubspot.Contacts", "Hubspot.Companies"],
            type="array",
            minItems=1,
            description="Table names, globs (Hubspot.Deal*) or re:regexes, as listed by explore.",
        ),
        "dataset_id": Param("5ed5639d798a22191b6987b2", type="string", description="Catalog dataset id."),
        "schema_id": Param(
            "https://ns.adobe.com/tenant/schemas/hubspot-onboarding",
            type="string",
            description="XDM schema $id of the dataset.",
        ),
        "delta_column": Param("Updated_At", type="string", description="Timestamp column for incremental copy."),
        "teardown": Param(False, type="boolean", description="Delete everything created once the runs ended."),
    },
):
    base_connection = CreateHubSpotConnectionOperator(
        task_id="create_base_connection", name="{{ params.connection_name }}"
    )
    tables = AEPExploreConnectionOperator(
        task_id="explore_tables",
        base_connection_id=base_connection.output,
        table_filter="{{ params.tables }}",
        return_paths=True,
    )
    source_connections = CreateSourceConnectionOperator.partial(
        task_id="create_source_connection", base_connection_id=base_connection.output
    ).expand(table_path=tables.output)
    target_connection = CreateTargetConnectionOperator(
        task_id="create_target_connection",
        dataset_id="{{ params.dataset_id }}",
        schema_id="{{ params.schema_id }}",
    )
    dataflows = CreateDataflowOperator.partial(
        task_id="create_dataflow",
        target_connection_id=target_connection.output,
        delta_column="{{ params.delta_column }}",
        schedule={"frequency": "once"},
    ).expand(source_connection_ids=source_connections.output)
    runs = TriggerFlowRunOperator.partial(task_id="trigger_run").expand(flow_id=dataflows.output)
    finished_runs = AEPFlowRunSensor.partial(
        task_id="wait_for_run",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(hours=6),
        failed_records_policy="warn",
    ).expand(run_id=runs.output)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def teardown_requested(params: dict[str, Any] | None = None) -> bool:
        """Skips the delete tasks unless the run asked for a teardown (the summary still runs)."""
        return bool((params or {}).get("teardown"))

    delete_dataflows = DeleteDataflowOperator.partial(task_id="delete_dataflow").expand(flow_id=dataflows.output)
    delete_sources = DeleteSourceConnectionOperator.partial(task_id="delete_source_connection").expand(
        source_connection_id=source_connections.output
    )
    delete_target = DeleteTargetConnectionOperator(
        task_id="delete_target_connection", target_connection_id=target_connection.output
    )
    delete_base = DeleteConnectionOperator(task_id="delete_base_connection", base_connection_id=base_connection.output)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summary(
        connection_id: str,
        tables: list[str],
        source_connection_ids: list[str],
        target_connection_id: str,
        flow_ids: list[str],
        runs: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """What was onboarded, as one XCom (ids only: no credentials)."""
        result = {
            "connection_id": connection_id,
            "tables": list(tables),
            "source_connection_ids": list(source_connection_ids),
            "target_connection_id": target_connection_id,
            "flow_ids": list(flow_ids),
            "runs": [
                {
                    "id": run["id"],
                    "status": run["status"],
                    "records": run.get("output_records"),
                    "failed_records": run.get("failed_records", 0),
                }
                for run in runs
            ],
        }
        log.info("AEP HubSpot onboarding summary: %s", result)
        return result

    report = summary(
        base_connection.output,
        tables.output,
        source_connections.output,
        target_connection.output,
        dataflows.output,
        finished_runs.output,
    )
    teardown = teardown_requested()
    finished_runs >> teardown >> delete_dataflows >> [delete_sources, delete_target] >> delete_base >> report

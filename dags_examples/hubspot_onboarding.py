"""Onboard HubSpot tables into Adobe Experience Platform, from two Airflow connections to landed records.

Adobe's order for CRM sources, once per selected table (a mapped task group, ``onboard_table``):
explore the table → XDM field group from its columns → schema → dataset → Data Prep mapping set →
source connection → Data Lake target connection → ``once`` dataflow with the mapping → run → wait
(deferred to the triggerer) → optional teardown. The HubSpot base connection is shared by the tables.

Every create looks its resource up by name first and checks that what it finds is what was asked for,
so re-running the DAG reuses everything and only starts (and lands) new runs. Names start with
``connection_name``, so two onboardings with different names never share a resource.

Connections (Airflow UI, secrets backend or ``AIRFLOW_CONN_*`` environment variables):
``aep_default`` (type ``adobe_experience_platform``) and ``hubspot_default`` (type ``hubspot``). Nothing has
to exist in AEP beforehand. ``AEP_ONBOARDING_POKE_INTERVAL`` (seconds, default 60) sets how often runs are
polled.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, get_current_context, task, task_group

from airflow_provider_aep.operators.catalog import CreateDatasetOperator, DeleteDatasetOperator
from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator, DeleteConnectionOperator
from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
from airflow_provider_aep.operators.explore import ExploreConnectionOperator
from airflow_provider_aep.operators.flows import CreateDataflowOperator, DeleteDataflowOperator
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from airflow_provider_aep.operators.schema_registry import (
    CreateFieldGroupOperator,
    CreateSchemaOperator,
    DeleteFieldGroupOperator,
    DeleteSchemaOperator,
)
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
GROUP = "onboard_table"
TABLE_OF_MAP_INDEX = (
    "{{ ti.xcom_pull(task_ids='" + GROUP + ".resource_names', key='table', map_indexes=ti.map_index) or '' }}"
)

with DAG(
    dag_id="aep_hubspot_onboarding",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "hubspot"],
    # Every task is safe to retry: creates look up before they POST, runs are reconciled, deletes accept 404.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "connection_name": Param(
            "HubSpot (Airflow onboarding)",
            type="string",
            minLength=1,
            description="Name of the HubSpot source account in AEP; every resource made for it starts with it.",
        ),
        "tables": Param(
            ["Hubspot.Contacts", "Hubspot.Companies"],
            type="array",
            minItems=1,
            description="Table names, globs (Hubspot.Deal*) or re:regexes, as listed by explore.",
        ),
        "delta_column": Param("Updated_At", type="string", description="Timestamp column for incremental copy."),
        # A null-able boolean: the trigger form shows a plain switch instead of marking it required.
        "teardown": Param(
            False,
            type=["boolean", "null"],
            description="Delete the dataflows and connections this run created once its runs ended.",
        ),
        "teardown_data": Param(
            False,
            type=["boolean", "null"],
            description="With teardown: also delete the datasets (and their data), schemas and field groups.",
        ),
    },
):
    base_connection = CreateHubSpotConnectionOperator(
        task_id="create_base_connection", name="{{ params.connection_name }}"
    )
    tables = ExploreConnectionOperator(
        task_id="explore_tables",
        base_connection_id=base_connection.output,
        table_filter="{{ params.tables }}",
        return_paths=True,
    )

    @task(multiple_outputs=True)
    def resource_names(table_path: str, params: dict[str, Any] | None = None) -> dict[str, str]:
        """One name per resource of a table, each starting with the onboarding's connection name."""
        prefix = f"{(params or {})['connection_name']}: {table_path}"
        return {
            "table": table_path,
            "field_group": f"{prefix} fields",
            "schema": prefix,
            "dataset": prefix,
            "mapping_set": f"{prefix} mapping",
            "target_connection": f"{prefix} target",
            "dataflow": f"{prefix} dataflow",
        }

    # Teardown switches, rendered per task (a short-circuit task cannot skip inside a mapped task group).
    teardown = "{{ params.teardown }}"
    teardown_data = "{{ params.teardown and params.teardown_data }}"

    @task
    def table_summary(table_path: str, ids: dict[str, str], run: dict[str, Any]) -> dict[str, Any]:
        """What one table's onboarding made and landed (ids and counts only: no credentials, no records)."""
        return {
            "table": table_path,
            **ids,
            "run_id": run["id"],
            "status": run["status"],
            "records": run.get("output_records"),
            "failed_records": run.get("failed_records", 0),
        }

    # The grid shows each mapped instance by its table (Hubspot.Contacts), not as 0, 1, 2.
    @task_group(group_id=GROUP, default_args={"map_index_template": TABLE_OF_MAP_INDEX})
    def onboard_table(table_path: str) -> None:
        names = resource_names(table_path)
        table = ExploreConnectionOperator(
            task_id="explore_table", base_connection_id=base_connection.output, object_type="table", table=table_path
        )
        field_group = CreateFieldGroupOperator(
            task_id="create_field_group", table=table.output, title=names["field_group"]
        )
        schema = CreateSchemaOperator(
            task_id="create_schema", title=names["schema"], field_group_ids=field_group.output
        )
        dataset = CreateDatasetOperator(task_id="create_dataset", name=names["dataset"], schema_id=schema.output)
        mapping = CreateMappingSetOperator(
            task_id="create_mapping_set", schema_id=schema.output, table=table.output, name=names["mapping_set"]
        )
        source = CreateSourceConnectionOperator(
            task_id="create_source_connection", base_connection_id=base_connection.output, table_path=table_path
        )
        target = CreateTargetConnectionOperator(
            task_id="create_target_connection",
            dataset_id=dataset.output,
            schema_id=schema.output,
            name=names["target_connection"],
        )
        flow = CreateDataflowOperator(
            task_id="create_dataflow",
            source_connection_ids=source.output,
            target_connection_id=target.output,
            mapping_id=mapping.output,
            delta_column="{{ params.delta_column }}",
            schedule={"frequency": "once"},
            name=names["dataflow"],
        )
        # A new 'once' dataflow has already started its first run: this DAG run takes it instead of a second.
        run = TriggerFlowRunOperator(task_id="trigger_run", flow_id=flow.output, adopt_first_run=flow.output["created"])
        finished = AEPFlowRunSensor(
            task_id="wait_for_run",
            run_id=run.output,
            deferrable=True,
            poke_interval=POKE_INTERVAL,
            timeout=timedelta(hours=6),
            failed_records_policy="warn",
        )
        ids = {
            "field_group_id": field_group.output,
            "schema_id": schema.output,
            "dataset_id": dataset.output,
            "mapping_set_id": mapping.output,
            "source_connection_id": source.output,
            "target_connection_id": target.output,
            "flow_id": flow.output,
        }
        table_summary(table_path, ids, finished.output)

        # Teardown: only what this DAG run created (a reused resource may serve another run), dataflow first.
        delete_flow = DeleteDataflowOperator(
            task_id="delete_dataflow", flow_id=flow.output, created=flow.output["created"], enabled=teardown
        )
        delete_source = DeleteSourceConnectionOperator(
            task_id="delete_source_connection",
            source_connection_id=source.output,
            created=source.output["created"],
            enabled=teardown,
        )
        delete_target = DeleteTargetConnectionOperator(
            task_id="delete_target_connection",
            target_connection_id=target.output,
            created=target.output["created"],
            enabled=teardown,
        )
        # Datasets hold the landed data, so they (and their schemas) go only when asked for explicitly.
        delete_dataset = DeleteDatasetOperator(
            task_id="delete_dataset",
            dataset_id=dataset.output,
            created=dataset.output["created"],
            enabled=teardown_data,
        )
        delete_schema = DeleteSchemaOperator(
            task_id="delete_schema", schema_id=schema.output, created=schema.output["created"], enabled=teardown_data
        )
        delete_field_group = DeleteFieldGroupOperator(
            task_id="delete_field_group",
            field_group_id=field_group.output,
            created=field_group.output["created"],
            enabled=teardown_data,
        )
        finished >> delete_flow >> [delete_source, delete_target]
        delete_target >> delete_dataset >> delete_schema >> delete_field_group

    onboarded = onboard_table.expand(table_path=tables.output)

    delete_base = DeleteConnectionOperator(
        task_id="delete_base_connection",
        base_connection_id=base_connection.output,
        created=base_connection.output["created"],
        enabled=teardown,
        trigger_rule=TriggerRule.NONE_FAILED,  # after every table's teardown, whether its data went too or not
    )
    onboarded >> delete_base

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summary(connection_id: str) -> dict[str, Any]:
        """What was onboarded, as one XCom (ids and counts only: no credentials)."""
        ti = get_current_context()["ti"]
        tables_done = ti.xcom_pull(task_ids=f"{GROUP}.table_summary") or []
        result = {"connection_id": connection_id, "tables": list(tables_done)}
        log.info("AEP HubSpot onboarding summary: %s", result)
        return result

    onboarded >> summary(base_connection.output) << delete_base

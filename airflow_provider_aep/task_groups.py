# Operator arguments here are XComArgs (upstream outputs) resolved at run time, while the operators' signatures
# type the rendered values, which is what their users pass; mypy cannot see that resolution.
# mypy: disable-error-code="arg-type,index"
"""``AEPOnboardingTaskGroup``: a whole source onboarding as one TaskGroup, the way cosmos turns a dbt
project into one.

One call (source kind, connections, tables, schema options) gives the base connection, the explore
of the selected tables, and per table a mapped task group in Adobe's order: explore table → field group
→ schema → dataset → mapping set → source and target connections → dataflow → run → deferred wait →
optional teardown, plus a summary. Put it between your own tasks like any TaskGroup; its handles
(``base_connection_id``, ``tables``, ``summary``) are XComArgs for downstream tasks. Every task keeps the
operators' guarantees: lookups before creates, verified reuse, deferral, links, teardown of only what
the DAG run created (recorded on each resource, see ``airflow_provider_aep.ownership``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TaskGroup, TriggerRule, task_group

from airflow_provider_aep.client.models import CRM_FLOW_SPEC_NAME
from airflow_provider_aep.client.xdm import PROFILE_CLASS_ID
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.catalog import CreateDatasetOperator, DeleteDatasetOperator
from airflow_provider_aep.operators.connections import CreateConnectionOperator, DeleteConnectionOperator
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
from airflow_provider_aep.operators.steps import OnboardingStep, summary_table
from airflow_provider_aep.operators.target_connections import (
    CreateTargetConnectionOperator,
    DeleteTargetConnectionOperator,
)
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor
from airflow_provider_aep.sources import source_kind

TABLE_GROUP = "onboard_table"


def resource_names(connection_name: str, table_path: str) -> dict[str, str]:
    """One name per resource of a table, each starting with the onboarding's connection name, so two
    onboardings in one sandbox never share (or fail on) a resource."""
    prefix = f"{connection_name}: {table_path}"
    return {
        "table": table_path,
        "field_group": f"{prefix} fields",
        "schema": prefix,
        "dataset": prefix,
        "mapping_set": f"{prefix} mapping",
        "target_connection": f"{prefix} target",
        "dataflow": f"{prefix} dataflow",
    }


class AEPOnboardingTaskGroup(TaskGroup):
    """Onboard ``tables`` of a declared source (``source="hubspot"``, ``"salesforce"``, ...) into AEP.

    ``connection_name`` names the source account and starts every resource's name. ``tables`` takes
    names, globs or ``re:`` regexes (or a template such as ``"{{ params.tables }}"``). ``schema_class``
    (default XDM Individual Profile), ``identity`` (``{"column": ..., "namespace": ..., "primary": ...}``,
    applied to tables that have that column) and ``enable_profile`` (irreversible in AEP) shape the
    schemas; ``delta_column`` defaults to the source's. ``teardown`` / ``teardown_data`` (booleans or
    templates) delete what the DAG run created, as Airflow teardown tasks: once a table's work is done, whether
    it succeeded or failed, and a failed delete fails the DAG run (datasets, schemas and field groups only with
    ``teardown_data``; nothing another DAG run created or still uses). Waits defer to the triggerer unless
    ``deferrable=False``.

    ``asset_alias`` (a name, optional) is passed to each table's ``wait_for_run`` sensor: when a table's
    run succeeds, that mapped sensor emits an asset event for the table's dataset (``aep://`` URI, resolved
    at run time) through ``AssetAlias(asset_alias)``, with the run's metrics as its extra, so a DAG
    scheduled on the alias or on the dataset's asset runs (``docs/assets.md``).
    """

    def __init__(
        self,
        group_id: str,
        *,
        source: str,
        connection_name: str,
        tables: Any,
        aep_conn_id: str = "aep_default",
        source_conn_id: str | None = None,
        delta_column: str | None = None,
        schema_class: str = PROFILE_CLASS_ID,
        identity: Mapping[str, Any] | None = None,
        enable_profile: bool = False,
        teardown: Any = False,
        teardown_data: Any = False,
        poll_interval: float = 60.0,
        deferrable: bool = True,
        failed_records_policy: str = "warn",
        wait_timeout: timedelta = timedelta(hours=6),
        asset_alias: str | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            kind = source_kind(source)
        except KeyError as err:
            raise AEPInvalidArgumentError(group_id, "source", str(err.args[0])) from None
        if identity is not None and set(identity) - {"column", "namespace", "primary"}:
            raise AEPInvalidArgumentError(group_id, "identity", "takes the keys column, namespace and primary")
        if enable_profile and not (identity and identity.get("primary")):
            raise AEPInvalidArgumentError(group_id, "enable_profile", "needs a primary identity")
        super().__init__(group_id=group_id, **kwargs)
        aep = {"aep_conn_id": aep_conn_id}
        with self:
            base = CreateConnectionOperator(
                task_id="create_base_connection",
                name=connection_name,
                source=kind.name,
                source_conn_id=source_conn_id,
                # found once per DAG run and handed to every table's dataflow (XCom ``flow_spec``)
                flow_spec_name=CRM_FLOW_SPEC_NAME,
                **aep,
            )
            explored = ExploreConnectionOperator(
                task_id="explore_tables", base_connection_id=base.output, table_filter=tables, return_paths=True, **aep
            )
            names_task = (
                f"{self.group_id}.{TABLE_GROUP}.resource_names"
                if self.prefix_group_id
                else f"{TABLE_GROUP}.resource_names"
            )
            map_index = "{{ ti.xcom_pull(task_ids='" + names_task + "', key='table', map_indexes=ti.map_index) or '' }}"

            # The steps that only reshape XCom values are OnboardingStep tasks, not @task functions: one wrapped
            # __init__ each instead of four, which every parse of the DAG pays for (see operators/steps.py).
            def identity_of(field_paths: dict[str, str]) -> dict[str, Any] | None:
                """The schema's identity descriptor, if this table has the identity column."""
                if not identity or identity["column"] not in field_paths:
                    return None
                return {
                    "path": field_paths[identity["column"]],
                    "namespace": identity["namespace"],
                    "primary": bool(identity.get("primary")),
                }

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

            summaries: list[Any] = []  # the mapped table_summary output, referenced by the summary below
            table_deletes: list[Any] = []  # each table's delete tasks (mapped), which the base delete follows

            @task_group(group_id=TABLE_GROUP, default_args={"map_index_template": map_index})
            def onboard_table(table_path: str) -> None:
                named = OnboardingStep.make(
                    "resource_names",
                    resource_names,
                    {"connection_name": connection_name, "table_path": table_path},
                    multiple_outputs=True,
                    # Airflow renders the label before this task pushes the XCom the others read: its own
                    # (rendered) argument names the table.
                    map_index_template="{{ task.arguments['table_path'] }}",
                ).output
                table = ExploreConnectionOperator(
                    task_id="explore_table",
                    base_connection_id=base.output,
                    object_type="table",
                    table=table_path,
                    **aep,
                )
                named >> table  # every task after it can show its table as its map index
                field_group = CreateFieldGroupOperator(
                    task_id="create_field_group",
                    table=table.output,
                    title=named["field_group"],
                    source=kind.namespace,
                    class_id=schema_class,
                    **aep,
                )
                schema = CreateSchemaOperator(
                    task_id="create_schema",
                    title=named["schema"],
                    field_group_ids=field_group.output,
                    class_id=schema_class,
                    identity=(
                        OnboardingStep.make(
                            "identity_of", identity_of, {"field_paths": field_group.output["field_paths"]}
                        ).output
                        if identity
                        else None
                    ),
                    enable_profile=enable_profile,
                    **aep,
                )
                dataset = CreateDatasetOperator(
                    task_id="create_dataset",
                    name=named["dataset"],
                    schema_id=schema.output,
                    profile=enable_profile,
                    identity=enable_profile,
                    **aep,
                )
                mapping = CreateMappingSetOperator(
                    task_id="create_mapping_set",
                    schema_id=schema.output,
                    table=table.output,
                    name=named["mapping_set"],
                    source=kind.namespace,
                    **aep,
                )
                source_connection = CreateSourceConnectionOperator(
                    task_id="create_source_connection",
                    base_connection_id=base.output,
                    table_path=table_path,
                    # the explored columns: sent in params only if the source needs them, and always the
                    # OpenLineage schema facet of the table input
                    table=table.output,
                    base_connection=base.output["connection"],  # not read again per table
                    **aep,
                )
                target = CreateTargetConnectionOperator(
                    task_id="create_target_connection",
                    dataset_id=dataset.output,
                    schema_id=schema.output,
                    name=named["target_connection"],
                    **aep,
                )
                flow = CreateDataflowOperator(
                    task_id="create_dataflow",
                    source_connection_ids=source_connection.output,
                    target_connection_id=target.output,
                    mapping_id=mapping.output,
                    delta_column=delta_column or kind.delta_column,
                    schedule={"frequency": "once"},
                    name=named["dataflow"],
                    # what this DAG run's upstream tasks already read or made: not read again
                    mapping_version=mapping.output["version"],
                    flow_spec=base.output["flow_spec"],
                    source_connection_spec_ids=source_connection.output["connection_spec_id"],
                    target_connection_spec_id=target.output["connection_spec_id"],
                    **aep,
                )
                # A new 'once' dataflow has already started its first run: this DAG run takes it.
                run = TriggerFlowRunOperator(
                    task_id="trigger_run",
                    flow_id=flow.output,
                    adopt_first_run=flow.output["created"],
                    flow_frequency=flow.output["frequency"],
                    **aep,
                )
                finished = AEPFlowRunSensor(
                    task_id="wait_for_run",
                    run_id=run.output,
                    deferrable=deferrable,
                    poke_interval=poll_interval,
                    timeout=wait_timeout,
                    failed_records_policy=failed_records_policy,
                    asset_alias=asset_alias,  # declares AssetAlias(asset_alias) as its outlet itself
                    **aep,
                )
                ids = {
                    "field_group_id": field_group.output,
                    "schema_id": schema.output,
                    "dataset_id": dataset.output,
                    "mapping_set_id": mapping.output,
                    "source_connection_id": source_connection.output,
                    "target_connection_id": target.output,
                    "flow_id": flow.output,
                }
                summaries.append(
                    OnboardingStep.make(
                        "table_summary", table_summary, {"table_path": table_path, "ids": ids, "run": finished.output}
                    ).output
                )

                table_deletes.append(
                    _teardown(
                        aep,
                        teardown,
                        teardown_data,
                        after=finished,
                        flow=flow,
                        source_connection=source_connection,
                        target=target,
                        dataset=dataset,
                        schema=schema,
                        field_group=field_group,
                    )
                )

            onboard_table.expand(table_path=explored.output)
            delete_base = DeleteConnectionOperator(
                task_id="delete_base_connection", base_connection_id=base.output, enabled=teardown, **aep
            ).as_teardown(setups=base, on_failure_fail_dagrun=True)

            def summary(connection_id: str, tables: Any) -> dict[str, Any]:
                """What was onboarded, as one XCom (ids and counts only: no credentials)."""
                # Airflow hands over a single table's summary itself, not a one-item list.
                rows = [tables] if isinstance(tables, Mapping) else list(tables or [])
                result = {"source": kind.name, "connection_id": connection_id, "tables": rows}
                logging.getLogger(__name__).info("%s", summary_table(result))
                return result

            report = OnboardingStep.make(
                "summary",
                summary,
                {"connection_id": base.output, "tables": summaries[0]},
            ).output
            # The summary waits for every table's summary, not for the teardown, which may be skipped. Teardown
            # tasks are not among a task group's leaves, so the base delete follows every table's source connection
            # delete explicitly (a base connection with source connections on it is in use), which itself follows
            # the table's work.
            table_deletes[0][1] >> delete_base
            # Airflow judges a DAG run by its leaves, and a teardown followed by other teardowns is not one, so a
            # failed delete of a table would go unseen. This task, never executed, is the leaf that fails the DAG
            # run when any delete failed (and succeeds when they were skipped).
            [*table_deletes[0], delete_base] >> EmptyOperator(
                task_id="teardown_done", trigger_rule=TriggerRule.NONE_FAILED
            )
        self.base_connection_id = base.output
        self.tables = explored.output
        self.summary = report


def _teardown(aep: dict[str, str], teardown: Any, teardown_data: Any, *, after: Any, **made: Any) -> list[Any]:
    """One table's teardown as Airflow teardown tasks, each the teardown of the create it undoes.

    Each runs once the table's work is done, whether it succeeded or failed, when its create succeeded; a
    failed delete fails the DAG run (through ``teardown_done``, see the group). Returns the delete tasks, dataflow
    and source connection first. Each deletes only what this DAG run created (the owner line on the
    resource, ``airflow_provider_aep.ownership``) and nothing still in use, in the order AEP accepts: the
    dataflow, then its source and target connections, then (with ``teardown_data``) dataset, schema and field
    group. Both flags go to the tasks as they are and are read there by one function (``all_true``).
    """
    data = [teardown, teardown_data]

    def delete(operator: Any, task_id: str, enabled: Any, setup: Any, **ids: Any) -> Any:
        task = operator(task_id=task_id, enabled=enabled, **ids, **aep)
        return task.as_teardown(setups=setup, on_failure_fail_dagrun=True)

    flow, source, target = made["flow"], made["source_connection"], made["target"]
    dataset, schema, field_group = made["dataset"], made["schema"], made["field_group"]
    delete_flow = delete(DeleteDataflowOperator, "delete_dataflow", teardown, flow, flow_id=flow.output)
    delete_source = delete(
        DeleteSourceConnectionOperator,
        "delete_source_connection",
        teardown,
        source,
        source_connection_id=source.output,
    )
    delete_target = delete(
        DeleteTargetConnectionOperator,
        "delete_target_connection",
        teardown,
        target,
        target_connection_id=target.output,
    )
    delete_dataset = delete(DeleteDatasetOperator, "delete_dataset", data, dataset, dataset_id=dataset.output)
    delete_schema = delete(DeleteSchemaOperator, "delete_schema", data, schema, schema_id=schema.output)
    delete_field_group = delete(
        DeleteFieldGroupOperator, "delete_field_group", data, field_group, field_group_id=field_group.output
    )
    after >> delete_flow >> [delete_source, delete_target]
    delete_target >> delete_dataset >> delete_schema >> delete_field_group
    return [delete_flow, delete_source, delete_target, delete_dataset, delete_schema, delete_field_group]


__all__ = ["AEPOnboardingTaskGroup", "resource_names"]

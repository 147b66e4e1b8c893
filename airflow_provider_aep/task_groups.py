# Operator arguments here are XComArgs (upstream outputs) resolved at run time, while the operators' signatures
# type the rendered values, which is what their users pass; mypy cannot see that resolution.
# mypy: disable-error-code="arg-type,index,typeddict-item"
"""``AEPOnboardingTaskGroup``: a whole source onboarding as one TaskGroup, the way cosmos turns a dbt
project into one.

One call (source kind, connections, tables, schema options) gives the base connection, the explore
of the selected tables, and per table a mapped task group in Adobe's order: explore table → field group
→ schema → dataset → mapping set → source and target connections → dataflow → run → deferred wait →
optional teardown, plus a summary. Put it between your own tasks like any TaskGroup; its handles
(``base_connection_id``, ``tables``, ``summary``) are XComArgs for downstream tasks. Every task keeps the
operators' guarantees: lookups before creates, verified reuse, deferral, links, teardown of only what
the DAG run created (recorded on each resource, see ``airflow_provider_aep.ownership``).

The group is assembled by small builders, one per part of the rendered DAG (``_base_connection``,
``_table_group`` with ``_target_side``, ``_dataflow_side``, ``_table_teardown`` and ``_table_summary``,
``_base_teardown``, ``_summary``); what differs between sources comes from the source's declaration
(``airflow_provider_aep.sources``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import BaseOperator, TaskGroup, TriggerRule, XComArg, task_group

from airflow_provider_aep.client.xdm import PROFILE_CLASS_ID
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.catalog import CreateDatasetOperator, DeleteDatasetOperator
from airflow_provider_aep.operators.connections import CreateConnectionOperator, DeleteConnectionOperator
from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
from airflow_provider_aep.operators.explore import ExploreConnectionOperator
from airflow_provider_aep.operators.flows import CreateDataflowOperator, DataflowHandOver, DeleteDataflowOperator
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
from airflow_provider_aep.sources import SourceKind, source_kind

if TYPE_CHECKING:
    from airflow.sdk.definitions._internal.node import DAGNode
    from airflow.sdk.definitions.decorators.task_group import _TaskGroupFactory

TABLE_GROUP = "onboard_table"

# A mapped task shows this label in the grid instead of its map index: the table, as its own mapped group's
# ``resource_names`` task pushed it. The task finds that task through its task group, so the template is
# the same whatever the group is called or prefixed. ``resource_names`` itself renders its label before it
# pushes the XCom: its own rendered argument names the table.
_TABLE_LABEL = (
    "{{ ti.xcom_pull(task_ids=task.task_group.child_id('resource_names'), key='table', map_indexes=ti.map_index)"
    " or '' }}"
)
_NAMES_LABEL = "{{ task.arguments['table_path'] }}"

IDENTITY_KEYS = frozenset({"column", "namespace", "primary"})


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


# The steps that only reshape XCom values run as OnboardingStep tasks, not @task functions: one wrapped
# __init__ each instead of four, which every parse of the DAG pays for (see operators/steps.py).
def identity_of(field_paths: Mapping[str, str], identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema's identity descriptor, if this table has the identity column."""
    if identity["column"] not in field_paths:
        return None
    return {
        "path": field_paths[identity["column"]],
        "namespace": identity["namespace"],
        "primary": bool(identity.get("primary")),
    }


def table_summary(table_path: str, ids: Mapping[str, str], run: Mapping[str, Any]) -> dict[str, Any]:
    """What one table's onboarding made and landed (ids and counts only: no credentials, no records)."""
    return {
        "table": table_path,
        **ids,
        "run_id": run["id"],
        "status": run["status"],
        "records": run.get("output_records"),
        "failed_records": run.get("failed_records", 0),
    }


def onboarding_summary(source: str, connection_id: str, tables: Any) -> dict[str, Any]:
    """What was onboarded, as one XCom (ids and counts only: no credentials)."""
    # Airflow hands over a single table's summary itself, not a one-item list.
    rows = [tables] if isinstance(tables, Mapping) else list(tables or [])
    result = {"source": source, "connection_id": connection_id, "tables": rows}
    logging.getLogger(__name__).info("%s", summary_table(result))
    return result


# The builders' records are NamedTuples rather than frozen dataclasses: every DAG file using the group creates
# these classes at parse time, and a frozen dataclass compiles five generated methods each (measured: 2 % of
# the example DAG's parse, in instructions).
class _Options(NamedTuple):
    """The group's arguments once checked: what each builder reads."""

    kind: SourceKind
    connection_name: Any
    aep_conn_id: str
    source_conn_id: str | None
    delta_column: Any
    schema_class: str
    identity: Mapping[str, Any] | None
    enable_profile: bool
    teardown: Any
    teardown_data: Any
    wait: Mapping[str, Any]
    """``AEPFlowRunSensor``'s arguments (poke interval, deferral, timeout, failed records, asset alias)."""

    @property
    def aep(self) -> dict[str, str]:
        return {"aep_conn_id": self.aep_conn_id}


class _TargetSide(NamedTuple):
    """One table's explore and the resources its records land in."""

    table: ExploreConnectionOperator
    field_group: CreateFieldGroupOperator
    schema: CreateSchemaOperator
    dataset: CreateDatasetOperator
    mapping_set: CreateMappingSetOperator


class _Table(NamedTuple):
    """One table's create tasks and its wait, as its teardown and summary read them."""

    target_side: _TargetSide
    source_connection: CreateSourceConnectionOperator
    target_connection: CreateTargetConnectionOperator
    dataflow: CreateDataflowOperator
    wait: AEPFlowRunSensor


class _BaseTeardown(NamedTuple):
    """What every table's teardown joins: the base connection's delete and the leaf that judges them all."""

    delete_base: BaseOperator
    done: BaseOperator


class AEPOnboardingTaskGroup(TaskGroup):
    """Onboard ``tables`` of a declared source into AEP, one mapped task group (``onboard_table``) per table.

    The delete tasks are Airflow teardown tasks: once a table's work is done, whether it succeeded or failed,
    they delete what this DAG run created and nothing another DAG run created or still uses, and a failed
    delete fails the DAG run. After construction, ``base_connection_id``, ``tables`` and ``summary`` are
    XComArgs for downstream tasks.

    :param group_id: The TaskGroup's id (prefixes every task id unless ``prefix_group_id=False``).
    :param source: A declared source (``"hubspot"``, ``"salesforce"``, ...; see ``docs/sources.md``); its
        declaration gives the connection spec, the table addressing, the flow spec and the default delta column.
    :param connection_name: Names the source account in AEP and starts every resource's name. Templated.
    :param tables: Table names, globs or ``re:`` regexes, or a template such as ``"{{ params.tables }}"``.
    :param aep_conn_id: The Airflow connection to AEP.
    :param source_conn_id: The Airflow connection with the source's credentials (default: the source's).
    :param delta_column: The timestamp column runs copy incrementally by (default: the source's). Templated.
    :param schema_class: The XDM class of the schemas (default XDM Individual Profile).
    :param identity: ``{"column": ..., "namespace": ..., "primary": ...}``: the identity descriptor of each
        table that has that column.
    :param enable_profile: Enable the schemas and datasets for Real-Time Customer Profile (irreversible in AEP;
        needs a primary identity).
    :param teardown: Delete the dataflows and connections this DAG run created (a boolean or a template).
    :param teardown_data: With ``teardown``, also the datasets, schemas and field groups (a boolean or a
        template).
    :param poll_interval: Seconds between checks of a run.
    :param deferrable: Wait for runs in the triggerer (default) or on a worker.
    :param failed_records_policy: ``ignore``, ``warn`` or ``fail`` a run that succeeded with failed records.
    :param wait_timeout: How long each table's wait for its run may take.
    :param asset_alias: When a table's run succeeds, its ``wait_for_run`` emits an asset event for the table's
        dataset (``aep://`` URI, resolved at run time) through ``AssetAlias(asset_alias)``, with the run's
        metrics as its extra, so a DAG scheduled on the alias or on the dataset's asset runs
        (``docs/assets.md``). Default: the sensor's own alias, ``aep-datasets:<dag_id>.<task id>``.
    :param emit_asset_events: Emit those asset events (default); False declares no alias.
    :param kwargs: Any other ``TaskGroup`` argument (``prefix_group_id``, ``tooltip``, ...).
    """

    def __init__(
        self,
        group_id: str,
        *,
        source: str,
        connection_name: Any,
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
        emit_asset_events: bool = True,
        **kwargs: Any,
    ) -> None:
        kind = _checked_source(group_id, source, identity, enable_profile)
        super().__init__(group_id=group_id, **kwargs)
        options = _Options(
            kind=kind,
            connection_name=connection_name,
            aep_conn_id=aep_conn_id,
            source_conn_id=source_conn_id,
            delta_column=delta_column or kind.delta_column,
            schema_class=schema_class,
            identity=identity,
            enable_profile=enable_profile,
            teardown=teardown,
            teardown_data=teardown_data,
            wait={
                "deferrable": deferrable,
                "poke_interval": poll_interval,
                "timeout": wait_timeout,
                "failed_records_policy": failed_records_policy,
                "asset_alias": asset_alias,  # the sensor declares AssetAlias(asset_alias) as its outlet itself
                "emit_asset_events": emit_asset_events,
            },
        )
        with self:
            base = _base_connection(options)
            explored = ExploreConnectionOperator(
                task_id="explore_tables",
                base_connection_id=base.output,
                table_filter=tables,
                return_paths=True,
                **options.aep,
            )
            base_teardown = _base_teardown(options, base)
            table_summary_task = _table_group(options, base, base_teardown).expand(table_path=explored.output)
            self.summary = _summary(options, base, cast(OnboardingStep, table_summary_task).output)
        self.base_connection_id = base.output
        self.tables = explored.output


def _checked_source(group_id: str, source: str, identity: Mapping[str, Any] | None, enable_profile: bool) -> SourceKind:
    """The source's declaration, once the options that need no rendering are known to be right."""
    try:
        kind = source_kind(source)
    except KeyError as err:
        raise AEPInvalidArgumentError(group_id, "source", str(err.args[0])) from None
    if identity is not None and set(identity) - IDENTITY_KEYS:
        raise AEPInvalidArgumentError(group_id, "identity", "takes the keys column, namespace and primary")
    if enable_profile and not (identity and identity.get("primary")):
        raise AEPInvalidArgumentError(group_id, "enable_profile", "needs a primary identity")
    return kind


def _base_connection(options: _Options) -> CreateConnectionOperator:
    """The source account's base connection, shared by every table; it also finds the source's flow spec once
    per DAG run, for every table's dataflow (its ``flow_spec`` XCom)."""
    return CreateConnectionOperator(
        task_id="create_base_connection",
        name=options.connection_name,
        source=options.kind.name,
        source_conn_id=options.source_conn_id,
        flow_spec_name=options.kind.flow_spec_name,
        **options.aep,
    )


def _table_group(
    options: _Options, base: CreateConnectionOperator, base_teardown: _BaseTeardown
) -> _TaskGroupFactory[[str], DAGNode]:
    """``onboard_table``, to expand over the explored tables. It returns its ``table_summary`` task, whose
    output, read outside the mapped group, is every table's summary."""

    @task_group(group_id=TABLE_GROUP, default_args={"map_index_template": _TABLE_LABEL})
    def onboard_table(table_path: str) -> OnboardingStep:
        names = OnboardingStep.make(
            "resource_names",
            resource_names,
            {"connection_name": options.connection_name, "table_path": table_path},
            multiple_outputs=True,
            map_index_template=_NAMES_LABEL,
        )
        target_side = _target_side(options, base, table_path, names.output)
        names >> target_side.table  # every task after it can show its table as its map index
        table = _dataflow_side(options, base, table_path, names.output, target_side)
        deletes = _table_teardown(options, table)
        # A base connection with source connections on it is in use: its delete follows each table's.
        deletes["source_connection"] >> base_teardown.delete_base
        list(deletes.values()) >> base_teardown.done
        return _table_summary(table_path, table)

    return onboard_table


def _target_side(options: _Options, base: CreateConnectionOperator, table_path: Any, names: XComArg) -> _TargetSide:
    """Explore the table, then the field group from its columns, the schema, the dataset and the mapping set."""
    aep, kind = options.aep, options.kind
    table = ExploreConnectionOperator(
        task_id="explore_table", base_connection_id=base.output, object_type="table", table=table_path, **aep
    )
    field_group = CreateFieldGroupOperator(
        task_id="create_field_group",
        table=table.output,
        title=names["field_group"],
        source=kind.namespace,
        class_id=options.schema_class,
        **aep,
    )
    identity = None
    if options.identity:
        arguments = {"field_paths": field_group.output["field_paths"], "identity": dict(options.identity)}
        identity = OnboardingStep.make("identity_of", identity_of, arguments).output
    schema = CreateSchemaOperator(
        task_id="create_schema",
        title=names["schema"],
        field_group_ids=field_group.output,
        class_id=options.schema_class,
        identity=identity,
        enable_profile=options.enable_profile,
        **aep,
    )
    dataset = CreateDatasetOperator(
        task_id="create_dataset",
        name=names["dataset"],
        schema_id=schema.output,
        profile=options.enable_profile,
        identity=options.enable_profile,
        **aep,
    )
    mapping_set = CreateMappingSetOperator(
        task_id="create_mapping_set",
        schema_id=schema.output,
        table=table.output,
        name=names["mapping_set"],
        source=kind.namespace,
        **aep,
    )
    return _TargetSide(table, field_group, schema, dataset, mapping_set)


def _dataflow_side(
    options: _Options, base: CreateConnectionOperator, table_path: Any, names: XComArg, target_side: _TargetSide
) -> _Table:
    """The source and target connections, the ``once`` dataflow between them, its run and the wait for it."""
    aep, table, mapping_set = options.aep, target_side.table, target_side.mapping_set
    source_connection = CreateSourceConnectionOperator(
        task_id="create_source_connection",
        base_connection_id=base.output,
        table_path=table_path,
        # the explored columns: sent in params only if the source needs them, and always the OpenLineage
        # schema facet of the table input
        table=table.output,
        base_connection=base.output["connection"],  # not read again per table
        **aep,
    )
    target_connection = CreateTargetConnectionOperator(
        task_id="create_target_connection",
        dataset_id=target_side.dataset.output,
        schema_id=target_side.schema.output,
        name=names["target_connection"],
        **aep,
    )
    dataflow = CreateDataflowOperator(
        task_id="create_dataflow",
        source_connection_ids=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        delta_column=options.delta_column,
        schedule={"frequency": "once"},
        name=names["dataflow"],
        flow_spec_name=options.kind.flow_spec_name,
        hand_over=DataflowHandOver(
            flow_spec=base.output["flow_spec"],
            source_connection_spec_ids=source_connection.output["connection_spec_id"],
            target_connection_spec_id=target_connection.output["connection_spec_id"],
            mapping_version=mapping_set.output["version"],
        ),
        **aep,
    )
    # A new 'once' dataflow has already started its first run: this DAG run takes it.
    run = TriggerFlowRunOperator(
        task_id="trigger_run",
        flow_id=dataflow.output,
        adopt_first_run=dataflow.output["created"],
        flow_frequency=dataflow.output["frequency"],
        **aep,
    )
    wait = AEPFlowRunSensor(task_id="wait_for_run", run_id=run.output, **options.wait, **aep)
    return _Table(target_side, source_connection, target_connection, dataflow, wait)


def _table_teardown(options: _Options, table: _Table) -> dict[str, BaseOperator]:
    """One table's teardown as Airflow teardown tasks, each the teardown of the create it undoes.

    Each runs once the table's work is done, whether it succeeded or failed, when its create succeeded; a
    failed delete fails the DAG run (through ``teardown_done``, see ``_base_teardown``). Each deletes only what
    this DAG run created (the owner line on the resource, ``airflow_provider_aep.ownership``) and nothing still
    in use, in the order AEP accepts: the dataflow, then its source and target connections, then (with
    ``teardown_data``) dataset, schema and field group. Both flags go to the tasks as they are and are read
    there by one function (``all_true``). Returns the delete tasks by the resource they delete.
    """
    on, data, side = options.teardown, [options.teardown, options.teardown_data], table.target_side
    plan: tuple[tuple[type[BaseOperator], str, Any, BaseOperator, str], ...] = (
        (DeleteDataflowOperator, "dataflow", on, table.dataflow, "flow_id"),
        (DeleteSourceConnectionOperator, "source_connection", on, table.source_connection, "source_connection_id"),
        (DeleteTargetConnectionOperator, "target_connection", on, table.target_connection, "target_connection_id"),
        (DeleteDatasetOperator, "dataset", data, side.dataset, "dataset_id"),
        (DeleteSchemaOperator, "schema", data, side.schema, "schema_id"),
        (DeleteFieldGroupOperator, "field_group", data, side.field_group, "field_group_id"),
    )
    deletes = {}
    for operator, resource, enabled, create, id_argument in plan:
        task = operator(task_id=f"delete_{resource}", enabled=enabled, **{id_argument: create.output}, **options.aep)
        deletes[resource] = task.as_teardown(setups=create, on_failure_fail_dagrun=True)
    table.wait >> deletes["dataflow"] >> [deletes["source_connection"], deletes["target_connection"]]
    deletes["target_connection"] >> deletes["dataset"] >> deletes["schema"] >> deletes["field_group"]
    return deletes


def _table_summary(table_path: Any, table: _Table) -> OnboardingStep:
    """The ``table_summary`` step: the table's resource ids and what its run landed."""
    side = table.target_side
    ids = {
        "field_group_id": side.field_group.output,
        "schema_id": side.schema.output,
        "dataset_id": side.dataset.output,
        "mapping_set_id": side.mapping_set.output,
        "source_connection_id": table.source_connection.output,
        "target_connection_id": table.target_connection.output,
        "flow_id": table.dataflow.output,
    }
    arguments = {"table_path": table_path, "ids": ids, "run": table.wait.output}
    return OnboardingStep.make("table_summary", table_summary, arguments)


def _base_teardown(options: _Options, base: CreateConnectionOperator) -> _BaseTeardown:
    """The base connection's delete, after every table's source connection delete (``_table_group`` links
    them), and ``teardown_done``.

    Airflow judges a DAG run by its leaves, and a teardown followed by other teardowns is not one, so a failed
    delete of a table would go unseen. ``teardown_done``, never executed, is the leaf that fails the DAG run
    when any delete failed (and succeeds when they were skipped); every delete task is upstream of it.
    """
    delete_base = DeleteConnectionOperator(
        task_id="delete_base_connection", base_connection_id=base.output, enabled=options.teardown, **options.aep
    ).as_teardown(setups=base, on_failure_fail_dagrun=True)
    done = EmptyOperator(task_id="teardown_done", trigger_rule=TriggerRule.NONE_FAILED)
    delete_base >> done
    return _BaseTeardown(delete_base, done)


def _summary(options: _Options, base: CreateConnectionOperator, table_summaries: XComArg) -> XComArg:
    """The ``summary`` step, after every table's summary but not after the teardown, which may be skipped."""
    arguments = {"source": options.kind.name, "connection_id": base.output, "tables": table_summaries}
    return OnboardingStep.make("summary", onboarding_summary, arguments).output


__all__ = ["AEPOnboardingTaskGroup", "identity_of", "onboarding_summary", "resource_names", "table_summary"]

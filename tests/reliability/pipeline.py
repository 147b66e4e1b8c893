"""A fast stand-in for Airflow's task runner, for running the onboarding pipeline hundreds of times.

It runs the same operators as ``dags_examples/hubspot_onboarding.py``, source side and target side, in an
order the DAG allows: the base connection, explore, then for each table (the DAG's mapped ``onboard_table``
group) explore the table → field group → schema → dataset → mapping set → source connection → target
connection → dataflow (with the mapping) → run (adopting a new ``once`` flow's own first run) → wait.
Resource names are the DAG's (``resource_names``): every one starts with ``connection_name``.

Each task gets Airflow's retry semantics: an exception fails the try, a *fresh* operator instance is built
for the next try (nothing carries over in memory, as with a new worker process), up to ``retries`` times;
``AirflowFailException`` (e.g. a failed dataflow run) is not retried; a task whose tries are exhausted stops
the pipeline, as ``upstream_failed`` would. XCom values are passed on like ``.output`` references, and the
XComs a task pushes (``created``) like ``.output["created"]``.

With ``teardown=True`` the run ends like ``AEPOnboardingTaskGroup``'s teardown tasks (``task_groups._table_teardown``):
after each table's work, whether it succeeded or failed, ``delete_dataflow`` → ``delete_source_connection`` and
``delete_target_connection`` → (with ``teardown_data``) ``delete_dataset`` → ``delete_schema`` →
``delete_field_group``, then ``delete_base_connection`` after every table; each only when its create succeeded
(the teardown of a setup that failed is skipped), each with the same retry semantics. The same ``Delete*Operator``
classes decide, from the owner line on the resource, what is this DAG run's to delete. A teardown task that
fails does not stop the next ones (a teardown's ``all_done`` trigger rule) but fails the DAG run
(``on_failure_fail_dagrun=True``): ``result.failure`` is set if nothing else failed.

The only test-specific parts: the hook is given a :class:`RetryPolicy` with short back-offs (the decisions are
the production ones; only the waits are shorter) whose sleeps are counted, and the sensor is driven by
``poke()`` in a loop with a deadline instead of Airflow's sensor loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_aep.client.http import RetryPolicy
from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
from tests.airflow_compat import AirflowFailException

DELTA_COLUMN = "Updated_At"
SENSOR_DEADLINE = 15.0
#: The per-table tasks, in the order they run (``<task>[<map index>]`` in results and hooks).
TABLE_TASKS = (
    "explore_table",
    "create_field_group",
    "create_schema",
    "create_dataset",
    "create_mapping_set",
    "create_source_connection",
    "create_target_connection",
    "create_dataflow",
    "trigger_run",
    "wait_for_run",
)
#: ``teardown_point``'s point before ``delete_base_connection`` (the tables' are their map indexes).
BASE_TEARDOWN_POINT = 1_000_000


def resource_names(connection_name: str, table_path: str) -> dict[str, str]:
    """The DAG's ``resource_names`` task: one name per resource of a table, each starting with the connection's."""
    prefix = f"{connection_name}: {table_path}"
    return {
        "field_group": f"{prefix} fields",
        "schema": prefix,
        "dataset": prefix,
        "mapping_set": f"{prefix} mapping",
        "target_connection": f"{prefix} target",
        "dataflow": f"{prefix} dataflow",
    }


class RecordingTI:
    """The part of the RuntimeTaskInstance the operators use: ``xcom_push``, and the DAG run's ids, which the
    creates record on each resource as its owner."""

    dag_id = "aep_hubspot_onboarding"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class SleepRecorder:
    """``RetryPolicy.sleep``: really sleeps (so the timing stays real) and counts client-level retries."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def fast_policy(sleep: Callable[[float], Any]) -> RetryPolicy:
    """The production policy (5 attempts, same retryable statuses, Retry-After honoured) with short back-offs."""
    return RetryPolicy(initial_backoff=0.01, max_backoff=0.05, max_delay=20.0, sleep=sleep)


@dataclass
class TaskFailure:
    task: str
    try_number: int
    error: BaseException

    def describe(self) -> str:
        return f"{self.task} (try {self.try_number}): {type(self.error).__name__}: {self.error}"


class PipelineFailed(Exception):
    """A task failed on its last try; ``error`` is what the task raised (what Airflow would log)."""

    def __init__(self, task: str, error: BaseException) -> None:
        self.task = task
        self.error = error
        super().__init__(f"task {task} failed: {type(error).__name__}: {error}")


@dataclass
class PipelineResult:
    """What the tasks returned, per table path (what the DAG's XComs would hold)."""

    base_connection_id: str | None = None
    tables: list[str] = field(default_factory=list)
    field_group_ids: dict[str, str] = field(default_factory=dict)
    schema_ids: dict[str, str] = field(default_factory=dict)
    dataset_ids: dict[str, str] = field(default_factory=dict)
    mapping_set_ids: dict[str, str] = field(default_factory=dict)
    source_connection_ids: dict[str, str] = field(default_factory=dict)
    target_connection_ids: dict[str, str] = field(default_factory=dict)
    flow_ids: dict[str, str] = field(default_factory=dict)
    flows_created: dict[str, bool] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: PipelineFailed | None = None
    failed_tries: list[TaskFailure] = field(default_factory=list)
    task_retries: int = 0
    client_retries: int = 0
    #: The DAG run's id, which each create wrote into its resource's owner line.
    run_id: str = ""
    teardown: bool = False
    teardown_data: bool = False
    #: What each teardown task that ran returned (``delete_dataflow[0]``: True deleted, False left it).
    teardown_results: dict[str, bool] = field(default_factory=dict)
    #: The teardown tasks that failed on their last try (they fail the DAG run, not the next teardown tasks).
    teardown_failures: list[PipelineFailed] = field(default_factory=list)
    #: What this run's teardown deleted, by collection (``flows``, ``dataSets``, ...).
    deleted: dict[str, set[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


class FastTaskRunner:
    """Runs one task: fresh operator per try, Airflow retry semantics, fast hook."""

    def __init__(
        self, *, retries: int, result: PipelineResult, policy: RetryPolicy, run_id: str, aep_conn_id: str | None = None
    ) -> None:
        self.run_id = run_id
        self.aep_conn_id = aep_conn_id
        self.retries = retries
        self.result = result
        self.policy = policy
        #: The XComs (besides ``return_value``) the successful try of each task pushed.
        self.xcoms: dict[str, dict[str, Any]] = {}

    def _prepare(self, op: Any) -> Any:
        op.__dict__["hook"] = AEPFlowServiceHook(aep_conn_id=self.aep_conn_id or op.aep_conn_id, retry=self.policy)
        return op

    @staticmethod
    def _execute(op: Any, context: dict[str, Any]) -> Any:
        if hasattr(op, "poke"):
            deadline = time.monotonic() + SENSOR_DEADLINE
            while True:
                done = op.poke(context)
                if done:
                    return done.xcom_value
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{op.task_id}: the run did not finish within {SENSOR_DEADLINE} s")
                time.sleep(0.01)
        return op.execute(context)

    def run(self, task: str, factory: Callable[[], Any]) -> Any:
        for try_number in range(1, self.retries + 2):
            op = self._prepare(factory())
            ti = RecordingTI(self.run_id)
            try:
                value = self._execute(op, {"ti": ti})
            except Exception as err:
                self.result.failed_tries.append(TaskFailure(task, try_number, err))
                if isinstance(err, AirflowFailException) or try_number > self.retries:
                    raise PipelineFailed(task, err) from err
                self.result.task_retries += 1
                continue
            self.xcoms[task] = ti.xcoms
            return value
        raise AssertionError("unreachable")  # pragma: no cover


def run_onboarding(
    *,
    connection_name: str,
    tables: list[str],
    retries: int = 3,
    policy: RetryPolicy | None = None,
    between_tasks: Callable[[str], None] | None = None,
    run_id: str = "reliability_run",
    teardown: bool = False,
    teardown_data: bool = False,
    teardown_point: Callable[[int], None] | None = None,
    aep_conn_id: str | None = None,
) -> PipelineResult:
    """Run the onboarding pipeline once; never raises for a task failure (see ``result.failure``).

    ``teardown_point(point)`` is called (teardown or not) once a table's work has ended, with its map index,
    and before the base connection's teardown, with :data:`BASE_TEARDOWN_POINT`: where concurrent runs can wait
    for each other before a teardown starts. ``aep_conn_id`` replaces every task's AEP connection.
    """
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

    result = PipelineResult(run_id=run_id, teardown=teardown, teardown_data=teardown_data)
    sleeps = SleepRecorder()
    runner = FastTaskRunner(
        retries=retries, result=result, policy=policy or fast_policy(sleeps), run_id=run_id, aep_conn_id=aep_conn_id
    )
    hook_point = between_tasks or (lambda task: None)

    def step(task: str, factory: Callable[[], Any]) -> Any:
        hook_point(task)
        return runner.run(task, factory)

    def onboard_table(index: int, path: str) -> None:
        names = resource_names(connection_name, path)

        def task(name: str, factory: Callable[[], Any]) -> Any:
            return step(f"{name}[{index}]", factory)

        table = task(
            "explore_table",
            lambda: ExploreConnectionOperator(
                task_id="explore_table", base_connection_id=base, object_type="table", table=path
            ),
        )
        field_group = result.field_group_ids[path] = task(
            "create_field_group",
            lambda: CreateFieldGroupOperator(task_id="create_field_group", table=table, title=names["field_group"]),
        )
        schema = result.schema_ids[path] = task(
            "create_schema",
            lambda: CreateSchemaOperator(task_id="create_schema", title=names["schema"], field_group_ids=field_group),
        )
        dataset = result.dataset_ids[path] = task(
            "create_dataset",
            lambda: CreateDatasetOperator(task_id="create_dataset", name=names["dataset"], schema_id=schema),
        )
        mapping = result.mapping_set_ids[path] = task(
            "create_mapping_set",
            lambda: CreateMappingSetOperator(
                task_id="create_mapping_set", schema_id=schema, table=table, name=names["mapping_set"]
            ),
        )
        source = result.source_connection_ids[path] = task(
            "create_source_connection",
            lambda: CreateSourceConnectionOperator(
                task_id="create_source_connection", base_connection_id=base, table_path=path
            ),
        )
        target = result.target_connection_ids[path] = task(
            "create_target_connection",
            lambda: CreateTargetConnectionOperator(
                task_id="create_target_connection",
                dataset_id=dataset,
                schema_id=schema,
                name=names["target_connection"],
            ),
        )
        flow = result.flow_ids[path] = task(
            "create_dataflow",
            lambda: CreateDataflowOperator(
                task_id="create_dataflow",
                source_connection_ids=source,
                target_connection_id=target,
                mapping_id=mapping,
                delta_column=DELTA_COLUMN,
                schedule={"frequency": "once"},
                name=names["dataflow"],
            ),
        )
        created = result.flows_created[path] = bool(runner.xcoms[f"create_dataflow[{index}]"].get("created"))
        run_id = result.run_ids[path] = task(
            "trigger_run",
            lambda: TriggerFlowRunOperator(task_id="trigger_run", flow_id=flow, adopt_first_run=created),
        )
        result.runs[path] = task(
            "wait_for_run",
            lambda: AEPFlowRunSensor(
                task_id="wait_for_run",
                run_id=run_id,
                deferrable=False,
                poke_interval=0,
                failed_records_policy="warn",
            ),
        )

    point = teardown_point or (lambda at: None)

    def delete(task: str, collection: str, resource_id: str | None, factory: Callable[[], Any]) -> None:
        """One teardown task: skipped when its create did not succeed (no id); a failure fails the DAG run."""
        if resource_id is None:
            return
        try:
            deleted = bool(step(task, factory))
        except PipelineFailed as failure:
            result.teardown_failures.append(failure)
            return
        result.teardown_results[task] = deleted
        if deleted:
            result.deleted.setdefault(collection, set()).add(resource_id)

    def teardown_table(index: int, path: str) -> None:
        """``task_groups._table_teardown`` for one table, in its order (source and target after the flow, the data
        side after the target connection)."""
        point(index)
        if not teardown:
            return
        flow, source = result.flow_ids.get(path), result.source_connection_ids.get(path)
        target, dataset = result.target_connection_ids.get(path), result.dataset_ids.get(path)
        schema, field_group = result.schema_ids.get(path), result.field_group_ids.get(path)
        delete(
            f"delete_dataflow[{index}]",
            "flows",
            flow,
            lambda: DeleteDataflowOperator(task_id="delete_dataflow", flow_id=flow),
        )
        delete(
            f"delete_source_connection[{index}]",
            "sourceConnections",
            source,
            lambda: DeleteSourceConnectionOperator(task_id="delete_source_connection", source_connection_id=source),
        )
        delete(
            f"delete_target_connection[{index}]",
            "targetConnections",
            target,
            lambda: DeleteTargetConnectionOperator(task_id="delete_target_connection", target_connection_id=target),
        )
        if not teardown_data:  # enabled=[teardown, teardown_data]: skipped
            return
        delete(
            f"delete_dataset[{index}]",
            "dataSets",
            dataset,
            lambda: DeleteDatasetOperator(task_id="delete_dataset", dataset_id=dataset),
        )
        delete(
            f"delete_schema[{index}]",
            "schemas",
            schema,
            lambda: DeleteSchemaOperator(task_id="delete_schema", schema_id=schema),
        )
        delete(
            f"delete_field_group[{index}]",
            "fieldgroups",
            field_group,
            lambda: DeleteFieldGroupOperator(task_id="delete_field_group", field_group_id=field_group),
        )

    try:
        base = result.base_connection_id = step(
            "create_base_connection",
            lambda: CreateHubSpotConnectionOperator(task_id="create_base_connection", name=connection_name),
        )
        paths = step(
            "explore_tables",
            lambda: ExploreConnectionOperator(
                task_id="explore_tables", base_connection_id=base, table_filter=list(tables), return_paths=True
            ),
        )
        result.tables = list(paths)
        for index, path in enumerate(paths):
            try:
                onboard_table(index, path)
            finally:  # the table's teardown runs after its work, whether it succeeded or failed
                teardown_table(index, path)
    except PipelineFailed as failure:
        result.failure = failure
    # delete_base_connection: after every table (``onboarded >> delete_base``), when its create succeeded.
    point(BASE_TEARDOWN_POINT)
    if teardown:
        base_id = result.base_connection_id
        delete(
            "delete_base_connection",
            "connections",
            base_id,
            lambda: DeleteConnectionOperator(task_id="delete_base_connection", base_connection_id=base_id),
        )
    if result.failure is None and result.teardown_failures:
        result.failure = result.teardown_failures[0]
    result.client_retries = len(sleeps.waits)
    return result

"""``AEPFlowRunSensor``: wait for a dataflow run to finish, in poke/reschedule mode or deferred."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import Asset, BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep._compat import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, conf
from airflow_provider_aep.asset_events import declare_dataset_events, emit_dataset_event
from airflow_provider_aep.client.models import (
    FAILED_RECORDS_POLICIES,
    FailedRecordsPolicy,
    run_not_before,
    run_verdict,
)
from airflow_provider_aep.exceptions import AEPFlowRunFailedError, AEPInvalidArgumentError
from airflow_provider_aep.links import AEPFlowRunLink

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_aep.client.models import FlowRun
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook


class AEPFlowRunSensor(BaseSensorOperator):
    """Wait until a dataflow run is terminal; return its summary (id, status, record counts, errors).

    Give ``run_id`` to watch one run (e.g. the XCom of ``TriggerFlowRunOperator``), ``flow_id`` alone to
    watch the newest run of a scheduled flow (waiting until one exists), or both to check that the run
    belongs to the flow. Statuses are compared case-insensitively because AEP spells them several ways.
    A failed run raises :class:`AEPFlowRunFailedError` (no retry: the run will not change) with AEP's
    error codes and messages. A run that succeeded with ``failedRecordCount > 0`` (partial ingestion) is
    accepted, logged as a warning, or failed, per ``failed_records_policy``.

    In flow-id mode only a run created at or after ``not_before`` counts (epoch seconds or an aware
    datetime; default: the DAG run's data interval start, else its logical date, else when it was
    triggered), so yesterday's success never satisfies today's DAG run.

    With ``deferrable=True`` the waiting happens in the triggerer (:class:`AEPFlowRunTrigger`) after one
    synchronous check, so a run that already ended never defers. ``timeout`` bounds the wait either way.

    **Asset events** (``docs/assets.md``), on by default. When the task succeeds it emits one event per dataset
    the run's flow writes, ``aep://<org>/<sandbox>/datasets/<id>``, whose ``extra`` carries the run's metrics
    (:func:`~airflow_provider_aep.assets.run_event_extra`). The dataset is looked up at run time (run -> flow ->
    target connections -> ``params.dataSetId``) and its event is added through an ``AssetAlias`` the sensor
    declares in ``outlets``: ``asset_alias="name"``, else its own
    (:func:`~airflow_provider_aep.asset_events.default_asset_alias`, ``aep-datasets:<dag_id>.<task_id>``).
    A DAG scheduled on that dataset's asset or on the alias then runs.

    * static ``outlets=[dataset_asset(...)]`` (or any ``Asset``): Airflow emits their events itself; the
      sensor fills in their ``extra``. With an ``aep://`` outlet and no ``asset_alias``, no alias is added
      (the dataset already gets its event).
    * ``emit_asset_events=False``: no alias and no event of the sensor's own.

    A partial run (failed records) emits when ``failed_records_policy`` accepts it (``warn``/``ignore``),
    with ``records_failed`` and the error codes in the extra; under ``fail`` the task fails and emits
    nothing, like any failed run.

    :param flow_id: the dataflow whose newest run to wait for (templated); with ``run_id``, the flow the run
        must belong to.
    :param run_id: the run to wait for (templated), e.g. ``TriggerFlowRunOperator``'s XCom.
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param failed_records_policy: what a successful run with failed records is: ``ignore`` (success),
        ``warn`` (success, logged as a warning) or ``fail`` (the task fails).
    :param not_before: flow-id mode only: runs created before this (epoch seconds or an aware datetime;
        templated) are ignored. Default: the DAG run's data interval start, else its logical date, else
        when it was triggered.
    :param asset_alias: the name of an ``AssetAlias`` to emit one asset event through per dataset the run's
        flow writes; added to ``outlets`` for you. Default: ``aep-datasets:<dag_id>.<task_id>``.
    :param emit_asset_events: emit the datasets' asset events (default); False declares no alias.
    :param deferrable: wait in the triggerer (:class:`~airflow_provider_aep.triggers.runs.AEPFlowRunTrigger`)
        instead of a worker slot (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("flow_id", "run_id", "not_before")
    operator_extra_links = (AEPFlowRunLink(),)
    ui_color = "#fa0f00"

    def __init__(
        self,
        *,
        flow_id: str | None = None,
        run_id: str | None = None,
        aep_conn_id: str = "aep_default",
        failed_records_policy: FailedRecordsPolicy = "warn",
        not_before: Any = None,
        asset_alias: str | None = None,
        emit_asset_events: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # An explicit alias must resolve to a dataset (the task fails otherwise); the default one only warns.
        self._alias_required = asset_alias is not None
        asset_alias = declare_dataset_events(self, emit_asset_events=emit_asset_events, asset_alias=asset_alias)
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise AEPInvalidArgumentError(
                self.task_id, "failed_records_policy", f"must be one of {FAILED_RECORDS_POLICIES}"
            )
        if not flow_id and not run_id:
            raise AEPInvalidArgumentError(self.task_id, "run_id", "or flow_id is required")
        self.flow_id = flow_id
        self.run_id = run_id
        self.aep_conn_id = aep_conn_id
        self.failed_records_policy = failed_records_policy
        self.not_before = not_before
        self.asset_alias = asset_alias
        self.emit_asset_events = emit_asset_events
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AEPFlowServiceHook:
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        return AEPFlowServiceHook(aep_conn_id=self.aep_conn_id)

    def _ids(self) -> tuple[str | None, str | None]:
        """Rendered ``(flow_id, run_id)``, validated before any HTTP call."""
        ids = []
        for name in ("flow_id", "run_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise AEPInvalidArgumentError(self.task_id, name, f"must be a string, got {value!r}")
            ids.append(value.strip() if value and value.strip() else None)
        if not any(ids):
            raise AEPInvalidArgumentError(self.task_id, "run_id", "and flow_id rendered empty; give at least one")
        return ids[0], ids[1]

    def _not_before(self, context: Context) -> float | None:
        """Epoch seconds before which a flow's runs belong to earlier DAG runs (flow-id mode only)."""
        if self._ids()[1]:
            return None
        value = self.not_before
        if value is None:
            dag_run = context.get("dag_run")
            value = (
                context.get("data_interval_start") or context.get("logical_date") or getattr(dag_run, "run_after", None)
            )
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise AEPInvalidArgumentError(self.task_id, "not_before", "must be a timezone-aware datetime")
            return value.timestamp()
        try:
            return float(value)
        except (TypeError, ValueError):
            raise AEPInvalidArgumentError(
                self.task_id, "not_before", f"must be epoch seconds or an aware datetime, got {value!r}"
            ) from None

    def fetch_run(self, not_before: float | None = None) -> FlowRun | None:
        flow_id, run_id = self._ids()
        client = self.hook.flow_service
        if run_id:
            run = client.get_run(run_id)
            if flow_id and run.flow_id and run.flow_id != flow_id:
                raise AEPInvalidArgumentError(self.task_id, "run_id", f"{run_id} belongs to flow {run.flow_id}")
            return run
        return run_not_before(client.latest_run(flow_id), not_before)  # type: ignore[arg-type]

    def poke(self, context: Context) -> PokeReturnValue | bool:
        run = self.fetch_run(self._not_before(context))
        if run is None:
            self.log.info("Flow %s has no run for this DAG run yet", self.flow_id)
            return False
        phase, message = run_verdict(run, self.failed_records_policy)
        if phase == "running":
            self.log.info("AEP %s", message)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, phase, run.to_dict(), message))

    def _finish(
        self, context: Context, phase: Literal["success", "failed"], summary: dict[str, Any], message: str
    ) -> dict[str, Any]:
        """Persist the run link, then return the summary or raise for a failed run."""
        self._lineage_run = summary  # for get_openlineage_facets_on_*: set in the worker that ends the task
        AEPFlowRunLink.persist(context, self.hook.settings, summary["id"], flow_id=summary.get("flow_id"))
        if phase == "failed":
            raise AEPFlowRunFailedError(f"AEP dataflow {message}", summary)
        if summary.get("failed_records") and self.failed_records_policy == "warn":
            self.log.warning("AEP %s (partial ingestion)", message)
        else:
            self.log.info("AEP %s", message)
        self._emit_asset_events(context, summary)
        return summary

    def _emit_asset_events(self, context: Context, summary: dict[str, Any]) -> None:
        """Fill the static asset outlets' extra and add the alias's event(s); only on final success.

        Runs in the worker that ends the task (``poke`` or ``execute_complete``): Airflow sends the outlet
        events of that process only, so nothing is added before a deferral, and the trigger needs no
        asset arguments.
        """
        from airflow_provider_aep.assets import SCHEME, parse_dataset_uri, run_event_extra

        static = [outlet for outlet in self.outlets if isinstance(outlet, Asset)]
        if not static and not self.asset_alias:
            return
        outlet_events = context.get("outlet_events")
        if outlet_events is None:  # not in a real task run (a bare execute() call)
            # a warning only when the user asked for events (a named alias, static outlets), not for the default
            asked = static or getattr(self, "_alias_required", True)
            log = self.log.warning if asked else self.log.debug
            log("No outlet_events in the task context: no asset event for AEP run %s", summary["id"])
            return
        settings = self.hook.settings
        org, sandbox = settings.org_id, settings.sandbox_name
        for asset in static:
            dataset_id = None
            if asset.uri.startswith(f"{SCHEME}://"):
                dataset_id = parse_dataset_uri(asset.uri)[2]
            outlet_events[asset].extra.update(
                run_event_extra(summary, sandbox=sandbox, org_id=org, dataset_id=dataset_id)
            )
        if not self.asset_alias:
            return
        for target_id, dataset_id in self._target_datasets(summary).items():
            extra = run_event_extra(
                summary, sandbox=sandbox, org_id=org, dataset_id=dataset_id, target_connection_id=target_id
            )
            emit_dataset_event(context, self.asset_alias, extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """The run's flow: inputs its source tables, outputs its datasets (with column lineage from its mapping
        set and the rows/bytes written), run facets ``externalQuery`` (the AEP run id) and ``aep_flow_run``.
        Reads the flow from AEP; empty lineage when the task ended before a run was seen."""
        from airflow_provider_aep.lineage import (
            AEPDataset,
            FlowLineage,
            build_operator_lineage,
            describe_flow,
            run_statistics,
        )

        summary = getattr(self, "_lineage_run", None)
        if not isinstance(summary, dict) or not summary.get("id"):
            return build_operator_lineage()
        flow_id = summary.get("flow_id") or self._ids()[0]
        if not flow_id:
            return build_operator_lineage(run_id=summary["id"])
        try:
            described = describe_flow(self.hook, flow_id=flow_id)
        except Exception as err:  # the run facets are still worth emitting
            self.log.warning("OpenLineage: flow %s not readable, lineage has the run only: %s", flow_id, err)
            described = FlowLineage()
        stats = run_statistics(summary)
        outputs = [
            AEPDataset(d.namespace, d.name, stats if len(described.outputs) == 1 else None, d.fields)
            for d in described.outputs
        ]
        return build_operator_lineage(
            described.inputs, outputs, described.mappings, run_id=summary["id"], flow_id=flow_id
        )

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete

    def _target_datasets(self, summary: dict[str, Any]) -> dict[str, str]:
        """``{target connection id: dataset id}`` the run's flow writes to; raises if there is none and the user
        named the alias (the default alias only warns: the sensor also waits for flows that write no dataset).

        Failing here (the ingestion succeeded) is deliberate: a run the user asked to announce through an
        alias that silently announces nothing leaves every downstream DAG waiting. A retry re-checks the
        finished run and resolves again.
        """
        required = getattr(self, "_alias_required", True)  # else the default alias: warn, announce nothing
        flow_id = summary.get("flow_id") or self._ids()[0]
        if not flow_id:
            if required:
                raise AirflowException(
                    f"asset_alias {self.asset_alias!r}: AEP run {summary['id']} names no flow, so its dataset is "
                    "unknown"
                )
            self.log.warning("AEP run %s names no flow, so its dataset is unknown: no asset event", summary["id"])
            return {}
        from airflow_provider_aep.client.errors import AEPNotFoundError

        try:
            datasets = self.hook.flow_service.flow_target_datasets(flow_id)
        except AEPNotFoundError:
            if required:
                raise
            # the run ended well, and its flow (or a target connection) was deleted since, e.g. by a concurrent
            # DAG run's teardown: announcing nothing beats failing a successful ingestion
            self.log.warning("Flow %s or its target is gone: no asset event for AEP run %s", flow_id, summary["id"])
            return {}
        found = {target: dataset for target, dataset in datasets.items() if dataset}
        if not found:
            if required:
                raise AirflowException(
                    f"asset_alias {self.asset_alias!r}: flow {flow_id} has no target connection with a "
                    f"params.dataSetId (targets: {sorted(datasets) or 'none'}); no dataset to emit an asset event "
                    "for"
                )
            # a flow writing no dataset (another kind of target) simply has nothing to announce
            self.log.warning("Flow %s writes no dataset (no params.dataSetId): no asset event", flow_id)
            return {}
        return found

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowFailException as err:
            if self.soft_fail:
                raise AirflowSkipException(f"soft_fail: {err}") from err
            raise
        if done:
            return done.xcom_value  # type: ignore[union-attr]
        # Imported here: it pulls in airflow.triggers.base (~5 ms), which poke mode and DAG parsing never need.
        from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger

        flow_id, run_id = self._ids()
        self.defer(
            trigger=AEPFlowRunTrigger(
                aep_conn_id=self.aep_conn_id,
                flow_id=flow_id,
                run_id=run_id,
                poll_interval=self.poke_interval,
                deadline=time.time() + self.timeout,
                failed_records_policy=self.failed_records_policy,
                not_before=self._not_before(context),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Turn the trigger's event into the run summary or an exception (no defer kwargs are needed)."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"AEP run trigger returned no usable event: {event!r}")
        status, message, summary = event["status"], str(event.get("message", "")), event.get("run")
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status in ("success", "failed") and isinstance(summary, dict):
            return self._finish(context, status, summary, message)
        raise AirflowException(f"Watching the AEP run failed: {message}")

"""``AEPBatchSensor``: wait for any batch by id (one this DAG loaded, or one another system started), and
:class:`BatchOutcome`, what a task does once a batch it waited for has ended (shared with the batch operator)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep._compat import AirflowSensorTimeout, conf
from airflow_provider_aep.asset_events import declare_dataset_events
from airflow_provider_aep.client.models import FAILED_RECORDS_POLICIES, FailedRecordsPolicy
from airflow_provider_aep.exceptions import AEPInvalidArgumentError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

FAILED_SAMPLE_SIZE = 5
"""Failed records put in XCom (and the error): enough to see what is wrong, not a copy of the data."""
_SAMPLE_VALUE_CHARS = 2000


def _sample_record(record: dict[str, Any], redact: Any) -> dict[str, Any]:
    """A failed record for XCom: redacted before it is cut to size (a secret is never left half-visible)."""
    import json

    text = redact(json.dumps(record, default=str))
    if len(text) <= _SAMPLE_VALUE_CHARS:
        return json.loads(text)
    return {"truncated": text[:_SAMPLE_VALUE_CHARS]}


class BatchOutcome:
    """What a task does when a batch it waited for is terminal: verdict, failed-record sample, XCom, asset event.

    Mixed into :class:`AEPBatchSensor` and the batch operator, which set ``aep_conn_id``,
    ``failed_records_policy``, ``asset_alias`` and ``poll_interval``.
    """

    aep_conn_id: str
    failed_records_policy: FailedRecordsPolicy
    asset_alias: str | None
    log: Any
    task_id: str

    @cached_property
    def hook(self) -> AEPFlowServiceHook:
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        return AEPFlowServiceHook(aep_conn_id=self.aep_conn_id)

    def read_batch(self, batch_id: str) -> dict[str, Any]:
        from airflow_provider_aep.client.batches import batch_summary

        return batch_summary(self.hook.batch_ingestion.get_batch(batch_id))

    def defer_batch_wait(self, batch_id: str, deadline: float | None, poll_interval: float) -> None:
        from airflow_provider_aep.triggers.batches import AEPBatchTrigger

        self.defer(  # type: ignore[attr-defined]
            trigger=AEPBatchTrigger(
                aep_conn_id=self.aep_conn_id,
                batch_id=batch_id,
                poll_interval=poll_interval,
                deadline=deadline,
                failed_records_policy=self.failed_records_policy,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Turn the trigger's event into the batch summary or an exception."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"AEP batch trigger returned no usable event: {event!r}")
        status, message, summary = event["status"], str(event.get("message", "")), event.get("batch")
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status in ("success", "failed") and isinstance(summary, dict):
            return self.finish_batch(context, summary)
        raise AirflowException(f"Watching the AEP batch failed: {message}")

    def finish_batch(self, context: Context, summary: dict[str, Any]) -> dict[str, Any]:
        """The verdict on a terminal batch: raise for a failed one (with a sample of its failed records), else
        push the counts to XCom, emit the dataset's asset event and return the summary."""
        from airflow_provider_aep.client.batches import batch_verdict
        from airflow_provider_aep.exceptions import AEPBatchFailedError
        from airflow_provider_aep.links import AEPDatasetLink

        phase, message = batch_verdict(summary, self.failed_records_policy)
        summary = dict(summary)
        summary["failed_records_sample"] = self._failed_sample(summary) if summary.get("failed_records") else []
        settings = self.hook.settings
        self._lineage_batch = summary  # for get_openlineage_facets_on_*: set in the worker that ends the task
        if summary.get("dataset_id"):
            AEPDatasetLink.persist(context, settings, summary["dataset_id"])
        ti = context["ti"]
        for key in ("records", "failed_records", "error_codes", "failed_records_sample"):
            ti.xcom_push(key=key, value=summary.get(key))
        if phase == "failed":
            raise AEPBatchFailedError(f"AEP {message}", summary)
        if phase == "running":
            raise AirflowException(f"AEP {message}: not finished")
        if summary.get("failed_records") and self.failed_records_policy == "warn":
            self.log.warning("AEP %s (partial ingestion)", message)
        else:
            self.log.info("AEP %s", message)
        self._emit_batch_event(context, summary)
        return summary

    def _failed_sample(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            records = self.hook.data_access.failed_records(summary["id"], limit=FAILED_SAMPLE_SIZE)
        except Exception as err:  # the verdict matters more than the sample
            self.log.warning("Could not read the failed records of batch %s: %s", summary["id"], err)
            return []
        return [_sample_record(r, self.hook.platform.redact) for r in records]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Output: the batch's dataset with its XDM schema's fields and the records written."""
        from airflow_provider_aep.operators._batch_checks import batch_lineage

        return batch_lineage(self, [])

    def _emit_batch_event(self, context: Context, summary: dict[str, Any]) -> None:
        if not self.asset_alias or not summary.get("dataset_id"):
            return
        from airflow_provider_aep.asset_events import emit_dataset_event
        from airflow_provider_aep.assets import dataset_event_extra

        settings = self.hook.settings
        extra = dataset_event_extra(
            org_id=settings.org_id,
            sandbox=settings.sandbox_name,
            dataset_id=summary["dataset_id"],
            batch_id=summary["id"],
            records_read=summary.get("input_records"),
            records_written=summary.get("records"),
            records_failed=summary.get("failed_records"),
            bytes_read=summary.get("bytes"),
            duration_seconds=summary.get("duration_seconds"),
            status=summary.get("status"),
            error_codes=summary.get("error_codes") or (),
        )
        emit_dataset_event(context, self.asset_alias, extra)


class AEPBatchSensor(BatchOutcome, BaseSensorOperator):
    """Wait until a batch is terminal (Catalog's status); return its summary (id, status, counts, error codes).

    A failed, aborted or abandoned batch raises :class:`~airflow_provider_aep.exceptions.AEPBatchFailedError`
    (no retry: the batch will not change) with AEP's error codes and a sample of its failed records (also in
    the XCom ``failed_records_sample``). A successful batch with failed records (partial ingestion) is accepted,
    logged as a warning, or failed, per ``failed_records_policy``. On success the batch's dataset gets an asset
    event (``aep://<org>/<sandbox>/datasets/<id>``) through the sensor's alias, as the run sensor's.

    :param batch_id: the batch to wait for (templated).
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param failed_records_policy: ``ignore``, ``warn`` (default) or ``fail`` for a success with failed records.
    :param asset_alias: the ``AssetAlias`` the dataset's event goes through (default
        ``aep-datasets:<dag_id>.<task_id>``).
    :param emit_asset_events: emit the dataset's asset event (default); False declares no alias.
    :param deferrable: wait in the triggerer (:class:`~airflow_provider_aep.triggers.batches.AEPBatchTrigger`)
        after one synchronous check (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("batch_id",)
    ui_color = "#fa0f00"

    def __init__(
        self,
        *,
        batch_id: str,
        aep_conn_id: str = "aep_default",
        failed_records_policy: FailedRecordsPolicy = "warn",
        asset_alias: str | None = None,
        emit_asset_events: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise AEPInvalidArgumentError(
                self.task_id, "failed_records_policy", f"must be one of {FAILED_RECORDS_POLICIES}"
            )
        self.batch_id = batch_id
        self.aep_conn_id = aep_conn_id
        self.failed_records_policy = failed_records_policy
        self.asset_alias = declare_dataset_events(self, emit_asset_events=emit_asset_events, asset_alias=asset_alias)
        self.deferrable = deferrable

    def _batch_id(self) -> str:
        if not isinstance(self.batch_id, str) or not self.batch_id.strip():
            raise AEPInvalidArgumentError(
                self.task_id, "batch_id", f"must be a non-empty string, got {self.batch_id!r}"
            )
        return self.batch_id.strip()

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_aep.client.batches import batch_verdict

        summary = self.read_batch(self._batch_id())
        phase, message = batch_verdict(summary, self.failed_records_policy)
        if phase == "running":
            self.log.info("AEP %s", message)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish_batch(context, summary))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value  # type: ignore[union-attr]
        self.defer_batch_wait(self._batch_id(), time.time() + self.timeout, self.poke_interval)


__all__ = ["AEPBatchSensor", "BatchOutcome"]

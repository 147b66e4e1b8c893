"""``AEPScheduledQueryRunSensor``: wait for a run of a scheduled query to end, in poke/reschedule mode or deferred."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep._compat import AirflowSensorTimeout, conf
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPQueryServiceFailedError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook


class AEPScheduledQueryRunSensor(BaseSensorOperator):
    """Wait until a scheduled query's run ends; return its summary (id, schedule id, state, task states).

    A run that ends FAILED (or KILLED, TIMEOUT, cancelled) raises
    :class:`~airflow_provider_aep.exceptions.AEPQueryServiceFailedError` (no retry: the run will not change) with
    the run's task messages and the error codes of the query it ran. States are compared case-insensitively
    (Adobe's examples write ``success``). With ``deferrable=True`` the wait happens in the triggerer
    (:class:`~airflow_provider_aep.triggers.query_service.AEPScheduledQueryRunTrigger`) after one check.

    :param schedule_id: the scheduled query (templated).
    :param run_id: its run (templated), e.g. ``TriggerScheduledQueryRunOperator``'s XCom.
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("schedule_id", "run_id")
    ui_color = "#fa0f00"

    def __init__(
        self,
        *,
        schedule_id: str,
        run_id: str,
        aep_conn_id: str = "aep_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schedule_id = schedule_id
        self.run_id = run_id
        self.aep_conn_id = aep_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AEPFlowServiceHook:
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        return AEPFlowServiceHook(aep_conn_id=self.aep_conn_id)

    def _ids(self) -> tuple[str, str]:
        ids = []
        for name in ("schedule_id", "run_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise AEPInvalidArgumentError(self.task_id, name, f"must be a non-empty string, got {value!r}")
            ids.append(value.strip())
        return ids[0], ids[1]

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_aep.client._query_records import run_phase, run_summary

        schedule_id, run_id = self._ids()
        run = self.hook.query_service.get_schedule_run(schedule_id, run_id)
        phase = run_phase(run.get("state"))
        if phase == "running":
            self.log.info("Run %s of scheduled query %s is %s", run_id, schedule_id, run.get("state"))
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(phase, run_summary(run, schedule_id)))

    def _finish(self, phase: str, summary: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_aep.client._query_records import describe_errors, query_summary

        if phase == "success":
            self.log.info(
                "Run %s of scheduled query %s ended %s", summary["id"], summary["schedule_id"], summary["state"]
            )
            return summary
        codes: list[str] = []
        details = "; ".join(
            f"{t.get('taskId')}: {t.get('state')} {t.get('message') or ''}".strip() for t in summary["tasks"]
        )
        try:
            queries = self.hook.query_service.run_queries(summary["schedule_id"], summary["id"])
        except Exception as err:  # the run's own state is the verdict; its query only adds the codes
            self.log.warning("The query of run %s is not readable: %s", summary["id"], err)
            queries = []
        for query in queries[:1]:
            errors = query_summary(query)["errors"]
            codes = [str(e["code"]) for e in errors if e.get("code")]
            details = "; ".join(x for x in (details, describe_errors(errors)) if x)
        raise AEPQueryServiceFailedError(
            f"{self.task_id}: run {summary['id']} of scheduled query {summary['schedule_id']} ended "
            f"{summary['state']}: {details or 'no details'}",
            codes=codes,
            summary=summary,
        )

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value  # type: ignore[union-attr]
        from airflow_provider_aep.triggers.query_service import AEPScheduledQueryRunTrigger

        schedule_id, run_id = self._ids()
        self.defer(
            trigger=AEPScheduledQueryRunTrigger(
                aep_conn_id=self.aep_conn_id,
                schedule_id=schedule_id,
                run_id=run_id,
                poll_interval=self.poke_interval,
                deadline=time.time() + self.timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"Scheduled query run trigger returned no usable event: {event!r}")
        status, message = event["status"], str(event.get("message", ""))
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status in ("success", "failed") and isinstance(event.get("run"), dict):
            return self._finish(status, event["run"])
        raise AirflowException(f"Watching the scheduled query run failed: {message}")


__all__ = ["AEPScheduledQueryRunSensor"]

"""Scheduled queries: ``CreateQueryScheduleOperator`` (idempotent by name) and ``TriggerScheduledQueryRunOperator``
(run one now). Wait for a run with :class:`~airflow_provider_aep.sensors.query_service.AEPScheduledQueryRunSensor`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.base import AEPBaseOperator, is_template, push_created, require_text

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Adobe's shorthands besides a cron expression.
SCHEDULE_SHORTHANDS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")


def utc_text(task_id: str, argument: str, value: Any) -> str:
    """An ISO-8601 UTC instant (``2026-01-08T12:30:00.000Z``) from an aware datetime or ISO text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise AEPInvalidArgumentError(task_id, argument, f"is not an ISO-8601 date-time: {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise AEPInvalidArgumentError(task_id, argument, f"must be an aware datetime or ISO text, got {value!r}")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class CreateQueryScheduleOperator(AEPBaseOperator):
    """Create a scheduled query (``POST /schedules``), or reuse the one whose query has this ``name``; return its id.

    A reused schedule must run the same SQL (or template) in the same database on the same ``cron``, else the
    task fails with :class:`~airflow_provider_aep.exceptions.AEPResourceMismatchError`. ``created`` (XCom) says
    whether this try made it. Adobe registers a new schedule (``REGISTERING``) before it is ``ENABLED``.

    :param name: the scheduled query's name, its natural key (templated).
    :param cron: a cron expression or ``@once``/``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly``.
    :param sql: the SELECT to run (templated; ``.sql`` files are read as templates). Not with ``template_id``.
    :param template_id: a saved query template to run instead (templated).
    :param query_parameters: values of the ``$name`` placeholders (templated).
    :param ctas_dataset_name: each run creates a dataset of this name (templated).
    :param database: ``dbName`` (templated); default ``<sandbox>:all``.
    :param schedule_start: first instant it may run (aware datetime or ISO text, templated); default now.
    :param schedule_end: last instant it may run (templated); default none.
    :param max_active_runs: runs allowed at once (Adobe's default 1).
    :param description: the query's description; the DAG run's owner line is appended.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "name",
        "sql",
        "template_id",
        "query_parameters",
        "ctas_dataset_name",
        "database",
        "schedule_start",
        "schedule_end",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}

    def __init__(
        self,
        *,
        name: str,
        cron: str,
        sql: str | None = None,
        template_id: str | None = None,
        query_parameters: Mapping[str, Any] | None = None,
        ctas_dataset_name: str | None = None,
        database: str | None = None,
        schedule_start: Any = None,
        schedule_end: Any = None,
        max_active_runs: int = 1,
        description: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.name = name
        self.cron = cron
        self.sql = sql
        self.template_id = template_id
        self.query_parameters = query_parameters
        self.ctas_dataset_name = ctas_dataset_name
        self.database = database
        self.schedule_start = schedule_start
        self.schedule_end = schedule_end
        self.max_active_runs = max_active_runs
        self.description = description
        cron_text = require_text(self, "cron", cron)
        if cron_text.startswith("@") and cron_text not in SCHEDULE_SHORTHANDS:
            raise AEPInvalidArgumentError(
                self.task_id, "cron", f"must be a cron expression or one of {SCHEDULE_SHORTHANDS}"
            )
        if (sql is None) == (template_id is None):
            raise AEPInvalidArgumentError(self.task_id, "sql", "or template_id is required (exactly one)")
        if not isinstance(max_active_runs, int) or isinstance(max_active_runs, bool) or max_active_runs < 1:
            raise AEPInvalidArgumentError(
                self.task_id, "max_active_runs", f"must be an integer >= 1, got {max_active_runs!r}"
            )
        if not is_template(name):
            require_text(self, "name", name)

    def build_body(self, context: Context) -> dict[str, Any]:
        """The ``POST /schedules`` body, validated."""
        name = require_text(self, "name", self.name)
        if "," in name:
            raise AEPInvalidArgumentError(self.task_id, "name", "must not contain a comma")
        query: dict[str, Any] = {
            "dbName": (self.database or "").strip() or f"{self.hook.settings.sandbox_name}:all",
            "name": name,
            "description": self.owned(context, self.description),
        }
        if self.template_id is not None:
            query["templateId"] = require_text(self, "template_id", self.template_id)
        else:
            query["sql"] = require_text(self, "sql", self.sql)
        if self.query_parameters:
            if not isinstance(self.query_parameters, Mapping):
                raise AEPInvalidArgumentError(self.task_id, "query_parameters", "must be a mapping")
            query["queryParameters"] = {str(k): str(v) for k, v in self.query_parameters.items()}
        if self.ctas_dataset_name is not None:
            query["ctasParameters"] = {"datasetName": require_text(self, "ctas_dataset_name", self.ctas_dataset_name)}
        start = self.schedule_start if self.schedule_start not in (None, "") else datetime.now(timezone.utc)
        schedule: dict[str, Any] = {
            "schedule": self.cron.strip(),
            "startDate": utc_text(self.task_id, "schedule_start", start),
            "maxActiveRuns": self.max_active_runs,
        }
        if self.schedule_end not in (None, ""):
            schedule["endDate"] = utc_text(self.task_id, "schedule_end", self.schedule_end)
        return {"query": query, "schedule": schedule}

    def execute(self, context: Context) -> str:
        from airflow_provider_aep.client._query_records import AEPQueryServiceMismatchError
        from airflow_provider_aep.exceptions import AEPResourceMismatchError

        body = self.build_body(context)
        try:
            made = self.hook.query_service.create_schedule(body)
        except AEPQueryServiceMismatchError as err:
            raise AEPResourceMismatchError(
                self.task_id, "scheduled query", err.name, err.field, err.existing, err.asked
            ) from None
        self.log.info("%s scheduled query %s (%r)", "Created" if made.created else "Reusing", made.id, self.name)
        push_created(context, made.created)
        return made.id


class TriggerScheduledQueryRunOperator(AEPBaseOperator):
    """Start a run of a scheduled query now (``POST /schedules/{id}/runs``) and return the run's id.

    Adobe answers no run id; the new run is found among the schedule's ``externalTrigger==true`` runs. A
    ``DISABLED`` schedule cannot be triggered (the task fails naming ``schedule_id``); one still ``REGISTERING`` is
    waited for, up to ``registering_timeout`` seconds. Pair it with ``AEPScheduledQueryRunSensor``.

    :param schedule_id: the scheduled query (templated), e.g. ``CreateQueryScheduleOperator``'s XCom.
    :param registering_timeout: seconds to wait for a new schedule to leave ``REGISTERING``.
    :param poll_interval: seconds between reads of a registering schedule.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("schedule_id",)

    def __init__(
        self,
        *,
        schedule_id: str,
        registering_timeout: float = 300.0,
        poll_interval: float = 5.0,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.schedule_id = schedule_id
        self.registering_timeout = registering_timeout
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> str:
        from airflow_provider_aep.client.errors import AEPNotFoundError

        schedule_id = require_text(self, "schedule_id", self.schedule_id)
        client = self.hook.query_service
        deadline = time.monotonic() + self.registering_timeout
        while True:
            try:
                state = str(client.get_schedule(schedule_id).get("state") or "").upper()
            except AEPNotFoundError:
                raise AEPInvalidArgumentError(
                    self.task_id, "schedule_id", f"{schedule_id!r} names no schedule"
                ) from None
            if state == "DISABLED":
                raise AEPInvalidArgumentError(
                    self.task_id, "schedule_id", f"{schedule_id} is DISABLED; enable it before triggering a run"
                )
            if state != "REGISTERING" or time.monotonic() >= deadline:
                break
            self.log.info("Schedule %s is still REGISTERING; waiting", schedule_id)
            time.sleep(self.poll_interval)
        run = client.trigger_schedule_run(schedule_id)
        self.log.info("Started run %s of scheduled query %s (%s)", run.get("id"), schedule_id, run.get("state"))
        return str(run["id"])


__all__ = ["CreateQueryScheduleOperator", "TriggerScheduledQueryRunOperator"]

"""``TriggerFlowRunOperator``: start an on-demand run of a ``once`` dataflow (``POST /runs``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.models import dig
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPFlowRunLink
from airflow_provider_aep.operators.base import AEPBaseOperator, is_true, require_text
from airflow_provider_aep.operators.flows import epoch_seconds, validate_delta_column

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.client.models import FlowRun

_TIME_ARGUMENTS = {
    "start_time": "startTime",
    "window_start_time": "windowStartTime",
    "window_end_time": "windowEndTime",
}


class TriggerFlowRunOperator(AEPBaseOperator):
    """Start an on-demand run of a dataflow scheduled ``once`` and return the run id.

    Times are epoch seconds (integers, digit strings from templates, or aware datetimes); ``start_time``
    defaults to now, the window is sent only when given. ``delta_column`` is only accepted by AEP on the
    first run of a flow. With ``reuse_active_run`` (default) a run that is still scheduled or in progress
    is returned instead of starting another, so a retried task does not queue duplicate ingestions, but
    only if it ingests the same window and delta column. A ``once`` dataflow starts its own first run when
    it is created: pass ``adopt_first_run=create_dataflow.output["created"]`` so that the DAG run that
    created the dataflow takes that run (finished or not) instead of ingesting the same data twice.
    ``flow_frequency`` (``create_dataflow.output["frequency"]``, the schedule that task created or verified)
    saves reading the dataflow again to check it is scheduled ``once``.
    Pair it with ``AEPFlowRunSensor(run_id=...)`` to wait for the outcome.

    :param flow_id: the dataflow's id (templated).
    :param start_time: the run's start, epoch seconds or an aware datetime (templated); default now.
    :param window_start_time: start of the ingestion window, epoch seconds or an aware datetime (templated).
    :param window_end_time: end of the ingestion window, epoch seconds or an aware datetime (templated).
    :param delta_column: the timestamp column (a name or ``{"name", "dateFormat", "timezone"}``), accepted by
        AEP on a flow's first run only (templated).
    :param reuse_active_run: return a scheduled or running run that ingests the same window instead of
        starting another.
    :param adopt_first_run: true (templated, e.g. ``create_dataflow.output["created"]``) when this DAG run
        created the dataflow: its ``once`` schedule's own first run is then taken instead of starting another.
    :param flow_frequency: the dataflow's schedule frequency when an upstream task knows it (templated, e.g.
        ``create_dataflow.output["frequency"]``), instead of reading the dataflow.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "flow_id",
        "start_time",
        "window_start_time",
        "window_end_time",
        "delta_column",
        "adopt_first_run",
        "flow_frequency",
    )
    operator_extra_links = (AEPFlowRunLink(),)

    def __init__(
        self,
        *,
        flow_id: str,
        start_time: Any = None,
        window_start_time: Any = None,
        window_end_time: Any = None,
        delta_column: str | Mapping[str, str] | None = None,
        reuse_active_run: bool = True,
        adopt_first_run: Any = False,
        flow_frequency: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.flow_id = flow_id
        self.start_time = start_time
        self.window_start_time = window_start_time
        self.window_end_time = window_end_time
        self.delta_column = delta_column
        self.reuse_active_run = reuse_active_run
        self.adopt_first_run = adopt_first_run
        self.flow_frequency = flow_frequency

    def build_params(self, *, now: float | None = None) -> dict[str, Any]:
        """The run's ``params``, validated locally."""
        params: dict[str, Any] = {}
        for argument, key in _TIME_ARGUMENTS.items():
            value = getattr(self, argument)
            if value is None and argument == "start_time":
                value = int(now if now is not None else time.time())
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())  # a rendered template; AEP's own example sends digit strings
            if value is not None:
                params[key] = epoch_seconds(self, argument, value)
        if params.get("windowStartTime", 0) > params.get("windowEndTime", float("inf")):
            raise AEPInvalidArgumentError(self.task_id, "window_start_time", "is after window_end_time")
        delta = validate_delta_column(self, self.delta_column)
        if delta is not None:
            params["deltaColumn"] = delta
        return params

    def _adoptable(self, run: FlowRun, params: Mapping[str, Any]) -> str | None:
        """The active run's id if it ingests what this task asks for (same window and delta column)."""
        own = run.params
        for key in ("windowStartTime", "windowEndTime"):
            if own.get(key) != params.get(key):
                self.log.info(
                    "Run %s is %s but has %s=%r, not %r; starting another run",
                    *(run.id, run.status, key, own.get(key), params.get(key)),
                )
                return None
        asked, has = dig(params, "deltaColumn.name"), dig(own, "deltaColumn.name")
        if asked is not None and has is not None and asked != has:
            self.log.info("Run %s uses delta column %r, not %r; starting another run", run.id, has, asked)
            return None
        if not own:
            self.log.info(
                "Adopting run %s (%s): the dataflow's own first run, started by its 'once' schedule when it was "
                "created; no second run is started",
                *(run.id, run.status),
            )
        else:
            self.log.info("Flow already has run %s %s with the same window; not starting another", run.id, run.status)
        return run.id

    def execute(self, context: Context) -> str:
        flow_id = require_text(self, "flow_id", self.flow_id)
        params = self.build_params()
        client = self.hook.flow_service
        known = self.flow_frequency if isinstance(self.flow_frequency, str) and self.flow_frequency else None
        frequency = known or dig(client.get_flow(flow_id), "scheduleParams.frequency")
        if frequency is not None and str(frequency).lower() != "once":
            raise AEPInvalidArgumentError(
                self.task_id, "flow_id", f"{flow_id} is scheduled {frequency!r}; on-demand runs need a 'once' dataflow"
            )
        latest = client.latest_run(flow_id)
        adopted = None
        if is_true(self.adopt_first_run) and latest is not None and not latest.params:
            adopted = latest.id
            self.log.info(
                "Adopting run %s (%s): the dataflow was created by this DAG run and its 'once' schedule already "
                "started this first ingestion, so no second run is started",
                *(latest.id, latest.status),
            )
        elif self.reuse_active_run and latest is not None and latest.phase == "running":
            adopted = self._adoptable(latest, params)
        if adopted is not None:
            run_id = adopted
        else:
            run_id = client.create_run(flow_id, params, known_latest=latest.id if latest else None).id
            self.log.info("Started run %s of flow %s", run_id, flow_id)
        AEPFlowRunLink.persist(context, self.hook.settings, run_id, flow_id=flow_id)
        return run_id

"""Dataflows: connect source connections to a target connection with a schedule (create and delete)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast, get_args

from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep.client.models import CRM_FLOW_SPEC_NAME, dig
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPDataflowLink
from airflow_provider_aep.operators.base import (
    IF_EXISTS_CHOICES,
    AEPBaseOperator,
    AEPDeleteOperator,
    IfExists,
    is_template,
    push_created,
    require_choice,
    require_text,
    verify_reused,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import BaseOperator, Context

#: ``scheduleParams.frequency`` values the flow specs' ``scheduleSpec`` allows.
Frequency = Literal["once", "minute", "hour", "day", "week"]
FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)
SCHEDULE_KEYS = ("startTime", "frequency", "interval", "backfill")
DELTA_COLUMN_KEYS = ("name", "dateFormat", "timezone")
MIN_MINUTE_INTERVAL = 15
_EPOCH_MS_THRESHOLD = 10**11  # year 5138 in seconds; anything above is almost surely milliseconds


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def epoch_seconds(task: BaseOperator, argument: str, value: Any) -> int:
    """An epoch time in whole seconds (AEP's unit here); an aware datetime is converted, strings are refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AEPInvalidArgumentError(task.task_id, argument, "must be a timezone-aware datetime")
        return int(value.timestamp())
    if not _integer(value):
        raise AEPInvalidArgumentError(task.task_id, argument, f"must be epoch seconds as an integer, got {value!r}")
    if value < 0:
        raise AEPInvalidArgumentError(task.task_id, argument, f"must not be negative, got {value}")
    if value >= _EPOCH_MS_THRESHOLD:
        raise AEPInvalidArgumentError(task.task_id, argument, f"{value} looks like milliseconds; AEP wants seconds")
    return value


def validate_schedule(task: BaseOperator, schedule: Mapping[str, Any] | None, *, now: float | None = None) -> dict:
    """``scheduleParams`` as the flow spec's ``scheduleSpec`` demands, checked locally.

    ``frequency`` once/minute/hour/day/week; ``interval`` an integer, absent for ``once``, at least 15 for
    ``minute`` and 1 otherwise; ``backfill`` a boolean and absent for ``once``; ``startTime`` epoch seconds
    (defaults to now). Adobe's own example sends strings and an interval with ``once``, which the schema
    forbids, so those are rejected here rather than by AEP.
    """
    arg = "schedule"
    schedule = dict(schedule or {"frequency": "once"})
    unknown = sorted(set(schedule) - set(SCHEDULE_KEYS))
    if unknown:
        raise AEPInvalidArgumentError(task.task_id, arg, f"has unknown keys {unknown}; allowed: {list(SCHEDULE_KEYS)}")
    frequency = schedule.get("frequency")
    if frequency not in FREQUENCIES:
        raise AEPInvalidArgumentError(task.task_id, arg, f"frequency must be one of {FREQUENCIES}, got {frequency!r}")
    result: dict[str, Any] = {
        "startTime": epoch_seconds(task, "schedule.startTime", schedule.get("startTime", int(now or time.time()))),
        "frequency": frequency,
    }
    if frequency == "once":
        for key in ("interval", "backfill"):
            if key in schedule:
                raise AEPInvalidArgumentError(task.task_id, arg, f"must not have {key!r} with frequency 'once'")
        return result
    interval = schedule.get("interval")
    minimum = MIN_MINUTE_INTERVAL if frequency == "minute" else 1
    if not isinstance(interval, int) or isinstance(interval, bool):
        raise AEPInvalidArgumentError(
            task.task_id, arg, f"interval is required for frequency {frequency!r} as an integer, got {interval!r}"
        )
    if interval < minimum:
        raise AEPInvalidArgumentError(
            task.task_id, arg, f"interval must be at least {minimum} for frequency {frequency!r}, got {interval}"
        )
    result["interval"] = interval
    if "backfill" in schedule:
        backfill = schedule["backfill"]
        if not isinstance(backfill, bool):
            raise AEPInvalidArgumentError(task.task_id, arg, f"backfill must be a boolean, got {backfill!r}")
        result["backfill"] = backfill
    return result


def validate_delta_column(task: BaseOperator, value: str | Mapping[str, Any] | None) -> dict[str, str] | None:
    """``{"name"[, "dateFormat"][, "timezone"]}``; a bare string is the column name."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise AEPInvalidArgumentError(task.task_id, "delta_column", f"must be a column name or a dict, got {value!r}")
    unknown = sorted(set(value) - set(DELTA_COLUMN_KEYS))
    if unknown:
        raise AEPInvalidArgumentError(task.task_id, "delta_column", f"has unknown keys {unknown}")
    result = {"name": require_text(task, "delta_column.name", value.get("name"))}
    for key in DELTA_COLUMN_KEYS[1:]:
        if value.get(key) is not None:
            result[key] = require_text(task, f"delta_column.{key}", value[key])
    return result


def _id_list(task: BaseOperator, argument: str, value: Any) -> list[str]:
    """One id or a sequence of ids (e.g. the XCom of a mapped task) as a list of strings."""
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if not items:
        raise AEPInvalidArgumentError(task.task_id, argument, f"must be an id or a list of ids, got {value!r}")
    return [require_text(task, argument, item) for item in items]


class DataflowHandOver(TypedDict, total=False):
    """What upstream tasks of the same DAG run already read, handed to ``CreateDataflowOperator(hand_over=...)``
    so that it does not read it again: an optimisation only. Any key may be left out (or resolve to None), and
    the operator then reads that itself; what it is handed is checked as what it would have read.
    ``AEPOnboardingTaskGroup`` hands all four over from its upstream tasks' XComs (XComArgs as values)."""

    flow_spec: Mapping[str, Any]
    """``CreateConnectionOperator(flow_spec_name=...)``'s ``flow_spec`` XCom; used only if it is the spec the
    dataflow's ``flow_spec_name`` names."""
    source_connection_spec_ids: str | Sequence[str]
    """The source connections' connection spec ids, in ``source_connection_ids``' order (the source connection
    operator's ``connection_spec_id`` XCom)."""
    target_connection_spec_id: str
    """The target connection's connection spec id (the target connection operator's ``connection_spec_id``
    XCom). With both spec ids and a ``name``, the connections are not read."""
    mapping_version: int | str
    """The current version of the ``mapping_id`` mapping set (``CreateMappingSetOperator``'s ``version`` XCom),
    instead of reading it from Data Prep."""


HAND_OVER_KEYS = DataflowHandOver.__required_keys__ | DataflowHandOver.__optional_keys__


class CreateDataflowOperator(AEPBaseOperator):
    """Create (or reuse) a dataflow from source connection(s) to a target connection.

    The flow spec is looked up by name (``CRMToAEP`` for HubSpot and other CRM sources) and must list the
    source's and target's connection specs, so a wrong pairing fails before the POST. CRM flows need the
    ``Copy`` transformation with ``delta_column`` (a timestamp column; see the explore operator's
    ``delta_column_candidates``); ``mapping_id`` adds a Data Prep ``Mapping`` of the mapping set's current
    version. ``schedule`` defaults to ``{"frequency": "once"}`` (on-demand runs, see ``TriggerFlowRunOperator``).
    A dataflow with the same ``name`` is reused if it connects the same connections.
    ``hand_over`` (a :class:`DataflowHandOver`, optional) saves requests: the flow spec, the connections'
    specs and the mapping set's version that upstream tasks of the same DAG run already read.
    Returns the flow id and pushes its etag under ``etag`` and its schedule frequency under ``frequency``.

    :param source_connection_ids: one source connection id or a list of them (templated, e.g. a mapped task's
        XCom).
    :param target_connection_id: the target connection's id (templated).
    :param delta_column: the timestamp column of the ``Copy`` transformation: a name or ``{"name",
        "dateFormat", "timezone"}`` (templated); required for ``CRMToAEP`` flows.
    :param schedule: ``scheduleParams``: ``frequency`` (``once``, ``minute``, ``hour``, ``day``, ``week``),
        ``interval``, ``startTime`` (epoch seconds), ``backfill`` (templated); default ``{"frequency": "once"}``.
    :param name: the dataflow's name (templated), its natural key; default derived from the connections'
        names.
    :param description: the dataflow's description (templated); the owner line is appended to it.
    :param flow_spec_name: the flow spec to look up by name.
    :param mapping_id: a Data Prep mapping set to apply (templated).
    :param if_exists: ``"reuse"`` a dataflow with the same name connecting the same connections, or ``"fail"``.
    :param hand_over: what upstream tasks already read (templated): see :class:`DataflowHandOver`.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "source_connection_ids",
        "target_connection_id",
        "name",
        "description",
        "delta_column",
        "mapping_id",
        "schedule",
        "hand_over",
    )
    operator_extra_links = (AEPDataflowLink(),)

    def __init__(
        self,
        *,
        source_connection_ids: str | Sequence[str],
        target_connection_id: str,
        delta_column: str | Mapping[str, str] | None = None,
        schedule: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        flow_spec_name: str = CRM_FLOW_SPEC_NAME,
        mapping_id: str | None = None,
        if_exists: IfExists = "reuse",
        hand_over: DataflowHandOver | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        require_choice(self, "if_exists", if_exists, IF_EXISTS_CHOICES)
        require_text(self, "flow_spec_name", flow_spec_name)
        self.source_connection_ids = source_connection_ids
        self.target_connection_id = target_connection_id
        self.delta_column = delta_column
        self.schedule = schedule
        self.name = name
        self.description = description
        self.flow_spec_name = flow_spec_name
        self.mapping_id = mapping_id
        self.if_exists = if_exists
        self.hand_over = hand_over
        if not is_template(hand_over):
            self._handed_over()
        if not _has_template(schedule):
            validate_schedule(self, schedule)
        if not _has_template(delta_column) and not is_template(mapping_id):
            self._transformations()

    def _handed_over(self) -> DataflowHandOver:
        """``hand_over`` checked: known keys only, and ``mapping_version`` only with ``mapping_id``."""
        given = self.hand_over
        if given is None:
            return {}
        if not isinstance(given, Mapping):
            raise AEPInvalidArgumentError(self.task_id, "hand_over", f"must be a dict, got {given!r}")
        unknown = sorted(set(given) - HAND_OVER_KEYS)
        if unknown:
            raise AEPInvalidArgumentError(
                self.task_id, "hand_over", f"has unknown keys {unknown}; allowed: {sorted(HAND_OVER_KEYS)}"
            )
        if given.get("mapping_version") is not None and self.mapping_id is None:
            raise AEPInvalidArgumentError(self.task_id, "hand_over", "mapping_version needs mapping_id")
        return cast(DataflowHandOver, given)

    def _transformations(self, mapping_version: int | str | None = None) -> list[dict[str, Any]]:
        delta = validate_delta_column(self, self.delta_column)
        if delta is None and self.flow_spec_name == CRM_FLOW_SPEC_NAME:
            raise AEPInvalidArgumentError(
                self.task_id, "delta_column", "is required for CRMToAEP flows (a timestamp column such as Updated_At)"
            )
        transformations: list[dict[str, Any]] = []
        if delta is not None:
            transformations.append({"name": "Copy", "params": {"deltaColumn": delta}})
        if self.mapping_id is not None:
            mapping_id = require_text(self, "mapping_id", self.mapping_id)
            version = mapping_version or 0
            # The CRMToAEP flow spec types mappingVersion as a string (tutorials send both forms).
            params = {"mappingId": mapping_id, "mappingVersion": str(version)}
            transformations.append({"name": "Mapping", "params": params})
        return transformations

    def _check_spec(self, flow_spec: Mapping[str, Any], key: str, argument: str, resource: Mapping[str, Any]) -> None:
        spec_id = (resource.get("connectionSpec") or {}).get("id")
        allowed = flow_spec.get(key)
        if isinstance(allowed, list) and spec_id not in allowed:
            raise AEPInvalidArgumentError(
                self.task_id,
                argument,
                f"{resource.get('id')} uses connection spec {spec_id}, which flow spec "
                f"{flow_spec.get('name')!r} does not support ({key}: {allowed})",
            )

    def _flow_spec(self, client: Any, handed: DataflowHandOver) -> Mapping[str, Any]:
        """The flow spec handed over by an upstream task when it is the one named ``flow_spec_name``."""
        given = handed.get("flow_spec")
        if isinstance(given, Mapping) and given.get("id") and given.get("name") == self.flow_spec_name:
            return given
        return client.find_flow_spec(self.flow_spec_name)

    def _known_specs(
        self, handed: DataflowHandOver, source_ids: list[str], target_id: str
    ) -> tuple[list[dict], dict] | None:
        """``({id, connectionSpec}, ...)`` of the connections when upstream tasks handed their specs over."""
        given_sources, given_target = handed.get("source_connection_spec_ids"), handed.get("target_connection_spec_id")
        if given_sources is None or given_target is None:
            return None
        argument = "hand_over.source_connection_spec_ids"
        source_specs = _id_list(self, argument, given_sources)
        if len(source_specs) != len(source_ids):
            raise AEPInvalidArgumentError(
                self.task_id, argument, f"has {len(source_specs)} ids for {len(source_ids)} sources"
            )
        target_spec = require_text(self, "hand_over.target_connection_spec_id", given_target)
        sources = [{"id": i, "connectionSpec": {"id": s}} for i, s in zip(source_ids, source_specs, strict=True)]
        return sources, {"id": target_id, "connectionSpec": {"id": target_spec}}

    def execute(self, context: Context) -> str:
        source_ids = _id_list(self, "source_connection_ids", self.source_connection_ids)
        target_id = require_text(self, "target_connection_id", self.target_connection_id)
        schedule = validate_schedule(self, self.schedule)
        client = self.hook.flow_service
        handed = self._handed_over()
        transformations = self._transformations(self._current_mapping_version(handed))

        flow_spec = self._flow_spec(client, handed)
        known = self._known_specs(handed, source_ids, target_id) if self.name is not None else None
        if known is None:  # the default name needs the connections' names, the spec check their specs
            sources = [client.get_resource("sourceConnections", source_id) for source_id in source_ids]
        else:
            sources, target = known
        for source in sources:
            self._check_spec(flow_spec, "sourceConnectionSpecIds", "source_connection_ids", source)
        if known is None:
            target = client.get_resource("targetConnections", target_id)
        self._lineage_flow: dict[str, Any] = {
            # connections not read here are read by the lineage itself, only when OpenLineage asks
            "sources": sources if known is None else None,
            "targets": [target] if known is None else None,
            "transformations": transformations,
            "sourceConnectionIds": source_ids,
            "targetConnectionIds": [target_id],
        }
        self._check_spec(flow_spec, "targetConnectionSpecIds", "target_connection_id", target)

        name = require_text(self, "name", self.name) if self.name is not None else self._default_name(sources, target)
        body: dict[str, Any] = {
            "name": name,
            "flowSpec": {"id": flow_spec["id"], "version": flow_spec.get("version") or "1.0"},
            "sourceConnectionIds": source_ids,
            "targetConnectionIds": [target_id],
            "transformations": transformations,
            "scheduleParams": schedule,
        }
        body["description"] = self.owned(context, self.description)
        result = client.create_flow(body, if_exists=self.if_exists)
        frequency = schedule["frequency"]
        if not result.created:
            flow = result.resource or client.get_flow(result.id)
            frequency = dig(flow, "scheduleParams.frequency")
            self._check_reused(flow, source_ids, target_id)
            verify_reused(
                self, "dataflow", _transformation_view(flow), _transformation_view(body), name=flow.get("name")
            )
        self.log.info("%s dataflow %s (%r)", "Created" if result.created else "Reusing existing", result.id, name)
        context["ti"].xcom_push(key="etag", value=result.etag)
        context["ti"].xcom_push(key="frequency", value=frequency)
        push_created(context, result.created)
        AEPDataflowLink.persist(context, self.hook.settings, result.id)
        return result.id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Inputs: the source connections' tables; output: the target's dataset (``aep://<org>/<sandbox>``,
        ``datasets/<id>``) with column lineage from the mapping set's ``ATTRIBUTE`` mappings (read from Data
        Prep here; an unreadable mapping set only drops the column lineage). See ``docs/assets.md``."""
        from airflow_provider_aep.lineage import build_operator_lineage, describe_flow

        state = getattr(self, "_lineage_flow", None)
        if state is None:  # failed before the connections were read
            return build_operator_lineage()
        flow = {k: state[k] for k in ("transformations", "sourceConnectionIds", "targetConnectionIds") if k in state}
        described = describe_flow(self.hook, flow=flow, sources=state["sources"], targets=state["targets"])
        return build_operator_lineage(described.inputs, described.outputs, described.mappings)

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete

    def _current_mapping_version(self, handed: DataflowHandOver) -> int | str | None:
        """The mapping set's current version: handed over, or read from Data Prep."""
        if self.mapping_id is None:
            return None
        if handed.get("mapping_version") is not None:
            return handed["mapping_version"]
        mapping_id = require_text(self, "mapping_id", self.mapping_id)
        return self.hook.data_prep.get_mapping_set(mapping_id).get("version", 0)

    @staticmethod
    def _default_name(sources: Sequence[Mapping[str, Any]], target: Mapping[str, Any]) -> str:
        """Derived from the connections' names, so a re-run finds the same dataflow."""
        first = str(sources[0].get("name") or sources[0]["id"])
        more = f" (+{len(sources) - 1})" if len(sources) > 1 else ""
        return f"{first}{more} to {target.get('name') or target['id']}"

    def _check_reused(self, flow: Mapping[str, Any], source_ids: list[str], target_id: str) -> None:
        """A same-named dataflow between other connections must not be mistaken for this one."""
        if sorted(flow.get("sourceConnectionIds") or []) != sorted(source_ids) or list(
            flow.get("targetConnectionIds") or []
        ) != [target_id]:
            raise AirflowException(
                f"{self.task_id}: dataflow {flow.get('id')} named {flow.get('name')!r} already exists but connects "
                f"{flow.get('sourceConnectionIds')} to {flow.get('targetConnectionIds')}; choose another name"
            )


def _transformation_view(flow: Mapping[str, Any]) -> dict[str, Any]:
    """What a reused dataflow must share with the one asked for: delta column and mapping set (id, version)."""
    found: dict[str, Any] = {"deltaColumn": None, "mappingId": None, "mappingVersion": None}
    for item in flow.get("transformations") or []:
        params = item.get("params") or {} if isinstance(item, Mapping) else {}
        if item.get("name") == "Copy":
            found["deltaColumn"] = (params.get("deltaColumn") or {}).get("name")
        elif item.get("name") == "Mapping":
            found["mappingId"] = params.get("mappingId")
            found["mappingVersion"] = None if params.get("mappingVersion") is None else str(params["mappingVersion"])
    return found


def _has_template(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    return is_template(value)


class DeleteDataflowOperator(AEPDeleteOperator):
    """Delete a dataflow (first in a teardown). Returns False if it was already gone.

    :param flow_id: the dataflow's id (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "flows"
    id_argument = "flow_id"

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """A run still in progress: another DAG run waits for it (this one's own wait has ended)."""
        latest = self.hook.flow_service.latest_run(resource_id)
        return f"its run {latest.id}, still {latest.status}" if latest and latest.phase == "running" else None

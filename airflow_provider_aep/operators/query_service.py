"""``RunQueryOperator``: run SQL (or a saved template) as a Query Service batch query, optionally into a dataset.

Query Service's REST queries never return rows: they write a new dataset (``ctasParameters``, CREATE TABLE AS
SELECT), append to one (``insertIntoParameters``, INSERT INTO ... SELECT) or just run. Rows are read over the
PostgreSQL interface (``AEPQueryServiceHook`` with the common-sql operators). The scheduled-query operators are in
:mod:`airflow_provider_aep.operators.query_schedules`, the sensor in :mod:`airflow_provider_aep.sensors.query_service`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep._compat import conf
from airflow_provider_aep.asset_events import declare_dataset_events
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPQueryServiceFailedError
from airflow_provider_aep.operators.base import AEPBaseOperator, is_template

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_aep.client.query_service import QueryServiceClient

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_TABLE_UNSAFE = re.compile(r"[^a-z0-9]+")


def query_marker(context: Context, task_id: str) -> str:
    """``airflow_<task>_<digest>``: the same for every try of one task instance (DAG run, task, map index), and
    free of commas and spaces, so it can name the query and be found again with ``sql~``."""
    ti = context["ti"]
    key = "|".join(str(x) for x in (ti.dag_id, ti.run_id, task_id, getattr(ti, "map_index", -1)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"airflow_{_NAME_UNSAFE.sub('_', task_id)[:60]}_{digest}"


def table_name(dataset: Mapping[str, Any]) -> str:
    """The table Query Service shows a dataset as: its ``adobe/pqs/table`` tag, else its name lower-cased with
    every run of other characters as one ``_``."""
    tag = (dataset.get("tags") or {}).get("adobe/pqs/table") if isinstance(dataset.get("tags"), Mapping) else None
    if isinstance(tag, list) and tag and isinstance(tag[0], str):
        return tag[0]
    return _TABLE_UNSAFE.sub("_", str(dataset.get("name") or "").lower()).strip("_")


def sql_tables(sql: str) -> list[str]:
    """The tables a statement reads (OpenLineage's SQL parser; empty when it is not installed)."""
    try:
        from openlineage_sql import parse
    except ImportError:
        return []
    try:
        return [t.name.lower() for t in parse([sql], dialect="postgres").in_tables]
    except Exception:  # lineage must never fail a task
        return []


class RunQueryOperator(AEPBaseOperator):
    """Run a Query Service query (``POST /queries``) and wait until it ends; return ``{"query_id", "dataset_id",
    "row_count"}``.

    Give ``sql`` (text, or a path ending in ``.sql`` rendered as a Jinja template) or ``template_id`` (a saved
    query template; ``query_parameters`` override its defaults). With ``ctas_dataset_name`` the SELECT creates a
    new dataset; with ``insert_into_dataset_id`` it appends to that existing dataset; ``dataset_id`` is then the
    dataset written. A query that ends FAILED, KILLED or TIMEOUT fails the task with
    :class:`~airflow_provider_aep.exceptions.AEPQueryServiceFailedError` naming Query Service's error codes.

    A query is never submitted twice for one task instance: it is named after the DAG run and task (and the SQL
    carries that name in a comment), so a retry first looks for the query an earlier try submitted and waits for
    it (or reuses its result) unless it failed. Killing the task cancels the query (``on_kill``; while deferred,
    ``AEPQueryTrigger.on_kill`` on Airflow 3.3+).

    A CTAS or INSERT INTO lands data: the written dataset gets its asset event (``aep://<org>/<sandbox>/datasets/
    <id>``) through the task's alias (``asset_alias``, default ``aep-datasets:<dag_id>.<task_id>``) unless
    ``emit_asset_events=False``. OpenLineage: inputs are the datasets the SQL reads, the output is the dataset it
    writes.

    :param sql: the SELECT to run (templated; ``.sql`` files are read as templates). Not with ``template_id``.
    :param template_id: a saved query template to run instead of ``sql`` (templated).
    :param query_parameters: values of the ``$name`` placeholders (templated).
    :param ctas_dataset_name: create a new dataset of this name from the SELECT (templated).
    :param ctas_schema_title: with ``ctas_dataset_name``: the title of the XDM schema to give it (templated).
    :param insert_into_dataset_id: append the SELECT's rows to this existing dataset (templated).
    :param database: ``dbName`` (templated); default ``<sandbox>:all``.
    :param description: the query's description; the DAG run's owner line is appended.
    :param asset_alias: the ``AssetAlias`` of the written dataset's event (default ``aep-datasets:<dag_id>.<task_id>``).
    :param emit_asset_events: emit the written dataset's asset event (default); False declares no alias.
    :param reattach: on a retry, wait for (or reuse) the query an earlier try of this task submitted.
    :param poll_interval: seconds between polls of the query's state.
    :param timeout: seconds to wait for the query before failing (None: no limit; Query Service ends batch
        queries after 24 hours).
    :param deferrable: wait in the triggerer (``AEPQueryTrigger``); default ``[operators] default_deferrable``.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "sql",
        "template_id",
        "query_parameters",
        "ctas_dataset_name",
        "ctas_schema_title",
        "insert_into_dataset_id",
        "database",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql", "query_parameters": "json"}

    def __init__(
        self,
        *,
        sql: str | None = None,
        template_id: str | None = None,
        query_parameters: Mapping[str, Any] | None = None,
        ctas_dataset_name: str | None = None,
        ctas_schema_title: str | None = None,
        insert_into_dataset_id: str | None = None,
        database: str | None = None,
        description: str | None = None,
        asset_alias: str | None = None,
        emit_asset_events: bool = True,
        reattach: bool = True,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sql = sql
        self.template_id = template_id
        self.query_parameters = query_parameters
        self.ctas_dataset_name = ctas_dataset_name
        self.ctas_schema_title = ctas_schema_title
        self.insert_into_dataset_id = insert_into_dataset_id
        self.database = database
        self.description = description
        self.asset_alias = declare_dataset_events(self, emit_asset_events=emit_asset_events, asset_alias=asset_alias)
        self.reattach = reattach
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self.query_id: str | None = None
        self.validate(rendered=False)

    # ------------------------------------------------------------------ checks before any remote call
    def validate(self, *, rendered: bool) -> None:
        """Raise :class:`AEPInvalidArgumentError` naming the argument; before rendering, only literal values."""

        def known(value: Any) -> bool:
            return rendered or not is_template(value)

        def text(argument: str) -> str | None:
            value = getattr(self, argument)
            if value is None or not known(value):
                return None
            if not isinstance(value, str) or not value.strip():
                raise AEPInvalidArgumentError(self.task_id, argument, f"must be a non-empty string, got {value!r}")
            return value.strip()

        sql, template_id = text("sql"), text("template_id")
        if self.sql is not None and self.template_id is not None:
            raise AEPInvalidArgumentError(self.task_id, "template_id", "cannot be given together with sql")
        if self.sql is None and self.template_id is None:
            raise AEPInvalidArgumentError(self.task_id, "sql", "is required (or template_id)")
        if self.ctas_dataset_name is not None and self.insert_into_dataset_id is not None:
            raise AEPInvalidArgumentError(
                self.task_id, "insert_into_dataset_id", "cannot be given together with ctas_dataset_name"
            )
        for argument in ("ctas_dataset_name", "insert_into_dataset_id", "database"):
            text(argument)
        if self.ctas_schema_title is not None and self.ctas_dataset_name is None:
            raise AEPInvalidArgumentError(self.task_id, "ctas_schema_title", "needs ctas_dataset_name")
        params = self.query_parameters
        if params is not None and known(params) and not isinstance(params, Mapping):
            raise AEPInvalidArgumentError(self.task_id, "query_parameters", f"must be a mapping, got {params!r}")
        if rendered and sql is None and template_id is None:
            raise AEPInvalidArgumentError(self.task_id, "sql", "rendered empty")

    # ------------------------------------------------------------------ execute
    @property
    def client(self) -> QueryServiceClient:
        return self.hook.query_service

    def build_body(self, context: Context, name: str, dataset_name: str | None) -> dict[str, Any]:
        """The ``POST /queries`` body; the SQL starts with a comment holding ``name`` (found again by ``sql~``)."""
        body: dict[str, Any] = {
            "dbName": (self.database or "").strip() or f"{self.hook.settings.sandbox_name}:all",
            "name": name,
            "description": self.owned(context, self.description),
        }
        if self.template_id is not None:
            body["templateId"] = str(self.template_id).strip()
        else:
            body["sql"] = f"/* {name} */\n{str(self.sql).strip()}"
        if self.query_parameters:
            body["queryParameters"] = {str(k): str(v) for k, v in dict(self.query_parameters).items()}
        if self.ctas_dataset_name is not None:
            ctas = {"datasetName": self.ctas_dataset_name.strip(), "description": body["description"]}
            if self.ctas_schema_title:
                ctas["targetSchemaTitle"] = self.ctas_schema_title.strip()
            body["ctasParameters"] = ctas
        if dataset_name is not None:
            body["insertIntoParameters"] = {"datasetName": dataset_name}
        return body

    def _check_references(self) -> str | None:
        """Read the template and the target dataset this query names; return the dataset's name for ITAS."""
        from airflow_provider_aep.client.errors import AEPNotFoundError

        if self.template_id is not None:
            try:
                self.client.get_template(str(self.template_id).strip())
            except AEPNotFoundError:
                raise AEPInvalidArgumentError(
                    self.task_id, "template_id", f"{self.template_id!r} names no query template"
                ) from None
        if self.insert_into_dataset_id is None:
            return None
        dataset_id = self.insert_into_dataset_id.strip()
        try:
            dataset = self.hook.catalog.get_dataset(dataset_id)
        except AEPNotFoundError:
            raise AEPInvalidArgumentError(
                self.task_id, "insert_into_dataset_id", f"{dataset_id!r} names no dataset"
            ) from None
        return str(dataset.get("name") or dataset_id)

    def _earlier_query(self, marker: str) -> dict[str, Any] | None:
        """The newest query an earlier try of this task submitted, unless it failed (then a new one is run)."""
        from airflow_provider_aep.client._query_records import query_phase

        narrow = [f"templateId=={self.template_id}"] if self.template_id is not None else [f"sql~{marker}"]
        mine = [
            q
            for q in self.client.iter_queries(filters=narrow)
            if str(q.get("name") or (q.get("request") or {}).get("name") or "").startswith(marker)
        ]
        mine.sort(key=lambda q: str(q.get("created") or ""), reverse=True)
        if mine and query_phase(mine[0].get("state")) != "failed":
            return mine[0]
        return None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_aep.client._query_records import query_phase, query_summary

        self.validate(rendered=True)
        dataset_name = self._check_references()
        marker = query_marker(context, self.task_id)
        query = self._earlier_query(marker) if self.reattach else None
        if query is not None:
            self.log.info("Reusing query %s (%s) that an earlier try submitted", query["id"], query.get("state"))
        else:
            name = f"{marker}_try{getattr(context['ti'], 'try_number', 1)}"
            query = self.client.create_query(self.build_body(context, name, dataset_name))
            self.log.info("Submitted query %s (%s)", query["id"], query.get("state"))
        self.query_id = str(query["id"])
        context["ti"].xcom_push(key="query_id", value=self.query_id)
        summary = query_summary(query)
        deadline = time.time() + float(self.timeout) if self.timeout else None
        if query_phase(summary["state"]) == "running" and self.deferrable:
            from airflow_provider_aep.triggers.query_service import AEPQueryTrigger

            self.defer(
                trigger=AEPQueryTrigger(
                    aep_conn_id=self.aep_conn_id,
                    query_id=self.query_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                ),
                method_name="execute_complete",
            )
        while query_phase(summary["state"]) == "running":
            if deadline is not None and time.time() >= deadline:
                self.client.cancel_query(self.query_id)
                raise AEPQueryServiceFailedError(
                    f"{self.task_id}: query {self.query_id} still {summary['state']} after {self.timeout} s; "
                    "cancelled it",
                    summary=summary,
                )
            time.sleep(self.poll_interval)
            summary = query_summary(self.client.get_query(self.query_id))
        return self._finish(context, summary)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow_provider_aep._compat import AirflowFailException

        if not isinstance(event, dict) or "status" not in event:
            raise AirflowFailException(f"{self.task_id}: the query trigger returned no usable event: {event!r}")
        self.query_id = (event.get("query") or {}).get("id") or self.query_id
        if event["status"] in ("success", "failed") and isinstance(event.get("query"), dict):
            return self._finish(context, event["query"])
        if event["status"] == "timeout":
            query_id = context["ti"].xcom_pull(task_ids=self.task_id, key="query_id")
            if query_id:
                self.client.cancel_query(str(query_id))
            raise AEPQueryServiceFailedError(f"{self.task_id}: {event.get('message')}; cancelled the query")
        raise AirflowFailException(f"{self.task_id}: waiting for the query failed: {event.get('message')}")

    def _finish(self, context: Context, summary: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_aep.client._query_records import describe_errors, query_phase

        self._lineage_query = summary
        if query_phase(summary.get("state")) != "success":
            codes = [str(e["code"]) for e in summary.get("errors") or [] if e.get("code")]
            raise AEPQueryServiceFailedError(
                f"{self.task_id}: query {summary.get('id')} ended {summary.get('state')}: "
                f"{describe_errors(summary.get('errors') or [])}",
                codes=codes,
                summary=summary,
            )
        dataset_id = self._written_dataset(summary)
        self.log.info(
            "Query %s succeeded (%s rows)%s",
            summary.get("id"),
            summary.get("row_count"),
            f", wrote dataset {dataset_id}" if dataset_id else "",
        )
        if dataset_id and self.asset_alias:
            self._emit_asset_event(context, summary, dataset_id)
        return {"query_id": summary.get("id"), "dataset_id": dataset_id, "row_count": summary.get("row_count")}

    def _written_dataset(self, summary: Mapping[str, Any]) -> str | None:
        if self.insert_into_dataset_id is not None:
            return str(self.insert_into_dataset_id).strip()
        if self.ctas_dataset_name is None:
            return None
        if summary.get("created_dataset_id"):
            return str(summary["created_dataset_id"])
        found = self.hook.catalog.find_datasets(str(self.ctas_dataset_name).strip())
        return str(found[-1]["id"]) if found else None

    def _emit_asset_event(self, context: Context, summary: Mapping[str, Any], dataset_id: str) -> None:
        from airflow_provider_aep.asset_events import emit_dataset_event
        from airflow_provider_aep.assets import dataset_event_extra

        settings = self.hook.settings
        extra = dataset_event_extra(
            org_id=settings.org_id,
            sandbox=settings.sandbox_name,
            dataset_id=dataset_id,
            records_written=summary.get("row_count"),
            status=summary.get("state"),
        )
        extra.update(query_id=summary.get("id"), ctas=self.ctas_dataset_name is not None)
        emit_dataset_event(context, str(self.asset_alias), extra)

    def on_kill(self) -> None:
        """Cancel the query this task submitted (a finished one is left as it is)."""
        if self.query_id:
            cancelled = self.client.cancel_query(self.query_id)
            self.log.info("Query %s %s", self.query_id, "cancelled" if cancelled else "had already finished")

    # ------------------------------------------------------------------ OpenLineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Inputs: the datasets the query read (Query Service's ``referenced_datasets``, else the SQL's tables
        matched to Catalog datasets); output: the dataset it wrote. Run facet ``externalQuery``: the query id."""
        from airflow_provider_aep.lineage import AEPDataset, SourceTable, aep_namespace, dataset_name

        summary = getattr(self, "_lineage_query", None) or {}
        settings = self.hook.settings
        namespace = aep_namespace(settings.org_id, settings.sandbox_name)
        inputs = list(summary.get("referenced_dataset_ids") or [])
        if not inputs and self.sql is not None:
            try:
                datasets = self.hook.catalog.iter_datasets(params={"properties": "name,tags"})
                by_table = {table_name(d): d["id"] for d in datasets}
                inputs = [by_table[t] for t in sql_tables(str(self.sql)) if t in by_table]
            except Exception as err:  # lineage must never fail a task
                self.log.warning("OpenLineage: datasets of the SQL's tables not readable: %s", err)
        written = self._written_dataset(summary) if summary.get("state") == "SUCCESS" else None
        return query_lineage(
            [SourceTable(namespace, dataset_name(i)) for i in inputs],
            [AEPDataset(namespace, dataset_name(written))] if written else [],
            query_id=summary.get("id"),
            source=namespace,
        )

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete


def query_lineage(
    inputs: Sequence[Any], outputs: Sequence[Any], *, query_id: str | None, source: str
) -> OperatorLineage | None:
    """``OperatorLineage`` of a query (None without the OpenLineage provider); run facet ``externalQuery``."""
    try:
        from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet, InputDataset, OutputDataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    run_facets: dict[str, Any] = {}
    if query_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(externalQueryId=str(query_id), source=source)
    return OperatorLineage(
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
        run_facets=run_facets,
    )


__all__ = ["RunQueryOperator", "query_lineage", "query_marker", "sql_tables", "table_name"]

"""Source connections: which table of a base connection a dataflow reads (create and delete)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_aep.client.models import dig
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
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
from airflow_provider_aep.sources import source_for_spec

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_aep.lineage import SourceTable

#: ``data.format`` of a source connection.
DataFormat = Literal["tabular", "delimited", "json", "parquet"]
DATA_FORMATS: tuple[DataFormat, ...] = get_args(DataFormat)


def default_source_name(base_connection_name: str, table_path: str) -> str:
    """Deterministic, so a re-run finds the connection it made before instead of creating another, and
    different per base connection, so two onboardings in one sandbox never share a dataflow name."""
    return f"{base_connection_name}: {table_path}"


class CreateSourceConnectionOperator(AEPBaseOperator):
    """Create (or reuse) the source connection for one table of a base connection.

    The connection spec is read from the base connection (``GET /connections/{id}``), so the body always
    matches the source, and the source's declaration (``airflow_provider_aep.sources``) says how the table
    is named in ``params``: ``path`` for HubSpot, ``tableName`` plus the table's ``columns`` for CRM
    sources such as Salesforce. ``table_path`` is e.g. an item of
    ``ExploreConnectionOperator(return_paths=True)``; ``table`` (an ``object_type="table"`` explore result)
    supplies the columns, which the operator otherwise explores itself when the source needs them. An
    existing source connection with the same ``name`` on the same base connection is reused if it reads
    the same table. ``base_connection`` (``create_base_connection.output["connection"]``: its id, name and
    connection spec, as that task created or verified it) saves reading the base connection again in every
    mapped table; it is used only when its id is ``base_connection_id``. Returns the source connection id
    and pushes its etag under ``etag`` and its connection spec id under ``connection_spec_id``.

    :param base_connection_id: the base connection's id (templated).
    :param table_path: the table's path, e.g. ``Hubspot.Contacts`` (templated); default ``table``'s path.
    :param table: the ``ExploreConnectionOperator(object_type="table")`` result (templated), for its path and
        columns.
    :param name: the source connection's name (templated), its natural key; default
        ``"<base connection name>: <table path>"``.
    :param description: the source connection's description (templated); the owner line is appended to it.
    :param data_format: ``data.format``: ``"tabular"`` for CRM sources.
    :param if_exists: ``"reuse"`` a source connection with the same name, or ``"fail"``.
    :param base_connection: the base connection as an upstream task pushed it (templated, e.g.
        ``create_base_connection.output["connection"]``), instead of reading it.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "base_connection_id",
        "table_path",
        "table",
        "name",
        "description",
        "base_connection",
    )

    def __init__(
        self,
        *,
        base_connection_id: str,
        table_path: str | None = None,
        table: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        data_format: DataFormat = "tabular",
        if_exists: IfExists = "reuse",
        base_connection: Mapping[str, Any] | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        require_choice(self, "data_format", data_format, DATA_FORMATS)
        require_choice(self, "if_exists", if_exists, IF_EXISTS_CHOICES)
        if table_path is None and table is None:
            raise AEPInvalidArgumentError(self.task_id, "table_path", "or table is required")
        if table_path is not None and not is_template(table_path):
            require_text(self, "table_path", table_path)
        self.base_connection_id = base_connection_id
        self.table_path = table_path
        self.table = table
        self.name = name
        self.description = description
        self.data_format = data_format
        self.if_exists = if_exists
        self.base_connection = base_connection

    def _base_connection(self, client: Any, base_id: str) -> Mapping[str, Any]:
        """The base connection handed over by the upstream task when it is this one, else read from AEP."""
        given = self.base_connection
        if isinstance(given, Mapping) and given.get("id") == base_id and dig(given, "connectionSpec.id"):
            return given
        return client.get_connection(base_id)

    def execute(self, context: Context) -> str:
        base_id = require_text(self, "base_connection_id", self.base_connection_id)
        table = self.table if isinstance(self.table, Mapping) else None
        if self.table is not None and table is None:
            raise AEPInvalidArgumentError(self.task_id, "table", f"must be an explore-table result, got {self.table!r}")
        path = self.table_path if self.table_path is not None else (table or {}).get("path")
        table_path = require_text(self, "table_path", path)
        client = self.hook.flow_service
        base = self._base_connection(client, base_id)
        spec = dig(base, "connectionSpec")
        if not isinstance(spec, dict) or not spec.get("id"):
            raise AEPInvalidArgumentError(self.task_id, "base_connection_id", f"{base_id} has no connectionSpec")
        if self.name is not None:
            name = require_text(self, "name", self.name)
        else:
            name = default_source_name(str(base.get("name") or base_id), table_path)
        kind = source_for_spec(spec["id"])
        columns = None
        if kind is None:
            params: dict[str, Any] = {"path": table_path}  # an undeclared source: the HubSpot tutorial's field
        else:
            if kind.send_columns:
                columns = table["columns"] if table else client.table_schema(base_id, table_path)["schema"]["columns"]
            params = kind.source_params(table_path, columns)
        self._lineage_input = (spec["id"], base_id, table_path, table.get("columns") if table else columns)
        body: dict[str, Any] = {
            "name": name,
            "baseConnectionId": base_id,
            "data": {"format": self.data_format},
            "params": params,
            "connectionSpec": {"id": spec["id"], "version": spec.get("version") or "1.0"},
        }
        body["description"] = self.owned(context, self.description)
        result = client.create_source_connection(body, if_exists=self.if_exists)
        if not result.created:
            existing = result.resource or client.get_resource("sourceConnections", result.id)
            table_key = f"params.{kind.table_param if kind else 'path'}"
            asked = {table_key: table_path, "data.format": self.data_format, "connectionSpec.id": spec["id"]}
            verify_reused(self, "source connection", existing, asked)
        verb = "Created" if result.created else "Reusing existing"
        self.log.info("%s source connection %s for %s (%r)", verb, result.id, table_path, name)
        context["ti"].xcom_push(key="etag", value=result.etag)
        context["ti"].xcom_push(key="connection_spec_id", value=spec["id"])
        push_created(context, result.created)
        return result.id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Input: the table read (``aep-source://<source>/<base connection id>``, ``docs/assets.md``), with a
        schema facet when the operator had the explored columns. A source connection writes no dataset."""
        from airflow_provider_aep.lineage import build_operator_lineage

        source = self._lineage_source()
        return build_operator_lineage(inputs=[source] if source else [])

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete

    def _lineage_source(self) -> SourceTable | None:
        from airflow_provider_aep.lineage import source_table

        found = getattr(self, "_lineage_input", None)
        if found is None:  # failed before the base connection was read
            return None
        spec_id, base_id, table_path, columns = found
        return source_table(spec_id, base_id, table_path, columns if isinstance(columns, list) else None)


class DeleteSourceConnectionOperator(AEPDeleteOperator):
    """Delete a source connection (after the dataflows using it). Returns False if it was already gone.

    :param source_connection_id: the source connection's id (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "sourceConnections"
    id_argument = "source_connection_id"

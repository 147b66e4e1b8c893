"""Base connection operators: create (generic and HubSpot), rotate credentials, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPBaseConnectionLink
from airflow_provider_aep.operators.base import (
    IF_EXISTS_CHOICES,
    AEPBaseOperator,
    AEPDeleteOperator,
    IfExists,
    push_created,
    require_choice,
    require_text,
)

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

    from airflow_provider_aep.sources import SourceKind


class CreateConnectionOperator(AEPBaseOperator):
    """Create an AEP base connection for a declared source or any connection spec, or reuse the one with
    the same name.

    With ``source="salesforce"`` (any name in ``airflow_provider_aep.sources``) the connection spec, auth
    spec and ``auth.params`` come from that source's declaration, the credentials from its Airflow
    connection ``source_conn_id`` (default: the declaration's, e.g. ``salesforce_default``). Without a
    source, give ``connection_spec_id``, ``auth_spec_name`` and ``auth_params`` yourself.
    Returns the connection id (XCom ``return_value``) and pushes its etag under ``etag`` and
    ``{id, name, connectionSpec}`` under ``connection`` (what ``CreateSourceConnectionOperator`` would
    otherwise read back per table). With ``flow_spec_name`` it also finds that flow spec once and pushes
    ``{id, name, version, sourceConnectionSpecIds, targetConnectionSpecIds}`` under ``flow_spec``, for
    ``CreateDataflowOperator(hand_over={"flow_spec": ...})`` in every mapped table instead of one lookup
    each. The lookup by name + connection spec before the POST makes task retries safe: a retry after a
    lost response finds the connection instead of creating a second one. ``auth_params`` is not templated,
    so credentials never show in rendered fields.

    :param name: the base connection's name (templated), its natural key: a re-run finds the same connection.
    :param source: a declared source (``"hubspot"``, ``"salesforce"``, ...) supplying the connection spec, auth
        spec and credentials; None to give them yourself.
    :param source_conn_id: the source's Airflow connection (default: the declaration's, e.g.
        ``salesforce_default``).
    :param connection_spec_id: the connection spec (templated); default: the source's.
    :param auth_spec_name: the auth spec's name, e.g. ``"OAuth2 Refresh Code"`` (templated); default: the
        source's.
    :param auth_params: ``auth.params`` without a ``source`` (not templated: credentials never show rendered).
    :param description: the connection's description (templated); the owner line is appended to it.
    :param connection_spec_version: the connection spec's version.
    :param if_exists: ``"reuse"`` a connection with the same name and spec, or ``"fail"``.
    :param flow_spec_name: also look this flow spec up once and push it under ``flow_spec``.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("name", "description", "connection_spec_id", "auth_spec_name")
    operator_extra_links = (AEPBaseConnectionLink(),)

    def __init__(
        self,
        *,
        name: str,
        source: str | None = None,
        source_conn_id: str | None = None,
        connection_spec_id: str | None = None,
        auth_spec_name: str | None = None,
        auth_params: Mapping[str, Any] | None = None,
        description: str | None = None,
        connection_spec_version: str = "1.0",
        if_exists: IfExists = "reuse",
        flow_spec_name: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.if_exists = require_choice(self, "if_exists", if_exists, IF_EXISTS_CHOICES)
        if flow_spec_name is not None:
            require_text(self, "flow_spec_name", flow_spec_name)
        self.flow_spec_name = flow_spec_name
        self.source = source
        self.source_conn_id = source_conn_id
        if source is not None:
            kind = source_kind_of(self, source)
            connection_spec_id = connection_spec_id or kind.connection_spec_id
            auth_spec_name = auth_spec_name or kind.auth_spec_name
        self.name = name
        self.description = description
        self.connection_spec_id = connection_spec_id
        self.connection_spec_version = connection_spec_version
        self.auth_spec_name = auth_spec_name
        self.auth_params = dict(auth_params or {})

    def get_auth_params(self) -> dict[str, Any]:
        """The ``auth.params`` to send: from the source's Airflow connection, or as given."""
        if self.source is None:
            return dict(self.auth_params)
        from airflow_provider_aep.hooks.sources import hook_for

        kind = source_kind_of(self, self.source)
        return hook_for(kind)(self.source_conn_id or kind.default_conn_id).get_auth_params()

    def build_body(self) -> dict[str, Any]:
        """The create's body, every argument validated; :meth:`execute` adds the ``description`` with the owner line."""
        body: dict[str, Any] = {
            "name": require_text(self, "name", self.name),
            "auth": {
                "specName": require_text(self, "auth_spec_name", self.auth_spec_name),
                "params": self.get_auth_params(),
            },
            "connectionSpec": {
                "id": require_text(self, "connection_spec_id", self.connection_spec_id),
                "version": self.connection_spec_version,
            },
        }
        return body

    def execute(self, context: Context) -> str:
        body = self.build_body()  # validates everything before any HTTP call
        body["description"] = self.owned(context, self.description)
        client = self.hook.flow_service
        # Before the create: a failed try then has created nothing, so its retry still reports created=True
        # (and the teardown deletes the connection).
        flow_spec = flow_spec_summary(client.find_flow_spec(self.flow_spec_name)) if self.flow_spec_name else None
        result = client.create_connection(body, if_exists=self.if_exists)
        verb = "Created" if result.created else "Reusing existing"
        self.log.info("%s base connection %s (%r)", verb, result.id, body["name"])
        context["ti"].xcom_push(key="etag", value=result.etag)
        push_created(context, result.created)
        found = result.resource or {}
        spec = found.get("connectionSpec") if isinstance(found.get("connectionSpec"), Mapping) else None
        context["ti"].xcom_push(
            key="connection",
            value={
                "id": result.id,
                "name": str(found.get("name") or body["name"]),
                "connectionSpec": dict(spec or body["connectionSpec"]),
            },
        )
        if flow_spec is not None:
            context["ti"].xcom_push(key="flow_spec", value=flow_spec)
        AEPBaseConnectionLink.persist(context, self.hook.settings, result.id)
        return result.id


class CreateHubSpotConnectionOperator(CreateConnectionOperator):
    """Create (or reuse) the HubSpot base connection in AEP, as in Adobe's HubSpot tutorial.

    ``CreateConnectionOperator(source="hubspot")`` with HubSpot's arguments only: credentials come from the
    ``hubspot`` Airflow connection ``hubspot_conn_id``; the AEP org, sandbox and OAuth client from
    ``aep_conn_id``. Returns the connection id for the explore/ingestion tasks.

    :param name: the base connection's name (templated), its natural key: a re-run finds the same connection.
    :param description: the connection's description (templated); the owner line is appended to it.
    :param hubspot_conn_id: the ``hubspot`` Airflow connection holding the app's credentials.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    :param if_exists: ``"reuse"`` a connection with the same name and spec, or ``"fail"``.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str | None = None,
        hubspot_conn_id: str = "hubspot_default",
        aep_conn_id: str = "aep_default",
        if_exists: IfExists = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name=name,
            source="hubspot",
            source_conn_id=hubspot_conn_id,
            description=description,
            aep_conn_id=aep_conn_id,
            if_exists=if_exists,
            **kwargs,
        )
        self.hubspot_conn_id = hubspot_conn_id


def flow_spec_summary(flow_spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a dataflow create needs of a flow spec (its id and version, and which connection specs it
    joins), small enough for an XCom shared by every mapped table."""
    return {
        "id": flow_spec.get("id"),
        "name": flow_spec.get("name"),
        "version": flow_spec.get("version") or "1.0",
        "sourceConnectionSpecIds": flow_spec.get("sourceConnectionSpecIds"),
        "targetConnectionSpecIds": flow_spec.get("targetConnectionSpecIds"),
    }


def source_kind_of(task: BaseOperator, name: str) -> SourceKind:
    """The declared source ``name``; an unknown one fails naming ``source`` and listing the declared ones."""
    from airflow_provider_aep.sources import source_kind

    try:
        return source_kind(require_text(task, "source", name))
    except KeyError as err:
        raise AEPInvalidArgumentError(task.task_id, "source", str(err.args[0])) from None


class DeleteConnectionOperator(AEPDeleteOperator):
    """Delete a base connection (after its dataflows and source connections: AEP refuses otherwise).

    :param base_connection_id: the base connection's id (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "connections"
    id_argument = "base_connection_id"

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """Source connections on it: AEP refuses the delete only while a dataflow uses it (``FLOW-1418-400``)."""
        sources = self.hook.flow_service.find("sourceConnections", {"baseConnectionId": resource_id})
        return f"source connections {', '.join(s['id'] for s in sources)}" if sources else None


class UpdateSourceCredentialsOperator(AEPBaseOperator):
    """Rotate the source credentials stored in an AEP base connection (``PATCH /connections/{id}``).

    Reads them from the source's Airflow connection (``source`` names the declaration; ``source_conn_id``
    defaults to the declaration's) and replaces ``auth.params`` with If-Match; a concurrent change (412)
    makes it re-read the etag once. Use it when tokens or secrets were re-issued and explore or runs fail
    with authentication errors. Returns the connection id and pushes the new etag under ``etag``; the
    credentials never reach XCom.

    :param base_connection_id: the base connection's id (templated).
    :param source: the declared source whose credentials the connection holds (``"hubspot"``, ...).
    :param source_conn_id: the source's Airflow connection (default: the declaration's).
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("base_connection_id",)
    operator_extra_links = (AEPBaseConnectionLink(),)

    def __init__(
        self,
        *,
        base_connection_id: str,
        source: str,
        source_conn_id: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.base_connection_id = base_connection_id
        self.source = source
        self.source_conn_id = source_conn_id
        source_kind_of(self, source)

    def execute(self, context: Context) -> str:
        from airflow_provider_aep.hooks.sources import hook_for

        connection_id = require_text(self, "base_connection_id", self.base_connection_id)
        kind = source_kind_of(self, self.source)
        params = hook_for(kind)(self.source_conn_id or kind.default_conn_id).get_auth_params()
        result = self.hook.flow_service.update_connection_auth(connection_id, params)
        self.log.info("Updated the %s credentials of base connection %s", kind.title, connection_id)
        context["ti"].xcom_push(key="etag", value=result.etag)
        AEPBaseConnectionLink.persist(context, self.hook.settings, connection_id)
        return connection_id


class UpdateHubSpotCredentialsOperator(UpdateSourceCredentialsOperator):
    """``UpdateSourceCredentialsOperator(source="hubspot")``: rotate the HubSpot app's credentials in AEP
    after its tokens were re-issued (e.g. the app was re-installed).

    :param base_connection_id: the base connection's id (templated).
    :param hubspot_conn_id: the ``hubspot`` Airflow connection holding the re-issued credentials.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection (through ``kwargs``).
    """

    def __init__(self, *, base_connection_id: str, hubspot_conn_id: str = "hubspot_default", **kwargs: Any) -> None:
        super().__init__(
            base_connection_id=base_connection_id, source="hubspot", source_conn_id=hubspot_conn_id, **kwargs
        )
        self.hubspot_conn_id = hubspot_conn_id

"""Base connection operators: create (generic and HubSpot), rotate credentials, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_aep.client.models import HUBSPOT_CONNECTION_SPEC_ID
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPBaseConnectionLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

IF_EXISTS_CHOICES = ("reuse", "fail")


def require_text(task: BaseOperator, argument: str, value: Any) -> str:
    """A non-empty string argument, stripped; raises naming the argument otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise AEPInvalidArgumentError(task.task_id, argument, f"must be a non-empty string, got {value!r}")
    return value.strip()


class AEPBaseOperator(BaseOperator):
    """Shared plumbing: a lazily built hook for ``self.aep_conn_id``.

    It defines no ``__init__`` on purpose: Airflow wraps every ``__init__`` in an operator's class chain,
    and each wrapper deep-copies the DAG's params, which DAG parsing pays for every task. Each concrete
    operator therefore takes ``aep_conn_id`` itself (which also shows it in its signature).
    """

    aep_conn_id: str = "aep_default"

    @cached_property
    def hook(self) -> AEPFlowServiceHook:
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        return AEPFlowServiceHook(aep_conn_id=self.aep_conn_id)


class CreateConnectionOperator(AEPBaseOperator):
    """Create an AEP base connection for any connection spec, or reuse the one with the same name.

    Returns the connection id (XCom ``return_value``) and pushes its etag under ``etag``. The lookup by
    name + connection spec before the POST makes task retries safe: a retry after a lost response finds
    the connection instead of creating a second one. ``auth_params`` is not templated, so credentials
    never show in rendered fields; subclasses read them from an Airflow connection instead.
    """

    template_fields: Sequence[str] = ("name", "description", "connection_spec_id", "auth_spec_name")
    operator_extra_links = (AEPBaseConnectionLink(),)
    ui_color = "#fa0f00"

    def __init__(
        self,
        *,
        name: str,
        connection_spec_id: str,
        auth_spec_name: str,
        auth_params: Mapping[str, Any] | None = None,
        description: str | None = None,
        connection_spec_version: str = "1.0",
        if_exists: str = "reuse",
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if if_exists not in IF_EXISTS_CHOICES:
            raise AEPInvalidArgumentError(self.task_id, "if_exists", f"must be one of {IF_EXISTS_CHOICES}")
        self.name = name
        self.description = description
        self.connection_spec_id = connection_spec_id
        self.connection_spec_version = connection_spec_version
        self.auth_spec_name = auth_spec_name
        self.auth_params = dict(auth_params or {})
        self.if_exists = if_exists

    def get_auth_params(self) -> dict[str, Any]:
        """The ``auth.params`` to send; overridden to read them from an Airflow connection."""
        return dict(self.auth_params)

    def build_body(self) -> dict[str, Any]:
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
        if self.description:
            body["description"] = self.description
        return body

    def execute(self, context: Context) -> str:
        body = self.build_body()  # validates everything before any HTTP call
        client = self.hook.client
        result = client.create_connection(body, if_exists=self.if_exists)  # type: ignore[arg-type]
        verb = "Created" if result.created else "Reusing existing"
        self.log.info("%s base connection %s (%r)", verb, result.id, body["name"])
        context["ti"].xcom_push(key="etag", value=result.etag)
        settings = self.hook.settings
        AEPBaseConnectionLink.persist(context, org_id=settings.org_id, sandbox=settings.sandbox_name, id=result.id)
        return result.id


class CreateHubSpotConnectionOperator(CreateConnectionOperator):
    """Create (or reuse) the HubSpot base connection in AEP, as in Adobe's HubSpot tutorial.

    Credentials come from the ``hubspot`` Airflow connection ``hubspot_conn_id``; the AEP org, sandbox
    and OAuth client from ``aep_conn_id``. Returns the connection id for the explore/ingestion tasks.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str | None = None,
        hubspot_conn_id: str = "hubspot_default",
        aep_conn_id: str = "aep_default",
        if_exists: str = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name=name,
            description=description,
            connection_spec_id=HUBSPOT_CONNECTION_SPEC_ID,
            auth_spec_name="Basic Authentication",
            aep_conn_id=aep_conn_id,
            if_exists=if_exists,
            **kwargs,
        )
        self.hubspot_conn_id = hubspot_conn_id

    def get_auth_params(self) -> dict[str, Any]:
        from airflow_provider_aep.hooks.hubspot import HubSpotHook

        return HubSpotHook(hubspot_conn_id=self.hubspot_conn_id).get_credentials().as_auth_params()


def is_template(value: Any) -> bool:
    """True while ``value`` still holds Jinja (it is validated after rendering instead of at parse time)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class AEPDeleteOperator(AEPBaseOperator):
    """Delete one Flow Service resource. A 404 counts as already deleted, so a teardown can be re-run.

    Returns True if this task deleted it, False if it was already gone. Subclasses name the collection
    and the argument holding the id.
    """

    collection: str = ""
    id_argument: str = ""
    ui_color = "#fa0f00"

    def __init__(self, *, missing_ok: bool = True, aep_conn_id: str = "aep_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_ok = missing_ok
        self.aep_conn_id = aep_conn_id

    def execute(self, context: Context) -> bool:
        resource_id = require_text(self, self.id_argument, getattr(self, self.id_argument))
        deleted = self.hook.client.delete(self.collection, resource_id, missing_ok=self.missing_ok)
        self.log.info("%s %s %s", "Deleted" if deleted else "Already gone:", self.collection, resource_id)
        return deleted


class DeleteConnectionOperator(AEPDeleteOperator):
    """Delete a base connection (after its dataflows and source connections: AEP refuses otherwise)."""

    template_fields: Sequence[str] = ("base_connection_id",)
    collection = "connections"
    id_argument = "base_connection_id"

    def __init__(self, *, base_connection_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_connection_id = base_connection_id


class UpdateHubSpotCredentialsOperator(AEPBaseOperator):
    """Rotate the HubSpot credentials stored in an AEP base connection (``PATCH /connections/{id}``).

    Reads the four values from the ``hubspot`` Airflow connection and replaces ``auth.params`` with
    If-Match; a concurrent change (412) makes it re-read the etag once. Use it when HubSpot tokens were
    re-issued (e.g. the app was re-installed) and explore or runs fail with authentication errors.
    Returns the connection id and pushes the new etag under ``etag``; the credentials never reach XCom.
    """

    template_fields: Sequence[str] = ("base_connection_id",)
    operator_extra_links = (AEPBaseConnectionLink(),)
    ui_color = "#fa0f00"

    def __init__(
        self,
        *,
        base_connection_id: str,
        hubspot_conn_id: str = "hubspot_default",
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.base_connection_id = base_connection_id
        self.hubspot_conn_id = hubspot_conn_id

    def execute(self, context: Context) -> str:
        from airflow_provider_aep.hooks.hubspot import HubSpotHook

        connection_id = require_text(self, "base_connection_id", self.base_connection_id)
        params = HubSpotHook(hubspot_conn_id=self.hubspot_conn_id).get_credentials().as_auth_params()
        result = self.hook.client.update_connection_auth(connection_id, params)
        self.log.info("Updated the HubSpot credentials of base connection %s", connection_id)
        context["ti"].xcom_push(key="etag", value=result.etag)
        settings = self.hook.settings
        AEPBaseConnectionLink.persist(context, org_id=settings.org_id, sandbox=settings.sandbox_name, id=connection_id)
        return connection_id

"""Base connection operators: create (generic and HubSpot), rotate credentials, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPBaseConnectionLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
    from airflow_provider_aep.sources import SourceKind

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

    @classmethod
    def get_serialized_fields(cls) -> frozenset[str]:
        """The same set for every operator: Airflow builds it from ``vars(BaseOperator(task_id="test"))``
        whatever the class, but caches it per class, so a DAG processor child would build a throw-away
        ``BaseOperator`` (one wrapped ``__init__``, a params copy) for each provider class on its first
        serialisation. Asking ``BaseOperator`` builds it once and caches it where every class finds it."""
        return BaseOperator.get_serialized_fields()

    @cached_property
    def hook(self) -> AEPFlowServiceHook:
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        return AEPFlowServiceHook(aep_conn_id=self.aep_conn_id)


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
    ``CreateDataflowOperator(flow_spec=...)`` in every mapped table instead of one lookup each. The lookup by
    name + connection spec before the POST makes task retries safe: a retry after a lost response finds
    the connection instead of creating a second one. ``auth_params`` is not templated, so credentials
    never show in rendered fields.
    """

    template_fields: Sequence[str] = ("name", "description", "connection_spec_id", "auth_spec_name")
    operator_extra_links = (AEPBaseConnectionLink(),)
    ui_color = "#fa0f00"

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
        if_exists: str = "reuse",
        flow_spec_name: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if if_exists not in IF_EXISTS_CHOICES:
            raise AEPInvalidArgumentError(self.task_id, "if_exists", f"must be one of {IF_EXISTS_CHOICES}")
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
        self.if_exists = if_exists

    def get_auth_params(self) -> dict[str, Any]:
        """The ``auth.params`` to send: from the source's Airflow connection, or as given."""
        if self.source is None:
            return dict(self.auth_params)
        from airflow_provider_aep.hooks.sources import hook_for

        kind = source_kind_of(self, self.source)
        return hook_for(kind)(self.source_conn_id or kind.default_conn_id).get_auth_params()

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
        # Before the create: a failed try then has created nothing, so its retry still reports created=True
        # (and the teardown deletes the connection).
        flow_spec = flow_spec_summary(client.find_flow_spec(self.flow_spec_name)) if self.flow_spec_name else None
        result = client.create_connection(body, if_exists=self.if_exists)  # type: ignore[arg-type]
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
        settings = self.hook.settings
        AEPBaseConnectionLink.persist(
            context,
            org_id=settings.org_id,
            sandbox=settings.sandbox_name,
            platform_url=settings.platform_url,
            id=result.id,
        )
        return result.id


class CreateHubSpotConnectionOperator(CreateConnectionOperator):
    """Create (or reuse) the HubSpot base connection in AEP, as in Adobe's HubSpot tutorial.

    ``CreateConnectionOperator(source="hubspot")`` under its 0.1 name: credentials come from the
    ``hubspot`` Airflow connection ``hubspot_conn_id``; the AEP org, sandbox and OAuth client from
    ``aep_conn_id``. Returns the connection id for the explore/ingestion tasks.
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


def is_template(value: Any) -> bool:
    """True while ``value`` is only known at run time: Jinja, or an upstream task's output (``XComArg`` or a
    mapped task group's argument). Such values are validated after rendering instead of at parse time."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return hasattr(value, "resolve") and hasattr(value, "iter_references")


class AEPDeleteOperator(AEPBaseOperator):
    """Delete one AEP resource. A 404 counts as already deleted, so a teardown can be re-run.

    ``created`` takes the creating task's ``created`` XCom (``create_task.output["created"]``): when that
    task reused a resource made earlier (``False``), this task leaves it alone, so the teardown of one DAG
    run never removes what another run still uses. ``enabled`` (templated, e.g. ``"{{ params.teardown }}"``)
    skips the task when it renders false: a per-task switch that, unlike a short-circuit task, also works
    inside mapped task groups. A refusal (HTTP 400, e.g. a connection still used by a
    dataflow) fails the task without retries: retrying cannot change it.
    Returns True if this task deleted it, False if it was already gone or was not this run's to delete.
    Subclasses name the collection and the argument holding the id, and may override :meth:`delete`.
    """

    collection: str = ""
    id_argument: str = ""
    ui_color = "#fa0f00"
    # Set by each subclass's ``__init__``, which takes them itself (``missing_ok=True, created=None,
    # enabled=True, aep_conn_id="aep_default"``): no ``__init__`` here, so Airflow wraps one per task, not two.
    missing_ok: bool = True
    created: Any = None
    enabled: Any = True

    def _set_delete_arguments(self, resource_id: str, missing_ok: bool, created: Any, enabled: Any, conn: str) -> None:
        setattr(self, self.id_argument, resource_id)
        self.missing_ok = missing_ok
        self.created = created
        self.enabled = enabled
        self.aep_conn_id = conn

    def delete(self, resource_id: str) -> bool:
        return self.hook.client.delete(self.collection, resource_id, missing_ok=self.missing_ok)

    def execute(self, context: Context) -> bool:
        from airflow_provider_aep._compat import AirflowFailException
        from airflow_provider_aep.client.errors import AEPBadRequestError

        if not is_true(self.enabled):
            from airflow_provider_aep._compat import AirflowSkipException

            raise AirflowSkipException(f"{self.task_id}: not enabled for this DAG run (enabled={self.enabled!r})")
        resource_id = require_text(self, self.id_argument, getattr(self, self.id_argument))
        if not is_true(self.created, default=True):
            self.log.info("Leaving %s %s: this DAG run reused it rather than creating it", self.collection, resource_id)
            return False
        try:
            deleted = self.delete(resource_id)
        except AEPBadRequestError as err:
            raise AirflowFailException(
                f"{self.task_id}: AEP refused to delete {self.collection} {resource_id}: {err}"
            ) from None
        self.log.info("%s %s %s", "Deleted" if deleted else "Already gone:", self.collection, resource_id)
        return deleted


def verify_reused(
    task: BaseOperator, resource: str, existing: Mapping[str, Any], asked: Mapping[str, Any], *, name: str | None = None
) -> None:
    """Fail unless every dotted field of ``asked`` has the same value in the reused ``existing`` resource."""
    from airflow_provider_aep.client.models import dig
    from airflow_provider_aep.exceptions import AEPResourceMismatchError

    for field, value in asked.items():
        current = dig(existing, field)
        if current != value:
            label = name or str(existing.get("name") or existing.get("title") or existing.get("id"))
            raise AEPResourceMismatchError(task.task_id, resource, label, field, current, value)


def is_true(value: Any, *, default: bool = False) -> bool:
    """A flag that may arrive rendered as text: ``True``/``"True"``/``"1"`` are true; None means ``default``."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def push_created(context: Context, created: bool) -> None:
    """``created`` XCom: whether this try made the resource (False: an existing one was reused)."""
    context["ti"].xcom_push(key="created", value=bool(created))


class DeleteConnectionOperator(AEPDeleteOperator):
    """Delete a base connection (after its dataflows and source connections: AEP refuses otherwise)."""

    template_fields: Sequence[str] = ("base_connection_id", "created", "enabled")
    collection = "connections"
    id_argument = "base_connection_id"

    def __init__(
        self,
        *,
        base_connection_id: str,
        missing_ok: bool = True,
        created: Any = None,
        enabled: Any = True,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_delete_arguments(base_connection_id, missing_ok, created, enabled, aep_conn_id)


class UpdateSourceCredentialsOperator(AEPBaseOperator):
    """Rotate the source credentials stored in an AEP base connection (``PATCH /connections/{id}``).

    Reads them from the source's Airflow connection (``source`` names the declaration; ``source_conn_id``
    defaults to the declaration's) and replaces ``auth.params`` with If-Match; a concurrent change (412)
    makes it re-read the etag once. Use it when tokens or secrets were re-issued and explore or runs fail
    with authentication errors. Returns the connection id and pushes the new etag under ``etag``; the
    credentials never reach XCom.
    """

    template_fields: Sequence[str] = ("base_connection_id",)
    operator_extra_links = (AEPBaseConnectionLink(),)
    ui_color = "#fa0f00"

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
        result = self.hook.client.update_connection_auth(connection_id, params)
        self.log.info("Updated the %s credentials of base connection %s", kind.title, connection_id)
        context["ti"].xcom_push(key="etag", value=result.etag)
        settings = self.hook.settings
        AEPBaseConnectionLink.persist(
            context,
            org_id=settings.org_id,
            sandbox=settings.sandbox_name,
            platform_url=settings.platform_url,
            id=connection_id,
        )
        return connection_id


class UpdateHubSpotCredentialsOperator(UpdateSourceCredentialsOperator):
    """``UpdateSourceCredentialsOperator(source="hubspot")``: rotate the HubSpot app's credentials in AEP
    after its tokens were re-issued (e.g. the app was re-installed)."""

    def __init__(self, *, base_connection_id: str, hubspot_conn_id: str = "hubspot_default", **kwargs: Any) -> None:
        super().__init__(
            base_connection_id=base_connection_id, source="hubspot", source_conn_id=hubspot_conn_id, **kwargs
        )
        self.hubspot_conn_id = hubspot_conn_id

"""Base connection operators: create (generic and HubSpot), rotate credentials, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.links import AEPBaseConnectionLink
from airflow_provider_aep.ownership import Owner, owner_of

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

    def owned(self, context: Context, description: str | None) -> str:
        """``description`` with the owner line of this task's DAG run (``airflow_provider_aep.ownership``), which
        a teardown of the same DAG run reads to know the resource is its own to delete."""
        return Owner.of(context, self.task_id).mark(description)


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
        body["description"] = self.owned(context, body.get("description"))
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
    """Delete one AEP resource that this DAG run created. A 404 counts as already deleted, so a teardown can re-run.

    Whether the resource is this DAG run's to delete is read from the resource itself: the owner line every
    create operator writes into its ``description`` (``airflow_provider_aep.ownership``). A resource made by
    any try of any task of this DAG run is deleted, even when the try that created it failed and its retry
    reused it; one made by another DAG run, or outside Airflow, is left alone and the task says so.
    ``owned_only=False`` deletes whatever the owner line says (an explicit clean-up task).

    A resource that is still in use is left too, and the log says what uses it: a dataflow with a run in
    progress, a base connection with source connections, a dataset that a target connection writes to, and
    whatever AEP refuses to delete because something references it (a connection used by a dataflow, a schema
    used by a dataset, a field group used by a schema). Any other refusal fails the task without retries. A
    resource of its own that it leaves in use is marked released on its owner line: the teardown of another run
    of the same DAG, which reused it, then deletes it once nothing uses it (``airflow_provider_aep.ownership``).

    ``enabled`` (templated, e.g. ``"{{ params.teardown }}"``, or a list of such flags that must all be true)
    skips the task when it renders false: a per-task switch that, unlike a short-circuit task, also works inside
    mapped task groups. Booleans, ``"true"``/``"false"`` text and rendered templates mean the same
    (:func:`is_true` decides).
    Returns True if this task deleted the resource, False if it was already gone or was left.
    Subclasses name the collection and the argument holding the id, and may override :meth:`read`,
    :meth:`in_use` and :meth:`delete`.
    """

    collection: str = ""
    id_argument: str = ""
    ui_color = "#fa0f00"
    # Set by each subclass's ``__init__``, which takes them itself (``missing_ok=True, owned_only=True,
    # enabled=True, aep_conn_id="aep_default"``): no ``__init__`` here, so Airflow wraps one per task, not two.
    missing_ok: bool = True
    owned_only: bool = True
    enabled: Any = True
    # AEP's answers to a delete of something still referenced: Flow Service (a base connection or a source or
    # target connection used by a dataflow) and Schema Registry (a schema used by a dataset, a field group used
    # by a schema).
    IN_USE_CODES = frozenset({"FLOW-1418-400", "FLOW-1447-400", "XDM-1541-400", "1418-400", "1447-400"})

    def _set_delete_arguments(
        self, resource_id: str, missing_ok: bool, owned_only: bool, enabled: Any, conn: str
    ) -> None:
        setattr(self, self.id_argument, resource_id)
        self.missing_ok = missing_ok
        self.owned_only = owned_only
        self.enabled = enabled
        self.aep_conn_id = conn

    def read(self, resource_id: str) -> Mapping[str, Any]:
        """The resource as AEP returns it (raises ``AEPNotFoundError`` when it is gone)."""
        return self.hook.client.get_resource(self.collection, resource_id)

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """What still uses the resource, when AEP would not refuse its delete itself; None when nothing does."""
        return None

    def delete(self, resource_id: str) -> bool:
        return self.hook.client.delete(self.collection, resource_id, missing_ok=self.missing_ok)

    def set_description(self, resource_id: str, resource: Mapping[str, Any], description: str) -> None:
        """Replace the resource's ``description`` (how a teardown releases a resource it leaves in use)."""
        ops = [{"op": "replace", "path": "/description", "value": description}]
        self.hook.client.patch(self.collection, resource_id, ops, etag=resource.get("etag"))

    def execute(self, context: Context) -> bool:
        from airflow_provider_aep._compat import AirflowSkipException
        from airflow_provider_aep.client.errors import AEPNotFoundError

        if not all_true(self.enabled):
            raise AirflowSkipException(f"{self.task_id}: not enabled for this DAG run (enabled={self.enabled!r})")
        resource_id = require_text(self, self.id_argument, getattr(self, self.id_argument))
        try:
            resource = self.read(resource_id)
        except AEPNotFoundError:
            if not self.missing_ok:
                raise
            self.log.info("Already gone: %s %s", self.collection, resource_id)
            return False
        me = Owner.of(context, self.task_id)
        owner = owner_of(resource)
        if self.owned_only and not me.may_delete(owner):
            made_by = f"it was created by {owner}" if owner else "it carries no Airflow owner (made elsewhere)"
            self.log.info("Leaving %s %s: %s, not by this DAG run", self.collection, resource_id, made_by)
            return False
        outcome = self._delete_unless_used(resource_id, resource)
        if isinstance(outcome, str) and owner is not None and me.same_run(owner) and not owner.released:
            # Another DAG run still uses what this one made: hand it over, so that the teardown of a run that
            # reused it deletes it once nothing uses it. Then look again: the user may have gone meanwhile, and
            # a teardown that came by before the release left it to this one.
            self.set_description(resource_id, resource, replace(owner, released=True).mark(resource.get("description")))
            self.log.info(
                "Released %s %s to the teardowns of the DAG runs that reused it", self.collection, resource_id
            )
            try:
                outcome = self._delete_unless_used(resource_id, self.read(resource_id))
            except AEPNotFoundError:  # the teardown of a run that reused it got there first
                outcome = False
        if isinstance(outcome, str):
            self.log.warning("Leaving %s %s: it is still used by %s", self.collection, resource_id, outcome)
            return False
        self.log.info("%s %s %s", "Deleted" if outcome else "Already gone:", self.collection, resource_id)
        return outcome

    def _delete_unless_used(self, resource_id: str, resource: Mapping[str, Any]) -> bool | str:
        """True if deleted, False if already gone, or what still uses it (then nothing was deleted)."""
        from airflow_provider_aep._compat import AirflowFailException
        from airflow_provider_aep.client.errors import AEPBadRequestError

        user = self.in_use(resource_id, resource)
        if user:
            return user
        try:
            return self.delete(resource_id)
        except AEPBadRequestError as err:
            if err.code in self.IN_USE_CODES:
                return f"what AEP names in its refusal ({err})"
            raise AirflowFailException(
                f"{self.task_id}: AEP refused to delete {self.collection} {resource_id}: {err}"
            ) from None


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


def all_true(flags: Any) -> bool:
    """:func:`is_true` of a flag, or of every flag of a list or tuple (``enabled=[teardown, teardown_data]``)."""
    if isinstance(flags, (list, tuple)):
        return all(is_true(flag) for flag in flags)
    return is_true(flags)


def push_created(context: Context, created: bool) -> None:
    """``created`` XCom: whether this try made the resource (False: an existing one was reused)."""
    context["ti"].xcom_push(key="created", value=bool(created))


class DeleteConnectionOperator(AEPDeleteOperator):
    """Delete a base connection (after its dataflows and source connections: AEP refuses otherwise)."""

    template_fields: Sequence[str] = ("base_connection_id", "enabled")
    collection = "connections"
    id_argument = "base_connection_id"

    def __init__(
        self,
        *,
        base_connection_id: str,
        missing_ok: bool = True,
        owned_only: bool = True,
        enabled: Any = True,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_delete_arguments(base_connection_id, missing_ok, owned_only, enabled, aep_conn_id)

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """Source connections on it: AEP refuses the delete only while a dataflow uses it (``FLOW-1418-400``)."""
        sources = self.hook.client.find("sourceConnections", {"baseConnectionId": resource_id})
        return f"source connections {', '.join(s['id'] for s in sources)}" if sources else None


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

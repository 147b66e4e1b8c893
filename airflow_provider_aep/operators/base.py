"""What every operator of the provider shares: the lazily built hook, the owner line, argument checks, the
extra-link and ``created`` XComs (:class:`AEPBaseOperator`), and the teardown of one resource
(:class:`AEPDeleteOperator`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast, get_args

from airflow.sdk import BaseOperator

from airflow_provider_aep.exceptions import AEPInvalidArgumentError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

#: What a create operator does when a resource with the same natural key exists: adopt it, or fail.
IfExists = Literal["reuse", "fail"]
IF_EXISTS_CHOICES: tuple[IfExists, ...] = get_args(IfExists)

_Choice = TypeVar("_Choice", bound=str)


def require_text(task: BaseOperator, argument: str, value: Any) -> str:
    """A non-empty string argument, stripped; raises naming the argument otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise AEPInvalidArgumentError(task.task_id, argument, f"must be a non-empty string, got {value!r}")
    return value.strip()


def require_choice(task: BaseOperator, argument: str, value: Any, choices: tuple[_Choice, ...]) -> _Choice:
    """``value`` if it is one of ``choices``; raises naming the argument otherwise."""
    if value not in choices:
        raise AEPInvalidArgumentError(task.task_id, argument, f"must be one of {choices}, got {value!r}")
    return cast("_Choice", value)


def is_template(value: Any) -> bool:
    """True while ``value`` is only known at run time: Jinja, or an upstream task's output (``XComArg`` or a
    mapped task group's argument). Such values are validated after rendering instead of at parse time."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return hasattr(value, "resolve") and hasattr(value, "iter_references")


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


def push_created(context: Context, created: bool) -> None:
    """``created`` XCom: whether this try made the resource (False: an existing one was reused)."""
    context["ti"].xcom_push(key="created", value=bool(created))


class AEPBaseOperator(BaseOperator):
    """Shared plumbing of the provider's operators: a lazily built hook for ``self.aep_conn_id``.

    It defines no ``__init__`` on purpose: Airflow wraps every ``__init__`` in an operator's class chain,
    and each wrapper deep-copies the DAG's params, which DAG parsing pays for every task. Each concrete
    operator therefore takes ``aep_conn_id`` itself (which also shows it in its signature).

    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection (org, sandbox, OAuth client).
    """

    aep_conn_id: str = "aep_default"
    ui_color = "#fa0f00"

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
        from airflow_provider_aep.ownership import Owner

        return Owner.of(context, self.task_id).mark(description)


class AEPDeleteOperator(AEPBaseOperator):
    """Delete one AEP resource that this DAG run created. A 404 counts as already deleted, so a teardown can re-run.

    Whether the resource is this DAG run's to delete is read from the resource itself: the owner line every
    create operator writes into its ``description`` (``airflow_provider_aep.ownership``). A resource made by
    any try of any task of this DAG run is deleted, even when the try that created it failed and its retry
    reused it; one made by another DAG run, or outside Airflow, is left alone and the task says so.

    A resource that is still in use is left too, and the log says what uses it: a dataflow with a run in
    progress, a base connection with source connections, a dataset that a target connection writes to, and
    whatever AEP refuses to delete because something references it (a connection used by a dataflow, a schema
    used by a dataset, a field group used by a schema). Any other refusal fails the task without retries. A
    resource of its own that it leaves in use is marked released on its owner line: the teardown of another run
    of the same DAG, which reused it, then deletes it once nothing uses it (``airflow_provider_aep.ownership``).
    Returns True if this task deleted the resource, False if it was already gone or was left.

    A subclass names the ``collection`` and the ``id_argument`` that takes the resource's id (templated, and
    in the subclass's signature), and may override :meth:`read`, :meth:`in_use`, :meth:`delete` and
    :meth:`set_description`; it defines no ``__init__``.

    :param missing_ok: a resource already gone counts as deleted (False: the task fails).
    :param owned_only: delete only what this DAG run created (or another run of this DAG released); False
        deletes whatever the owner line says, for an explicit clean-up task.
    :param enabled: templated, e.g. ``"{{ params.teardown }}"``, or a list of such flags that must all be true:
        the task skips when it renders false, a per-task switch that, unlike a short-circuit task, also works
        inside mapped task groups. Booleans, ``"true"``/``"false"`` text and rendered templates mean the same
        (:func:`is_true` decides).
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    collection: ClassVar[str] = ""
    id_argument: ClassVar[str] = ""
    # AEP's answers to a delete of something still referenced: Flow Service (a base connection or a source or
    # target connection used by a dataflow) and Schema Registry (a schema used by a dataset, a field group used
    # by a schema).
    IN_USE_CODES = frozenset({"FLOW-1418-400", "FLOW-1447-400", "XDM-1541-400", "1418-400", "1447-400"})

    def __init__(
        self,
        *,
        missing_ok: bool = True,
        owned_only: bool = True,
        enabled: Any = True,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        if not self.id_argument:
            raise TypeError(f"{type(self).__name__} is a base class: it names no id_argument")
        # Required by the subclass's signature (``_signature_naming``), which Airflow checks before this runs.
        resource_id = kwargs.pop(self.id_argument)
        super().__init__(**kwargs)
        setattr(self, self.id_argument, resource_id)
        self.missing_ok = missing_ok
        self.owned_only = owned_only
        self.enabled = enabled
        self.aep_conn_id = aep_conn_id

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "id_argument" in vars(cls):
            if "template_fields" not in vars(cls):
                cls.template_fields = (cls.id_argument, "enabled")
            # Airflow reads an operator's arguments from its class's ``__init__`` signature (to require them,
            # fill them from ``default_args`` and accept them in ``partial``/``expand``), so the subclass gets
            # the shared ``__init__`` under a signature naming its id argument. Airflow then wraps that one
            # instead of this class's, so a delete task still pays for two wrapped ``__init__`` levels, not three.
            cls.__init__ = _signature_naming(cls, inspect.unwrap(AEPDeleteOperator.__init__))  # type: ignore[method-assign]

    def read(self, resource_id: str) -> Mapping[str, Any]:
        """The resource as AEP returns it (raises ``AEPNotFoundError`` when it is gone)."""
        return self.hook.flow_service.get_resource(self.collection, resource_id)

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """What still uses the resource, when AEP would not refuse its delete itself; None when nothing does."""
        return None

    def delete(self, resource_id: str) -> bool:
        return self.hook.flow_service.delete(self.collection, resource_id, missing_ok=self.missing_ok)

    def set_description(self, resource_id: str, resource: Mapping[str, Any], description: str) -> None:
        """Replace the resource's ``description`` (how a teardown releases a resource it leaves in use)."""
        from airflow_provider_aep.ownership import description_patch

        self.hook.flow_service.patch(
            self.collection, resource_id, description_patch(description), etag=resource.get("etag")
        )

    def execute(self, context: Context) -> bool:
        from airflow_provider_aep._compat import AirflowSkipException
        from airflow_provider_aep.client.errors import AEPNotFoundError
        from airflow_provider_aep.ownership import Owner, owner_of

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


@cache
def _signature_of(function: Callable[..., None]) -> inspect.Signature:
    """The shared ``__init__``'s signature, computed once for every delete operator class a DAG file defines."""
    return inspect.signature(function)


def _signature_naming(cls: type[AEPDeleteOperator], shared_init: Callable[..., None]) -> Callable[..., None]:
    """``shared_init`` under a signature whose first keyword is ``cls.id_argument`` (a required string)."""

    def __init__(self: AEPDeleteOperator, **kwargs: Any) -> None:
        shared_init(self, **kwargs)

    signature = _signature_of(shared_init)
    this, *rest = signature.parameters.values()
    named = inspect.Parameter(cls.id_argument, inspect.Parameter.KEYWORD_ONLY, annotation="str")
    __init__.__signature__ = signature.replace(parameters=[this, named, *rest])  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


__all__ = [
    "IF_EXISTS_CHOICES",
    "AEPBaseOperator",
    "AEPDeleteOperator",
    "IfExists",
    "all_true",
    "is_template",
    "is_true",
    "push_created",
    "require_choice",
    "require_text",
    "verify_reused",
]

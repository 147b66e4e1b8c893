"""Hooks for the credentials of a declared source (``airflow_provider_aep.sources``).

``SourceConnectionHook`` reads a source's Airflow connection and turns it into the ``auth.params`` its
declaration names, masking every secret. A hook class per declared source (``AEPSalesforceHook``, ...) is
generated here from its declaration, because Airflow's connection forms need a class per connection type;
HubSpot keeps its own ``HubSpotHook`` (``hooks.hubspot``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_aep.exceptions import AEPConnectionConfigError
from airflow_provider_aep.hooks.connection_form import form_message, legacy_form_widgets, legacy_ui_field_behaviour
from airflow_provider_aep.hooks.flow_service import connection_extras
from airflow_provider_aep.sources import SourceKind, hook_class_name, source_kind, sources

_TRUE = ("true", "1", "yes", "on")


def read_auth_params(kind: SourceKind, conn: Any) -> dict[str, Any]:
    """``auth.params`` from an Airflow connection per the declaration; a missing value names its form field."""
    extras = connection_extras(conn, kind.conn_type)
    params: dict[str, Any] = {}
    for spec in kind.auth_params:
        value = extras.get(spec.field) if spec.is_extra else getattr(conn, spec.field, None)
        if spec.kind == "boolean":
            value = spec.default if value in (None, "") else (str(value).strip().lower() in _TRUE)
            params[spec.param] = bool(value)
            continue
        if value in (None, "") and spec.default is not None:
            value = spec.default
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                raise AEPConnectionConfigError(
                    conn.conn_id, spec.field, f"is required: AEP needs it to read {kind.title} ({spec.param})"
                )
            continue
        params[spec.param] = str(value).strip()
        if spec.secret:
            mask_secret(params[spec.param])
    return params


class SourceConnectionHook(BaseHook):
    """Reads the credentials of one declared source (``kind``) from its Airflow connection.

    :param source_conn_id: the Airflow connection to read (default: the source's default connection id); a
        subclass's own ``conn_name_attr`` keyword (e.g. ``hubspot_conn_id``) is accepted too.
    """

    kind: ClassVar[SourceKind]
    conn_name_attr = "source_conn_id"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Airflow 3.1 reads the connection-form methods only from the hook class's own __dict__ (not inherited).
        for name in ("get_ui_field_behaviour", "get_connection_form_widgets"):
            if name not in cls.__dict__:
                setattr(cls, name, classmethod(getattr(SourceConnectionHook, name).__func__))

    def __init__(self, source_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.source_conn_id = source_conn_id or kwargs.get(self.conn_name_attr) or self.kind.default_conn_id

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.source_conn_id)

    def get_auth_params(self) -> dict[str, Any]:
        return read_auth_params(self.kind, self.connection)

    def get_conn(self) -> dict[str, Any]:
        return self.get_auth_params()

    def test_connection(self) -> tuple[bool, str]:
        """A local check only: AEP, not Airflow, talks to the source, so every required field must be present."""
        try:
            params = self.get_auth_params()
        except AEPConnectionConfigError as err:
            return False, form_message(self.kind.connection_type(), err)
        client = params.get("clientId") or params.get("username")
        whose = f" for client {client}" if client else ""
        return True, (
            f"{self.kind.title} credentials{whose} are complete. Airflow does not call {self.kind.title}: AEP "
            "checks them when it creates the source account (the explore task fails if they are wrong)."
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour(cls.kind.connection_type())

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return legacy_form_widgets(cls.kind.connection_type())


def hook_for(kind: SourceKind) -> type[SourceConnectionHook]:
    """The hook class of a declared source (its own class where it has one, e.g. ``HubSpotHook``)."""
    if kind.hook_class and not kind.hook_class.startswith(__name__ + "."):
        from importlib import import_module

        module, _, name = kind.hook_class.rpartition(".")
        hook: type[SourceConnectionHook] = getattr(import_module(module), name)
        return hook
    name = hook_class_name(kind)
    cls = _GENERATED.get(name)
    if cls is None or cls.kind != kind:
        cls = _GENERATED[name] = type(
            name,
            (SourceConnectionHook,),
            {
                "kind": kind,
                "__doc__": (
                    f"Credentials of the {kind.title} source ({kind.docs}).\n\n"
                    f"    :param source_conn_id: the Airflow connection to read (default ``{kind.default_conn_id}``).\n"
                ),
                "__module__": __name__,
                "conn_type": kind.conn_type,
                "default_conn_name": kind.default_conn_id,
                "hook_name": kind.connection_type()["hook-name"],
            },
        )
    return cls


_GENERATED: dict[str, type[SourceConnectionHook]] = {}


def __getattr__(name: str) -> Any:
    """``AEPSalesforceHook`` and the other generated classes, importable by the path Airflow is given."""
    for kind in sources():
        if hook_class_name(kind) == name and not kind.hook_class:
            return hook_for(kind)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


AEPSalesforceHook = hook_for(source_kind("salesforce"))

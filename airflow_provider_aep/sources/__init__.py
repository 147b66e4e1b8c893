"""Table sources as declarations: what AEP needs to know about a source, in one place per source.

A :class:`SourceKind` says which Flow Service connection spec and auth spec the source uses, which Airflow
connection type (and which of its fields) supplies each ``auth.params`` value, how a table is addressed in
a source connection's ``params``, the flow spec and delta column its dataflows take, and the object its XDM
fields live under. Operators, hooks, the connection forms and the onboarding task group read these
declarations; nothing else in the provider knows about HubSpot or Salesforce. Adding a source means adding
one declaration (see ``docs/sources.md``). No Airflow imports: ``get_provider_info`` reads the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_aep.client.models import CRM_FLOW_SPEC_NAME
from airflow_provider_aep.forms import boolean_field, string_field

StandardField = Literal["host", "schema", "login", "password", "port"]
STANDARD_FIELDS: tuple[StandardField, ...] = ("host", "schema", "login", "password", "port")
"""Airflow's own connection fields; every other field of a source is an ``extra``."""

FieldKind = Literal["string", "boolean"]
"""How an extra is entered in the connection form (standard fields are always strings)."""

TableParam = Literal["path", "tableName"]
"""The source connection ``params`` key naming the table: Adobe's table sources use one of these two."""


@dataclass(frozen=True)
class AuthParam:
    """One ``auth.params`` value of a base connection and the Airflow connection field it is read from.

    :param param: The key in ``auth.params`` (``clientSecret``).
    :param field: A standard field (``login``, ``password``, ``host``, ...) or the key of an extra
        (``access_token``), which then gets its own input in the connection form.
    :param label: The field's label in the connection form.
    :param description: The field's help text in the connection form.
    :param secret: Masked in logs and entered as a password; never in XCom or rendered fields.
    :param required: An empty value fails before any request, naming the field.
    :param kind: ``string`` or ``boolean`` (extras only).
    :param default: The form's default for an extra.
    """

    param: str
    field: str
    label: str
    description: str
    secret: bool = False
    required: bool = True
    kind: FieldKind = "string"
    default: Any = None

    @property
    def is_extra(self) -> bool:
        return self.field not in STANDARD_FIELDS


@dataclass(frozen=True)
class SourceKind:
    """Everything the provider needs to onboard tables of one source.

    :param name: Short key used by operators and the task group: ``source="hubspot"``.
    :param title: The source's name in forms and messages (``Salesforce``); the generated hook class is named
        after it (``AEP<Title>Hook``).
    :param connection_spec_id: The Flow Service connection spec of the source.
    :param auth_spec_name: The auth spec of that connection spec the base connection uses.
    :param conn_type: The Airflow connection type holding the source's credentials.
    :param default_conn_id: The Airflow connection id used when none is given.
    :param auth_params: Each ``auth.params`` value and the connection field it comes from.
    :param docs: Where Adobe documents the connection spec and auth spec (a path in
        AdobeDocs/experience-platform.en).
    :param table_param: The source connection ``params`` key that names the table (``path`` for HubSpot,
        ``tableName`` for CRM sources).
    :param send_columns: Whether the source connection must list the table's columns (``params.columns``,
        CRM sources).
    :param delta_column: The timestamp column dataflows copy incrementally by, unless the DAG names another.
    :param flow_spec_name: The flow spec of the source's dataflows (``CRMToAEP`` for CRM and marketing
        automation sources); looked up by name once per DAG run.
    :param xdm_namespace: The object under ``_{TENANT_ID}`` holding this source's fields (default: ``name``).
    :param placeholders: Placeholder text of the standard fields in the connection form.
    :param hook_class: Dotted path of the hook class of the connection form; default: generated in
        ``hooks.sources``.
    """

    name: str
    title: str
    connection_spec_id: str
    auth_spec_name: str
    conn_type: str
    default_conn_id: str
    auth_params: tuple[AuthParam, ...]
    docs: str
    table_param: TableParam = "path"
    send_columns: bool = False
    delta_column: str = "Updated_At"
    flow_spec_name: str = CRM_FLOW_SPEC_NAME
    xdm_namespace: str = ""
    placeholders: Mapping[str, str] = field(default_factory=dict)
    hook_class: str = ""

    @property
    def namespace(self) -> str:
        """The object under ``_{TENANT_ID}`` holding this source's XDM fields."""
        return self.xdm_namespace or self.name

    @property
    def hook_class_name(self) -> str:
        return self.hook_class or f"airflow_provider_aep.hooks.sources.{hook_class_name(self)}"

    def source_params(self, table_path: str, columns: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The source connection's ``params`` for one table."""
        params: dict[str, Any] = {self.table_param: table_path}
        if self.send_columns:
            params["columns"] = [dict(column) for column in columns or []]
        return params

    def table_of(self, source_connection: Mapping[str, Any]) -> Any:
        """The table a source connection reads, as its ``params`` name it."""
        return (source_connection.get("params") or {}).get(self.table_param)

    def connection_type(self) -> dict[str, Any]:
        """The provider-info ``connection-types`` entry: the Airflow UI form for this source's credentials."""
        standard = {p.field: p for p in self.auth_params if not p.is_extra}
        extras = {}
        for p in self.auth_params:
            if not p.is_extra:
                continue
            if p.kind == "boolean":
                extras[p.field] = boolean_field(p.label, p.description, default=bool(p.default))
            else:
                extras[p.field] = string_field(
                    p.label, p.description, secret=p.secret, required=p.required, default=p.default
                )
        behaviour: dict[str, Any] = {
            "hidden-fields": [f for f in ("host", "schema", "port", "login", "password") if f not in standard],
            "relabeling": {name: p.label for name, p in standard.items()},
            "placeholders": {name: self.placeholders[name] for name in standard if name in self.placeholders},
        }
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class_name,
            "hook-name": f"{self.title} (for AEP sources)",
            "ui-field-behaviour": behaviour,
            "conn-fields": extras,
        }


def hook_class_name(kind: SourceKind) -> str:
    """``AEP<Title>Hook``: the generated hook class of a source's connection form (see ``hooks.sources``)."""
    return f"AEP{''.join(ch for ch in kind.title if ch.isalnum())}Hook"


_REGISTRY: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    """Add a source (also how a test declares one); a second declaration of the same name replaces it."""
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove the declaration named ``name`` (a test's, when it ends); an unknown name is ignored."""
    _REGISTRY.pop(name, None)


def sources() -> tuple[SourceKind, ...]:
    """Every declared source."""
    _load_builtin()
    return tuple(_REGISTRY.values())


def source_kind(name: str) -> SourceKind:
    """The declaration named ``name``; the error lists the declared ones."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; declared sources: {sorted(_REGISTRY)}") from None


def source_for_spec(connection_spec_id: str) -> SourceKind | None:
    """The declaration of a connection spec id (e.g. read from a base connection), or None."""
    _load_builtin()
    return next((k for k in _REGISTRY.values() if k.connection_spec_id == connection_spec_id), None)


def _load_builtin() -> None:
    from airflow_provider_aep.sources import hubspot, salesforce  # noqa: F401 - registers on import


__all__ = ["AuthParam", "SourceKind", "register", "source_for_spec", "source_kind", "sources", "unregister"]

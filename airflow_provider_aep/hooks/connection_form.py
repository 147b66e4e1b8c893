"""Legacy (pre-3.2) connection-form hooks derived from the declarative provider-info metadata.

Airflow 3.2+ reads ``conn-fields``/``ui-field-behaviour`` from ``get_provider_info()``; older UIs call the
hook classmethods. Deriving the latter from the former keeps the two forms from drifting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def legacy_ui_field_behaviour(conn_type: Mapping[str, Any]) -> dict[str, Any]:
    behaviour = conn_type["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour.get("hidden-fields", [])),
        "relabeling": dict(behaviour.get("relabeling", {})),
        "placeholders": dict(behaviour.get("placeholders", {})),
    }


def legacy_form_widgets(conn_type: Mapping[str, Any]) -> dict[str, Any]:
    """WTForms widgets for the Airflow 2 / 3.0-3.1 forms; the imports only exist where those UIs run.

    Only the field classes Airflow 3.1's UI can render without FAB (it mocks String/Password/Integer/Boolean):
    a number (a timeout may be fractional) is a text field with its default as text, which the hook parses.
    """
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in conn_type["conn-fields"].items():
        schema = spec["schema"]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        label, description, default = lazy_gettext(spec["label"]), spec.get("description"), schema.get("default")
        if "boolean" in types:
            widgets[name] = BooleanField(label, description=description, default=bool(default))
            continue
        secret = schema.get("format") == "password"
        field_cls, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        text_default = None if default is None else str(default)
        widgets[name] = field_cls(label, widget=widget(), description=description, default=text_default)
    return widgets


def form_label(conn_type: Mapping[str, Any], field: str) -> str:
    """The label the connection form shows for ``field`` (``"login (client id)"`` -> ``Client ID (API key)``).

    The Test button runs on a copy of the connection under a random id, so its messages name the field
    as the user sees it in the form rather than a connection id the user never typed.
    """
    key = field.split(" ", 1)[0]
    relabeled = conn_type["ui-field-behaviour"].get("relabeling", {}).get(key)
    if relabeled:
        return str(relabeled).removesuffix(" *")  # the required mark belongs to the form, not to messages
    spec = conn_type["conn-fields"].get(key)
    return str(spec["label"]) if spec else key.replace("_", " ").capitalize()


def form_message(conn_type: Mapping[str, Any], err: Any) -> str:
    """``<Form label>: <what is wrong>`` for an :class:`~airflow_provider_aep.exceptions.AEPConnectionConfigError`."""
    return f"{form_label(conn_type, err.field)}: {err.reason}"

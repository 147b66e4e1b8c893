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
    """WTForms widgets for the Airflow 2 / 3.0-3.1 forms; the imports only exist where those UIs run."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in conn_type["conn-fields"].items():
        secret = spec["schema"].get("format") == "password"
        field_cls, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        widgets[name] = field_cls(lazy_gettext(spec["label"]), widget=widget(), description=spec.get("description"))
    return widgets

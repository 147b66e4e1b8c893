"""Builders of the declarative connection-form fields (``conn-fields``) Airflow 3.2+ renders.

Shared by the AEP connection type in ``get_provider_info`` and by every source declaration in
``airflow_provider_aep.sources``; no Airflow imports, since ``airflow`` CLI commands load them all.
"""

from __future__ import annotations

from typing import Any


def string_field(
    label: str,
    description: str,
    *,
    default: str | None = None,
    secret: bool = False,
    required: bool = False,
    pattern: str | None = None,
) -> dict:
    """A text field. ``required`` makes it non-nullable: the 3.3 form then marks it with an asterisk and keeps
    Save disabled until it is filled; ``secret`` renders a password input and masks it in API answers."""
    schema: dict[str, Any] = {"type": "string", "minLength": 1} if required else {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    if pattern:
        schema["pattern"] = pattern
    return {"label": label, "description": description, "schema": schema}


def number_field(label: str, description: str, *, default: float, minimum: float) -> dict:
    return {
        "label": label,
        "description": description,
        "schema": {"type": ["number", "null"], "default": default, "minimum": minimum},
    }


def boolean_field(label: str, description: str, *, default: bool = False) -> dict:
    return {"label": label, "description": description, "schema": {"type": ["boolean", "null"], "default": default}}

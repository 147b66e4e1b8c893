"""Emulated table sources: the registry (:mod:`.registry`) and the built-in HubSpot and Salesforce declarations,
registered when this package is imported."""

from __future__ import annotations

from .hubspot import HUBSPOT
from .registry import (
    CRM_KINDS,
    KINDS,
    XDM_KINDS,
    EmulatedSource,
    for_spec,
    generic_rows,
    get_source,
    register_source,
    registered_sources,
    table_source_spec,
    unregister_source,
)
from .salesforce import SALESFORCE

__all__ = [
    "CRM_KINDS",
    "HUBSPOT",
    "KINDS",
    "SALESFORCE",
    "XDM_KINDS",
    "EmulatedSource",
    "for_spec",
    "generic_rows",
    "get_source",
    "register_source",
    "registered_sources",
    "table_source_spec",
    "unregister_source",
]

for _builtin in (HUBSPOT, SALESFORCE):
    register_source(_builtin)

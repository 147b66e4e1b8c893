"""What a user writes by hand for either peer: resource names, and XDM field group / mapping bodies from the
columns Flow Service's explore returns (``{name, type, xdm: {type, format?}}`` for HubSpot). Plain Python,
no Airflow, no HTTP: both peer DAGs import it."""

from __future__ import annotations

import re
from typing import Any

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
# From Adobe's docs (a user copies them rather than looking them up on every run).
HUBSPOT_SPEC = {"id": "cc6a4487-9e91-433e-a3a3-9cf6626c1806", "version": "1.0"}
DATA_LAKE_SPEC = {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}
CRM_TO_AEP_FLOW_SPEC = {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"}

_TYPES = {
    "integer": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
}


def names(connection_name: str, table: str) -> dict[str, str]:
    prefix = f"{connection_name}: {table}"
    return {
        "table": table,
        "field_group": f"{prefix} fields",
        "schema": prefix,
        "dataset": prefix,
        "mapping_set": f"{prefix} mapping",
        "target_connection": f"{prefix} target",
        "dataflow": f"{prefix} dataflow",
    }


def field_name(column: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", column) if p]
    name = parts[0][:1].lower() + parts[0][1:] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return name if name[:1].isalpha() else f"f{name}"


def _definition(column: dict[str, Any]) -> dict[str, Any]:
    xdm = column.get("xdm") or {}
    kind = _TYPES.get(str(xdm.get("type") or column.get("type") or "string").lower(), _TYPES["string"])
    out = {"title": column["name"], "description": f"Source column {column['name']}", **kind}
    if xdm.get("format") in ("date", "date-time"):
        out = {**out, "type": "string", "format": xdm["format"]}
    return out


def _path(table: str) -> tuple[str, str]:
    source, _, name = table.partition(".")
    return field_name(source), field_name(name or source)


def field_group_body(tenant: str, table: str, columns: list[dict[str, Any]], title: str) -> dict[str, Any]:
    source, name = _path(table)
    leaves = {field_name(c["name"]): _definition(c) for c in columns}
    tree = {"type": "object", "properties": {source: {"type": "object", "properties": {name: {
        "type": "object", "properties": leaves}}}}}  # fmt: skip
    return {
        "type": "object",
        "title": title,
        "description": f"Fields of {table}",
        "meta:intendedToExtend": [PROFILE_CLASS],
        "definitions": {"fields": {"properties": {f"_{tenant}": tree}}},
        "allOf": [{"$ref": "#/definitions/fields"}],
    }


def mappings(tenant: str, table: str, columns: list[dict[str, Any]]) -> list[dict[str, str]]:
    source, name = _path(table)
    return [
        {
            "sourceType": "ATTRIBUTE",
            "source": c["name"],
            "destination": f"_{tenant}.{source}.{name}.{field_name(c['name'])}",
        }
        for c in columns
    ]


def run_state(runs: dict[str, Any]) -> str | None:
    """``success``/``failed``/... of a flow's newest run in a ``GET /runs`` answer, None while there is none."""
    items = sorted(runs.get("items") or [], key=lambda r: r.get("createdAt") or 0, reverse=True)
    if not items:
        return None
    run = items[0]
    status = ((run.get("metrics") or {}).get("statusSummary") or {}).get("status") or run.get("state") or ""
    return str(status).lower()

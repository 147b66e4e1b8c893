"""Check the requests the provider sent (the emulator's journal) against Adobe's published API specs.

The specs live in ``../shared/reference`` (Swagger 2.0 for the Schema Registry, OpenAPI 3.0.1 for the
others); a test using them skips when they are absent. For each journaled request the operation is found
by method and path template; its JSON body is validated with jsonschema against the operation's request
schema ($refs resolved inside the spec), and every query parameter must be one the operation declares.
Each known gap of a spec is tolerated explicitly, with its reason, in ``TOLERATED_QUERY`` and
``SCHEMA_PATCHES``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.conftest import SHARED_REFERENCE

SERVICES = {
    "/data/foundation/flowservice": "flow-service.openapi.yaml",
    "/data/foundation/schemaregistry": "schema-registry.openapi.yaml",
    "/data/foundation/catalog": "catalog.openapi.yaml",
    "/data/foundation/conversion": "data-prep.openapi.yaml",
    "/data/foundation/import": "batch-ingestion.openapi.yaml",
    "/data/foundation/export": "data-access.openapi.yaml",
}

TOLERATED_QUERY: dict[tuple[str, str, str], str] = {
    # Every Adobe sources tutorial sends it; Catalog's spec does not list it (target-side notes §3.1).
    ("catalog", "POST", "requestDataSource"): "documented in the tutorials, missing from the spec",
    # Catalog's filter guide documents limit/start/properties/name on lists; the spec lists fewer.
    ("catalog", "GET", "limit"): "documented in Catalog's filtering guide",
    ("catalog", "GET", "start"): "documented in Catalog's filtering guide",
    ("catalog", "GET", "name"): "documented in Catalog's filtering guide",
    ("catalog", "GET", "properties"): "documented in Catalog's filtering guide",
    ("catalog", "GET", "orderBy"): "documented in Catalog's filtering guide",
    # The mapping-set guide documents name/start on lists (target-side notes §4.2).
    ("data-prep", "GET", "name"): "documented in the mapping-set guide",
    ("data-prep", "GET", "start"): "documented in the mapping-set guide",
}

#: Places where a spec contradicts the documented behaviour and is patched before validating (see ``load``).
SCHEMA_PATCHES: dict[str, str] = {
    "flow-service ScheduleSpecDTO": "startTime/backfill typed integer/boolean; the docs send strings too",
    "batch-ingestion IngestBatch": "inputFormat.format enum is JSON/Parquet/CSV; every doc sends json/parquet/csv",
}


@dataclass(frozen=True)
class Problem:
    service: str
    method: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}: {self.message}"


@cache
def load(name: str) -> dict[str, Any]:
    import yaml

    doc = yaml.safe_load((SHARED_REFERENCE / name).read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    schemas = (doc.get("components") or {}).get("schemas") or {}
    if "ScheduleSpecDTO" in schemas:  # see SCHEMA_PATCHES
        schemas["ScheduleSpecDTO"]["properties"]["startTime"]["type"] = ["integer", "string"]
        schemas["ScheduleSpecDTO"]["properties"]["backfill"]["type"] = ["boolean", "string"]
    if "IngestBatch" in schemas:  # see SCHEMA_PATCHES: the case of a batch's format
        fmt = schemas["IngestBatch"]["properties"]["inputFormat"]["properties"]["format"]
        fmt["enum"] = [*fmt["enum"], "json", "parquet", "csv"]
    return doc


def available() -> bool:
    return all((SHARED_REFERENCE / name).exists() for name in SERVICES.values())


def _template(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path.rstrip("/") or "/"))
    return re.compile(pattern + "/?")


def _operation(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The most specific spec operation for ``method path`` (literal segments beat placeholders)."""
    matches = []
    for template, item in doc["paths"].items():
        operation = item.get(method.lower())
        if operation is not None and _template(template).fullmatch(path):
            matches.append((template.count("{"), template, {**operation, "_shared": item.get("parameters") or []}))
    if not matches:
        return None
    matches.sort(key=lambda m: m[0])
    return matches[0][1], matches[0][2]


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    target: Any = doc
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _parameters(doc: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    params = []
    for param in [*operation["_shared"], *(operation.get("parameters") or [])]:
        params.append(_resolve(doc, param["$ref"]) if "$ref" in param else param)
    return params


def _body_schema(doc: dict[str, Any], operation: dict[str, Any]) -> Any:
    if "requestBody" in operation:  # OpenAPI 3
        body = operation["requestBody"]
        body = _resolve(doc, body["$ref"]) if "$ref" in body else body
        content = body.get("content") or {}
        for media, value in content.items():
            if "json" in media and "schema" in value:
                return value["schema"]
        return None
    for param in _parameters(doc, operation):  # Swagger 2
        if param.get("in") == "body":
            return param.get("schema")
    return None


def check_entry(entry: dict[str, Any]) -> list[Problem]:
    """Problems of one journaled request (empty when it conforms)."""
    from jsonschema import Draft7Validator

    match = [(base, name) for base, name in SERVICES.items() if entry["path"].startswith(base)]
    if not match:
        return []
    base, name = match[0]
    service = name.split(".")[0]
    doc = load(name)
    path = entry["path"][len(base) :] or "/"
    found = _operation(doc, entry["method"], path)
    if found is None:
        return [Problem(service, entry["method"], path, "no such operation in the spec")]
    template, operation = found
    problems = []
    declared = {p["name"] for p in _parameters(doc, operation) if p.get("in") == "query"}
    for key in entry.get("query") or {}:
        if key not in declared and (service, entry["method"], key) not in TOLERATED_QUERY:
            problems.append(Problem(service, entry["method"], template, f"query parameter {key!r} is not in the spec"))
    schema = _body_schema(doc, operation)
    body = entry.get("body")
    if schema is not None and body is not None and not isinstance(body, str):
        root = {**schema, **{k: v for k, v in doc.items() if k in ("definitions", "components")}}
        for error in sorted(Draft7Validator(root).iter_errors(body), key=lambda e: list(e.absolute_path))[:5]:
            problems.append(
                Problem(service, entry["method"], template, f"{list(error.absolute_path)}: {error.message}")
            )
    return problems


def check_journal(journal: list[dict[str, Any]]) -> tuple[dict[str, int], list[Problem]]:
    """Requests checked per service and every problem found."""
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    for entry in journal:
        for base, name in SERVICES.items():
            if entry["path"].startswith(base):
                counts[name.split(".")[0]] = counts.get(name.split(".")[0], 0) + 1
                problems.extend(check_entry(entry))
    return counts, problems

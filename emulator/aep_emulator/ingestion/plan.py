"""What a dataset-backed run reads and writes: the source table, the target dataset, its schema and mappings."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .. import schema_registry
from ..catalog.models import find_dataset
from ..core.errors import ApiError
from ..core.state import Store
from ..data_prep.models import find_mapping_set, normalised_mappings
from ..flow_service import sources


@dataclass
class Plan:
    """What a dataset-backed run reads and writes."""

    dataset_id: str
    table: str
    schema: dict[str, Any]
    mappings: list[dict[str, Any]]
    threshold: float | None
    source: sources.EmulatedSource | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _mapping_of(store: Store, run: dict[str, Any]) -> list[dict[str, Any]] | None:
    reference = run.get("_mapping")
    if not reference:
        return None
    doc = find_mapping_set(store, reference[0], reference[1])
    return None if doc is None else normalised_mappings(doc)


def plan(store: Store, run: dict[str, Any]) -> Plan | None:
    """The ingestion plan of a run, or ``None`` (flow deleted, no dataset target, not a registered source's table)."""
    flow = store["flows"].get(run["flowId"])
    if flow is None:
        return None
    dataset = None
    for target_id in run.get("_targets", []):
        connection = store["targetConnections"].get(target_id)
        dataset_id = ((connection or {}).get("params") or {}).get("dataSetId")
        dataset = find_dataset(store, dataset_id) if isinstance(dataset_id, str) else None
        if dataset is not None:
            break
    if dataset is None:
        return None
    table: str | None = None
    source: sources.EmulatedSource | None = None
    params: dict[str, Any] = {}
    for source_id in run.get("_sources", []):
        connection = store["sourceConnections"].get(source_id) or {}
        source = sources.for_spec((connection.get("connectionSpec") or {}).get("id"))
        params = connection.get("params") or {}
        table = source.table_in(params) if source is not None else None
        if table is not None:
            break
    try:
        schema = schema_registry.resolve_schema(store, dataset["schemaRef"]["id"])
    except ApiError:
        schema = None
    if source is None or table is None or schema is None:
        return None
    mappings = _mapping_of(store, run)
    if mappings is None:  # no Mapping transformation: columns named like top-level schema fields are copied
        properties = schema.get("properties") or {}
        columns = source.selected_columns(params, table)
        mappings = [{"sourceType": "ATTRIBUTE", "source": c, "destination": c} for c in columns if c in properties]
    options = flow.get("options") or {}
    threshold = options.get("partialIngestionPercent")
    limit = float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None
    return Plan(dataset["id"], table, schema, mappings, limit, source, copy.deepcopy(params))

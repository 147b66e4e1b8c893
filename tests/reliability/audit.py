"""What a trial's DAG runs left in the emulator: :func:`resource_audit` (duplicates, orphans, owned resources a
teardown left, missing resources and broken links), and what the emulator's journal says was created or deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_aep.client.models import DATA_LAKE_CONNECTION_SPEC_ID, HUBSPOT_CONNECTION_SPEC_ID
from airflow_provider_aep.ownership import owner_of
from tests.reliability.pipeline import PipelineResult, RecordingTI, resource_names
from tests.reliability.plan import PlannedFault

CRM_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
PROFILE_CLASS_ID = "https://ns.adobe.com/xdm/context/profile"
# Natural keys the provider looks resources up by (FlowServiceClient.create_*, SchemaRegistryClient.create,
# CatalogClient.create_dataset, DataPrepClient.create_mapping_set).
NATURAL_KEYS = {
    "connections": ("name", "connectionSpec.id"),
    "sourceConnections": ("name", "baseConnectionId"),
    "targetConnections": ("name", "connectionSpec.id"),
    "flows": ("name", "flowSpec.id"),
    "fieldgroups": ("title",),
    "schemas": ("title",),
    "dataSets": ("name",),
    "mappingSets": ("name",),
}
#: What the pipeline never makes: any of these is an orphan.
NEVER_MADE = ("descriptors",)
#: What a teardown deletes (``teardown``), and what it deletes only with ``teardown_data``.
TEARDOWN_KINDS = ("connections", "sourceConnections", "targetConnections", "flows")
DATA_KINDS = ("dataSets", "schemas", "fieldgroups")


def dig(item: Any, path: str) -> Any:
    for part in path.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _expected(result: PipelineResult) -> dict[str, set[str]]:
    return {
        "connections": {result.base_connection_id} if result.base_connection_id else set(),
        "sourceConnections": set(result.source_connection_ids.values()),
        "targetConnections": set(result.target_connection_ids.values()),
        "flows": set(result.flow_ids.values()),
        "fieldgroups": set(result.field_group_ids.values()),
        "schemas": set(result.schema_ids.values()),
        "dataSets": set(result.dataset_ids.values()),
        "mappingSets": set(result.mapping_set_ids.values()),
    }


def _links(state: dict[str, list[dict[str, Any]]], result: PipelineResult, path: str, names: dict[str, str]) -> list:
    """What is wrong with one table's resources and their links to each other (empty: all good)."""
    by_id = {name: {item["id"]: item for item in state.get(name, [])} for name in NATURAL_KEYS}
    fg = by_id["fieldgroups"].get(result.field_group_ids.get(path, ""))
    schema = by_id["schemas"].get(result.schema_ids.get(path, ""))
    dataset = by_id["dataSets"].get(result.dataset_ids.get(path, ""))
    mapping = by_id["mappingSets"].get(result.mapping_set_ids.get(path, ""))
    source = by_id["sourceConnections"].get(result.source_connection_ids.get(path, ""))
    target = by_id["targetConnections"].get(result.target_connection_ids.get(path, ""))
    flow = by_id["flows"].get(result.flow_ids.get(path, ""))
    found = {
        "field group": fg,
        "schema": schema,
        "dataset": dataset,
        "mapping set": mapping,
        "source connection": source,
        "target connection": target,
        "dataflow": flow,
    }
    problems: list[str] = [f"{what} missing" for what, item in found.items() if item is None]
    if problems:
        return problems
    assert fg and schema and dataset and mapping and source and target and flow  # for the type checker
    transformations = {t.get("name"): t.get("params") or {} for t in flow.get("transformations") or []}
    checks = {
        "field group title": fg.get("title") == names["field_group"],
        "field group extends Profile": "https://ns.adobe.com/xdm/context/profile"
        in fg.get("meta:intendedToExtend", []),
        "schema title": schema.get("title") == names["schema"],
        "schema holds the field group": fg["id"] in {ref.get("$ref") for ref in schema.get("allOf") or []},
        "dataset name": dataset.get("name") == names["dataset"],
        "dataset is for the schema": dig(dataset, "schemaRef.id") == schema["id"],
        "mapping set name": mapping.get("name") == names["mapping_set"],
        "mapping set is for the schema": dig(mapping, "outputSchema.schemaRef.id") == schema["id"],
        "source reads the table": dig(source, "params.path") == path,
        "source is on the base connection": source.get("baseConnectionId") == result.base_connection_id,
        "target name": target.get("name") == names["target_connection"],
        "target is Data Lake": dig(target, "connectionSpec.id") == DATA_LAKE_CONNECTION_SPEC_ID,
        "target writes the dataset": dig(target, "params.dataSetId") == dataset["id"],
        "target has the schema": dig(target, "data.schema.id") == schema["id"],
        "dataflow name": flow.get("name") == names["dataflow"],
        "dataflow is CRMToAEP": dig(flow, "flowSpec.id") == CRM_FLOW_SPEC_ID,
        "dataflow connects source and target": flow.get("sourceConnectionIds") == [source["id"]]
        and flow.get("targetConnectionIds") == [target["id"]],
        "dataflow uses the mapping set": dig(transformations, "Mapping.mappingId") == mapping["id"],
    }
    return [what for what, ok in checks.items() if not ok]


def owner_run(item: dict[str, Any]) -> str | None:
    """The run id in a resource's owner line (the onboarding DAG's), or None."""
    owner = owner_of(item)
    return owner.run_id if owner is not None and owner.dag_id == RecordingTI.dag_id else None


def _uses(collection: str, item: dict[str, Any], by_id: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """What deleting the resources ``item`` uses would be refused for, or what a teardown leaves for it: a dataflow
    its source and target connections (``1447-400``) and the base connections of those (``1418-400``), a
    target connection its dataset (``DeleteDatasetOperator.in_use``), a dataset its schema and a schema its
    field groups (``XDM-1541-400``). Mapping sets refer to a schema, but nothing stops that schema's delete."""
    if collection == "flows":
        sources = [("sourceConnections", i) for i in item.get("sourceConnectionIds") or []]
        bases = [
            ("connections", str(by_id["sourceConnections"][i].get("baseConnectionId")))
            for _, i in sources
            if i in by_id["sourceConnections"]
        ]
        return [*sources, *(("targetConnections", i) for i in item.get("targetConnectionIds") or []), *bases]
    if collection == "targetConnections":
        return [("dataSets", str(dig(item, "params.dataSetId")))]
    if collection == "dataSets":
        return [("schemas", str(dig(item, "schemaRef.id")))]
    if collection == "schemas":
        return [("fieldgroups", str(ref.get("$ref"))) for ref in item.get("allOf") or []]
    return []


def resource_audit(
    state: dict[str, list[dict[str, Any]]],
    result: PipelineResult,
    tables: list[str],
    connection_name: str | None = None,
    *,
    earlier: PipelineResult | None = None,
    others: Sequence[PipelineResult] = (),
    owners_seen: dict[str, str | None] | None = None,
    deleted_elsewhere: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """What the DAG runs of a trial left behind, once every one of them (and its teardown) has ended.

    ``result`` and ``others`` are the final results of the trial's DAG runs (after clearing, for a run that
    failed); ``earlier`` a finished run of the same pipeline before them (it never tears down). A run *tears
    down* when its ``result.teardown`` is set; its *teardown kinds* are base, source and target connections and
    dataflows, plus datasets, schemas and field groups with ``teardown_data``. An item's *owner* is the run named
    by its owner line (``airflow_provider_aep.ownership``). An item is *referenced* when its id is among what a
    run returned (the ids of its XComs). Counted:

    - ``duplicates`` (left): per natural key (``NATURAL_KEYS``), every item beyond the first, except *mapping-set
      losers*: a mapping set that is not the oldest of its name and that nobody references (no run, no
      dataflow's Mapping). Data Prep has no DELETE, so convergence leaves them; they are ``mapping_set_losers``.
    - ``orphans``: items nobody references that are not a mapping-set loser and not of a teardown kind of their
      owner (those are judged by ``owned_left``), plus anything of ``NEVER_MADE``, runs whose flow no run
      returned and no DELETE removed (``deleted_elsewhere``: convergence losers), and batches of other datasets.
    - ``owned_left``: items of a teardown kind of their owner, which tore down, that nothing *kept* uses: the
      kept items are all the others, and whatever they use (:func:`_uses`), transitively. The teardown leaves
      an item used by a kept one by design (AEP refuses the delete, or a target connection still writes to the
      dataset); anything else it owned must be gone. ``mapping_sets_left_by_teardown`` counts the owners'
      mapping sets, which nothing can delete.
    - ``deleted_not_owned``: ids a teardown deleted that ``owners_seen`` (owner of each id, recorded before each
      teardown) does not give to that run: a teardown must never delete what another run made.
    - ``missing``: of each finished run without teardown, a resource per table it does not report, or an id it
      reports that is gone unless its owner tore down (reusing another run's resource does not keep it);
      ``inconsistent``: the links between a finished, non-teardown run's resources (:func:`_links`) when none
      of them is gone.
    """
    runs = [result, *others]
    owners_seen = owners_seen or {}
    deleted_elsewhere = deleted_elsewhere or {}
    tearing = {r.run_id: r for r in runs if r.teardown}

    def teardown_kind(collection: str, owner: str | None) -> bool:
        run = tearing.get(owner or "")
        return run is not None and (collection in TEARDOWN_KINDS or (run.teardown_data and collection in DATA_KINDS))

    expected: dict[str, set[str]] = {name: set() for name in NATURAL_KEYS}
    for run in [*runs, *([earlier] if earlier is not None else [])]:
        for collection, ids in _expected(run).items():
            expected[collection] |= ids
    by_id = {name: {item["id"]: item for item in state.get(name, [])} for name in NATURAL_KEYS}
    mapped = {
        dig({t.get("name"): t.get("params") or {} for t in flow.get("transformations") or []}, "Mapping.mappingId")
        for flow in state.get("flows", [])
    }
    audit: dict[str, Any] = {
        "duplicates": 0,
        "orphans": 0,
        "missing": 0,
        "inconsistent": 0,
        "owned_left": 0,
        "mapping_set_losers": 0,
        "mapping_sets_left_by_teardown": 0,
        "deleted_not_owned": 0,
        "detail": [],
    }
    losers: set[str] = set()
    for collection, key in NATURAL_KEYS.items():
        items = state.get(collection, [])
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault(tuple(str(dig(item, k)) for k in key), []).append(item)
        dupes = 0
        for group in groups.values():
            if collection == "mappingSets" and len(group) > 1:
                younger = sorted(group, key=lambda m: m.get("createdDate") or 0)[1:]  # stable: list order on ties
                losers |= {m["id"] for m in younger if m["id"] not in expected[collection] and m["id"] not in mapped}
            dupes += len(group) - 1 - sum(1 for m in group if m["id"] in losers)
        orphans = [
            item["id"]
            for item in items
            if item["id"] not in expected[collection]
            and item["id"] not in losers
            and not teardown_kind(collection, owner_run(item))
        ]
        missing = 0
        for run in runs:
            if not run.ok or run.teardown:
                continue
            ids = _expected(run)[collection]
            wanted = 1 if collection == "connections" else len(tables)
            gone = [i for i in ids if i not in by_id[collection] and owners_seen.get(i) not in tearing]
            missing += max(0, wanted - len(ids)) + len(gone)
        audit["duplicates"] += dupes
        audit["orphans"] += len(orphans)
        audit["missing"] += missing
        if dupes or orphans or missing:
            dupe_keys = [list(k) for k, group in groups.items() if len(group) > 1]
            audit["detail"].append(
                {"collection": collection, "count": len(items), "duplicates": dupe_keys, "orphans": orphans}
            )
    audit["mapping_set_losers"] = len(losers)
    # Owned resources a teardown left: the kept items and what they use, transitively, may stay.
    kept = [
        (collection, item["id"])
        for collection in NATURAL_KEYS
        for item in state.get(collection, [])
        if not teardown_kind(collection, owner_run(item))
    ]
    used: set[tuple[str, str]] = set()
    while kept:
        collection, item_id = kept.pop()
        for use in _uses(collection, by_id[collection][item_id], by_id):
            if use not in used and use[1] in by_id[use[0]]:
                used.add(use)
                kept.append(use)
    owned_left = [
        (collection, item["id"], owner_run(item))
        for collection in NATURAL_KEYS
        for item in state.get(collection, [])
        if teardown_kind(collection, owner_run(item)) and (collection, item["id"]) not in used
    ]
    audit["mapping_sets_left_by_teardown"] = sum(
        1 for item in state.get("mappingSets", []) if owner_run(item) in tearing
    )
    if owned_left:
        audit["owned_left"] = len(owned_left)
        audit["detail"].append({"owned left after a teardown": [list(o) for o in owned_left]})
    not_owned = [
        (collection, i, owners_seen.get(i))
        for run in tearing.values()
        for collection, ids in run.deleted.items()
        for i in ids
        if owners_seen.get(i) != run.run_id
    ]
    if not_owned:
        audit["deleted_not_owned"] = len(not_owned)
        audit["detail"].append({"deleted, owned by another": [list(o) for o in not_owned]})
    for collection in NEVER_MADE:
        made = [item.get("id") for item in state.get(collection, [])]
        audit["orphans"] += len(made)
        if made:
            audit["detail"].append({"collection": collection, "orphans": made})
    # Runs and the batches they land belong to the runs' dataflows and datasets (or to deleted ones).
    flows = expected["flows"] | deleted_elsewhere.get("flows", set())
    datasets = expected["dataSets"] | deleted_elsewhere.get("dataSets", set())
    stray_runs = [r["id"] for r in state.get("runs", []) if r.get("flowId") not in flows]
    stray_batches = [
        b["id"]
        for b in state.get("batches", [])
        if not {o.get("id") for o in b.get("relatedObjects") or [] if o.get("type") == "dataSet"} & datasets
    ]
    if stray_runs or stray_batches:
        audit["orphans"] += len(stray_runs) + len(stray_batches)
        audit["detail"].append({"runs without a pipeline flow": stray_runs, "batches elsewhere": stray_batches})
    for run in runs:
        if not run.ok or run.teardown:
            continue
        ids = _expected(run)
        if any(i not in by_id[c] for c, found in ids.items() for i in found):
            continue  # its owner tore some of it down (or it is counted missing above)
        base = by_id["connections"].get(run.base_connection_id or "")
        if base is None or dig(base, "connectionSpec.id") != HUBSPOT_CONNECTION_SPEC_ID:
            audit["inconsistent"] += 1
            audit["detail"].append({"base connection": "missing or not HubSpot"})
        if sorted(run.tables) != sorted(tables):
            audit["inconsistent"] += 1
            audit["detail"].append({"tables": run.tables, "expected": tables})
        for path in run.tables:
            names = resource_names(connection_name, path) if connection_name else {}
            wrong = _links(state, run, path, names) if names else []
            if wrong:
                audit["inconsistent"] += len(wrong)
                audit["detail"].append({"run": run.run_id, "table": path, "wrong": wrong})
    return audit


def committed_creates(journal: Iterable[dict[str, Any]], planned: Sequence[PlannedFault]) -> Counter[tuple[str, ...]]:
    """Creates the emulator performed, per natural key (collection first), from its journal: POSTs answered 2xx
    (a held or delayed one included, and a ``commit_later`` one when it is performed), and those a
    ``commit_then_fail`` / ``commit_then_drop`` rule performed before failing the answer."""
    committing = {f.id for f in planned if f.rule.get("action") in ("commit_then_fail", "commit_then_drop")}
    made: Counter[tuple[str, ...]] = Counter()
    for entry in journal:
        collection = entry["path"].rsplit("/", 1)[-1]
        if entry["method"] != "POST" or collection not in NATURAL_KEYS or not isinstance(entry.get("body"), dict):
            continue
        if 200 <= entry["status"] < 300 or entry.get("fault") in committing:
            made[(collection, *(str(dig(entry["body"], k)) for k in NATURAL_KEYS[collection]))] += 1
    return made


def deleted_by_journal(journal: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Ids a DELETE answered 2xx for, by collection (``flows``, ``dataSets``...)."""
    gone: dict[str, set[str]] = {}
    for entry in journal:
        if entry["method"] == "DELETE" and 200 <= entry["status"] < 300:
            collection, _, item_id = entry["path"].rstrip("/").rpartition("/")
            gone.setdefault(collection.rsplit("/", 1)[-1], set()).add(item_id)
    return gone

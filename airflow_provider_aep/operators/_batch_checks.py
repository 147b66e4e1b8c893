"""What the batch operator reads of the target dataset's schema: the flat fields a CSV header may name, and the
fields of its OpenLineage schema facet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_aep.client.batch_files import Source
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook


def dataset_schema_id(dataset: Mapping[str, Any]) -> str | None:
    ref = dataset.get("schemaRef")
    schema_id = ref.get("id") if isinstance(ref, Mapping) else None
    return schema_id if isinstance(schema_id, str) and schema_id else None


def flat_fields(schema: Mapping[str, Any]) -> set[str]:
    """The dotted paths a CSV column can fill: leaf fields reached through objects only (not through arrays)."""
    paths: set[str] = set()

    def walk(properties: Any, prefix: str) -> None:
        if not isinstance(properties, Mapping):
            return
        for name, node in properties.items():
            if not isinstance(node, Mapping):
                continue
            if node.get("type") == "object" and isinstance(node.get("properties"), Mapping):
                walk(node["properties"], f"{prefix}{name}.")
            elif node.get("type") != "array" and node.get("type") != "object":
                paths.add(f"{prefix}{name}")

    walk(schema.get("properties"), "")
    return paths


def csv_columns_outside(hook: AEPFlowServiceHook, dataset: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """The CSV header columns the dataset's schema cannot take as flat dotted paths (CSV fills no arrays)."""
    schema_id = dataset_schema_id(dataset)
    if schema_id is None:
        return []
    fields = flat_fields(hook.schema_registry.get("schemas", schema_id, full=True))
    return [column for column in columns if column not in fields]


def csv_header(source: Source) -> list[str]:
    """The column names of a CSV input's header row (read from its first line only)."""
    import csv
    import io

    with source.open() as stream:
        line = stream.readline(1024 * 1024).decode("utf-8-sig", errors="replace")
    return [name.strip() for name in next(csv.reader(io.StringIO(line)), []) if name.strip()]


def batch_lineage(task: Any, sources: Sequence[Source]) -> OperatorLineage | None:
    """OpenLineage of a finished batch: ``sources`` as inputs, the dataset (with its schema facet) as output."""
    from airflow_provider_aep.files import lineage_location
    from airflow_provider_aep.lineage import SourceTable, aep_dataset, build_operator_lineage, read_schema_fields

    summary = getattr(task, "_lineage_batch", None)
    if not isinstance(summary, dict) or not summary.get("dataset_id"):
        return build_operator_lineage()
    hook = task.hook
    settings = hook.settings
    fields = None
    try:
        schema_id = dataset_schema_id(hook.catalog.get_dataset(summary["dataset_id"]))
    except Exception as err:  # lineage never fails a task
        task.log.warning("OpenLineage: dataset %s not readable: %s", summary["dataset_id"], err)
        schema_id = None
    if schema_id:
        fields = read_schema_fields(hook, schema_id)
    statistics = (summary.get("records"), summary.get("bytes"))
    output = aep_dataset(settings.org_id, settings.sandbox_name, summary["dataset_id"], fields, statistics)
    inputs = [SourceTable(*lineage_location(source)) for source in sources]
    return build_operator_lineage(inputs, [output], run_id=summary.get("id"))

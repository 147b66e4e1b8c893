"""OpenLineage for the onboarding operators (optional: ``pip install airflow-provider-aep[openlineage]``).

Dataset naming (``docs/assets.md``, "Lineage"):

* **Source tables** (inputs): namespace ``aep-source://<source>/<base connection id>``, name the table as the
  source connection's ``params`` name it (``Hubspot.Contacts``). ``<source>`` is the source's declared
  name (``hubspot``, ``salesforce``; ``airflow_provider_aep.sources``), or the connection spec id for a
  source the provider does not declare. The base connection id is part of the namespace because one
  sandbox can hold several HubSpot portals whose tables have the same names.
* **AEP datasets** (outputs): namespace ``aep://<org>/<sandbox>``, name ``datasets/<dataset_id>``, exactly
  what :func:`airflow_provider_aep.assets.convert_asset_to_openlineage` makes of the dataset's asset, so
  lineage returned by operators and lineage of declared asset outlets join. Each carries a ``schema`` facet:
  every field of its XDM schema as the Schema Registry resolves it (``xed-full``: the class's, the standard
  field groups' and the tenant's fields), objects as nested fields (:func:`aep_dataset`,
  :func:`read_schema_fields`, for any operator that writes a dataset).

Nothing here imports OpenLineage at module level: the builders import it when called and return None when
``apache-airflow-providers-openlineage`` is not installed. The plain-data helpers (names, mappings) need
neither Airflow nor OpenLineage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.assets import SCHEME, normalize_dataset_id, normalize_org, normalize_sandbox

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

log = logging.getLogger(__name__)

SOURCE_SCHEME = "aep-source"


def source_namespace(source: str, base_connection_id: str) -> str:
    """``aep-source://<source>/<base connection id>``: the namespace of a source's tables."""
    return f"{SOURCE_SCHEME}://{source.strip().lower()}/{base_connection_id.strip()}"


def aep_namespace(org_id: str, sandbox: str) -> str:
    """``aep://<org>/<sandbox>``: the namespace of a sandbox's datasets (the asset converter's)."""
    return f"{SCHEME}://{normalize_org(org_id)}/{normalize_sandbox(sandbox)}"


def dataset_name(dataset_id: str) -> str:
    return f"datasets/{normalize_dataset_id(dataset_id)}"


@dataclass(frozen=True)
class SourceTable:
    """An input: one table of a base connection, with its explored columns when known."""

    namespace: str
    name: str
    columns: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True)
class SchemaField:
    """One XDM field of a dataset's schema: ``type`` is its ``meta:xdmType`` (``string``, ``date-time``,
    ``object``...), ``fields`` the children of an object (or of an array's object items)."""

    name: str
    type: str | None = None
    description: str | None = None
    fields: tuple[SchemaField, ...] = ()


@dataclass(frozen=True)
class AEPDataset:
    """An output: one Catalog dataset; ``statistics`` is ``(rows, bytes)`` written by a run, when known;
    ``fields`` its XDM schema's fields (the ``schema`` facet), when known."""

    namespace: str
    name: str
    statistics: tuple[int | None, int | None] | None = None
    fields: tuple[SchemaField, ...] | None = None


def aep_dataset(
    org_id: str,
    sandbox: str,
    dataset_id: str,
    schema_fields: Sequence[SchemaField] | None = None,
    statistics: tuple[int | None, int | None] | None = None,
) -> AEPDataset:
    """An AEP dataset output, named like its ``aep://`` asset, for :func:`build_operator_lineage`.

    ``schema_fields`` are :func:`schema_fields` of the dataset's resolved XDM schema (or
    :func:`read_schema_fields`); ``statistics`` is ``(records written, bytes written)``.
    """
    fields = tuple(schema_fields) if schema_fields is not None else None
    return AEPDataset(aep_namespace(org_id, sandbox), dataset_name(dataset_id), statistics, fields)


def schema_fields(schema: Mapping[str, Any]) -> tuple[SchemaField, ...]:
    """The fields of a resolved XDM schema (``Accept: application/vnd.adobe.xed-full+json; version=1``), nested.

    A field's type is its ``meta:xdmType`` (else its JSON Schema ``type``); an object's ``properties`` become
    its ``fields``, and so do those of an array's object ``items`` (the array keeps type ``array``).
    """
    return _fields_of(schema.get("properties"), depth=0)


_MAX_DEPTH = 16  # XDM nests a few levels; a malformed (cyclic-looking) answer stops here


def _fields_of(properties: Any, depth: int) -> tuple[SchemaField, ...]:
    if not isinstance(properties, Mapping) or depth > _MAX_DEPTH:
        return ()
    found = []
    for name, node in properties.items():
        if not isinstance(node, Mapping):
            continue
        kind = node.get("meta:xdmType") or node.get("type")
        children = node.get("properties")
        items = node.get("items")
        if children is None and isinstance(items, Mapping):
            children = items.get("properties")
        text = node.get("description") or node.get("title")
        found.append(
            SchemaField(
                name=str(name),
                type=str(kind) if isinstance(kind, str) else None,
                description=text if isinstance(text, str) else None,
                fields=_fields_of(children, depth + 1),
            )
        )
    return tuple(found)


def read_schema_fields(hook: Any, schema_id: str) -> tuple[SchemaField, ...] | None:
    """The fields of a schema, read once from the Schema Registry (resolved, ``xed-full``); None (logged) when it
    cannot be read, since lineage must never fail a task."""
    try:
        return schema_fields(hook.schema_registry.get("schemas", schema_id, full=True))
    except Exception as err:
        log.warning("OpenLineage: schema %s not readable, no schema facet: %s", schema_id, err)
        return None


@dataclass(frozen=True)
class ColumnMapping:
    """One Data Prep ``ATTRIBUTE`` mapping: a source column copied to an XDM field path."""

    source: str
    destination: str


@dataclass
class FlowLineage:
    """What a dataflow reads and writes, as plain data (``build_operator_lineage`` turns it into OpenLineage)."""

    inputs: list[SourceTable] = field(default_factory=list)
    outputs: list[AEPDataset] = field(default_factory=list)
    mappings: list[ColumnMapping] = field(default_factory=list)


def source_table(
    connection_spec_id: str, base_connection_id: str, table: str, columns: Sequence[Mapping[str, Any]] | None = None
) -> SourceTable:
    from airflow_provider_aep.sources import source_for_spec

    kind = source_for_spec(connection_spec_id)
    namespace = source_namespace(kind.name if kind else connection_spec_id, base_connection_id)
    cols = tuple(c for c in columns if isinstance(c, Mapping) and c.get("name")) if columns else None
    return SourceTable(namespace, table, cols or None)


def source_table_of(source_connection: Mapping[str, Any]) -> SourceTable | None:
    """The table a ``sourceConnections`` resource reads (None if it names no base connection or table)."""
    from airflow_provider_aep.sources import source_for_spec

    spec_id = (source_connection.get("connectionSpec") or {}).get("id")
    base_id = source_connection.get("baseConnectionId")
    params = source_connection.get("params") or {}
    if not isinstance(spec_id, str) or not isinstance(base_id, str) or not base_id or not isinstance(params, Mapping):
        return None
    kind = source_for_spec(spec_id)
    table = kind.table_of(source_connection) if kind else params.get("path")
    if not isinstance(table, str) or not table:
        return None
    columns = params.get("columns")
    return source_table(spec_id, base_id, table, columns if isinstance(columns, list) else None)


def attribute_mappings(mapping_set: Mapping[str, Any]) -> list[ColumnMapping]:
    """The mapping set's ``ATTRIBUTE`` mappings (column -> field path); expressions and constants are left out.

    Reads both body forms and the stored one (``sourceType: text/x.schema-path``, ``sourceAttribute`` /
    ``destinationXdmPath``), as :func:`airflow_provider_aep.client.xdm.mapping_key` does.
    """
    from airflow_provider_aep.client.xdm import mapping_key

    found = []
    for mapping in mapping_set.get("mappings") or []:
        if not isinstance(mapping, Mapping):
            continue
        kind, source, destination = mapping_key(mapping)
        if kind == "ATTRIBUTE" and source not in ("", "None") and destination not in ("", "None"):
            found.append(ColumnMapping(source, destination))
    return found


def mapping_of(transformations: Iterable[Any]) -> tuple[str, int | None] | None:
    """``(mapping id, version)`` of a flow's ``Mapping`` transformation, or None."""
    for item in transformations or []:
        if isinstance(item, Mapping) and item.get("name") == "Mapping":
            params = item.get("params") or {}
            mapping_id, version = params.get("mappingId"), params.get("mappingVersion")
            if isinstance(mapping_id, str) and mapping_id:
                text = str(version) if version is not None else ""
                return mapping_id, int(text) if text.isdigit() else None
    return None


def describe_flow(
    hook: Any,
    *,
    flow: Mapping[str, Any] | None = None,
    flow_id: str | None = None,
    sources: Sequence[Mapping[str, Any]] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
) -> FlowLineage:
    """Inputs, outputs and column mappings of a dataflow, reading from AEP what was not given.

    ``sources``/``targets`` are the flow's ``sourceConnections``/``targetConnections`` resources when the
    caller already has them; otherwise they are read through ``hook`` (``flow`` or ``flow_id`` needed). A
    mapping set that cannot be read only loses the column lineage.
    """
    client = hook.flow_service
    if flow is None and flow_id and (sources is None or targets is None):
        flow = client.get_flow(flow_id)
    if sources is None:
        sources = [client.get_resource("sourceConnections", i) for i in (flow or {}).get("sourceConnectionIds") or []]
    if targets is None:
        targets = [client.get_target_connection(i) for i in (flow or {}).get("targetConnectionIds") or []]
    settings = hook.settings
    namespace = aep_namespace(settings.org_id, settings.sandbox_name)
    result = FlowLineage()
    result.inputs = [t for t in (source_table_of(s) for s in sources) if t is not None]
    schemas: dict[str, tuple[SchemaField, ...] | None] = {}  # each schema read once, however many targets use it
    for target in targets:
        dataset_id = (target.get("params") or {}).get("dataSetId")
        if isinstance(dataset_id, str) and dataset_id:
            schema_id = _target_schema_id(hook, target, dataset_id)
            if schema_id and schema_id not in schemas:
                schemas[schema_id] = read_schema_fields(hook, schema_id)
            fields = schemas.get(schema_id) if schema_id else None
            result.outputs.append(AEPDataset(namespace, dataset_name(dataset_id), fields=fields))
    mapping = mapping_of((flow or {}).get("transformations") or [])
    if mapping is not None:
        try:
            result.mappings = attribute_mappings(hook.data_prep.get_mapping_set(mapping[0], version=mapping[1]))
        except Exception as err:  # lineage must never fail a task; the rest is still worth emitting
            log.warning("OpenLineage: mapping set %s not readable, no column lineage: %s", mapping[0], err)
    return result


def _target_schema_id(hook: Any, target: Mapping[str, Any], dataset_id: str) -> str | None:
    """The schema a target connection writes (``data.schema.id``), else its dataset's ``schemaRef.id``."""
    from airflow_provider_aep.client.models import dig

    schema_id = dig(target, "data.schema.id")
    if isinstance(schema_id, str) and schema_id:
        return schema_id
    try:
        schema_id = dig(hook.catalog.get_dataset(dataset_id), "schemaRef.id")
    except Exception as err:
        log.warning("OpenLineage: dataset %s not readable, no schema facet: %s", dataset_id, err)
        return None
    return schema_id if isinstance(schema_id, str) and schema_id else None


def _schema_facet(columns: Sequence[Mapping[str, Any]]) -> Any:
    """The ``schema`` facet of a source table's explored columns (flat)."""
    return _fields_facet(
        [SchemaField(str(c["name"]), _text(c.get("type")), _text(c.get("description"))) for c in columns]
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _fields_facet(fields: Sequence[SchemaField]) -> Any:
    """A ``SchemaDatasetFacet``: objects as nested fields where the OpenLineage client has ``fields`` on
    ``SchemaDatasetFacetFields`` (1.12+), else flattened to dotted names (``_tenant.hubspot.email``)."""
    import inspect

    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacet, SchemaDatasetFacetFields

    nested = "fields" in inspect.signature(SchemaDatasetFacetFields).parameters

    def build(field: SchemaField) -> Any:
        if not nested:
            return SchemaDatasetFacetFields(name=field.name, type=field.type, description=field.description)
        return SchemaDatasetFacetFields(
            name=field.name,
            type=field.type,
            description=field.description,
            fields=[build(child) for child in field.fields],
        )

    def flat(items: Sequence[SchemaField], prefix: str = "") -> list[SchemaField]:
        out = []
        for item in items:
            name = f"{prefix}{item.name}"
            out.append(SchemaField(name, item.type, item.description))
            out.extend(flat(item.fields, f"{name}."))
        return out

    return SchemaDatasetFacet(fields=[build(f) for f in (fields if nested else flat(fields))])


def _column_lineage_facet(mappings: Sequence[ColumnMapping], inputs: Sequence[SourceTable]) -> Any:
    """``{destination field path: inputs' source column}``; a column is credited to the inputs whose explored
    columns list it, or to every input when none of them lists columns."""
    from airflow.providers.common.compat.openlineage.facet import ColumnLineageDatasetFacet, Fields, InputField
    from openlineage.client.generated.column_lineage_dataset import Transformation

    fields: dict[str, Any] = {}
    for mapping in mappings:
        owners = [t for t in inputs if t.columns and any(c.get("name") == mapping.source for c in t.columns)]
        owners = owners or [t for t in inputs if not t.columns]
        if not owners:
            continue
        fields[mapping.destination] = Fields(
            inputFields=[
                InputField(
                    namespace=t.namespace,
                    name=t.name,
                    field=mapping.source,
                    transformations=[
                        Transformation(type="DIRECT", subtype="IDENTITY", description="Data Prep ATTRIBUTE mapping")
                    ],
                )
                for t in owners
            ],
            transformationType="IDENTITY",
            transformationDescription="Data Prep ATTRIBUTE mapping",
        )
    return ColumnLineageDatasetFacet(fields=fields) if fields else None


def build_operator_lineage(
    inputs: Sequence[SourceTable] = (),
    outputs: Sequence[AEPDataset] = (),
    mappings: Sequence[ColumnMapping] = (),
    *,
    run_id: str | None = None,
    flow_id: str | None = None,
) -> OperatorLineage | None:
    """The ``OperatorLineage`` an operator returns, or None when the OpenLineage provider is not installed.

    Inputs carry a ``schema`` facet when their columns are known; outputs carry ``schema`` when their XDM
    fields are known (:func:`aep_dataset`), ``columnLineage`` from ``mappings`` and ``outputStatistics`` when a
    run reported them. ``run_id`` becomes the run facets
    ``externalQuery`` (the AEP flow run id) and ``aep_flow_run`` (run and flow id).
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            ExternalQueryRunFacet,
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.facet_v2 import RunFacet
    except ImportError:
        return None

    ol_inputs = [
        InputDataset(
            namespace=t.namespace, name=t.name, facets={"schema": _schema_facet(t.columns)} if t.columns else {}
        )
        for t in inputs
    ]
    ol_outputs = []
    for dataset in outputs:
        facets: dict[str, Any] = {}
        if dataset.fields:
            facets["schema"] = _fields_facet(dataset.fields)
        column_lineage = _column_lineage_facet(mappings, inputs) if mappings else None
        if column_lineage is not None:
            facets["columnLineage"] = column_lineage
        output_facets: dict[str, Any] = {}
        if dataset.statistics is not None and dataset.statistics[0] is not None:
            rows, size = dataset.statistics
            output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows, size=size)
        ol_outputs.append(
            OutputDataset(namespace=dataset.namespace, name=dataset.name, facets=facets, outputFacets=output_facets)
        )
    run_facets: dict[str, Any] = {}
    if run_id:
        source = outputs[0].namespace if outputs else SCHEME
        run_facets["externalQuery"] = ExternalQueryRunFacet(externalQueryId=run_id, source=source)
        run_facets["aep_flow_run"] = RunFacet().with_additional_properties(runId=run_id, flowId=flow_id)
    return OperatorLineage(inputs=ol_inputs, outputs=ol_outputs, run_facets=run_facets)


def run_statistics(run: Mapping[str, Any]) -> tuple[int | None, int | None] | None:
    """``(records written, bytes written)`` of a run summary (``FlowRun.to_dict()``), when reported."""
    rows, size = run.get("output_records"), run.get("output_bytes")
    if not isinstance(rows, int) or isinstance(rows, bool):
        return None
    return rows, size if isinstance(size, int) and not isinstance(size, bool) else None


__all__ = [
    "SOURCE_SCHEME",
    "AEPDataset",
    "ColumnMapping",
    "FlowLineage",
    "SchemaField",
    "SourceTable",
    "aep_dataset",
    "aep_namespace",
    "attribute_mappings",
    "build_operator_lineage",
    "dataset_name",
    "describe_flow",
    "mapping_of",
    "read_schema_fields",
    "run_statistics",
    "schema_fields",
    "source_namespace",
    "source_table",
    "source_table_of",
]

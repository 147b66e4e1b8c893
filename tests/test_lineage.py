"""OpenLineage (``airflow_provider_aep.lineage``, ``docs/assets.md`` "Lineage").

* naming shared with the asset converter, and the plain-data helpers;
* the operators' ``get_openlineage_facets_on_complete`` against the emulator (real OpenLineage classes);
* the provider imports and its operators run with every ``openlineage`` module hidden (subprocess);
* a ``dag.test()`` run with the OpenLineage file transport whose COMPLETE events carry the inputs, outputs,
  schema, column lineage and run id (subprocess: the OpenLineage plugin reads its config at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_aep.lineage import (
    ColumnMapping,
    SchemaField,
    aep_dataset,
    aep_namespace,
    attribute_mappings,
    dataset_name,
    mapping_of,
    schema_fields,
    source_namespace,
    source_table_of,
)
from tests.operators import conftest as _operator_fixtures
from tests.operators.conftest import TABLE

# The operator tests' fixtures (emulator, task context, a ready pipeline), made visible to pytest here.
for _name in ("base_connection_id", "context", "emulator", "explored", "pipeline", "target_side"):
    globals()[_name] = getattr(_operator_fixtures, _name)

ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"  # tests/conftest.py's org
NAMESPACE = "aep://0123456789abcdef01234567/prod"
ROOT = Path(__file__).resolve().parents[1]

try:
    import airflow.providers.openlineage.extractors  # noqa: F401

    HAVE_OPENLINEAGE = True
except ImportError:
    HAVE_OPENLINEAGE = False
needs_openlineage = pytest.mark.skipif(
    not HAVE_OPENLINEAGE, reason="apache-airflow-providers-openlineage not installed (pip install '.[openlineage]')"
)

# As if the openlineage distributions were not installed: a meta-path finder makes every openlineage module
# (client and Airflow provider) unimportable, and their package metadata is hidden too, so Airflow's
# ProvidersManager does not find the provider's entry point (it would import the hidden package).
HIDE_OPENLINEAGE = """
import importlib.metadata
import sys

try:
    import importlib_metadata
except ImportError:
    importlib_metadata = None

class _HideOpenLineage:
    def find_spec(self, name, path=None, target=None):
        if name == "openlineage" or name.startswith("openlineage.") or name.startswith("airflow.providers.openlineage"):
            raise ImportError(f"{name} is hidden by the test")
        return None

sys.meta_path.insert(0, _HideOpenLineage())

def _hidden(dist):
    name = (dist.metadata["Name"] or "").lower().replace("_", "-")
    return name.startswith("openlineage-") or name == "apache-airflow-providers-openlineage"

for _module in filter(None, (importlib.metadata, importlib_metadata)):
    _all = _module.distributions
    _module.distributions = lambda *a, _all=_all, **k: (d for d in _all(*a, **k) if not _hidden(d))
"""


def run_python(
    code: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] | list[str] = (), timeout: float = 240
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-8000:]}"
    return result


# --------------------------------------------------------------------------- naming and plain data
def test_dataset_naming_is_the_asset_converters():
    from airflow_provider_aep.assets import convert_asset_to_openlineage, create_asset

    dataset_id = "5ED5639D798A22191B6987B2"
    assert aep_namespace(ORG_ID, "PROD") == NAMESPACE
    assert dataset_name(dataset_id) == "datasets/5ed5639d798a22191b6987b2"
    converted = convert_asset_to_openlineage(create_asset(org_id=ORG_ID, sandbox="prod", dataset_id=dataset_id))
    if converted is not None:  # the OpenLineage client is installed
        assert (converted.namespace, converted.name) == (aep_namespace(ORG_ID, "prod"), dataset_name(dataset_id))


def test_source_naming():
    assert source_namespace("hubspot", "base-1") == "aep-source://hubspot/base-1"
    from airflow_provider_aep.sources import source_kind

    hubspot = source_kind("hubspot")
    table = source_table_of(
        {"baseConnectionId": "b1", "connectionSpec": {"id": hubspot.connection_spec_id}, "params": {"path": TABLE}}
    )
    assert table is not None and (table.namespace, table.name, table.columns) == (
        "aep-source://hubspot/b1",
        TABLE,
        None,
    )
    # an undeclared source: named by its connection spec id, the table by params.path
    other = source_table_of({"baseConnectionId": "b2", "connectionSpec": {"id": "spec-9"}, "params": {"path": "T"}})
    assert other is not None and (other.namespace, other.name) == ("aep-source://spec-9/b2", "T")
    assert source_table_of({"connectionSpec": {"id": "spec-9"}, "params": {"path": "T"}}) is None


def test_attribute_mappings_and_mapping_of():
    mapping_set = {
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": "Vid", "destination": "_tenant.hubspot.vid"},
            {"sourceType": "EXPRESSION", "source": "lower(Email)", "destination": "_tenant.hubspot.email"},
            {"sourceType": "STATIC", "source": "x", "destination": "_tenant.hubspot.c"},
        ]
    }
    assert attribute_mappings(mapping_set) == [ColumnMapping("Vid", "_tenant.hubspot.vid")]
    transformations = [
        {"name": "Copy", "params": {}},
        {"name": "Mapping", "params": {"mappingId": "m", "mappingVersion": "3"}},
    ]
    assert mapping_of(transformations) == ("m", 3)
    assert mapping_of([{"name": "Copy"}]) is None


RESOLVED_SCHEMA = {
    "$id": "https://ns.adobe.com/acme/schemas/1",
    "properties": {
        "_id": {"type": "string", "meta:xdmType": "string", "title": "Identifier"},
        "_acme": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "hubspot": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string", "meta:xdmType": "string", "description": "Source column Email"},
                        "addedAt": {"type": "string", "format": "date-time", "meta:xdmType": "date-time"},
                    },
                }
            },
        },
        "segments": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
    },
}


def test_schema_fields_of_a_resolved_schema_are_nested():
    fields = schema_fields(RESOLVED_SCHEMA)
    assert [f.name for f in fields] == ["_id", "_acme", "segments"]
    assert fields[0] == SchemaField("_id", "string", "Identifier")
    (hubspot,) = fields[1].fields
    assert [(f.name, f.type, f.description) for f in hubspot.fields] == [
        ("email", "string", "Source column Email"),
        ("addedAt", "date-time", None),
    ]
    assert fields[2].type == "array" and [f.name for f in fields[2].fields] == ["id"]  # the items' fields
    dataset = aep_dataset(ORG_ID, "prod", "5ED5639D798A22191B6987B2", fields, (3, 10))
    assert (dataset.namespace, dataset.name) == (NAMESPACE, "datasets/5ed5639d798a22191b6987b2")
    assert dataset.fields == fields and dataset.statistics == (3, 10)


@needs_openlineage
def test_output_schema_facet_nested_or_dotted(monkeypatch):
    """Nested ``fields`` where the OpenLineage client has them (1.12+), else dotted names."""
    import airflow.providers.common.compat.openlineage.facet as facet

    from airflow_provider_aep.lineage import build_operator_lineage

    dataset = aep_dataset(ORG_ID, "prod", "5ed5639d798a22191b6987b2", schema_fields(RESOLVED_SCHEMA))
    (output,) = build_operator_lineage(outputs=[dataset]).outputs
    top = output.facets["schema"].fields
    assert [f.name for f in top] == ["_id", "_acme", "segments"]
    assert [f.name for f in top[1].fields[0].fields] == ["email", "addedAt"]

    class OldFields:  # an OpenLineage client without nested fields
        def __init__(self, name, type=None, description=None):
            self.name, self.type, self.description = name, type, description

    monkeypatch.setattr(facet, "SchemaDatasetFacetFields", OldFields)
    (output,) = build_operator_lineage(outputs=[dataset]).outputs
    assert [f.name for f in output.facets["schema"].fields] == [
        "_id",
        "_acme",
        "_acme.hubspot",
        "_acme.hubspot.email",
        "_acme.hubspot.addedAt",
        "segments",
        "segments.id",
    ]


def _leaf_names(fields, prefix=""):
    names = set()
    for f in fields:
        name = f"{prefix}{f['name'] if isinstance(f, dict) else f.name}"
        children = (f.get("fields") if isinstance(f, dict) else f.fields) or []
        names |= _leaf_names(children, f"{name}.") if children else {name}
    return names


def _schema_reads(emulator) -> list[dict]:
    return [e for e in emulator.control.journal(method="GET") if "/schemaregistry/tenant/schemas/" in e["path"]]


# --------------------------------------------------------------------------- operators, real OpenLineage classes
def _mapping_set(emulator_mapping_id: str) -> dict:
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

    return AEPFlowServiceHook().data_prep.get_mapping_set(emulator_mapping_id)


@needs_openlineage
def test_source_connection_lineage(base_connection_id, explored, context):
    from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator

    op = CreateSourceConnectionOperator(task_id="source", base_connection_id=base_connection_id, table=explored)
    assert op.get_openlineage_facets_on_failure(None).inputs == []  # nothing known before execute
    op.execute(context)
    lineage = op.get_openlineage_facets_on_complete(None)
    assert lineage.outputs == []
    (table,) = lineage.inputs
    assert (table.namespace, table.name) == (f"aep-source://hubspot/{base_connection_id}", TABLE)
    fields = table.facets["schema"].fields
    assert [f.name for f in fields] == [c["name"] for c in explored["columns"]]
    assert all(f.type for f in fields)


@needs_openlineage
def test_dataflow_lineage_has_column_lineage(pipeline, context, emulator):
    from airflow_provider_aep.operators.flows import CreateDataflowOperator

    op = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=pipeline["source"],
        target_connection_id=pipeline["target"],
        delta_column="Updated_At",
        mapping_id=pipeline["mapping"],
    )
    assert op.execute(context) == pipeline["flow"]  # reused
    reads = len(_schema_reads(emulator))
    lineage = op.get_openlineage_facets_on_complete(None)
    assert len(_schema_reads(emulator)) == reads + 1  # the schema is read once, when OpenLineage asks
    (table,) = lineage.inputs
    assert (table.namespace, table.name) == (f"aep-source://hubspot/{pipeline['base']}", TABLE)
    (dataset,) = lineage.outputs
    assert set(dataset.facets["columnLineage"].fields) <= _leaf_names(dataset.facets["schema"].fields)
    assert (dataset.namespace, dataset.name) == (NAMESPACE, f"datasets/{pipeline['dataset']}")
    expected = {m.destination: m.source for m in attribute_mappings(_mapping_set(pipeline["mapping"]))}
    assert expected
    columns = dataset.facets["columnLineage"].fields
    assert {dest: [(f.namespace, f.name, f.field) for f in v.inputFields] for dest, v in columns.items()} == {
        dest: [(table.namespace, TABLE, source)] for dest, source in expected.items()
    }
    assert lineage.run_facets == {}


@needs_openlineage
def test_dataflow_lineage_without_a_readable_mapping_set_keeps_datasets(pipeline, context, emulator):
    from airflow_provider_aep.operators.flows import CreateDataflowOperator

    op = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=pipeline["source"],
        target_connection_id=pipeline["target"],
        delta_column="Updated_At",
        mapping_id=pipeline["mapping"],
        hand_over={"mapping_version": 0},
    )
    op.execute(context)
    op._lineage_flow["transformations"][-1]["params"]["mappingId"] = "0" * 32  # a mapping set that is gone
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [d.name for d in lineage.outputs] == [f"datasets/{pipeline['dataset']}"]
    assert "columnLineage" not in lineage.outputs[0].facets


@needs_openlineage
def test_sensor_lineage_from_the_run(pipeline):
    from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

    sensor = AEPFlowRunSensor(task_id="wait", run_id="run-1", poke_interval=0)
    assert sensor.get_openlineage_facets_on_complete(None).inputs == []  # no run seen: empty, no exception
    sensor._lineage_run = {"id": "run-1", "flow_id": pipeline["flow"], "output_records": 7, "output_bytes": 900}
    lineage = sensor.get_openlineage_facets_on_failure(None)
    assert [(t.namespace, t.name) for t in lineage.inputs] == [(f"aep-source://hubspot/{pipeline['base']}", TABLE)]
    (dataset,) = lineage.outputs
    assert (dataset.namespace, dataset.name) == (NAMESPACE, f"datasets/{pipeline['dataset']}")
    assert dataset.facets["columnLineage"].fields
    # the schema facet: every field of the dataset's resolved XDM schema, the mapping's destinations among them
    leaves = _leaf_names(dataset.facets["schema"].fields)
    assert set(dataset.facets["columnLineage"].fields) <= leaves
    assert any(not name.startswith("_") for name in leaves)  # the class's standard fields too
    stats = dataset.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (7, 900)
    assert lineage.run_facets["externalQuery"].externalQueryId == "run-1"
    assert lineage.run_facets["externalQuery"].source == NAMESPACE
    assert lineage.run_facets["aep_flow_run"].flowId == pipeline["flow"]


# --------------------------------------------------------------------------- without OpenLineage
def test_provider_imports_and_runs_without_openlineage(pipeline, explored, tmp_path):
    """Every openlineage module hidden: imports work, operators execute, the lineage methods return None."""
    (tmp_path / "explored.json").write_text(json.dumps(explored))
    code = HIDE_OPENLINEAGE + textwrap.dedent(
        f"""
        import importlib, json, pkgutil
        import airflow_provider_aep

        skipped = ("aep_emulator",)
        for mod in pkgutil.walk_packages(airflow_provider_aep.__path__, "airflow_provider_aep."):
            if not mod.name.startswith(skipped):
                importlib.import_module(mod.name)
        from airflow_provider_aep.get_provider_info import get_provider_info
        get_provider_info()

        from airflow_provider_aep.assets import convert_asset_to_openlineage, create_asset
        from airflow_provider_aep.lineage import build_operator_lineage
        from airflow_provider_aep.operators.flows import CreateDataflowOperator
        from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
        from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

        class TI:
            dag_id, run_id = "lineage", "manual__lineage"

            def xcom_push(self, key, value):
                pass

        ctx = {{"ti": TI()}}
        ids = {json.dumps(pipeline)!r}
        ids = json.loads(ids)
        explored = json.load(open({str(tmp_path / "explored.json")!r}))
        src = CreateSourceConnectionOperator(task_id="s", base_connection_id=ids["base"], table=explored)
        assert src.execute(ctx) == ids["source"]
        flow = CreateDataflowOperator(
            task_id="f", source_connection_ids=ids["source"], target_connection_id=ids["target"],
            delta_column="Updated_At", mapping_id=ids["mapping"],
        )
        assert flow.execute(ctx) == ids["flow"]
        sensor = AEPFlowRunSensor(task_id="w", flow_id=ids["flow"], poke_interval=0)
        sensor._lineage_run = {{"id": "run-1", "flow_id": ids["flow"]}}
        for op in (src, flow, sensor):
            assert op.get_openlineage_facets_on_complete(None) is None
            assert op.get_openlineage_facets_on_failure(None) is None
        assert build_operator_lineage() is None
        asset = create_asset(org_id="0123456789ABCDEF01234567@AdobeOrg", sandbox="prod", dataset_id=ids["dataset"])
        assert convert_asset_to_openlineage(asset) is None
        leaked = sorted(m for m in sys.modules if m.startswith(("openlineage", "airflow.providers.openlineage")))
        assert not leaked, leaked
        print("OK")
        """
    )
    assert "OK" in run_python(code).stdout


@needs_openlineage
def test_importing_the_provider_does_not_import_openlineage():
    code = textwrap.dedent(
        """
        import sys
        import airflow_provider_aep.operators.flows, airflow_provider_aep.operators.source_connections
        import airflow_provider_aep.sensors.runs, airflow_provider_aep.lineage, airflow_provider_aep.assets
        # Airflow's ProvidersManager itself imports the provider package's get_provider_info (metadata only).
        airflow_own = {"airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info"}
        prefixes = ("openlineage", "airflow.providers.openlineage")
        leaked = sorted(m for m in sys.modules if m.startswith(prefixes) and m not in airflow_own)
        assert not leaked, leaked
        print("OK")
        """
    )
    assert "OK" in run_python(code).stdout


# --------------------------------------------------------------------------- dag.test() with the file transport
LINEAGE_DAG = """
import json, os

from airflow.sdk import DAG

from airflow_provider_aep.operators.flows import CreateDataflowOperator
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

ids = json.loads(os.environ["AEP_LINEAGE_IDS"])
explored = json.loads(os.environ["AEP_LINEAGE_TABLE"])
with DAG(dag_id="aep_lineage", schedule=None) as dag:
    source = CreateSourceConnectionOperator(task_id="source", base_connection_id=ids["base"], table=explored)
    flow = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=source.output,
        target_connection_id=ids["target"],
        delta_column="Updated_At",
        mapping_id=ids["mapping"],
    )
    run = TriggerFlowRunOperator(task_id="run_flow", flow_id=flow.output)
    AEPFlowRunSensor(task_id="wait", run_id=run.output, poke_interval=0.2, timeout=60)
"""

RUN_LINEAGE_DAG = """
import sys

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.1
    from airflow.models.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag_run = bag.get_dag("aep_lineage").test()
print("STATE", dag_run.state)
"""


@needs_openlineage
def test_dag_run_emits_openlineage_events(pipeline, explored, emulator, airflow_db, tmp_path):
    emulator.control.configure(run_start_delay=0.3, run_duration=0.3)
    emulator.control.advance_clock(60)  # the flow's own first run has finished
    # Runs copy incrementally: rows changed since that first run make the DAG's run land something to count.
    emulator.control.touch_rows("Hubspot.Contacts", rows=5)
    events_file = tmp_path / "ol.jsonl"
    env = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "aep-ci",
        "AEP_LINEAGE_IDS": json.dumps(pipeline),
        "AEP_LINEAGE_TABLE": json.dumps(explored),
    }
    dag_file = tmp_path / "dags" / "aep_lineage.py"
    dag_file.parent.mkdir()
    dag_file.write_text(LINEAGE_DAG)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dag_file.parent)  # dag.test() serializes DAGs of the dags folder
    out = run_python(RUN_LINEAGE_DAG, env=env, args=[str(dag_file.parent)]).stdout
    assert "STATE success" in out, out[-3000:]

    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {
        e["job"]["name"].split(".", 1)[1]: e
        for e in events
        if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("aep_lineage.")
    }
    assert {"source", "flow", "run_flow", "wait"} <= set(complete), sorted(complete)
    assert all(e["job"]["namespace"] == "aep-ci" for e in complete.values())
    source_ns = f"aep-source://hubspot/{pipeline['base']}"
    dataset = (NAMESPACE, f"datasets/{pipeline['dataset']}")

    # source connection: the table, with the explored schema
    (table,) = complete["source"]["inputs"]
    assert (table["namespace"], table["name"]) == (source_ns, TABLE)
    assert [f["name"] for f in table["facets"]["schema"]["fields"]] == [c["name"] for c in explored["columns"]]
    assert complete["source"]["outputs"] == []

    # dataflow and run: table -> dataset, with column lineage from the mapping set
    expected = {m.destination: m.source for m in attribute_mappings(_mapping_set(pipeline["mapping"]))}
    for task in ("flow", "wait"):
        event = complete[task]
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [(source_ns, TABLE)]
        (out_ds,) = event["outputs"]
        assert (out_ds["namespace"], out_ds["name"]) == dataset
        lineage = out_ds["facets"]["columnLineage"]["fields"]
        assert {
            dest: [(f["namespace"], f["name"], f["field"]) for f in v["inputFields"]] for dest, v in lineage.items()
        } == {dest: [(source_ns, TABLE, src)] for dest, src in expected.items()}
        # every AEP output has the schema facet of its XDM schema: the mapped tenant fields, nested
        schema = out_ds["facets"]["schema"]["fields"]
        assert set(expected) <= _leaf_names(schema), task
        [tenant] = [f for f in schema if f["name"] == next(iter(expected)).split(".")[0]]  # _<tenant id>
        assert [f["name"] for f in tenant["fields"]] == ["hubspot"] and tenant["fields"][0]["fields"], task
        assert any(f["name"] == "_id" for f in schema), task  # the class's standard fields too

    # the run: its id as externalQuery and aep_flow_run, its metrics as output statistics
    wait = complete["wait"]
    run_id = wait["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert run_id and wait["run"]["facets"]["externalQuery"]["source"] == NAMESPACE
    assert wait["run"]["facets"]["aep_flow_run"]["runId"] == run_id
    assert wait["run"]["facets"]["aep_flow_run"]["flowId"] == pipeline["flow"]
    assert wait["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0
    run = emulator.control.state()
    assert any(r.get("id") == run_id for r in run.get("runs", [])), "externalQueryId is not an emulator run id"

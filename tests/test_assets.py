"""The ``aep`` asset URI scheme: canonical form, Airflow's normalisation through our handler, the factory,
the OpenLineage converter, and the run metrics an asset event carries."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings

import pytest

from airflow_provider_aep.assets import (
    convert_asset_to_openlineage,
    create_asset,
    dataset_asset,
    dataset_uri,
    parse_dataset_uri,
    run_event_extra,
    sanitize_uri,
)
from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.models import FlowRun
from airflow_provider_aep.get_provider_info import ASSET_URIS, get_provider_info
from tests.airflow_compat import DagBag, asset_providers_manager

ORG = "0123456789ABCDEF01234567@AdobeOrg"
DS = "5ed5639d798a22191b6987b2"
CANONICAL = f"aep://0123456789abcdef01234567/prod/datasets/{DS}"


# --------------------------------------------------------------------------- registration and discovery
def test_asset_uris_are_declared_in_provider_info() -> None:
    assert get_provider_info()["asset-uris"] == ASSET_URIS
    assert ASSET_URIS == [
        {
            "schemes": ["aep"],
            "handler": "airflow_provider_aep.assets.sanitize_uri",
            "factory": "airflow_provider_aep.assets.create_asset",
            "to_openlineage_converter": "airflow_provider_aep.assets.convert_asset_to_openlineage",
        }
    ]


def test_task_runtime_providers_manager_registers_the_scheme() -> None:
    """What ``Asset(uri=...)`` consults (``_get_uri_normalizer``): the task-runtime manager on Airflow 3.2+, the
    core one on 3.1."""
    manager = asset_providers_manager()
    assert manager.asset_uri_handlers["aep"] is sanitize_uri
    assert manager.asset_factories["aep"] is create_asset
    assert manager.asset_to_openlineage_converters["aep"] is convert_asset_to_openlineage


def test_core_providers_manager_registers_the_scheme() -> None:
    """What the API server, scheduler and OpenLineage's ``translate_airflow_asset`` use."""
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ProvidersManager.asset_uri_handlers is deprecated" (3.2+)
        manager = ProvidersManager()
        assert manager.asset_uri_handlers["aep"] is sanitize_uri
        assert manager.asset_factories["aep"] is create_asset
        assert manager.asset_to_openlineage_converters["aep"] is convert_asset_to_openlineage


def test_hook_lineage_factory_path_builds_our_asset() -> None:
    """The hook-lineage collector calls the factory by scheme with ``asset_kwargs``."""
    factory = asset_providers_manager().asset_factories["aep"]
    asset = factory(org_id=ORG, sandbox="prod", dataset_id=DS)
    assert (asset.name, asset.uri) == (CANONICAL, CANONICAL)


def test_module_is_cheap_to_import() -> None:
    """ProvidersManager imports it in every process that builds an aep:// asset."""
    code = (
        "import sys, airflow_provider_aep.assets; "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- Asset(uri=...) goes through our handler
@pytest.mark.parametrize(
    "raw",
    [
        CANONICAL,
        f"aep://0123456789ABCDEF01234567@AdobeOrg/prod/datasets/{DS}",  # the org id as the console shows it
        f"AEP://0123456789ABCDEF01234567/PROD/datasets/{DS.upper()}/",
        f"aep://0123456789abcdef01234567@ADOBEORG/prod/datasets/{DS}#fragment",
    ],
)
def test_airflow_normalises_through_the_handler(raw: str) -> None:
    from airflow.sdk import Asset

    asset = Asset(uri=raw)
    assert asset.uri == CANONICAL
    assert asset.normalized_uri == CANONICAL  # None for a scheme without a handler


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (f"aep:///prod/datasets/{DS}", "no IMS org id"),
        (f"aep://prod/datasets/{DS}", "is not /<sandbox>/datasets/<dataset_id>"),  # the org is missing
        ("aep://0123456789abcdef01234567/prod/datasets/x1", "not a Catalog dataset id"),
        (f"aep://0123456789abcdef01234567/prod/datasets/{DS}00", "not a Catalog dataset id"),
        (f"aep://0123456789abcdef01234567/prod/schemas/{DS}", "is not /<sandbox>/datasets/<dataset_id>"),
        (f"aep://0123456789abcdef01234567/prod/datasets/{DS}/batches", "is not /<sandbox>/datasets/<dataset_id>"),
        ("aep://0123456789abcdef01234567", "is not /<sandbox>/datasets/<dataset_id>"),
        (f"aep://0123456789abcdef01234567/Prod_1/datasets/{DS}", "not a sandbox name"),
        (f"aep://org-with-dash/prod/datasets/{DS}", "not an IMS org id"),
        (f"aep://someone@example.com/prod/datasets/{DS}", "not an IMS org id"),
        (f"aep://0123456789abcdef01234567:443/prod/datasets/{DS}", "without a port"),
        (f"aep://0123456789abcdef01234567/prod/datasets/{DS}?x=1", "takes no query"),
    ],
)
def test_malformed_uris_fail_when_the_asset_is_built(raw: str, reason: str) -> None:
    from airflow.sdk import Asset

    with pytest.raises(ValueError, match="aep asset") as err:
        Asset(uri=raw)
    assert reason in str(err.value)


def test_a_malformed_uri_is_a_dag_import_error(tmp_path) -> None:
    (tmp_path / "bad_asset.py").write_text(
        "from airflow.sdk import DAG, Asset\n"
        "with DAG(dag_id='bad_asset', schedule=[Asset(uri='aep://prod/datasets/oops')]):\n"
        "    pass\n"
    )
    bag = DagBag(dag_folder=str(tmp_path))
    assert "bad_asset" not in bag.dag_ids
    assert any("aep asset URI path" in error for error in bag.import_errors.values()), bag.import_errors


def test_other_schemes_are_untouched() -> None:
    from airflow.sdk import Asset

    assert Asset(uri="s3://Bucket/Key").uri == "s3://Bucket/Key"


def test_handler_is_idempotent() -> None:
    from urllib.parse import urlsplit, urlunsplit

    once = urlunsplit(sanitize_uri(urlsplit(f"aep://{ORG}/prod/datasets/{DS.upper()}")))
    assert once == CANONICAL
    assert urlunsplit(sanitize_uri(urlsplit(once))) == CANONICAL


# --------------------------------------------------------------------------- the factory and helper
def test_factory_sets_name_to_the_canonical_uri() -> None:
    """``Asset(uri=...)`` alone would keep the raw string as name: two assets for one dataset."""
    from airflow.sdk import Asset

    asset = create_asset(org_id=ORG, sandbox="PROD", dataset_id=DS.upper(), extra={"team": "crm"})
    assert (asset.name, asset.uri, asset.extra) == (CANONICAL, CANONICAL, {"team": "crm"})
    assert Asset(uri=f"aep://{ORG}/prod/datasets/{DS}").name != CANONICAL  # the gotcha the factory avoids
    assert create_asset(org_id=ORG.lower(), sandbox="prod", dataset_id=DS) == create_asset(
        org_id=ORG, sandbox="prod", dataset_id=DS
    )


def test_dataset_asset_from_settings_or_org() -> None:
    settings = AEPSettings(client_id="c", client_secret="s", org_id=ORG, sandbox_name="dev-1")
    assert dataset_asset(settings, None, DS).uri == f"aep://0123456789abcdef01234567/dev-1/datasets/{DS}"
    assert dataset_asset(settings, "prod", DS).uri == CANONICAL
    assert dataset_asset(ORG, "prod", DS).name == CANONICAL
    with pytest.raises(ValueError, match="give the sandbox name"):
        dataset_asset(ORG, None, DS)
    with pytest.raises(TypeError, match="IMS org id or AEPSettings"):
        dataset_asset(42, "prod", DS)


def test_uri_helpers_round_trip() -> None:
    assert dataset_uri(ORG, "prod", DS) == CANONICAL
    assert parse_dataset_uri(CANONICAL) == ("0123456789abcdef01234567", "prod", DS)
    with pytest.raises(ValueError, match="not an aep:// URI"):
        parse_dataset_uri(f"s3://x/prod/datasets/{DS}")


# --------------------------------------------------------------------------- OpenLineage converter
def test_converter_returns_none_without_openlineage(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the optional extra were not installed: every openlineage module, also ones imported earlier.
    for name in [m for m in sys.modules if m == "openlineage" or m.startswith("openlineage.")] + ["openlineage"]:
        monkeypatch.setitem(sys.modules, name, None)
    assert convert_asset_to_openlineage(create_asset(org_id=ORG, sandbox="prod", dataset_id=DS), None) is None


def test_converter_names_the_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    class Dataset:
        def __init__(self, namespace: str, name: str) -> None:
            self.namespace, self.name = namespace, name

    base = types.ModuleType("openlineage.client.generated.base")
    base.Dataset = Dataset  # type: ignore[attr-defined]
    for name in ("openlineage", "openlineage.client", "openlineage.client.generated"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "openlineage.client.generated.base", base)
    dataset = convert_asset_to_openlineage(create_asset(org_id=ORG, sandbox="prod", dataset_id=DS), None)
    assert (dataset.namespace, dataset.name) == ("aep://0123456789abcdef01234567/prod", f"datasets/{DS}")


# --------------------------------------------------------------------------- run metrics (FlowRun and the extra)
RUN_DOC = {
    "id": "run-1",
    "flowId": "flow-1",
    "createdAt": 1_700_000_000_000,
    "metrics": {
        "durationSummary": {"startedAtUTC": 1_700_000_000_000, "completedAtUTC": 1_700_000_055_500},
        "sizeSummary": {"inputBytes": 24012, "outputBytes": 17128},
        "recordSummary": {"inputRecordCount": 100, "outputRecordCount": 99, "failedRecordCount": 1},
        "statusSummary": {
            "status": "success",
            "errors": [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}],
        },
    },
    "activities": [
        {"id": "copyActivity", "sourceInfo": [{"id": "src-1", "type": "SourceConnection"}]},
        {
            "id": "promotionActivity",
            "statusSummary": {
                "status": "success",
                "extensions": {
                    "manifest": {"sampleErrors": "https://platform.adobe.io/x/row_error_samples.json"},
                    "errors": [{"code": "MAPPER-3700-400", "recordCount": 1, "message": "Mapper Transform Error"}],
                },
            },
            "targetInfo": [
                {"id": "tc-1", "type": "TargetConnection", "reference": {"type": "Batch", "ids": ["BATCH1"]}},
                {"id": "tc-2", "type": "TargetConnection", "reference": {"type": "Batch", "ids": ["BATCH2"]}},
            ],
        },
    ],
}


def test_flow_run_parses_bytes_duration_and_batches() -> None:
    run = FlowRun.from_api(RUN_DOC)
    assert (run.input_bytes, run.output_bytes, run.duration_ms) == (24012, 17128, 55_500)
    assert run.batch_id == "BATCH1"
    assert run.batches == {"tc-1": ["BATCH1"], "tc-2": ["BATCH2"]}


def test_flow_run_without_metrics_yet() -> None:
    run = FlowRun.from_api({"id": "r", "state": "scheduled", "metrics": {"statusSummary": {"status": "scheduled"}}})
    assert (run.input_bytes, run.output_bytes, run.duration_ms, run.batch_id, run.batches) == (
        None,
        None,
        None,
        None,
        {},
    )


def test_run_event_extra() -> None:
    import json

    summary = FlowRun.from_api(RUN_DOC).to_dict()
    extra = run_event_extra(summary, sandbox="prod", org_id=ORG, dataset_id=DS, target_connection_id="tc-2")
    assert extra == {
        "org_id": ORG,
        "sandbox": "prod",
        "dataset_id": DS,
        "flow_id": "flow-1",
        "run_id": "run-1",
        "status": "success",
        "records_read": 100,
        "records_written": 99,
        "records_failed": 1,
        "bytes_read": 24012,
        "bytes_written": 17128,
        "duration_seconds": 55.5,
        "started_at": "2023-11-14T22:13:20Z",
        "completed_at": "2023-11-14T22:14:15.500000Z",
        "batch_id": "BATCH2",  # the batch written through this dataset's target connection
        "error_codes": ["CONNECTOR-2001-500", "MAPPER-3700-400"],
        "sample_errors_url": "https://platform.adobe.io/x/row_error_samples.json",
    }
    assert json.loads(json.dumps(extra)) == extra
    assert run_event_extra(summary, sandbox="prod")["batch_id"] == "BATCH1"  # no target: the first batch


# --------------------------------------------------------------------------- the helpers any data-landing operator uses
def test_dataset_event_extra_has_the_run_events_keys() -> None:
    """A batch ingestion's event carries the same keys as a run's, unknown metrics as None."""
    from airflow_provider_aep.assets import dataset_event_extra

    extra = dataset_event_extra(
        org_id=ORG,
        sandbox="prod",
        dataset_id=DS,
        batch_id="BATCH9",
        records_written=7,
        records_failed=1,
        bytes_written=900,
        duration_seconds=2.5,
        error_codes=["X-2", "X-1", "X-2", None],
    )
    assert set(extra) == set(run_event_extra(FlowRun.from_api(RUN_DOC).to_dict(), sandbox="prod"))
    assert (extra["batch_id"], extra["records_written"], extra["records_failed"]) == ("BATCH9", 7, 1)
    assert (extra["bytes_written"], extra["duration_seconds"], extra["error_codes"]) == (900, 2.5, ["X-1", "X-2"])
    assert extra["flow_id"] is None and extra["run_id"] is None


def test_an_operator_declares_its_alias_and_emits_through_it() -> None:
    """What a batch-ingestion operator does: declare in ``__init__``, emit once its data landed."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, AssetAlias
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from airflow_provider_aep.asset_events import declare_dataset_events, default_asset_alias, emit_dataset_event
    from airflow_provider_aep.assets import dataset_event_extra

    with DAG("ingest", schedule=None):
        task = EmptyOperator(task_id="upload")
        alias = declare_dataset_events(task)
        quiet = EmptyOperator(task_id="quiet")
        named = EmptyOperator(task_id="named", outlets=[AssetAlias(name="mine")])
        static = EmptyOperator(task_id="static", outlets=[dataset_asset(ORG, "prod", DS)])
    assert alias == default_asset_alias("ingest", "upload") == "aep-datasets:ingest.upload"
    assert task.outlets == [AssetAlias(name=alias)]
    assert declare_dataset_events(task) == alias and len(task.outlets) == 1  # declared once
    assert declare_dataset_events(quiet, emit_asset_events=False) is None and quiet.outlets == []
    assert declare_dataset_events(named, asset_alias="mine") == "mine" and named.outlets == [AssetAlias(name="mine")]
    assert declare_dataset_events(static) is None  # the aep:// outlet gets its event from Airflow already

    events = OutletEventAccessors()
    extra = dataset_event_extra(org_id=ORG, sandbox="prod", dataset_id=DS, batch_id="B1", records_written=3)
    asset = emit_dataset_event({"outlet_events": events}, alias, extra)
    assert asset is not None and asset.uri == CANONICAL and asset.name == CANONICAL
    [event] = events[AssetAlias(name=alias)].asset_alias_events
    assert event.dest_asset_key.uri == CANONICAL and event.extra == extra
    assert emit_dataset_event({}, alias, extra) is None  # outside a task run: nothing, no error

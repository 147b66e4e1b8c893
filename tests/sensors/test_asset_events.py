"""AEPFlowRunSensor emits asset events on success: through an alias (dataset resolved at run time) or for
static outlets, with the run's metrics in the extra; nothing for failed runs or before a deferral."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest
import responses
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowException
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_aep.asset_events import default_asset_alias
from airflow_provider_aep.assets import dataset_asset
from airflow_provider_aep.client.models import FlowRun
from airflow_provider_aep.exceptions import AEPFlowRunFailedError, AEPInvalidArgumentError
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor
from tests.airflow_compat import TaskDeferred
from tests.conftest import AEP_CLIENT_SECRET, ORG_ID
from tests.operators.conftest import FS, IMS_TOKEN

ALIAS = "aep-hubspot-contacts"
DS = "5ed5639d798a22191b6987b2"
DS2 = "6ed5639d798a22191b6987b3"
URI = f"aep://0123456789abcdef01234567/prod/datasets/{DS}"


def run_doc(status: str = "success", *, failed: int = 0, targets=("tc-1",)) -> dict:
    errors = [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}] if failed else []
    return {
        "id": "run-1",
        "flowId": "flow-1",
        "createdAt": 1_700_000_000_000,
        "metrics": {
            "durationSummary": {"startedAtUTC": 1_700_000_000_000, "completedAtUTC": 1_700_000_042_000},
            "sizeSummary": {"inputBytes": 2000, "outputBytes": 1500},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 10 - failed, "failedRecordCount": failed},
            "statusSummary": {"status": status, "errors": errors},
        },
        "activities": [
            {
                "id": "promotionActivity",
                "targetInfo": [
                    {"id": t, "type": "TargetConnection", "reference": {"type": "Batch", "ids": [f"BATCH-{t}"]}}
                    for t in targets
                ],
            }
        ],
    }


def stub_run(http, doc: dict) -> None:
    http.add(responses.GET, FS + "/runs/run-1", json={"items": [doc]})


def stub_targets(http, datasets: dict[str, str | None], flow_id: str = "flow-1") -> None:
    flow = {"id": flow_id, "targetConnectionIds": [*datasets]}
    http.add(responses.GET, f"{FS}/flows/{flow_id}", json={"items": [flow]})
    for target, dataset in datasets.items():
        params = {"dataSetId": dataset} if dataset else {}
        http.add(responses.GET, f"{FS}/targetConnections/{target}", json={"items": [{"id": target, "params": params}]})


def sensor(**kwargs) -> AEPFlowRunSensor:
    kwargs.setdefault("run_id", "run-1")
    kwargs.setdefault("poke_interval", 0)
    kwargs.setdefault("deferrable", False)
    return AEPFlowRunSensor(task_id="wait", **kwargs)


@pytest.fixture
def events(context) -> OutletEventAccessors:
    """What the task runner puts in ``context["outlet_events"]`` and sends to the API server on success."""
    context["outlet_events"] = OutletEventAccessors()
    return context["outlet_events"]


def alias_events(events: OutletEventAccessors, alias: str = ALIAS) -> list:
    return events[AssetAlias(name=alias)].asset_alias_events


def serialized(events: OutletEventAccessors) -> list[dict]:
    """The outlet events as the task runner sends them (``_serialize_outlet_events``): JSON, no secrets."""
    from airflow.sdk.execution_time.task_runner import _serialize_outlet_events

    sent = list(_serialize_outlet_events(events))
    text = json.dumps(sent)
    assert AEP_CLIENT_SECRET not in text and IMS_TOKEN not in text
    return sent


# --------------------------------------------------------------------------- arguments
def test_asset_alias_becomes_an_outlet_once():
    op = sensor(asset_alias=ALIAS)
    assert op.outlets == [AssetAlias(name=ALIAS)]  # Airflow drops alias events for an alias not in outlets
    static = dataset_asset(ORG_ID, "prod", DS)
    op = sensor(asset_alias=ALIAS, outlets=[static, AssetAlias(name=ALIAS)])
    assert op.outlets == [static, AssetAlias(name=ALIAS)]
    # Without an alias the sensor declares its own (asset events are on by default), unless told not to or an
    # aep:// outlet already names the dataset.
    assert sensor().outlets == [AssetAlias(name=default_asset_alias(sensor().dag_id, "wait"))]
    assert sensor(emit_asset_events=False).outlets == []
    assert sensor(outlets=[static]).outlets == [static]
    with pytest.raises(AEPInvalidArgumentError, match="'asset_alias' is given with emit_asset_events=False"):
        sensor(asset_alias=ALIAS, emit_asset_events=False)


@pytest.mark.parametrize("bad", ["", "  ", 5])
def test_asset_alias_must_be_a_name(bad):
    with pytest.raises(AEPInvalidArgumentError, match="'asset_alias'"):
        sensor(asset_alias=bad)


# --------------------------------------------------------------------------- alias: the dataset is resolved at run time
def test_alias_event_for_the_runs_target_dataset(aep_http, context, events):
    stub_run(aep_http, run_doc())
    stub_targets(aep_http, {"tc-1": DS})
    result = sensor(asset_alias=ALIAS).poke(context).xcom_value
    [event] = alias_events(events)
    assert (event.dest_asset_key.name, event.dest_asset_key.uri) == (URI, URI)
    assert event.source_alias_name == ALIAS
    assert event.extra == {
        "org_id": ORG_ID,
        "sandbox": "prod",
        "dataset_id": DS,
        "flow_id": "flow-1",
        "run_id": "run-1",
        "status": "success",
        "records_read": 10,
        "records_written": 10,
        "records_failed": 0,
        "bytes_read": 2000,
        "bytes_written": 1500,
        "duration_seconds": 42.0,
        "started_at": "2023-11-14T22:13:20Z",
        "completed_at": "2023-11-14T22:14:02Z",
        "batch_id": "BATCH-tc-1",
        "error_codes": [],
        "sample_errors_url": None,
    }
    assert (result["input_bytes"], result["output_bytes"], result["duration_ms"]) == (2000, 1500, 42_000)
    assert result["batch_id"] == "BATCH-tc-1"
    [sent] = serialized(events)
    assert sent["source_alias_name"] == ALIAS and sent["dest_asset_key"] == {"name": URI, "uri": URI}


def test_alias_event_per_dataset_of_a_flow_with_two_targets(aep_http, context, events):
    stub_run(aep_http, run_doc(targets=("tc-1", "tc-2", "tc-3")))
    stub_targets(aep_http, {"tc-1": DS, "tc-2": DS2, "tc-3": None})  # tc-3: not a dataset target
    sensor(asset_alias=ALIAS).poke(context)
    got = {e.dest_asset_key.uri.rsplit("/", 1)[1]: e.extra["batch_id"] for e in alias_events(events)}
    assert got == {DS: "BATCH-tc-1", DS2: "BATCH-tc-2"}


def test_flow_without_a_dataset_target_fails_the_task(aep_http, context, events):
    stub_run(aep_http, run_doc())
    stub_targets(aep_http, {"tc-1": None})
    with pytest.raises(AirflowException, match=r"flow flow-1 has no target connection with a params.dataSetId"):
        sensor(asset_alias=ALIAS).poke(context)
    assert alias_events(events) == []


def test_partial_run_accepted_by_the_policy_emits_with_failed_records(aep_http, context, events):
    stub_run(aep_http, run_doc(failed=3))
    stub_targets(aep_http, {"tc-1": DS})
    sensor(asset_alias=ALIAS, failed_records_policy="warn").poke(context)
    [event] = alias_events(events)
    assert (event.extra["records_failed"], event.extra["records_written"]) == (3, 7)
    assert event.extra["error_codes"] == ["CONNECTOR-2001-500"]


def test_partial_run_rejected_by_the_policy_emits_nothing(aep_http, context, events):
    stub_run(aep_http, run_doc(failed=3))
    with pytest.raises(AEPFlowRunFailedError):
        sensor(asset_alias=ALIAS, failed_records_policy="fail").poke(context)
    assert alias_events(events) == []


def test_failed_run_emits_nothing(aep_http, context, events):
    stub_run(aep_http, run_doc("failed"))
    with pytest.raises(AEPFlowRunFailedError):
        sensor(asset_alias=ALIAS, outlets=[dataset_asset(ORG_ID, "prod", DS)]).poke(context)
    assert alias_events(events) == [] and events[dataset_asset(ORG_ID, "prod", DS)].extra == {}


def test_running_run_emits_nothing_yet(aep_http, context, events):
    stub_run(aep_http, run_doc("inProgress"))
    assert sensor(asset_alias=ALIAS).poke(context) is False
    assert len(events) == 0


# --------------------------------------------------------------------------- static outlets
def test_static_outlet_extra_carries_the_metrics_without_resolving(aep_http, context, events):
    """No flow or target-connection request: a static outlet already names its dataset."""
    stub_run(aep_http, run_doc())
    asset = dataset_asset(ORG_ID, "prod", DS)
    ready = Asset(name="hubspot_contacts_ready")
    sensor(outlets=[asset, ready]).poke(context)
    assert events[asset].extra["dataset_id"] == DS
    assert events[asset].extra["records_written"] == 10 and events[asset].extra["batch_id"] == "BATCH-tc-1"
    assert events[ready].extra["run_id"] == "run-1" and events[ready].extra["dataset_id"] is None
    assert [call.request.url.split("?")[0].rsplit("/", 2)[-2] for call in aep_http.calls[1:]] == ["runs"]


def test_no_outlet_events_in_the_context_only_warns(aep_http, context):
    stub_run(aep_http, run_doc())
    op = sensor(asset_alias=ALIAS)
    with mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log:
        assert op.poke(context).xcom_value["id"] == "run-1"
    assert "No outlet_events" in log.return_value.warning.call_args.args[0]


# --------------------------------------------------------------------------- deferred: events only in execute_complete
def test_deferral_adds_nothing_and_keeps_trigger_kwargs_json_safe(aep_http, context, events):
    stub_run(aep_http, run_doc("inProgress"))
    with pytest.raises(TaskDeferred) as deferred:
        sensor(asset_alias=ALIAS, deferrable=True, outlets=[dataset_asset(ORG_ID, "prod", DS)]).execute(context)
    assert len(events) == 0  # no accessor touched: no alias event, no static extra
    _, kwargs = deferred.value.trigger.serialize()
    text = json.dumps(kwargs)  # JSON-safe
    assert set(kwargs) == {
        "aep_conn_id",
        "flow_id",
        "run_id",
        "poll_interval",
        "deadline",
        "failed_records_policy",
        "not_before",
    }  # nothing about assets: the worker resolves them after the trigger
    assert AEP_CLIENT_SECRET not in text and IMS_TOKEN not in text and ORG_ID not in text


def test_execute_complete_emits_from_the_trigger_event(aep_http, context, events):
    stub_targets(aep_http, {"tc-1": DS})
    summary = json.loads(json.dumps(FlowRun.from_api(run_doc()).to_dict()))  # as it crosses the triggerer
    result = sensor(asset_alias=ALIAS, deferrable=True).execute_complete(
        context, {"status": "success", "run": summary, "message": "ok"}
    )
    assert result == summary
    [event] = alias_events(events)
    assert event.dest_asset_key.uri == URI and event.extra["batch_id"] == "BATCH-tc-1"
    assert event.extra["duration_seconds"] == 42.0


# --------------------------------------------------------------------------- against the emulator
def test_emulator_deferred_round_trip_emits_for_the_pipelines_dataset(emulator, context, pipeline, events):
    from airflow_provider_aep.operators.runs import TriggerFlowRunOperator

    emulator.control.configure(run_start_delay=0.2, run_duration=0.2)
    emulator.control.advance_clock(60)
    emulator.control.touch_rows("Hubspot.Contacts", 3)  # the flow's own first run copied the rest already
    run_id = TriggerFlowRunOperator(task_id="t", flow_id=pipeline["flow"]).execute(context)
    op = sensor(run_id=run_id, asset_alias=ALIAS, deferrable=True, poke_interval=0.05, timeout=30)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    payload = asyncio.run(anext(deferred.value.trigger.run())).payload
    result = op.execute_complete(context, payload)
    [event] = alias_events(events)
    assert event.dest_asset_key.uri == f"aep://0123456789abcdef01234567/prod/datasets/{pipeline['dataset']}"
    extra = event.extra
    assert (extra["run_id"], extra["flow_id"], extra["dataset_id"]) == (run_id, pipeline["flow"], pipeline["dataset"])
    assert extra["records_written"] == result["output_records"] > 0 and extra["records_failed"] == 0
    assert extra["bytes_read"] > 0 and extra["bytes_written"] > 0 and extra["duration_seconds"] > 0
    assert extra["batch_id"] and extra["batch_id"] == result["batches"][pipeline["target"]][0]
    serialized(events)


def test_default_alias_emits_for_the_runs_dataset(aep_http, context, events):
    """No ``asset_alias``: the sensor's own alias carries the dataset's event."""
    stub_run(aep_http, run_doc())
    stub_targets(aep_http, {"tc-1": DS})
    op = sensor()
    op.poke(context)
    [event] = alias_events(events, op.asset_alias)
    assert op.asset_alias == default_asset_alias(op.dag_id, "wait")
    assert event.dest_asset_key.uri == URI and event.extra["batch_id"] == "BATCH-tc-1"


def test_default_alias_without_a_dataset_target_only_warns(aep_http, context, events):
    """A flow writing no dataset (another kind of target) announces nothing instead of failing the task, as a
    named alias would."""
    stub_run(aep_http, run_doc())
    stub_targets(aep_http, {"tc-1": None})
    op = sensor()
    assert op.poke(context).xcom_value["id"] == "run-1"
    assert alias_events(events, op.asset_alias) == []


@pytest.mark.parametrize("named", [False, True])
def test_a_flow_deleted_after_its_run_fails_only_a_named_alias(aep_http, context, events, named):
    """The run succeeded, then its flow was deleted (a concurrent DAG run's teardown): the default alias announces
    nothing and the task succeeds; a named alias, which the user asked to resolve, fails."""
    stub_run(aep_http, run_doc())
    aep_http.add(
        responses.GET, f"{FS}/flows/flow-1", status=404, json={"code": "FLOW-1439-404", "message": "not found"}
    )
    op = sensor(asset_alias=ALIAS) if named else sensor()
    if named:
        with pytest.raises(Exception, match="404"):
            op.poke(context)
        return
    assert op.poke(context).xcom_value["id"] == "run-1"
    assert alias_events(events, op.asset_alias) == []

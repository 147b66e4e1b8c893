"""AEPFlowRunTrigger: serialisation, one event per outcome, errors as events; respx and the emulator."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import respx

from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger
from tests.conftest import AEP_CLIENT_SECRET

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
IMS_HOST = "https://ims-na1.adobelogin.com"


def run_doc(status: str, *, run_id: str = "run-1", flow_id: str = "flow-1", failed: int = 0, errors=()) -> dict:
    return {
        "id": run_id,
        "flowId": flow_id,
        "createdAt": 1,
        "metrics": {
            "statusSummary": {"status": status, "errors": list(errors)},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 10 - failed, "failedRecordCount": failed},
        },
    }


def make(**kwargs) -> AEPFlowRunTrigger:
    kwargs.setdefault("run_id", "run-1")
    kwargs.setdefault("poll_interval", 0)
    return AEPFlowRunTrigger(aep_conn_id="aep_default", **kwargs)


async def events(trigger: AEPFlowRunTrigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


@pytest.fixture
def aep(connections):
    connections(PLATFORM, ims_url=IMS_HOST)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(IMS_HOST + "/ims/token/v3").respond(json={"access_token": "trigger-token-xxxx", "expires_in": 86399})
        yield mock


def test_serialize_round_trip_is_json_safe():
    trigger = AEPFlowRunTrigger(
        aep_conn_id="aep_x",
        flow_id="flow-1",
        run_id="run-1",
        poll_interval=30,
        deadline=1.7e9,
        failed_records_policy="fail",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_aep.triggers.runs.AEPFlowRunTrigger"
    assert kwargs == {
        "aep_conn_id": "aep_x",
        "flow_id": "flow-1",
        "run_id": "run-1",
        "poll_interval": 30.0,
        "deadline": 1.7e9,
        "failed_records_policy": "fail",
        "not_before": None,
    }
    assert AEPFlowRunTrigger(**json.loads(json.dumps(kwargs))).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"run_id": None}, "flow_id or a run_id"), ({"failed_records_policy": "maybe"}, "failed_records_policy")],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


async def test_success_after_polling_yields_exactly_one_event(aep):
    route = aep.get(FS + "/runs/run-1").mock(
        side_effect=[
            httpx.Response(200, json={"items": [run_doc("scheduled")]}),
            httpx.Response(200, json={"items": [run_doc("inProgress")]}),
            httpx.Response(200, json={"items": [run_doc("SUCCESS")]}),
        ]
    )
    [event] = await events(make())
    assert event["status"] == "success"
    assert event["run"]["id"] == "run-1" and event["run"]["output_records"] == 10
    assert "10 records ingested" in event["message"]
    assert route.call_count == 3
    json.dumps(event)


async def test_failed_run_carries_the_error_codes(aep):
    errors = [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}]
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("failed", errors=errors)]})
    [event] = await events(make())
    assert event["status"] == "failed"
    assert "CONNECTOR-2001-500: Error occurred at promotion activity." in event["message"]
    assert event["run"]["errors"] == errors


@pytest.mark.parametrize(("policy", "status"), [("ignore", "success"), ("warn", "success"), ("fail", "failed")])
async def test_failed_records_policy(aep, policy, status):
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("success", failed=2)]})
    [event] = await events(make(failed_records_policy=policy))
    assert event["status"] == status
    assert event["run"]["failed_records"] == 2


async def test_latest_run_of_a_flow_waits_for_the_first_run(aep):
    route = aep.get(FS + "/runs").mock(
        side_effect=[
            httpx.Response(200, json={"items": [], "_links": {}}),
            httpx.Response(200, json={"items": [run_doc("success", run_id="run-7")], "_links": {}}),
        ]
    )
    [event] = await events(make(run_id=None, flow_id="flow-1"))
    assert (event["status"], event["run"]["id"]) == ("success", "run-7")
    assert route.calls.last.request.url.params["property"] == "flowId==flow-1"


async def test_deadline_gives_a_timeout_event(aep):
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("inProgress")]})
    [event] = await events(make(deadline=time.time() - 1))
    assert event["status"] == "timeout"
    assert "still inProgress" in event["message"]
    assert event["run"]["status"] == "inProgress"


async def test_waiting_does_not_block_the_event_loop(aep):
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("inProgress")]})
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    background = asyncio.create_task(ticker())
    [event] = await events(make(poll_interval=0.05, deadline=time.time() + 0.3))
    background.cancel()
    assert event["status"] == "timeout"
    assert ticks >= 5  # the loop kept running while the trigger waited


async def test_api_errors_become_an_error_event_without_secrets(aep):
    body = {"title": "Resource not found", "detail": f"no run-1 for secret {AEP_CLIENT_SECRET}", "status": 404}
    aep.get(FS + "/runs/run-1").respond(404, json=body)
    [event] = await events(make())
    assert event["status"] == "error"
    assert "AEPNotFoundError" in event["message"] and "HTTP 404" in event["message"]
    assert AEP_CLIENT_SECRET not in event["message"]


async def test_an_unknown_status_is_an_error_not_a_hang(aep):
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("mystery")]})
    [event] = await events(make())
    assert event["status"] == "error" and "mystery" in event["message"]


async def test_a_run_of_another_flow_is_an_error(aep):
    aep.get(FS + "/runs/run-1").respond(json={"items": [run_doc("success", flow_id="flow-9")]})
    [event] = await events(make(flow_id="flow-1"))
    assert event["status"] == "error" and "flow-9" in event["message"]


async def test_missing_connection_is_an_error_event(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_AEP_DEFAULT", raising=False)
    [event] = await events(make())
    assert event["status"] == "error" and "aep_default" in event["message"]


async def test_cleanup_cancels_nothing(aep):
    await make().cleanup()
    assert not aep.calls


# --------------------------------------------------------------------------- against the emulator
async def test_emulator_success_and_failure(emulator, pipeline):
    from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
    from tests.operators.conftest import RecordingTI

    emulator.control.configure(run_start_delay=0.05, run_duration=0.1)
    emulator.control.advance_clock(60)  # finish the flow's own scheduled run
    context = {"ti": RecordingTI()}
    run_id = TriggerFlowRunOperator(task_id="t", flow_id=pipeline["flow"]).execute(context)
    [event] = await events(make(run_id=run_id, flow_id=pipeline["flow"], poll_interval=0.05, deadline=time.time() + 20))
    assert (event["status"], event["run"]["id"]) == ("success", run_id)

    emulator.control.set_run_outcome(outcome="failed", flow_id=pipeline["flow"])
    failing = TriggerFlowRunOperator(task_id="t", flow_id=pipeline["flow"]).execute(context)
    [event] = await events(make(run_id=None, flow_id=pipeline["flow"], poll_interval=0.05, deadline=time.time() + 20))
    assert (event["status"], event["run"]["id"]) == ("failed", failing)
    assert event["run"]["errors"] and event["run"]["errors"][0]["code"] in event["message"]


def test_progress_is_logged_on_every_status_change_and_otherwise_at_most_once_a_minute(monkeypatch):
    from unittest import mock

    from airflow_provider_aep.client.models import FlowRun
    from airflow_provider_aep.triggers import runs as trigger_module

    clock = {"now": 1000.0}
    monkeypatch.setattr(trigger_module.time, "monotonic", lambda: clock["now"])
    log = mock.Mock()
    progress = trigger_module.Progress(started=1000.0)

    def poll(status: str, after: float, records: int | None = None) -> None:
        clock["now"] = 1000.0 + after
        progress.report(log, FlowRun(id="run-1", flow_id="f", status=status, phase="running", output_records=records))

    poll("scheduled", 0)
    poll("scheduled", 5)  # nothing new: no line
    poll("inProgress", 10)  # a change: a line
    for second in range(11, 70):
        poll("inProgress", second)  # one poll a second for a minute: no flood
    poll("inProgress", 71, records=40)  # a minute since the last line
    lines = [call.args[0] % call.args[1:] for call in log.info.call_args_list]
    assert lines == [
        "AEP run run-1 is scheduled after 0m00s",
        "AEP run run-1 is inProgress after 0m10s",
        "AEP run run-1 is inProgress after 1m11s, 40 records so far",
    ]


def test_a_finished_run_is_reported_as_ended_not_so_far(monkeypatch):
    from unittest import mock

    from airflow_provider_aep.client.models import FlowRun
    from airflow_provider_aep.triggers import runs as trigger_module

    monkeypatch.setattr(trigger_module.time, "monotonic", lambda: 1004.0)
    log = mock.Mock()
    run = FlowRun(id="run-1", flow_id="f", status="success", phase="success", output_records=10)
    trigger_module.Progress(started=1000.0).report(log, run)
    [call] = log.info.call_args_list
    assert call.args[0] % call.args[1:] == "AEP run run-1 ended success after 0m04s, 10 records"


def test_polls_keep_to_a_fixed_grid_and_skip_missed_ticks():
    from airflow_provider_aep.triggers.polling import next_poll_at

    assert next_poll_at(100.0, 2.0, now=100.4) == 102.0  # a 0.4 s answer does not delay the next poll
    assert next_poll_at(102.0, 2.0, now=103.9) == 104.0
    assert next_poll_at(104.0, 2.0, now=109.0) == 110.0  # answered after two ticks: they are skipped
    assert next_poll_at(5.0, 0.0, now=7.0) == 5.0  # no interval: poll again at once


# --------------------------------------------------------------------------- the shared loop's hooks
async def test_a_timeout_before_any_run_says_so_and_carries_no_run(aep):
    aep.get(FS + "/runs").respond(json={"items": [], "_links": {}})
    [event] = await events(make(run_id=None, flow_id="flow-1", deadline=time.time() - 1))
    message = "Timed out waiting for the AEP run: no run has started"
    assert event == {"status": "timeout", "run": None, "message": message}


async def test_an_error_after_a_poll_carries_the_last_run_seen(aep):
    aep.get(FS + "/runs/run-1").mock(
        side_effect=[
            httpx.Response(200, json={"items": [run_doc("inProgress")]}),
            httpx.Response(404, json={"title": "Resource not found", "status": 404}),
        ]
    )
    [event] = await events(make())
    assert event["status"] == "error" and "HTTP 404" in event["message"]
    assert (event["run"]["id"], event["run"]["status"]) == ("run-1", "inProgress")


async def test_progress_and_the_last_line_keep_their_wording(aep):
    from unittest import mock

    aep.get(FS + "/runs/run-1").mock(
        side_effect=[
            httpx.Response(200, json={"items": [run_doc("inProgress")]}),
            httpx.Response(200, json={"items": [run_doc("success")]}),
        ]
    )
    trigger = make()
    trigger._log = mock.Mock()  # the logger LoggingMixin.log hands out
    [event] = await events(trigger)
    lines = [call.args[0] % call.args[1:] for call in trigger._log.info.call_args_list]
    assert [line.split(" after ")[0] for line in lines] == [
        "AEP run run-1 is inProgress",
        "AEP run run-1 ended success",
        f"AEP run watch ended: {event['message']}",
    ]

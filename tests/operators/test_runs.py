"""TriggerFlowRunOperator: run params, the three documented response shapes, duplicate-run protection."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import responses

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from tests.conftest import optional_stub

from .conftest import FS, sent_bodies

ONCE_FLOW = {"id": "flow-1", "scheduleParams": {"startTime": 1, "frequency": "once"}}
RUNNING = {"id": "run-0", "flowId": "flow-1", "createdAt": 5, "metrics": {"statusSummary": {"status": "inProgress"}}}
DONE = {"id": "run-0", "flowId": "flow-1", "createdAt": 5, "metrics": {"statusSummary": {"status": "success"}}}


def trigger(**kwargs) -> TriggerFlowRunOperator:
    kwargs.setdefault("flow_id", "flow-1")
    return TriggerFlowRunOperator(task_id="run", **kwargs)


@pytest.fixture
def once_flow(aep_http):
    aep_http.add(responses.GET, FS + "/flows/flow-1", json={"items": [ONCE_FLOW]})
    return aep_http


@pytest.mark.parametrize(
    "response",
    [
        {"id": "run-1", "etag": '"e"'},  # the spec
        {"items": [{"id": "run-1", "etag": '"e"'}]},  # the on-demand ingestion doc
        {"id": "run-1", "flowId": "flow-1", "metrics": {"statusSummary": {"status": "scheduled"}}},  # older doc
    ],
)
def test_every_documented_response_shape_gives_the_run_id(once_flow, context, response):
    once_flow.add(responses.GET, FS + "/runs", json={"items": [DONE], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", json=response, status=201)
    assert trigger().execute(context) == "run-1"
    assert context["ti"].xcoms["aep_flow_run"]["id"] == "run-1"
    assert context["ti"].xcoms["aep_flow_run"]["flow_id"] == "flow-1"


def test_run_body(once_flow, context):
    once_flow.add(responses.GET, FS + "/runs", json={"items": [], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", json={"id": "run-1"}, status=201)
    trigger(
        start_time=1663735590,
        window_start_time="1651584991",  # as a non-native template renders it
        window_end_time=datetime(2022, 5, 3, 14, 0, tzinfo=timezone.utc),
        delta_column="DOB",
    ).execute(context)
    assert sent_bodies(once_flow, "POST", "/runs") == [
        {
            "flowId": "flow-1",
            "params": {
                "startTime": 1663735590,
                "windowStartTime": 1651584991,
                "windowEndTime": 1651586400,
                "deltaColumn": {"name": "DOB"},
            },
        }
    ]


def test_start_time_defaults_to_now():
    assert trigger().build_params(now=1_700_000_000.7) == {"startTime": 1_700_000_000}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"start_time": "soon"}, "start_time"),
        ({"start_time": 1663735590000}, "start_time"),
        ({"window_start_time": 20, "window_end_time": 10}, "window_start_time"),
        ({"delta_column": {"col": "x"}}, "delta_column"),
    ],
)
def test_invalid_params_fail_before_any_request(aep_http, context, kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        trigger(**kwargs).execute(context)
    assert err.value.argument == argument
    assert not aep_http.calls


def test_only_once_flows_can_run_on_demand(aep_http, context):
    hourly = {"id": "flow-1", "scheduleParams": {"startTime": 1, "frequency": "hour", "interval": 1}}
    aep_http.add(responses.GET, FS + "/flows/flow-1", json={"items": [hourly]})
    with pytest.raises(AEPInvalidArgumentError, match=r"'hour'.*'once'"):
        trigger().execute(context)
    assert not sent_bodies(aep_http, "POST", "/runs")


def test_an_active_run_is_returned_instead_of_starting_another(once_flow, context):
    from unittest import mock

    once_flow.add(responses.GET, FS + "/runs", json={"items": [RUNNING], "_links": {}})
    task = trigger()
    with mock.patch.object(type(task), "log") as log:
        assert task.execute(context) == "run-0"
    assert not sent_bodies(once_flow, "POST", "/runs")
    messages = [call.args[0] % call.args[1:] for call in log.info.call_args_list]
    assert any("the dataflow's own first run, started by its 'once' schedule" in m for m in messages), messages


def test_an_active_run_with_the_same_window_is_adopted(once_flow, context):
    windowed = {**RUNNING, "params": {"startTime": 1, "windowStartTime": 100, "windowEndTime": 200}}
    once_flow.add(responses.GET, FS + "/runs", json={"items": [windowed], "_links": {}})
    assert trigger(window_start_time=100, window_end_time=200).execute(context) == "run-0"
    assert not sent_bodies(once_flow, "POST", "/runs")


@pytest.mark.parametrize(
    ("run_params", "kwargs"),
    [
        ({}, {"window_start_time": 100, "window_end_time": 200}),  # the scheduled first run has no window
        ({"windowStartTime": 100, "windowEndTime": 150}, {"window_start_time": 100, "window_end_time": 200}),
        ({"deltaColumn": {"name": "Created_At"}}, {"delta_column": "Updated_At"}),
    ],
)
def test_an_active_run_for_other_parameters_is_not_adopted(once_flow, context, run_params, kwargs):
    other = {**RUNNING, "params": run_params}
    once_flow.add(responses.GET, FS + "/runs", json={"items": [other], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", json={"id": "run-1"}, status=201)
    assert trigger(**kwargs).execute(context) == "run-1"
    assert len(sent_bodies(once_flow, "POST", "/runs")) == 1


def test_reuse_active_run_can_be_turned_off(once_flow, context):
    once_flow.add(responses.GET, FS + "/runs", json={"items": [RUNNING], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", json={"id": "run-1"}, status=201)
    assert trigger(reuse_active_run=False).execute(context) == "run-1"
    assert len(sent_bodies(once_flow, "POST", "/runs")) == 1


def test_a_run_whose_answer_was_lost_is_found_not_started_twice(once_flow, context):
    import requests

    once_flow.add(responses.GET, FS + "/runs", json={"items": [DONE], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", status=502, json={"title": "Bad Gateway"})
    new_run = {"id": "run-9", "flowId": "flow-1", "createdAt": 9, "metrics": {"statusSummary": {"status": "scheduled"}}}
    once_flow.add(responses.GET, FS + "/runs", json={"items": [new_run], "_links": {}})
    optional_stub(once_flow.add(responses.POST, FS + "/runs", body=requests.ConnectionError("must not be re-sent")))
    assert trigger().execute(context) == "run-9"
    assert len(sent_bodies(once_flow, "POST", "/runs")) == 1


# --------------------------------------------------------------------------- against the emulator
def test_emulator_on_demand_runs(emulator, context, pipeline):
    first = trigger(flow_id=pipeline["flow"]).execute(context)
    assert trigger(flow_id=pipeline["flow"]).execute(context) == first  # still scheduled/in progress
    emulator.control.advance_clock(60)
    second = trigger(flow_id=pipeline["flow"]).execute(context)
    assert second != first
    runs = {r["id"] for r in emulator.control.state()["runs"] if r["flowId"] == pipeline["flow"]}
    assert {first, second} <= runs


def test_emulator_dropped_run_create_is_reconciled(emulator, context, pipeline):
    emulator.control.advance_clock(60)  # let the flow's own 'once' run finish
    emulator.control.add_fault(method="POST", path=".*/runs", count=1, action="commit_then_drop")
    run_id = trigger(flow_id=pipeline["flow"]).execute(context)
    posts = emulator.control.journal(method="POST", path=".*/runs")
    assert len(posts) == 1
    on_demand = [r for r in emulator.control.state()["runs"] if r["flowId"] == pipeline["flow"] and r.get("params")]
    assert [r["id"] for r in on_demand] == [run_id]


def test_emulator_rejects_nothing_we_send(emulator, context, pipeline):
    emulator.control.advance_clock(60)  # let the flow's own 'once' run finish
    run_id = trigger(flow_id=pipeline["flow"], window_start_time=0, window_end_time=1_700_000_000).execute(context)
    posts = emulator.control.journal(method="POST", path=".*/runs")
    assert [entry["status"] for entry in posts] == [201]
    assert posts[0]["body"]["params"]["windowEndTime"] == 1_700_000_000
    assert run_id in {r["id"] for r in emulator.control.state()["runs"]}


def test_a_dataflow_created_by_this_dag_run_adopts_its_own_finished_first_run(once_flow, context):
    """A new ``once`` flow has already ingested by itself; starting another run would land the data twice."""
    once_flow.add(responses.GET, FS + "/runs", json={"items": [DONE], "_links": {}})
    assert trigger(adopt_first_run="True").execute(context) == "run-0"
    assert not sent_bodies(once_flow, "POST", "/runs")


def test_a_reused_dataflow_starts_a_new_run_after_its_finished_first_run(once_flow, context):
    once_flow.add(responses.GET, FS + "/runs", json={"items": [DONE], "_links": {}})
    once_flow.add(responses.POST, FS + "/runs", json={"id": "run-1"}, status=201)
    assert trigger(adopt_first_run=False).execute(context) == "run-1"
    assert len(sent_bodies(once_flow, "POST", "/runs")) == 1


def test_a_handed_over_frequency_saves_reading_the_flow(aep_http, context):
    aep_http.add(responses.GET, FS + "/runs", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/runs", json={"id": "run-1", "etag": '"e"'}, status=201)
    assert trigger(flow_frequency="once").execute(context) == "run-1"
    assert not [c for c in aep_http.calls if "/flows/flow-1" in c.request.url]


def test_a_handed_over_frequency_other_than_once_is_refused(aep_http, context):
    with pytest.raises(AEPInvalidArgumentError, match=r"'hour'.*'once'"):
        trigger(flow_frequency="hour").execute(context)
    assert not sent_bodies(aep_http, "POST", "/runs")

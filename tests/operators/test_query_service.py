"""RunQueryOperator, the schedule operators and AEPScheduledQueryRunSensor with stubbed HTTP: early errors,
request bodies, deferral, failures with Query Service's codes, on_kill. (Against the emulator:
test_query_service_emulator.py.)"""

from __future__ import annotations

import json

import pytest
import responses

from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPQueryServiceFailedError
from airflow_provider_aep.operators.query_schedules import CreateQueryScheduleOperator, TriggerScheduledQueryRunOperator
from airflow_provider_aep.operators.query_service import RunQueryOperator, query_marker, table_name
from airflow_provider_aep.sensors.query_service import AEPScheduledQueryRunSensor
from airflow_provider_aep.triggers.query_service import AEPQueryTrigger, AEPScheduledQueryRunTrigger
from tests.airflow_compat import TaskDeferred
from tests.conftest import optional_stub
from tests.operators.conftest import PLATFORM, owned

QS = PLATFORM + "/data/foundation/query"
CAT = PLATFORM + "/data/foundation/catalog"
DATASET = "5ed5639d798a22191b6987b2"


def query_doc(state: str, query_id: str = "q-1", **extra) -> dict:
    return {"id": query_id, "state": state, "errors": [], "created": "2026-01-01T00:00:00Z", **extra}


def no_earlier_query(http) -> None:
    http.add(responses.GET, QS + "/queries", json={"queries": [], "_links": {}})


def posted(http) -> dict:
    return next(
        json.loads(c.request.body) for c in http.calls if c.request.method == "POST" and "/queries" in c.request.url
    )


# --------------------------------------------------------------------------- bad input, before any call
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({}, "sql"),
        ({"sql": "   "}, "sql"),
        ({"sql": "SELECT 1", "template_id": "t"}, "template_id"),
        ({"sql": "SELECT 1", "ctas_dataset_name": "a", "insert_into_dataset_id": DATASET}, "insert_into_dataset_id"),
        ({"sql": "SELECT 1", "ctas_dataset_name": ""}, "ctas_dataset_name"),
        ({"sql": "SELECT 1", "ctas_schema_title": "S"}, "ctas_schema_title"),
        ({"sql": "SELECT 1", "query_parameters": ["a"]}, "query_parameters"),
        ({"sql": "SELECT 1", "asset_alias": " "}, "asset_alias"),
    ],
)
def test_bad_arguments_fail_at_parse_time_naming_them(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        RunQueryOperator(task_id="q", **kwargs)
    assert err.value.argument == argument


def test_sql_that_renders_empty_fails_before_any_call(aep_http, context):
    op = RunQueryOperator(task_id="q", sql="{{ params.missing }}")
    op.sql = "  "  # what rendering made of it
    with pytest.raises(AEPInvalidArgumentError, match="'sql'"):
        op.execute(context)
    assert not [c for c in aep_http.calls if "/query" in c.request.url]


def test_an_unknown_itas_dataset_fails_naming_the_argument_and_submits_nothing(aep_http, context):
    aep_http.add(responses.GET, f"{CAT}/dataSets/{DATASET}", status=404, json={"message": "Not found"})
    trap = optional_stub(aep_http.add(responses.POST, QS + "/queries", json=query_doc("SUBMITTED")))
    with pytest.raises(AEPInvalidArgumentError) as err:
        RunQueryOperator(task_id="q", sql="SELECT 1", insert_into_dataset_id=DATASET).execute(context)
    assert err.value.argument == "insert_into_dataset_id" and trap.call_count == 0


def test_an_unknown_template_fails_naming_the_argument(aep_http, context):
    aep_http.add(responses.GET, QS + "/query-templates/t-404", status=404, json={"message": "Template not found"})
    with pytest.raises(AEPInvalidArgumentError) as err:
        RunQueryOperator(task_id="q", template_id="t-404").execute(context)
    assert err.value.argument == "template_id"


# --------------------------------------------------------------------------- running
def test_ctas_body_names_the_query_after_the_task_and_returns_the_created_dataset(aep_http, context):
    no_earlier_query(aep_http)
    aep_http.add(responses.POST, QS + "/queries", json=query_doc("SUBMITTED"), status=202)
    done = query_doc("SUCCESS", rowCount=3, _links={"created_dataset": {"id": DATASET}})
    aep_http.add(responses.GET, QS + "/queries/q-1", json=done)
    op = RunQueryOperator(
        task_id="q",
        sql="SELECT * FROM t WHERE a = '$a'",
        query_parameters={"a": 1},
        ctas_dataset_name="derived",
        poll_interval=0,
        deferrable=False,
    )
    assert op.execute(context) == {"query_id": "q-1", "dataset_id": DATASET, "row_count": 3}
    body = posted(aep_http)
    marker = query_marker(context, "q")
    assert body["name"] == f"{marker}_try1" and body["sql"].startswith(f"/* {marker}_try1 */")
    assert body["dbName"] == "prod:all" and body["queryParameters"] == {"a": "1"}
    assert body["ctasParameters"] == {"datasetName": "derived", "description": owned("q")}
    assert body["description"] == owned("q")
    assert context["ti"].xcoms["query_id"] == "q-1"


def test_itas_sends_the_dataset_name(aep_http, context):
    aep_http.add(responses.GET, f"{CAT}/dataSets/{DATASET}", json={DATASET: {"name": "Contacts copy"}})
    no_earlier_query(aep_http)
    aep_http.add(responses.POST, QS + "/queries", json=query_doc("SUCCESS", rowCount=2), status=202)
    result = RunQueryOperator(task_id="q", sql="SELECT 1", insert_into_dataset_id=DATASET).execute(context)
    assert result["dataset_id"] == DATASET
    assert posted(aep_http)["insertIntoParameters"] == {"datasetName": "Contacts copy"}


def test_a_retry_reuses_the_query_an_earlier_try_submitted(aep_http, context):
    marker = query_marker(context, "q")
    earlier = query_doc("SUCCESS", name=f"{marker}_try1", rowCount=1)
    lookup = aep_http.add(responses.GET, QS + "/queries", json={"queries": [earlier], "_links": {}})
    trap = optional_stub(aep_http.add(responses.POST, QS + "/queries", json=query_doc("SUBMITTED")))
    assert RunQueryOperator(task_id="q", sql="SELECT 1").execute(context)["query_id"] == "q-1"
    assert trap.call_count == 0 and f"property=sql~{marker}&" in lookup.calls[0].request.url


def test_a_failed_query_fails_the_task_with_its_codes(aep_http, context):
    no_earlier_query(aep_http)
    errors = [{"code": "53400", "message": "LIMIT exceeds max value", "errorType": "USER_ERROR"}]
    aep_http.add(responses.POST, QS + "/queries", json=query_doc("FAILED", errors=errors), status=202)
    with pytest.raises(AEPQueryServiceFailedError, match=r"\[53400\] LIMIT exceeds") as err:
        RunQueryOperator(task_id="q", sql="SELECT 1 LIMIT 200000").execute(context)
    assert err.value.codes == ["53400"]


def test_deferrable_defers_to_the_query_trigger_and_completes_from_its_event(aep_http, context):
    no_earlier_query(aep_http)
    aep_http.add(responses.POST, QS + "/queries", json=query_doc("SUBMITTED"), status=202)
    op = RunQueryOperator(task_id="q", sql="SELECT 1", deferrable=True, poll_interval=7, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, AEPQueryTrigger) and trigger.query_id == "q-1" and trigger.poll_interval == 7
    path, kwargs = trigger.serialize()
    assert path.endswith("AEPQueryTrigger") and AEPQueryTrigger(**kwargs).query_id == "q-1"
    event = {"status": "success", "message": "", "query": {"id": "q-1", "state": "SUCCESS", "row_count": 4}}
    assert op.execute_complete(context, event) == {"query_id": "q-1", "dataset_id": None, "row_count": 4}
    failed = {"status": "failed", "message": "", "query": {"id": "q-1", "state": "KILLED", "errors": []}}
    with pytest.raises(AEPQueryServiceFailedError, match="KILLED"):
        op.execute_complete(context, failed)


def test_on_kill_cancels_the_submitted_query(aep_http, context):
    cancel = aep_http.add(responses.PATCH, QS + "/queries/q-1", json={"message": "accepted"}, status=202)
    op = RunQueryOperator(task_id="q", sql="SELECT 1")
    op.on_kill()  # nothing submitted yet: nothing to cancel
    op.query_id = "q-1"
    op.on_kill()
    assert cancel.call_count == 1 and json.loads(cancel.calls[0].request.body) == {"op": "cancel"}


def test_table_name_follows_the_tag_then_the_name():
    assert table_name({"name": "x", "tags": {"adobe/pqs/table": ["tagged_t"]}}) == "tagged_t"
    assert table_name({"name": "HubSpot (Airflow): Hubspot.Contacts"}) == "hubspot_airflow_hubspot_contacts"


# --------------------------------------------------------------------------- schedules
def test_schedule_arguments_are_checked_at_parse_time():
    with pytest.raises(AEPInvalidArgumentError) as err:
        CreateQueryScheduleOperator(task_id="s", name="n", cron="@sometimes", sql="SELECT 1")
    assert err.value.argument == "cron"
    with pytest.raises(AEPInvalidArgumentError) as err:
        CreateQueryScheduleOperator(task_id="s", name="n", cron="@daily")
    assert err.value.argument == "sql"


def test_create_schedule_body(aep_http, context):
    aep_http.add(responses.GET, QS + "/schedules", json={"schedules": [], "_links": {}})
    aep_http.add(responses.POST, QS + "/schedules", json={"id": "s-1", "state": "REGISTERING"}, status=202)
    op = CreateQueryScheduleOperator(
        task_id="s", name="nightly", cron="30 * * * *", sql="SELECT 1", schedule_start="2026-01-08T12:30:00Z"
    )
    assert op.execute(context) == "s-1" and context["ti"].xcoms["created"] is True
    body = next(
        json.loads(c.request.body)
        for c in aep_http.calls
        if c.request.method == "POST" and "schedules" in c.request.url
    )
    assert body["schedule"] == {"schedule": "30 * * * *", "startDate": "2026-01-08T12:30:00.000Z", "maxActiveRuns": 1}
    assert body["query"] == {"dbName": "prod:all", "name": "nightly", "description": owned("s"), "sql": "SELECT 1"}


def test_trigger_refuses_a_disabled_schedule_naming_the_argument(aep_http, context):
    aep_http.add(responses.GET, QS + "/schedules/s-1", json={"id": "s-1", "state": "DISABLED"})
    with pytest.raises(AEPInvalidArgumentError) as err:
        TriggerScheduledQueryRunOperator(task_id="t", schedule_id="s-1").execute(context)
    assert err.value.argument == "schedule_id"


def test_run_sensor_pokes_defers_and_fails_with_the_run_query_codes(aep_http, context):
    run = QS + "/schedules/s-1/runs/r-1"
    aep_http.add(responses.GET, run, json={"id": "r-1", "state": "IN_PROGRESS"})
    aep_http.add(
        responses.GET,
        run,
        json={"id": "r-1", "state": "failed", "taskStatusList": [{"taskId": "x", "state": "FAILED"}]},
    )
    errors = [{"code": "42P01", "message": "Table not found"}]
    aep_http.add(responses.GET, QS + "/queries", json={"queries": [query_doc("FAILED", errors=errors)], "_links": {}})
    sensor = AEPScheduledQueryRunSensor(task_id="w", schedule_id="s-1", run_id="r-1", deferrable=True, poke_interval=3)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    assert isinstance(deferred.value.trigger, AEPScheduledQueryRunTrigger)
    with pytest.raises(AEPQueryServiceFailedError, match=r"42P01") as err:
        sensor.poke(context)
    assert err.value.codes == ["42P01"]

"""QueryServiceClient with stubbed HTTP: queries, templates, schedules, runs, connection parameters."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from airflow_provider_aep.client._query_records import (
    AEPQueryServiceMismatchError,
    query_phase,
    query_summary,
    run_phase,
)
from airflow_provider_aep.client.errors import AEPBadRequestError, AEPResponseError
from airflow_provider_aep.client.http import RetryPolicy
from airflow_provider_aep.client.query_service import QueryServiceClient
from tests.client.conftest import PLATFORM

QS = PLATFORM + "/data/foundation/query"


@pytest.fixture
def qs(settings, sleeps) -> QueryServiceClient:
    return QueryServiceClient(settings, retry=RetryPolicy(max_attempts=4, sleep=sleeps.append))


def query_doc(query_id: str = "q-1", state: str = "SUBMITTED", **extra) -> dict:
    return {"id": query_id, "state": state, "created": "2026-01-08T21:47:46.865Z", "errors": [], **extra}


def params_of(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --------------------------------------------------------------------------- queries
def test_create_query_posts_once_and_answers_the_query(qs, http, ims):
    http.add(responses.POST, QS + "/queries", json=query_doc(), status=202)
    body = {"dbName": "dev-1:all", "sql": "/* n1 */ SELECT 1", "name": "n1", "ctasParameters": {"datasetName": "x"}}
    assert qs.create_query(body)["id"] == "q-1"
    sent = json.loads(http.calls[-1].request.body)
    assert sent == body
    assert http.calls[-1].request.headers["x-sandbox-name"] == "dev-1"


def test_create_query_after_a_dropped_answer_finds_it_by_name_instead_of_posting_again(qs, http, ims):
    post = http.add(responses.POST, QS + "/queries", body=requests.ConnectionError("reset by peer"))
    found = {"queries": [query_doc("q-7", name="n1"), query_doc("q-8", name="n10")], "_links": {}}
    lookup = http.add(responses.GET, QS + "/queries", json=found)
    assert qs.create_query({"dbName": "dev-1:all", "sql": "/* n1 */ SELECT 1", "name": "n1"})["id"] == "q-7"
    assert post.call_count == 1 and lookup.call_count == 1
    assert params_of(lookup.calls[0])["property"] == ["sql~n1"]


def test_create_query_sent_again_when_the_lookup_finds_nothing(qs, http, ims):
    http.add(responses.POST, QS + "/queries", body=requests.ConnectionError("reset by peer"))
    http.add(responses.POST, QS + "/queries", json=query_doc("q-2"), status=202)
    http.add(responses.GET, QS + "/queries", json={"queries": [], "_links": {}})
    assert qs.create_query({"dbName": "dev-1:all", "sql": "/* n2 */ SELECT 1", "name": "n2"})["id"] == "q-2"


@pytest.mark.parametrize("body", [{"dbName": "x"}, {"sql": "SELECT 1", "name": "a,b"}])
def test_create_query_rejects_bad_bodies_before_any_call(qs, http, body):
    with pytest.raises(ValueError):
        qs.create_query(body)
    assert not http.calls


def test_list_follows_next_links_and_stops_on_a_repeated_one(qs, http, ims):
    nxt = QS + "/queries?orderby=-created&start=2026-01-01T00:00:00Z&property=state%3D%3DSUCCESS"
    http.add(responses.GET, QS + "/queries", json={"queries": [query_doc("a")], "_links": {"next": {"href": nxt}}})
    http.add(responses.GET, nxt, json={"queries": [query_doc("b")], "_links": {"next": {"href": nxt}}})
    ids = [q["id"] for q in qs.iter_queries(filters=["state==SUCCESS", "created>2026-01-01"])]
    assert ids == ["a", "b"]
    first = params_of(http.calls[1])
    assert first["property"] == ["state==SUCCESS,created>2026-01-01"] and first["orderby"] == ["-created"]


def test_a_list_without_its_items_key_is_a_response_error(qs, http, ims):
    http.add(responses.GET, QS + "/queries", json={"queries": "nope"})
    with pytest.raises(AEPResponseError, match="queries"):
        list(qs.iter_queries())


def test_cancel_query_sends_the_documented_patch_and_409_means_finished(qs, http, ims):
    http.add(responses.PATCH, QS + "/queries/q-1", json={"message": "Query cancel request received"}, status=202)
    http.add(responses.PATCH, QS + "/queries/q-2", json={"message": "already terminated"}, status=409)
    assert qs.cancel_query("q-1") is True
    assert json.loads(http.calls[-1].request.body) == {"op": "cancel"}
    assert qs.cancel_query("q-2") is False


def test_query_errors_keep_query_service_codes():
    failed = query_doc(
        state="FAILED",
        errors=[{"code": "53400", "message": "LIMIT exceeds max value", "errorType": "USER_ERROR"}],
        _links={"created_dataset": {"id": "5ed5639d798a22191b6987b2"}, "referenced_datasets": [{"href": "/x/ds-1"}]},
    )
    summary = query_summary(failed)
    assert summary["errors"][0]["code"] == "53400"
    assert summary["created_dataset_id"] == "5ed5639d798a22191b6987b2"
    assert summary["referenced_dataset_ids"] == ["ds-1"]
    assert [query_phase(s) for s in ("SUBMITTED", "IN_PROGRESS", "SUCCESS", "KILLED", "TIMEOUT")] == [
        "running",
        "running",
        "success",
        "failed",
        "failed",
    ]
    assert [run_phase(s) for s in ("success", "IN_PROGRESS", "failed")] == ["success", "running", "failed"]


# --------------------------------------------------------------------------- templates
def test_create_template_reuses_one_with_the_same_name_and_sql(qs, http, ims):
    found = {"templates": [{"id": "t-1", "name": "daily", "sql": "SELECT  1", "created": "2026"}], "_links": {}}
    lookup = http.add(responses.GET, QS + "/query-templates", json=found)
    made = qs.create_template({"name": "daily", "sql": "SELECT 1"})
    assert (made.id, made.created) == ("t-1", False)
    assert params_of(lookup.calls[0])["property"] == ["name~daily"]


def test_create_template_with_other_sql_is_a_mismatch(qs, http, ims):
    found = {"templates": [{"id": "t-1", "name": "daily", "sql": "SELECT 2"}], "_links": {}}
    http.add(responses.GET, QS + "/query-templates", json=found)
    with pytest.raises(AEPQueryServiceMismatchError, match="sql"):
        qs.create_template({"name": "daily", "sql": "SELECT 1"})


def test_create_template_posts_when_none_exists(qs, http, ims):
    http.add(responses.GET, QS + "/query-templates", json={"templates": [], "_links": {}})
    http.add(responses.POST, QS + "/query-templates", json={"id": "t-9", "name": "n", "sql": "SELECT 1"}, status=202)
    assert qs.create_template({"name": "n", "sql": "SELECT 1"}).created is True


def test_update_and_delete_template(qs, http, ims):
    http.add(responses.PUT, QS + "/query-templates/t-1", json={"id": "t-1", "name": "n", "sql": "S"}, status=202)
    http.add(responses.DELETE, QS + "/query-templates/t-1", json={"message": "Deleted"}, status=202)
    http.add(responses.DELETE, QS + "/query-templates/t-2", json={"message": "not found"}, status=404)
    assert qs.update_template("t-1", {"name": "n", "sql": "S"})["id"] == "t-1"
    assert qs.delete_template("t-1") is True and qs.delete_template("t-2") is False
    with pytest.raises(ValueError, match="sql"):
        qs.update_template("t-1", {"name": "n"})


# --------------------------------------------------------------------------- schedules
SCHEDULE_BODY = {
    "query": {"dbName": "dev-1:all", "sql": "SELECT 1", "name": "nightly"},
    "schedule": {"schedule": "30 * * * *", "startDate": "2026-01-08T12:30:00.000Z"},
}


def schedule_doc(state: str = "ENABLED", **query) -> dict:
    return {
        "id": "s-1",
        "state": state,
        "query": {**SCHEDULE_BODY["query"], **query},
        "schedule": SCHEDULE_BODY["schedule"],
    }


def test_create_schedule_reuses_and_verifies_by_name(qs, http, ims):
    http.add(responses.GET, QS + "/schedules", json={"schedules": [schedule_doc()], "_links": {}})
    made = qs.create_schedule(SCHEDULE_BODY)
    assert (made.id, made.created) == ("s-1", False)
    http.replace(responses.GET, QS + "/schedules", json={"schedules": [schedule_doc(sql="SELECT 2")], "_links": {}})
    with pytest.raises(AEPQueryServiceMismatchError, match=r"query\.sql"):
        qs.create_schedule(SCHEDULE_BODY)


def test_set_state_wraps_the_patch_in_body_and_accepts_already_in_that_state(qs, http, ims):
    http.add(responses.PATCH, QS + "/schedules/s-1", json={"message": "accepted"}, status=202)
    qs.set_schedule_state("s-1", "disable")
    assert json.loads(http.calls[-1].request.body) == {
        "body": [{"op": "replace", "path": "/state", "value": "disable"}]
    }
    http.replace(responses.PATCH, QS + "/schedules/s-1", json={"message": "Schedule already in the state"}, status=400)
    http.add(responses.GET, QS + "/schedules/s-1", json=schedule_doc("DISABLED"))
    qs.set_schedule_state("s-1", "disable")  # already there: fine
    with pytest.raises(AEPBadRequestError):
        qs.set_schedule_state("s-1", "enable")


def test_delete_schedule_disables_first(qs, http, ims):
    http.add(responses.GET, QS + "/schedules/s-1", json=schedule_doc("ENABLED"))
    patch = http.add(responses.PATCH, QS + "/schedules/s-1", json={"message": "accepted"}, status=202)
    delete = http.add(responses.DELETE, QS + "/schedules/s-1", json={"message": "Schedule deleted"}, status=202)
    assert qs.delete_schedule("s-1") is True
    assert patch.call_count == 1 and delete.call_count == 1
    order = [c.request.method for c in http.calls if c.request.url.startswith(QS)]
    assert order == ["GET", "PATCH", "DELETE"]


def test_trigger_run_finds_the_new_external_run(qs, http, ims):
    runs = QS + "/schedules/s-1/runs"
    old = {"id": "old", "externalTrigger": "true", "created": "2026-01-01T00:00:00Z", "state": "SUCCESS"}
    new = {"id": "new", "externalTrigger": True, "created": "2026-01-02T00:00:00Z", "state": "IN_PROGRESS"}
    http.add(responses.GET, runs, json={"runsSchedules": [old], "_links": {}})
    http.add(responses.POST, runs, json={"message": "accepted", "statusCode": 202}, status=202)
    http.add(responses.GET, runs, json={"runsSchedules": [new, old], "_links": {}})
    assert qs.trigger_schedule_run("s-1")["id"] == "new"
    lists = [c for c in http.calls if c.request.method == "GET" and c.request.url.startswith(runs)]
    assert params_of(lists[0])["property"] == ["externalTrigger==true"]


def test_get_and_cancel_a_run(qs, http, ims):
    http.add(responses.GET, QS + "/schedules/s-1/runs/r-1", json={"id": "r-1", "state": "success"})
    http.add(responses.PATCH, QS + "/schedules/s-1/runs/r-1", json={"message": "accepted"}, status=202)
    assert qs.get_schedule_run("s-1", "r-1")["state"] == "success"
    assert qs.cancel_schedule_run("s-1", "r-1") is True


# --------------------------------------------------------------------------- connection parameters
def test_connection_parameters_register_the_echoed_token_as_a_secret(qs, http, ims):
    body = {"username": "ORG@AdobeOrg", "dbName": "dev-1:all", "host": "acme.platform-query.adobe.io", "port": 80}
    http.add(responses.GET, QS + "/connection_parameters", json={**body, "token": "echoed-token-SECRET"})
    params = qs.connection_parameters()
    assert params["host"] == "acme.platform-query.adobe.io" and params["port"] == 80
    assert qs.redact("x echoed-token-SECRET y") == "x *** y"


def test_connection_parameters_without_a_host_is_a_response_error(qs, http, ims):
    http.add(responses.GET, QS + "/connection_parameters", json={"username": "u", "dbName": "d", "port": 80})
    with pytest.raises(AEPResponseError, match="host"):
        qs.connection_parameters()

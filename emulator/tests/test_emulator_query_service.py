"""Query Service's REST API over real HTTP: queries on the emulator clock, cancel, templates, schedules and runs,
CTAS/ITAS into Catalog, SQL errors with their codes, connection parameters, faults and the journal.

Request bodies are validated against Adobe's spec (``shared/reference/query-service.openapi.yaml``) where it
defines them; the tests skip that check with a reason when the spec is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aep_emulator.testing import CATALOG, fetch_token
from aep_emulator.testing_query import QueryClient, hold_queries
from jsonschema import Draft7Validator

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "query-service.openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any] | None:
    if not SPEC_PATH.exists():
        return None
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def qs(emu) -> QueryClient:
    return QueryClient(emu.url, fetch_token(emu.url))


@pytest.fixture
def valid(spec):
    """``valid(body, "query_def")``: the body satisfies the spec's schema (skipped without the spec)."""

    def check(body: Any, schema: str) -> Any:
        if spec is None:
            return body
        document = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
        errors = [e.message for e in Draft7Validator(document).iter_errors(body)]
        assert not errors, errors
        return body

    return check


def submit(qs: QueryClient, valid, sql: str, **extra: Any) -> dict[str, Any]:
    body = valid({"dbName": "prod:all", "sql": sql, **extra}, "query_def")
    response = qs.post("/queries", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "SUBMITTED"
    return response.json()


def finished(emu, qs: QueryClient, query_id: str) -> dict[str, Any]:
    emu.control.advance_clock(5)
    query = qs.get(f"/queries/{query_id}").json()
    assert query["state"] in ("SUCCESS", "FAILED"), query
    return query


def run_sql(emu, qs, valid, sql: str, **extra: Any) -> dict[str, Any]:
    return finished(emu, qs, submit(qs, valid, sql, **extra)["id"])


# -- queries -----------------------------------------------------------------------------------------
def test_query_moves_along_the_clock_and_counts_rows(emu, qs, valid):
    query = submit(qs, valid, "SELECT * FROM range(7) t(i) WHERE i > $low", queryParameters={"low": "2"}, name="q")
    assert query["client"] == "API" and query["effectiveSQL"] == "SELECT * FROM range(7) t(i) WHERE i > 2"
    assert query["_links"]["cancel"]["method"] == "PATCH"
    emu.control.advance_clock(1.5)
    assert qs.get(f"/queries/{query['id']}").json()["state"] == "IN_PROGRESS"
    done = finished(emu, qs, query["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 4 and done["errors"] == []


def test_cancel_a_held_query_then_cancel_again_is_409(emu, qs, valid):
    hold_queries(emu.url)
    query = submit(qs, valid, "SELECT 1 AS one")
    emu.control.advance_clock(60)
    assert qs.get(f"/queries/{query['id']}").json()["state"] == "IN_PROGRESS"
    cancel = qs.request("PATCH", f"/queries/{query['id']}", json={"op": "cancel"})
    assert cancel.status_code == 202 and cancel.json() == {
        "message": "Query cancel request received",
        "statusCode": 202,
    }
    assert qs.get(f"/queries/{query['id']}").json()["state"] == "KILLED"
    again = qs.request("PATCH", f"/queries/{query['id']}", json={"op": "cancel"})
    assert again.status_code == 409
    assert "already have terminated" in again.json()["message"]


def test_soft_delete_hides_a_query_from_lists(emu, qs, valid):
    query = submit(qs, valid, "SELECT 1 AS one")
    assert qs.request("PATCH", f"/queries/{query['id']}", json={"op": "soft_delete"}).status_code == 202
    assert qs.get("/queries").json()["queries"] == []
    listed = qs.get("/queries", params={"excludeSoftDeleted": "false"}).json()["queries"]
    assert [q["id"] for q in listed] == [query["id"]]
    assert qs.get("/queries/nope").status_code == 404


def test_list_order_limit_next_link_and_filters(emu, qs, valid):
    ids = [submit(qs, valid, f"SELECT {n} AS n", name=f"n{n}")["id"] for n in range(5)]
    first = qs.get("/queries", params={"limit": 2}).json()
    assert [q["id"] for q in first["queries"]] == ids[::-1][:2]
    second = qs.get(first["_links"]["next"]["href"]).json()
    assert [q["id"] for q in second["queries"]] == ids[::-1][2:4]
    ascending = qs.get("/queries?orderby=%2Bcreated&limit=3").json()
    assert [q["id"] for q in ascending["queries"]] == ids[:3]
    assert [q["id"] for q in qs.get("/queries", params={"property": "sql~SELECT 3"}).json()["queries"]] == [ids[3]]
    emu.control.advance_clock(5)
    succeeded = qs.get("/queries", params={"property": "state==SUCCESS"}).json()["queries"]
    assert len(succeeded) == 5
    created = first["queries"][1]["created"]
    newer = qs.get("/queries", params={"property": f"created>{created}"}).json()["queries"]
    assert [q["id"] for q in newer] == [ids[4]]
    assert qs.get("/queries", params={"property": "bogus==1"}).status_code == 400
    assert qs.get("/queries", params={"orderby": "name"}).status_code == 400


def test_bad_bodies_are_400_naming_the_field(qs):
    assert "dbName" in qs.post("/queries", json={"sql": "SELECT 1"}).json()["message"]
    assert "dev:all" in qs.post("/queries", json={"dbName": "dev:all", "sql": "SELECT 1"}).json()["message"]
    missing = qs.post("/queries", json={"dbName": "prod:all", "sql": "SELECT '$who'"})
    assert missing.status_code == 400 and "$who" in missing.json()["message"]
    both = qs.post("/queries", json={"dbName": "prod:all"})
    assert both.status_code == 400 and "templateId" in both.json()["message"]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT * FROM range(10) LIMIT 100001", "53400"),
        ("SELECT no_such_function(1)", "58000"),
    ],
)
def test_sql_errors_carry_codes(emu, qs, valid, sql, code):
    query = run_sql(emu, qs, valid, sql)
    assert query["state"] == "FAILED"
    (error,) = query["errors"]
    assert error["code"] == code and error["errorType"] == "USER_ERROR" and error["message"]


# -- CTAS / ITAS -------------------------------------------------------------------------------------
def test_ctas_creates_a_dataset_read_back_through_catalog_and_sql(emu, qs, valid):
    query = run_sql(
        emu,
        qs,
        valid,
        "SELECT i AS id, 'n' || i AS label, {'score': i * 1.5} AS stats FROM range(3) t(i)",
        ctasParameters={"datasetName": "Scores Out", "description": "from a test"},
    )
    assert query["state"] == "SUCCESS" and query["isCTAS"] and query["rowCount"] == 3, query
    assert query["effectiveSQL"].startswith("CREATE TABLE scores_out AS (")
    dataset_id = query["_links"]["created_dataset"]["id"]
    dataset = qs.service(CATALOG).get(f"/dataSets/{dataset_id}").json()[dataset_id]
    assert dataset["name"] == "Scores Out" and dataset["tags"]["adobe/pqs/table"] == ["scores_out"]
    assert len(emu.control.landed_records(dataset_id)) == 3
    again = run_sql(emu, qs, valid, "SELECT 1 AS id", ctasParameters={"datasetName": "Scores Out"})
    assert again["errors"][0]["code"] == "42P07"
    read = run_sql(emu, qs, valid, "SELECT stats.score FROM scores_out WHERE label = 'n2' AND stats.score = 3")
    assert read["state"] == "SUCCESS" and read["rowCount"] == 1


def test_itas_lands_a_batch_and_refuses_columns_the_schema_lacks(emu, qs, valid):
    made = run_sql(emu, qs, valid, "SELECT 1 AS id, 'a' AS label", ctasParameters={"datasetName": "target_t"})
    dataset_id = made["_links"]["created_dataset"]["id"]
    into = run_sql(emu, qs, valid, "SELECT 2 AS id, 'b' AS label", insertIntoParameters={"datasetName": "target_t"})
    assert into["state"] == "SUCCESS" and into["isInsertInto"] and into["rowCount"] == 1, into
    assert sorted(r[next(iter(r))]["label"] for r in emu.control.landed_records(dataset_id)) == ["a", "b"]
    batches = qs.service(CATALOG).get("/batches").json()
    assert sum(1 for b in batches.values() if b["relatedObjects"][0]["id"] == dataset_id) == 2
    wrong = run_sql(emu, qs, valid, "SELECT 3 AS nope", insertIntoParameters={"datasetName": "target_t"})
    assert wrong["state"] == "FAILED" and "'nope' is not one of its fields" in wrong["errors"][0]["message"]
    typed = run_sql(emu, qs, valid, "INSERT INTO target_t SELECT {'x': 1} AS label")
    assert typed["state"] == "FAILED" and "label" in typed["errors"][0]["message"]


# -- templates ---------------------------------------------------------------------------------------
def test_templates_crud_count_and_running_one(emu, qs, valid):
    body = valid({"sql": "SELECT * FROM range(10) t(i) WHERE i < $n", "name": "small", "queryParameters": {"n": "3"}},
                 "query_template_def")  # fmt: skip
    created = qs.post("/query-templates", json=body)
    assert created.status_code == 202
    template = created.json()
    assert qs.get(f"/query-templates/{template['id']}").json()["name"] == "small"
    assert qs.get("/query-templates/count").json() == {"totalCount": 1, "version": 1}
    assert [t["id"] for t in qs.get("/query-templates", params={"property": "name~sma"}).json()["templates"]] == [
        template["id"]
    ]
    by_template = submit_template(qs, valid, template["id"], {"n": "5"})
    done = finished(emu, qs, by_template["id"])
    assert done["rowCount"] == 5 and done["templateName"] == "small"
    listed = qs.get("/queries", params={"property": f"templateId=={template['id']}"}).json()["queries"]
    assert [q["id"] for q in listed] == [by_template["id"]]
    put = qs.put(
        f"/query-templates/{template['id']}", json=valid({"sql": "SELECT 1", "name": "one"}, "query_template_def")
    )
    assert put.status_code == 202 and put.json()["lastUpdatedBy"]
    assert qs.put(f"/query-templates/{template['id']}", json={"name": "x"}).status_code == 400
    assert qs.delete(f"/query-templates/{template['id']}").json() == {"message": "Deleted", "statusCode": 202}
    assert qs.get(f"/query-templates/{template['id']}").status_code == 404


def submit_template(qs, valid, template_id: str, parameters: dict[str, str]) -> dict[str, Any]:
    body = valid({"dbName": "prod:all", "templateId": template_id, "queryParameters": parameters}, "query_def")
    response = qs.post("/queries", json=body)
    assert response.status_code == 202, response.text
    return response.json()


# -- schedules ---------------------------------------------------------------------------------------
def test_schedule_lifecycle_runs_and_delete_rules(emu, qs, valid):
    body = valid(
        {
            "query": {"dbName": "prod:all", "sql": "SELECT 1 AS one", "name": "Nightly"},
            "schedule": {"schedule": "30 * * * *", "startDate": "2020-01-08T12:30:00.000Z"},
        },
        "schedules_create_request",
    )
    created = qs.post("/schedules", json=body)
    assert created.status_code == 202 and created.json()["state"] == "REGISTERING"
    schedule_id = created.json()["id"]
    assert qs.post(f"/schedules/{schedule_id}/runs").status_code == 400  # still registering
    emu.control.advance_clock(2)
    assert qs.get(f"/schedules/{schedule_id}").json()["state"] == "ENABLED"
    triggered = qs.post(f"/schedules/{schedule_id}/runs")
    assert triggered.status_code == 202
    runs = qs.get(f"/schedules/{schedule_id}/runs", params={"property": "externalTrigger==true"}).json()
    (run,) = runs["runsSchedules"]
    assert run["state"] == "IN_PROGRESS" and run["externalTrigger"] is True
    emu.control.advance_clock(5)
    detail = qs.get(f"/schedules/{schedule_id}/runs/{run['id']}").json()
    assert detail["state"] == "SUCCESS" and detail["taskStatusList"][0]["state"] == "SUCCESS"
    assert qs.get(f"/schedules/{schedule_id}/runs", params={"property": "state==SUCCESS"}).json()["runsSchedules"]
    queries = qs.get("/queries", params={"property": f"scheduleId=={schedule_id},scheduleRunId=={run['id']}"})
    assert [q["rowCount"] for q in queries.json()["queries"]] == [1]
    cancel = qs.request("PATCH", f"/schedules/{schedule_id}/runs/{run['id']}", json={"op": "cancel"})
    assert cancel.status_code == 202
    refused = qs.delete(f"/schedules/{schedule_id}")
    assert refused.status_code == 400 and "Please disable the schedule" in refused.json()["message"]
    disable = valid(
        {"body": [{"op": "replace", "path": "/state", "value": "disable"}]}["body"][0], "schedule_patch_operation"
    )
    assert qs.request("PATCH", f"/schedules/{schedule_id}", json={"body": [disable]}).status_code == 202
    assert qs.get(f"/schedules/{schedule_id}").json()["state"] == "DISABLED"
    off = qs.post(f"/schedules/{schedule_id}/runs")
    assert off.status_code == 400 and off.json()["message"] == "Schedule is disabled. Immediate run cannot be triggered"
    assert qs.request("PATCH", f"/schedules/{schedule_id}", json={"body": [disable]}).status_code == 400
    assert qs.delete(f"/schedules/{schedule_id}").status_code == 202
    assert qs.get(f"/schedules/{schedule_id}").status_code == 404


# -- connection parameters, faults, journal ------------------------------------------------------------
def test_connection_parameters_echo_the_token_and_the_journal_hides_it(emu, qs):
    answer = qs.get("/connection_parameters").json()
    assert answer == {
        "username": qs.org,
        "dbName": "prod:all",
        "host": "127.0.0.1",
        "port": emu.pg_port,
        "token": qs.token,
        "version": 1,
    }
    journal = str(emu.control.journal())
    assert qs.token not in journal and "connection_parameters" in journal


def test_faults_apply_to_query_routes(emu, qs, valid):
    emu.control.add_fault("POST", "/data/foundation/query/queries", count=1, status=503)
    assert qs.post("/queries", json={"dbName": "prod:all", "sql": "SELECT 1"}).status_code == 503
    assert qs.get("/queries").json()["queries"] == []
    submit(qs, valid, "SELECT 1 AS one")
    assert qs.request("DELETE", "/queries").status_code == 405
    assert qs.get("/nothing-here").status_code == 404

"""QueryServiceClient over real HTTP against the emulator: every call, states on the emulator clock."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_aep.client._query_records import AEPQueryServiceMismatchError, query_summary
from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.errors import AEPBadRequestError, AEPNotFoundError
from airflow_provider_aep.client.query_service import QueryServiceClient
from tests.conftest import ORG_ID

pytestmark = pytest.mark.usefixtures("aep_emulator")


def hold(emulator, held: bool = True) -> None:
    """Keep queries that reach their end IN_PROGRESS (the emulator's control call), so they can be cancelled."""
    requests.post(f"{emulator.url}/__emulator/queries/hold", json={"held": held}, timeout=10).raise_for_status()


@pytest.fixture
def qs(aep_emulator) -> QueryServiceClient:
    settings = AEPSettings(
        client_id="qs-client", client_secret="qs-secret-SECRET", org_id=ORG_ID, platform_url=aep_emulator.url,
        ims_url=aep_emulator.url,
    )  # fmt: skip
    with QueryServiceClient(settings) as client:
        yield client


def finished(qs, emulator, query_id: str) -> dict:
    emulator.control.advance_clock(10)
    return qs.get_query(query_id)


def test_query_lifecycle_lookup_by_name_and_list(qs, aep_emulator):
    made = qs.create_query({"dbName": "prod:all", "sql": "/* lc_1 */ SELECT 1 AS a UNION ALL SELECT 2", "name": "lc_1"})
    assert made["state"] == "SUBMITTED"
    done = finished(qs, aep_emulator, made["id"])
    assert (done["state"], done["rowCount"]) == ("SUCCESS", 2)
    assert [q["id"] for q in qs.find_queries("lc_1")] == [made["id"]]
    assert made["id"] in [q["id"] for q in qs.iter_queries(filters=["state==SUCCESS"])]
    qs.soft_delete_query(made["id"])
    assert made["id"] not in [q["id"] for q in qs.iter_queries()]


def test_list_pages_through_next_links(qs, aep_emulator, monkeypatch):
    monkeypatch.setattr("airflow_provider_aep.client.query_service.PAGE_SIZE", 2)
    ids = {qs.create_query({"dbName": "prod:all", "sql": f"SELECT {n}"})["id"] for n in range(5)}
    assert ids <= {q["id"] for q in qs.iter_queries()}


def test_cancel_a_held_query_then_409_is_already_finished(qs, aep_emulator):
    hold(aep_emulator)
    made = qs.create_query({"dbName": "prod:all", "sql": "SELECT 1", "name": "held_1"})
    assert finished(qs, aep_emulator, made["id"])["state"] == "IN_PROGRESS"
    assert qs.cancel_query(made["id"]) is True
    assert qs.get_query(made["id"])["state"] == "KILLED"
    assert qs.cancel_query(made["id"]) is False


def test_sql_errors_carry_query_service_codes(qs, aep_emulator):
    made = qs.create_query({"dbName": "prod:all", "sql": "SELECT * FROM no_such_table_here"})
    summary = query_summary(finished(qs, aep_emulator, made["id"]))
    assert summary["state"] == "FAILED" and summary["errors"][0]["code"] == "42P01"
    limit = qs.create_query({"dbName": "prod:all", "sql": "SELECT 1 LIMIT 200000"})
    assert query_summary(finished(qs, aep_emulator, limit["id"]))["errors"][0]["code"] == "53400"


def test_ctas_creates_a_dataset_readable_through_catalog(qs, aep_emulator):
    sql = "SELECT * FROM (VALUES ('a@x.io', 'Acme'), ('b@x.io', 'Acme')) AS t(email, company)"
    made = qs.create_query({"dbName": "prod:all", "sql": sql, "ctasParameters": {"datasetName": "ctas_client_out"}})
    summary = query_summary(finished(qs, aep_emulator, made["id"]))
    assert summary["state"] == "SUCCESS" and summary["created_dataset_id"]
    dataset = CatalogClient(qs.platform).get_dataset(summary["created_dataset_id"])
    assert dataset["name"] == "ctas_client_out"


def test_templates_create_reuse_verify_update_delete(qs, aep_emulator):
    made = qs.create_template({"name": "tpl one", "sql": "SELECT '$x' AS x"})
    again = qs.create_template({"name": "tpl one", "sql": "SELECT  '$x' AS x"})
    assert made.created and (again.id, again.created) == (made.id, False)
    with pytest.raises(AEPQueryServiceMismatchError, match="sql"):
        qs.create_template({"name": "tpl one", "sql": "SELECT 2"})
    qs.update_template(made.id, {"name": "tpl one", "sql": "SELECT 3 AS x"})
    assert qs.get_template(made.id)["sql"] == "SELECT 3 AS x"
    query = qs.create_query({"dbName": "prod:all", "templateId": made.id, "name": "from_tpl"})
    assert finished(qs, aep_emulator, query["id"])["state"] == "SUCCESS"
    assert qs.delete_template(made.id) is True and qs.delete_template(made.id) is False
    with pytest.raises(AEPNotFoundError):
        qs.get_template(made.id)


SCHEDULE = {
    "query": {"dbName": "prod:all", "sql": "SELECT 1 AS one", "name": "nightly_one"},
    "schedule": {"schedule": "0 3 * * *", "startDate": "2026-01-01T00:00:00.000Z"},
}


def test_schedules_reuse_disable_trigger_and_delete(qs, aep_emulator):
    made = qs.create_schedule(SCHEDULE)
    assert made.created and qs.create_schedule(SCHEDULE).id == made.id
    with pytest.raises(AEPQueryServiceMismatchError, match=r"schedule\.schedule"):
        qs.create_schedule({**SCHEDULE, "schedule": {**SCHEDULE["schedule"], "schedule": "@hourly"}})
    aep_emulator.control.advance_clock(5)
    assert qs.get_schedule(made.id)["state"] == "ENABLED"
    run = qs.trigger_schedule_run(made.id)
    assert str(run.get("externalTrigger")).lower() == "true"
    assert run["id"] in [r["id"] for r in qs.iter_schedule_runs(made.id)]
    aep_emulator.control.advance_clock(10)
    assert qs.get_schedule_run(made.id, run["id"])["state"].upper() == "SUCCESS"
    assert [q["state"] for q in qs.run_queries(made.id, run["id"])] == ["SUCCESS"]
    second = qs.trigger_schedule_run(made.id)
    assert second["id"] != run["id"]
    assert qs.cancel_schedule_run(made.id, second["id"]) is True
    aep_emulator.control.advance_clock(10)
    assert qs.get_schedule_run(made.id, second["id"])["state"].upper() != "SUCCESS"
    qs.set_schedule_state(made.id, "disable")
    qs.set_schedule_state(made.id, "disable")  # already disabled: not an error
    with pytest.raises(AEPBadRequestError):
        qs.trigger_schedule_run(made.id)
    qs.set_schedule_state(made.id, "enable")
    assert qs.delete_schedule(made.id) is True  # disables it first
    assert qs.delete_schedule(made.id) is False


def test_connection_parameters_point_at_the_wire_endpoint(qs, aep_emulator):
    params = qs.connection_parameters()
    assert (params["host"], params["port"], params["dbName"]) == ("127.0.0.1", aep_emulator.pg_port, "prod:all")
    assert params["username"] == ORG_ID
    assert params["token"] not in qs.redact(f"token {params['token']}")


def test_a_create_whose_answer_is_lost_is_found_by_name_not_sent_twice(qs, aep_emulator):
    aep_emulator.control.add_fault(method="POST", path="/data/foundation/query/queries", action="commit_then_drop")
    made = qs.create_query({"dbName": "prod:all", "sql": "/* lost_1 */ SELECT 1", "name": "lost_1"})
    assert [q["id"] for q in qs.find_queries("lost_1")] == [made["id"]]
    assert len(aep_emulator.control.journal(method="POST", path="/data/foundation/query/queries$")) == 1

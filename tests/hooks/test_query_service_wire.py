"""AEPQueryServiceHook over the real PostgreSQL wire protocol (psycopg2) against the emulator, and the four
common-sql operators through ``dag.test()``: good data passes, bad data fails naming the column; a token that
expires between two connections; OpenLineage from the SQL; no token in errors."""

from __future__ import annotations

import json

import psycopg2
import pytest
from aep_emulator.testing import CLIENT_ID
from aep_emulator.testing_query import QueryClient

from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook
from tests.conftest import ORG_ID

GOOD = "SELECT * FROM (VALUES ('a@x.io', 'Acme'), ('b@x.io', 'Acme'), ('c@x.io', 'Initech')) AS t(email, company)"
BAD = "SELECT * FROM (VALUES ('a@x.io', 'Acme'), ('a@x.io', 'Acme'), (NULL, 'Initech')) AS t(email, company)"


def use_query_connection(monkeypatch, **fields) -> None:
    conn = {"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}, **fields}
    monkeypatch.setenv("AIRFLOW_CONN_AEP_QUERY_SERVICE_DEFAULT", json.dumps(conn))


@pytest.fixture
def wire(aep_emulator, connections, monkeypatch):
    """The emulator, ``aep_default`` pointing at it and ``aep_query_service_default`` taking its credentials."""
    connections(aep_emulator.url)
    use_query_connection(monkeypatch)
    return aep_emulator


def ctas(emulator, name: str, sql: str) -> str:
    """A dataset made by a CTAS query (through the REST client); returns its id."""
    from airflow_provider_aep.client._query_records import query_summary
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

    client = AEPFlowServiceHook().query_service
    made = client.create_query({"dbName": "prod:all", "sql": sql, "ctasParameters": {"datasetName": name}})
    emulator.control.advance_clock(10)
    summary = query_summary(client.get_query(made["id"]))
    assert summary["state"] == "SUCCESS", summary
    return summary["created_dataset_id"]


def token_requests(emulator) -> int:
    return sum(1 for entry in emulator.control.journal() if entry["path"].endswith("/ims/token/v3"))


def test_get_records_and_get_first_over_the_wire(wire):
    ctas(wire, "wire_contacts", GOOD)
    hook = AEPQueryServiceHook()
    assert hook.get_records("SELECT email, company FROM wire_contacts ORDER BY email") == [
        ("a@x.io", "Acme"),
        ("b@x.io", "Acme"),
        ("c@x.io", "Initech"),
    ]
    assert hook.get_first("SELECT COUNT(*) FROM wire_contacts WHERE company = %s", parameters=("Acme",)) == (2,)
    assert hook.test_connection()[0] is True


def test_iter_records_streams_through_a_server_side_cursor(wire):
    hook = AEPQueryServiceHook()
    rows = hook.iter_records("SELECT i FROM range(%s) t(i) ORDER BY i", (25_000,), batch_size=10_000)
    assert sum(1 for _ in rows) == 25_000
    listed = QueryClient(wire.url, wire.control.issue_token(CLIENT_ID), org=ORG_ID).get(
        "/queries", params={"excludeHidden": "false", "limit": 50}
    )
    assert listed.ok, listed.text
    fetched = [q["rowCount"] for q in listed.json()["queries"] if q["effectiveSQL"].startswith("FETCH FORWARD 10000")]
    # three batches (psycopg2 also fetches the empty end; psycopg 3 stops at a short batch)
    assert sorted(filter(None, fetched), reverse=True) == [10_000, 10_000, 5_000]
    first_two = hook.iter_records("SELECT i FROM range(100) t(i) ORDER BY i", batch_size=10)
    assert [next(first_two), next(first_two)] == [(0,), (1,)]
    first_two.close()  # stopping early closes the cursor's connection: the next one is a new session
    assert hook.get_first("SELECT 1") == (1,)
    with pytest.raises(ValueError, match="batch_size"):
        hook.iter_records("SELECT 1", batch_size=0)


def test_a_token_that_expires_between_two_connections_is_replaced(wire):
    hook = AEPQueryServiceHook()
    assert hook.get_first("SELECT 1") == (1,)
    assert token_requests(wire) == 1
    wire.control.expire_tokens()
    assert hook.get_first("SELECT 2") == (2,)  # a new connection: the expired token is refused, a new one minted
    assert token_requests(wire) == 2


def test_a_bad_credential_is_refused_and_not_shown(wire, monkeypatch):
    use_query_connection(monkeypatch, password="acct-id:wrong-credential-SECRET")
    with pytest.raises(Exception, match="Invalid password") as err:  # psycopg 3 or psycopg2, as PostgresHook picks
        AEPQueryServiceHook().get_first("SELECT 1")
    assert type(err.value).__name__ == "OperationalError" and "wrong-credential-SECRET" not in str(err.value)


def test_psycopg2_itself_connects_with_the_hooks_arguments(wire):
    """PostgresHook drives psycopg 3 when it is installed (as here); psycopg2 works with the same arguments."""
    ctas(wire, "psycopg2_contacts", GOOD)
    with psycopg2.connect(**AEPQueryServiceHook().connection_arguments()) as conn, conn.cursor() as cur:
        cur.execute("SELECT company, COUNT(*) FROM psycopg2_contacts GROUP BY company ORDER BY company")
        assert cur.fetchall() == [("Acme", 2), ("Initech", 1)]


def test_the_common_sql_operators_pass_on_good_data(wire, run_dag):
    ctas(wire, "good_contacts", GOOD)
    dag_run = run_dag("aep_query_checks", {"table": "good_contacts", "rows": 3})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"select": "success", "columns": "success", "table": "success", "value": "success"}


def test_the_common_sql_operators_fail_on_bad_data(wire, run_dag):
    ctas(wire, "bad_contacts", BAD)
    dag_run = run_dag("aep_query_checks", {"table": "bad_contacts", "rows": 4})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"select": "success", "columns": "failed", "table": "failed", "value": "failed"}


def test_a_failed_column_check_names_the_column(wire):
    from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator

    ctas(wire, "dup_contacts", BAD)
    op = SQLColumnCheckOperator(
        task_id="columns",
        conn_id="aep_query_service_default",
        table="dup_contacts",
        column_mapping={"email": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}},
    )
    with pytest.raises(Exception, match=r"Column: email\s+Check: null_check") as err:
        op.execute({})
    assert "unique_check" in str(err.value)


def test_openlineage_from_the_sql(wire):
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

    ctas(wire, "lineage_contacts", GOOD)
    op = SQLExecuteQueryOperator(
        task_id="q", conn_id="aep_query_service_default", sql="SELECT email FROM lineage_contacts"
    )
    lineage = op.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"postgres://127.0.0.1:{wire.pg_port}", "prod:all.public.lineage_contacts")
    ]


def test_the_username_is_the_org_and_the_database_the_sandbox(wire):
    arguments = AEPQueryServiceHook().connection_arguments()
    assert (arguments["user"], arguments["dbname"], arguments["port"]) == (ORG_ID, "prod:all", wire.pg_port)
    assert arguments["sslmode"] == "prefer"

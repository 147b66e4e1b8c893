"""Query Service's PostgreSQL endpoint with real drivers: psycopg2 (simple query protocol, what Airflow's
PostgresHook uses) and psycopg 3 (extended protocol), against records landed by an emulated HubSpot run."""

from __future__ import annotations

from contextlib import closing

import psycopg
import psycopg2
import pytest
from aep_emulator.flow_service.sources import hubspot
from aep_emulator.server import run_emulator_subprocess
from aep_emulator.testing import fetch_token
from aep_emulator.testing_query import QueryClient, pg_params
from target_helpers import (
    contact_mappings,
    finished_run,
    make_dataset,
    make_flow,
    make_mapping_set,
    make_schema,
    tenant,
)

ROWS = hubspot.preview_rows("Contacts", count=10)


@pytest.fixture
def token(emu) -> str:
    return fetch_token(emu.url)


@pytest.fixture
def landed(emu, fs) -> dict[str, str]:
    """Ten HubSpot contacts landed by a finished flow run into the dataset ``HubSpot Contacts``."""
    schema = make_schema(fs)
    dataset = make_dataset(fs, schema)
    tenant_id = tenant(fs)
    flow = make_flow(fs, dataset, schema, make_mapping_set(fs, schema, contact_mappings(tenant_id)))
    finished_run(emu, fs, flow)
    return {"dataset": dataset, "tenant": tenant_id}


def test_psycopg2_sees_landed_records_with_dot_paths(emu, token, landed):
    with psycopg2.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert [d[0] for d in cur.description] == ["name", "dataSetId", "dataSet", "description", "resolved"]
        assert ("hubspot_contacts", landed["dataset"], "HubSpot Contacts") in [row[:3] for row in cur.fetchall()]
        t = f"_{landed['tenant']}"
        cur.execute(
            f"SELECT {t}.hubspot.email, {t}.hubspot.vid, person.name.firstName FROM hubspot_contacts ORDER BY 2"
        )
        expected = sorted(
            (r["Properties_Email_Value"].lower(), r["Vid"], r["Properties_Firstname_Value"]) for r in ROWS
        )
        assert sorted(cur.fetchall(), key=lambda row: row[1]) == sorted(expected, key=lambda row: row[1])
        cur.execute(f"SELECT count(*) FROM hubspot_contacts WHERE {t}.hubspot.addedAt > TIMESTAMP '1990-01-01'")
        assert cur.fetchone() == (10,)
        assert conn.get_parameter_status("server_version") and conn.get_parameter_status("DateStyle") == "ISO, MDY"


def test_psycopg3_binds_parameters_through_the_extended_protocol(emu, token, landed):
    vid = ROWS[3]["Vid"]
    t = f"_{landed['tenant']}"
    with psycopg.connect(**pg_params(emu, token)) as conn:
        row = conn.execute(f"SELECT {t}.hubspot.email FROM hubspot_contacts WHERE {t}.hubspot.vid = %s", (vid,))
        assert row.fetchall() == [(ROWS[3]["Properties_Email_Value"].lower(),)]
        named = conn.execute("SELECT %(a)s::VARCHAR || '-' || %(b)s::VARCHAR AS joined, %(n)s + 1 AS n",
                             {"a": "x", "b": "y", "n": 41})  # fmt: skip
        assert named.fetchone() == ("x-y", 42)
        assert [c.name for c in named.description] == ["joined", "n"]
        with conn.cursor() as cur:
            cur.execute("SELECT %s::BIGINT AS v", (7,), prepare=True)
            assert cur.fetchone() == (7,)


def test_a_100000_row_select_streams(emu, token):
    with psycopg.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        count = total = 0
        for (value,) in cur.stream("SELECT i FROM range(100000) t(i)"):
            count += 1
            total += value
        assert (count, total) == (100_000, sum(range(100_000)))
    with psycopg2.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        cur.execute("SELECT i FROM range(100000) t(i)")
        assert len(cur.fetchmany(100_000)) == 100_000 and cur.rowcount == 100_000


def test_psycopg2_named_cursors_fetch_in_pieces_while_the_session_goes_on(emu, token):
    with psycopg2.connect(**pg_params(emu, token)) as conn:
        named = conn.cursor(name="big rows")  # DECLARE "big rows" CURSOR WITHOUT HOLD FOR ...; FETCH FORWARD n
        named.itersize = 10_000
        named.execute("SELECT i FROM range(%s) t(i) ORDER BY i", (100_000,))
        seen = 0
        with conn.cursor() as other:
            for (value,) in named:
                assert value == seen
                seen += 1
                if seen == 50_000:  # another statement of the same session does not end the open cursor
                    other.execute("SELECT count(*) FROM range(7)")
                    assert other.fetchone() == (7,)
        assert seen == 100_000 and [d[0] for d in named.description] == ["i"]
        named.close()
    fetches = [
        q["rowCount"]
        for q in QueryClient(emu.url, token)
        .get("/queries", params={"excludeHidden": "false", "limit": 100})
        .json()["queries"]
        if q["effectiveSQL"].startswith('FETCH FORWARD 10000 FROM "big rows"')
    ]
    assert sorted(fetches, reverse=True) == [10_000] * 10 + [0]  # pulled 10,000 rows at a time, never all at once


def test_psycopg3_server_side_cursors(emu, token):
    with psycopg.connect(**pg_params(emu, token)) as conn:
        with conn.cursor(name="pieces") as cur:  # DECLARE, then Describe of the cursor's portal, then FETCH
            cur.execute("SELECT i, i * 2 AS twice FROM range(%s) t(i) ORDER BY i", (25,))
            assert [c.name for c in cur.description] == ["i", "twice"]
            assert cur.fetchmany(10) == [(i, 2 * i) for i in range(10)]
            assert cur.fetchone() == (10, 20)
            assert len(cur.fetchall()) == 14
        conn.commit()


def test_cursor_commands_as_postgresql_answers_them(emu, token):
    # not `with conn`: psycopg2 2.9 opens a transaction there even in autocommit
    with closing(psycopg2.connect(**pg_params(emu, token))) as conn, conn.cursor() as cur:
        conn.autocommit = True
        with pytest.raises(psycopg2.Error) as outside:
            cur.execute("DECLARE c CURSOR FOR SELECT 1")
        assert outside.value.pgcode == "25P01"  # WITHOUT HOLD needs a transaction
        cur.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT i FROM range(10) t(i) ORDER BY i")
        cur.execute("BEGIN; DECLARE c NO SCROLL CURSOR FOR SELECT i FROM range(10) t(i) ORDER BY i")
        cur.execute("MOVE FORWARD 3 IN c")
        assert cur.statusmessage == "MOVE 3"
        cur.execute("FETCH 2 FROM c")
        assert cur.fetchall() == [(3,), (4,)] and cur.statusmessage == "FETCH 2"
        cur.execute("FETCH NEXT FROM c")
        assert cur.fetchall() == [(5,)]
        cur.execute("FETCH ALL FROM c")
        assert cur.fetchall() == [(6,), (7,), (8,), (9,)]
        with pytest.raises(psycopg2.Error) as twice:
            cur.execute("DECLARE c CURSOR FOR SELECT 2")
        assert twice.value.pgcode == "42P03"
        cur.execute("ROLLBACK")
        with pytest.raises(psycopg2.Error) as ended:  # a transaction's end closes its cursors...
            cur.execute("FETCH c")
        assert ended.value.pgcode == "34000"
        cur.execute("FETCH FORWARD 2 FROM kept")  # ...but not one declared WITH HOLD
        assert cur.fetchall() == [(0,), (1,)]
        cur.execute("CLOSE ALL")
        with pytest.raises(psycopg2.Error) as closed:
            cur.execute("CLOSE kept")
        assert closed.value.pgcode == "34000"
        with pytest.raises(psycopg2.Error) as not_a_query:
            cur.execute("BEGIN; DECLARE w CURSOR FOR DROP TABLE anything")
        assert not_a_query.value.pgcode == "42601"


def test_several_statements_in_one_simple_query_and_ctas_over_the_wire(emu, token):
    with psycopg2.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE wire_out AS SELECT 1 AS a, 'x' AS b; SELECT a, b FROM wire_out")
        assert cur.fetchall() == [(1, "x")]
        cur.execute("INSERT INTO wire_out SELECT 2 AS a, 'y' AS b")
        cur.execute("SELECT count(*) FROM wire_out")
        assert cur.fetchone() == (2,)
    qs = QueryClient(emu.url, token)
    visible = qs.get("/queries", params={"property": "client==PostgreSQL"}).json()["queries"]
    assert {q["effectiveSQL"] for q in visible} >= {"SELECT count(*) FROM wire_out", "SELECT a, b FROM wire_out"}
    assert not any(q["effectiveSQL"] == "BEGIN" for q in visible)
    hidden = qs.get("/queries", params={"excludeHidden": "false", "property": "client==PostgreSQL"}).json()
    assert any(q["effectiveSQL"] == "BEGIN" for q in hidden["queries"])


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM missing_table", "42P01"),
        ("SELECT * FROM range(5) LIMIT 200000", "53400"),
        ("SELECT nope_function(1)", "58000"),
        ("UPDATE t SET a = 1", "0A000"),
    ],
)
def test_errors_carry_sqlstate(emu, token, sql, code):
    with psycopg2.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as caught:
            cur.execute(sql)
        assert caught.value.pgcode == code
        conn.rollback()
        cur.execute("SELECT 1")  # the session goes on after an error
        assert cur.fetchone() == (1,)


def test_session_commands_drivers_send(emu, token):
    with psycopg2.connect(**pg_params(emu, token)) as conn, conn.cursor() as cur:
        cur.execute("SET DateStyle TO 'ISO, MDY'; SHOW DateStyle")
        assert cur.fetchone() == ("ISO, MDY",)
        cur.execute("SET auto_to_json = true")
        cur.execute("SELECT {'a': 1, 'b': 'x'} AS s")
        assert cur.fetchone() == ({"a": 1, "b": "x"},)
        with pytest.raises(psycopg2.Error) as caught:
            cur.execute("SHOW no_such_setting")
        assert caught.value.pgcode == "42704"


def test_bad_expired_and_unknown_tokens_are_refused(emu, token):
    for password in ("not-a-token", ""):
        with pytest.raises(psycopg2.OperationalError, match="Invalid password"):
            psycopg2.connect(**pg_params(emu, password or "x"))
    with psycopg.connect(**pg_params(emu, token)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    emu.control.expire_tokens()
    with pytest.raises(psycopg.OperationalError, match="Invalid password"):
        psycopg.connect(**pg_params(emu, token))


def test_wrong_database_and_user_are_refused(emu, token):
    with pytest.raises(psycopg2.OperationalError, match="No tables found"):
        psycopg2.connect(**{**pg_params(emu, token), "dbname": "prod"})
    with pytest.raises(psycopg2.OperationalError, match="No tables found"):
        psycopg2.connect(**pg_params(emu, token, sandbox="nosuch"))
    with pytest.raises(psycopg2.OperationalError, match="organization id"):
        psycopg2.connect(**{**pg_params(emu, token), "user": "someone"})


def test_tls_is_offered_and_plain_connections_work(emu, token):
    with psycopg.connect(**pg_params(emu, token, sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use
    with psycopg.connect(**pg_params(emu, token, sslmode="disable")) as conn:
        assert not conn.pgconn.ssl_in_use


def test_the_cli_reports_the_postgres_address():
    with run_emulator_subprocess() as emulator:
        assert emulator.pg_address is not None and emulator.pg_address[0] == "127.0.0.1"
        token = fetch_token(emulator.url)
        with psycopg2.connect(**pg_params(emulator, token)) as conn, conn.cursor() as cur:
            cur.execute("SELECT 42")
            assert cur.fetchone() == (42,)
        answer = QueryClient(emulator.url, token).get("/connection_parameters").json()
        assert answer["port"] == emulator.pg_port

"""Query Service's ``_links.referenced_datasets`` over real HTTP: the datasets a query's SQL reads (a CTAS's or
ITAS's source, never its target), resolved once the query is ``IN_PROGRESS``, and the
``property=referenced_datasets==<id>||<id>`` filter of ``GET /queries``; the same for statements sent over the
PostgreSQL endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg2
import pytest
from aep_emulator.testing import CATALOG, fetch_token
from aep_emulator.testing_query import QueryClient, hold_queries, pg_params
from jsonschema import Draft7Validator
from target_helpers import (
    contact_mappings,
    finished_run,
    make_dataset,
    make_flow,
    make_mapping_set,
    make_schema,
    tenant,
)

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "query-service.openapi.yaml"


def spec_errors(query: dict[str, Any]) -> list[str]:
    """Where ``query`` breaks the spec's ``query`` schema (none when the spec is absent: nothing to check against)."""
    if not SPEC_PATH.exists():
        return []
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    document = {"$ref": "#/components/schemas/query", "components": spec["components"]}
    return [e.message for e in Draft7Validator(document).iter_errors(query)]


@pytest.fixture
def qs(emu) -> QueryClient:
    return QueryClient(emu.url, fetch_token(emu.url))


@pytest.fixture
def landed(emu, fs, qs) -> dict[str, str]:
    """Two landed datasets: ``hubspot_contacts`` (ten contacts from a finished flow run) and ``scores`` (a CTAS of
    their ids), with the tenant id for dot paths."""
    schema = make_schema(fs)
    contacts = make_dataset(fs, schema)
    tenant_id = tenant(fs)
    finished_run(emu, fs, make_flow(fs, contacts, schema, make_mapping_set(fs, schema, contact_mappings(tenant_id))))
    made = run(emu, qs, f"SELECT _{tenant_id}.hubspot.vid AS vid, 1 AS score FROM hubspot_contacts",
               ctasParameters={"datasetName": "scores"})  # fmt: skip
    assert made["state"] == "SUCCESS" and made["rowCount"] == 10, made
    return {
        "contacts": contacts,
        "scores": made["_links"]["created_dataset"]["id"],
        "scores_query": made["id"],
        "tenant": tenant_id,
    }


def submit(qs: QueryClient, sql: str, **extra: Any) -> dict[str, Any]:
    response = qs.post("/queries", json={"dbName": "prod:all", "sql": sql, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def run(emu, qs: QueryClient, sql: str, **extra: Any) -> dict[str, Any]:
    query_id = submit(qs, sql, **extra)["id"]
    emu.control.advance_clock(5)
    return qs.get(f"/queries/{query_id}").json()


def referenced(query: dict[str, Any]) -> list[str]:
    return [link["id"] for link in query["_links"]["referenced_datasets"]]


def listed(qs: QueryClient, flt: str) -> set[str]:
    response = qs.get("/queries", params={"property": flt, "limit": 50})
    assert response.status_code == 200, response.text
    return {q["id"] for q in response.json()["queries"]}


def test_a_select_joining_two_landed_datasets_lists_both_once_in_progress(emu, qs, landed):
    hold_queries(emu.url)
    sql = (
        f"WITH h AS (SELECT _{landed['tenant']}.hubspot.vid AS vid FROM hubspot_contacts) "
        "SELECT h.vid, s.score FROM h JOIN scores s USING (vid)"
    )
    query = submit(qs, sql)
    assert "referenced_datasets" not in query["_links"]  # SUBMITTED: not resolved yet
    emu.control.advance_clock(5)
    held = qs.get(f"/queries/{query['id']}").json()
    assert held["state"] == "IN_PROGRESS"
    assert referenced(held) == [landed["contacts"], landed["scores"]]
    hold_queries(emu.url, held=False)
    emu.control.advance_clock(1)
    done = qs.get(f"/queries/{query['id']}").json()
    assert done["state"] == "SUCCESS" and done["rowCount"] == 10, done
    assert not spec_errors(done)
    links = done["_links"]["referenced_datasets"]
    assert links[0]["href"] == f"{emu.url}/data/foundation/catalog/dataSets/{landed['contacts']}"
    catalog = qs.service(CATALOG)
    assert [next(iter(catalog.get(link["href"][len(emu.url) + len(CATALOG) :]).json())) for link in links] == [
        landed["contacts"],
        landed["scores"],
    ]
    (in_list,) = [q for q in qs.get("/queries").json()["queries"] if q["id"] == query["id"]]
    assert in_list["_links"]["referenced_datasets"] == links


def test_a_ctas_or_itas_lists_its_source_not_its_output(emu, qs, landed):
    ctas = run(emu, qs, "SELECT vid, score * 2 AS score FROM scores", ctasParameters={"datasetName": "doubled"})
    assert ctas["state"] == "SUCCESS" and ctas["isCTAS"], ctas
    assert referenced(ctas) == [landed["scores"]]
    assert ctas["_links"]["created_dataset"]["id"] not in referenced(ctas)
    written = run(emu, qs, "CREATE TABLE tripled AS SELECT vid, score * 3 AS score FROM scores")
    assert written["state"] == "SUCCESS" and referenced(written) == [landed["scores"]]
    # a later statement reading what an earlier one created references it (resolved again when the query ends)
    chained = run(emu, qs, "CREATE TABLE quad AS SELECT vid FROM scores; SELECT count(*) AS n FROM quad")
    assert chained["state"] == "SUCCESS", chained
    assert referenced(chained) == [landed["scores"], chained["_links"]["created_dataset"]["id"]]
    into = run(emu, qs, "SELECT vid, 0 AS score FROM hubspot_contacts_ids", insertIntoParameters={"datasetName": "x"})
    assert into["state"] == "FAILED" and referenced(into) == []  # neither table exists
    itas = run(emu, qs, "SELECT vid, score FROM doubled", insertIntoParameters={"datasetName": "scores"})
    assert itas["state"] == "SUCCESS" and itas["isInsertInto"], itas
    assert referenced(itas) == [ctas["_links"]["created_dataset"]["id"]]


def test_the_filter_finds_a_query_by_either_dataset(emu, qs, landed):
    both = run(emu, qs, "SELECT count(*) AS n FROM scores, hubspot_contacts")["id"]
    contacts_only = run(emu, qs, "SELECT count(*) AS contacts FROM hubspot_contacts")["id"]
    nothing = run(emu, qs, "SELECT 1 AS one")["id"]
    contacts, scores = landed["contacts"], landed["scores"]
    # the CTAS that made ``scores`` read the contacts too
    assert listed(qs, f"referenced_datasets=={contacts}") == {both, contacts_only, landed["scores_query"]}
    assert both in listed(qs, f"referenced_datasets=={scores}")
    assert contacts_only not in listed(qs, f"referenced_datasets=={scores}")
    assert listed(qs, f"referenced_datasets=={scores}||{contacts}") == {both, contacts_only, landed["scores_query"]}
    assert nothing not in listed(qs, f"referenced_datasets=={scores}||{contacts}")
    assert listed(qs, f"referenced_datasets=={contacts},sql~AS contacts") == {contacts_only}
    assert listed(qs, "referenced_datasets==0123456789abcdef01234567") == set()
    eleven = qs.get("/queries", params={"property": "referenced_datasets==" + "||".join(["a"] * 11)})
    assert eleven.status_code == 400 and "referenced_datasets" in eleven.json()["message"]
    contains = qs.get("/queries", params={"property": f"referenced_datasets~{contacts}"})
    assert contains.status_code == 400 and "only ==" in contains.json()["message"]


def test_a_query_on_no_table_lists_none(emu, qs):
    for sql in (
        "SELECT 1 AS one",
        "SELECT * FROM range(3) t(i)",
        "SELECT count(*) AS n FROM information_schema.tables",
    ):
        query = run(emu, qs, sql)
        assert query["state"] == "SUCCESS", query
        assert query["_links"]["referenced_datasets"] == []


def test_statements_over_the_postgresql_endpoint_list_their_datasets(emu, qs, landed):
    with psycopg2.connect(**pg_params(emu, qs.token)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM scores")
        assert cur.fetchone() == (10,)
    (query,) = [q for q in qs.get("/queries").json()["queries"] if q["client"] == "PostgreSQL"]
    assert referenced(query) == [landed["scores"]]
    assert query["id"] in listed(qs, f"referenced_datasets=={landed['scores']}")

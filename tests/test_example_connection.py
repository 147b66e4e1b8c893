"""dags_examples/hubspot_connection.py through dag.test() against the emulator over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_aep.ownership import owner_of, strip_owner
from tests.conftest import AEP_CLIENT_ID, HUBSPOT_SECRETS, ORG_ID, SHARED_REFERENCE, xcoms_of

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
DAG_ID = "aep_hubspot_connection"
TASK = "create_hubspot_connection"


def flow_service_requests(journal, method):
    return [e for e in journal if e["method"] == method and e["path"].startswith("/data/foundation/flowservice")]


@pytest.fixture
def emulated(aep_emulator, connections):
    connections(aep_emulator.url)
    return aep_emulator


def test_dag_creates_the_connection_then_reuses_it(emulated, run_dag):
    from airflow.utils.state import DagRunState

    first = run_dag(DAG_ID)
    assert first.state == DagRunState.SUCCESS
    xcoms = xcoms_of(first)
    connection_id = xcoms[(TASK, -1, "return_value")]
    assert xcoms[(TASK, -1, "etag")].startswith('"')
    assert xcoms[("report", -1, "return_value")] == connection_id

    journal = emulated.control.journal(include_secrets=True)  # the body as sent, credentials included
    posts = flow_service_requests(journal, "POST")
    assert len(posts) == 1
    assert posts[0]["path"] == "/data/foundation/flowservice/connections"
    owner = owner_of(posts[0]["body"])  # the DAG run that made it, recorded on the connection itself
    assert owner is not None and (owner.dag_id, owner.run_id) == (DAG_ID, first.run_id)
    assert {**posts[0]["body"], "description": strip_owner(posts[0]["body"]["description"])} == {
        "name": f"HubSpot CRM ({DAG_ID})",
        "description": "HubSpot base connection managed by Airflow",
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "clientId": HUBSPOT_SECRETS["login"],
                "clientSecret": HUBSPOT_SECRETS["password"],
                "accessToken": HUBSPOT_SECRETS["access_token"],
                "refreshToken": HUBSPOT_SECRETS["refresh_token"],
            },
        },
        "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
    }
    headers = posts[0]["headers"]
    assert headers["authorization"].startswith("Bearer ")
    assert headers["x-api-key"] == AEP_CLIENT_ID
    assert headers["x-gw-ims-org-id"] == ORG_ID
    assert headers["x-sandbox-name"] == "prod"
    assert headers["content-type"] == "application/json"
    assert sum(1 for e in journal if e["path"] == "/ims/token/v3") == 1

    emulated.control.clear_journal()
    second = run_dag(DAG_ID)
    assert second.state == DagRunState.SUCCESS
    assert xcoms_of(second)[(TASK, -1, "return_value")] == connection_id
    assert flow_service_requests(emulated.control.journal(), "POST") == []
    assert len(emulated.control.state()["connections"]) == 1

    stored = json.dumps(list(xcoms.values()) + list(xcoms_of(second).values()))
    assert not any(secret in stored for secret in HUBSPOT_SECRETS.values())


def test_request_body_matches_adobes_openapi_schema(emulated, run_dag):
    """The body we POST validates against the spec's connection schema (read from ../shared/reference)."""
    spec_file = Path(SHARED_REFERENCE) / "flow-service.openapi.yaml"
    if not spec_file.exists():
        pytest.skip(f"Adobe's OpenAPI spec is not at {spec_file}; request-shape check skipped")
    import jsonschema
    import yaml

    spec = yaml.safe_load(spec_file.read_text())
    operation = spec["paths"]["/connections"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    resolver_root = {"components": spec.get("components", {}), **schema}

    run_dag(DAG_ID)
    body = flow_service_requests(emulated.control.journal(include_secrets=True), "POST")[0]["body"]
    jsonschema.validate(body, resolver_root)
    with pytest.raises(jsonschema.ValidationError):  # the schema really constrains the body
        jsonschema.validate({"name": "no connection spec"}, resolver_root)


def test_every_example_dag_is_tagged_example(dagbag):
    """The UI's tag filter "example" lists every DAG shipped in dags_examples/, and only those."""
    examples = {p.stem for p in (Path(__file__).parents[1] / "dags_examples").glob("[!_]*.py")}
    tagged = {Path(dag.fileloc).stem for dag in dagbag.dags.values() if "example" in dag.tags}
    assert tagged == examples

"""Read-only HTML pages at the paths the provider's extra links use (``/__emulator/ui/...``, item 17)."""

from __future__ import annotations

import html
import time
from urllib.parse import quote

import pytest
import requests
from aep_emulator import schema_registry
from aep_emulator.testing import HUBSPOT_AUTH, ORG, FlowClient, fetch_token

from airflow_provider_aep.get_provider_info import EMULATOR_UI_BASE, LINK_PATHS

UI = "/__emulator/ui"


def link(emu, key: str, sandbox: str = "prod", org: str = ORG, **ids: str) -> str:
    """The URL ``links.py`` builds for an emulator connection (same constants)."""
    return (EMULATOR_UI_BASE + LINK_PATHS[key]).format(emulator_url=emu.url, org_id=org, sandbox=sandbox, **ids)


def page(url: str, status: int = 200) -> str:
    response = requests.get(url, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html;charset=utf-8"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff"
    return response.text


@pytest.fixture
def emu(aep_emulator):
    return aep_emulator


@pytest.fixture
def fs(emu) -> FlowClient:
    return FlowClient(emu.url, fetch_token(emu.url))


@pytest.fixture
def resources(emu, fs):
    ids = fs.pipeline()
    run = fs.post("/runs", json={"flowId": ids["flow"], "params": {"startTime": int(time.time())}})
    assert run.status_code in (200, 201), run.text
    dataset_id, schema_id = fs.dataset()
    return {**ids, "run": run.json()["items"][0]["id"], "dataset": dataset_id, "schema": schema_id}


def test_every_link_path_has_a_page(emu, resources):
    account = page(link(emu, "base_connection_link", id=resources["base"]))
    assert "Source account: hubspot base" in account and resources["base"] in account and "enabled" in account
    flow = page(link(emu, "dataflow_link", id=resources["flow"]))
    assert "Dataflow: hubspot dataflow" in flow and resources["flow"] in flow
    assert resources["run"] in flow, "the dataflow page lists its runs"
    run = page(link(emu, "run_link", id=resources["run"], flow_id=resources["flow"]))
    assert "Dataflow run" in run and resources["run"] in run
    assert any(state in run for state in ("scheduled", "inProgress", "success", "failed"))
    assert f"{UI}/@{ORG}/sname:prod/platform/source/dataflows/{resources['flow']}" in run
    dataset = page(link(emu, "dataset_link", id=resources["dataset"]))
    assert "Dataset:" in dataset and resources["dataset"] in dataset
    schema = page(link(emu, "schema_link", id=quote(resources["schema"], safe="")))
    assert "XDM schema:" in schema and html.escape(resources["schema"]) in schema
    assert f"dataset/browse/{resources['dataset']}" in schema, "the schema page links its datasets"


def test_pages_mask_secrets_and_show_the_json(emu, resources):
    text = page(link(emu, "base_connection_link", id=resources["base"]))
    assert not [v for k, v in HUBSPOT_AUTH["params"].items() if k != "clientId" and v in text]
    assert "&lt;redacted&gt;" in text and "hs-client" in text
    assert 'id="resource-json"' in text and "connectionSpec" in text


@pytest.mark.parametrize(
    ("key", "ids"),
    [
        ("base_connection_link", {"id": "no-such-account"}),
        ("dataflow_link", {"id": "no-such-flow"}),
        ("run_link", {"id": "no-such-run", "flow_id": "no-such-flow"}),
        ("dataset_link", {"id": "0123456789abcdef01234567"}),
        ("schema_link", {"id": quote("https://ns.adobe.com/nobody/schemas/0", safe="")}),
    ],
)
def test_unknown_ids_get_a_404_page(emu, resources, key, ids):
    text = page(link(emu, key, **ids), status=404)
    shown = "https://ns.adobe.com/nobody/schemas/0" if key == "schema_link" else ids["id"]
    assert "Not found" in text and html.escape(shown) in text


def test_a_run_of_another_flow_or_sandbox_is_not_found(emu, resources):
    page(link(emu, "run_link", id=resources["run"], flow_id=resources["base"]), status=404)
    page(link(emu, "base_connection_link", sandbox="dev", id=resources["base"]), status=404)
    page(f"{emu.url}{UI}/@{ORG}/sname:prod/platform/schema", status=404)  # no ?search=
    page(f"{emu.url}{UI}/@{ORG}/sname:prod/platform/source/elsewhere/x", status=404)
    page(f"{emu.url}{UI}/nothing-here", status=404)


def test_the_tenant_may_be_the_org_the_xdm_tenant_or_a_configured_ui_tenant(emu, resources):
    tenant = schema_registry.tenant_id(next(iter(emu.state.stores.values())))
    for name in (tenant, "acmecorp"):
        assert resources["flow"] in page(link(emu, "dataflow_link", org=name, id=resources["flow"]))


def test_pages_are_read_only(emu, resources):
    url = link(emu, "base_connection_link", id=resources["base"])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = requests.request(method, url, timeout=10)
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert len(emu.control.state()["connections"]) == 1
    assert not [e for e in emu.control.journal() if e["path"].startswith("/__emulator")], "pages are not journaled"


def test_names_are_escaped(emu, fs):
    conn_id = fs.connection(name='<script>alert("x")</script>')
    text = page(link(emu, "base_connection_link", id=conn_id))
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_index_lists_every_resource(emu, resources):
    text = page(f"{emu.url}{UI}")
    for kind in ("base", "flow", "dataset"):
        assert resources[kind] in text
    assert html.escape(quote(resources["schema"], safe="")) in text
    emu.control.reset()
    assert "Nothing has been created yet" in page(f"{emu.url}{UI}/")

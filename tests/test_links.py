"""Extra links: what the worker stores at task end (``get_link``) from what the operator persisted."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock
from urllib.parse import quote

import pytest
import requests

from airflow_provider_aep.get_provider_info import DEFAULT_LINK_TEMPLATES
from airflow_provider_aep.links import (
    AEPBaseConnectionLink,
    AEPDataflowLink,
    AEPDatasetLink,
    AEPFlowRunLink,
    AEPSchemaLink,
    format_link,
)

ORG = "0123456789ABCDEF01234567@AdobeOrg"
UI = "https://experience.adobe.com/#/@"
LINKS = (AEPBaseConnectionLink, AEPDataflowLink, AEPFlowRunLink)
ALL_LINKS = (*LINKS, AEPDatasetLink, AEPSchemaLink)
EMULATOR = "http://127.0.0.1:8081"
REPO = Path(__file__).resolve().parents[1]


def settings(platform_url: str | None = None) -> SimpleNamespace:
    """What ``persist`` reads of an ``AEPSettings`` (an operator's ``hook.settings``)."""
    return SimpleNamespace(org_id=ORG, sandbox_name="prod", platform_url=platform_url)


@pytest.fixture(autouse=True)
def _no_link_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (*DEFAULT_LINK_TEMPLATES, "ui_tenant", "ui_base"):
        monkeypatch.delenv(f"AIRFLOW__AEP__{key.upper()}", raising=False)


def test_default_templates_use_org_and_sandbox() -> None:
    value = {"org_id": ORG, "sandbox": "dev-1", "id": "c1"}
    assert format_link("base_connection_link", value) == f"{UI}{ORG}/sname:dev-1/platform/source/accounts/c1"
    assert format_link("dataflow_link", value) == f"{UI}{ORG}/sname:dev-1/platform/source/dataflows/c1"
    run = {**value, "id": "r1", "flow_id": "f1"}
    assert format_link("run_link", run) == f"{UI}{ORG}/sname:dev-1/platform/source/dataflows/f1/runs/r1"


def test_sandbox_defaults_to_prod() -> None:
    assert "/sname:prod/" in format_link("dataflow_link", {"org_id": ORG, "sandbox": "", "id": "x"})
    assert "/sname:prod/" in format_link("dataflow_link", {"org_id": ORG, "id": "x"})


def test_tenant_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__UI_TENANT", "acmecorp")
    link = format_link("base_connection_link", {"org_id": ORG, "sandbox": "prod", "id": "c1"})
    assert link == f"{UI}acmecorp/sname:prod/platform/source/accounts/c1"


def test_template_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__RUN_LINK", "https://aep.example/{org_id}/{sandbox}/{flow_id}/{id}")
    value = {"org_id": ORG, "sandbox": "prod", "id": "r1", "flow_id": "f1"}
    assert format_link("run_link", value) == f"https://aep.example/{ORG}/prod/f1/r1"


def test_bad_template_gives_no_link_and_a_warning(monkeypatch, caplog) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__DATAFLOW_LINK", "https://aep.example/{nope}/{id}")
    with caplog.at_level(logging.WARNING, logger="airflow_provider_aep.links"):
        assert format_link("dataflow_link", {"org_id": ORG, "sandbox": "prod", "id": "x"}) == ""
    assert "dataflow_link" in caplog.text and "nope" in caplog.text


@pytest.mark.parametrize("value", [None, "", "c1", {}, {"org_id": ORG, "sandbox": "prod"}, {"id": ""}])
def test_nothing_persisted_means_no_link(value) -> None:
    """get_link runs at the end of every try, also when the task failed before creating anything."""
    assert format_link("base_connection_link", value) == ""


@pytest.mark.parametrize("link_class", LINKS)
def test_persist_then_get_link(link_class) -> None:
    pushed: dict = {}
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value))
    link_class.persist({"ti": ti}, settings(), "abc", flow_id="f1")
    assert pushed == {link_class.key: {"org_id": ORG, "sandbox": "prod", "id": "abc", "flow_id": "f1"}}

    ti_key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    with mock.patch("airflow_provider_aep.links.XCom.get_value", return_value=pushed[link_class.key]) as get:
        url = link_class().get_link(operator=None, ti_key=ti_key)
    get.assert_called_once_with(key=link_class.key, ti_key=ti_key)
    assert url.startswith(f"{UI}{ORG}/sname:prod/platform/source/") and url.endswith("abc")


@pytest.mark.parametrize("link_class", LINKS)
def test_stored_url_and_persisted_ids_use_different_xcom_keys(link_class) -> None:
    """The worker writes the URL under ``xcom_key``; it must not overwrite the ids ``persist`` stored."""
    link = link_class()
    assert link.xcom_key == f"_link_{link_class.__name__}"
    assert link.xcom_key != link_class.key


def test_link_names_are_what_the_ui_shows() -> None:
    assert [cls().name for cls in LINKS] == ["AEP Source Account", "AEP Dataflow", "AEP Dataflow Run"]


# -- links of an emulator connection open the emulator's page of the resource (item 17) ---------------------
def persisted(link_class, id: str = "abc", platform_url: str | None = None, **extra) -> dict:
    pushed: dict = {}
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value))
    link_class.persist({"ti": ti}, settings(platform_url), id, **extra)
    return pushed[link_class.key]


def get_link(link_class, value: dict) -> str:
    ti_key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    with mock.patch("airflow_provider_aep.links.XCom.get_value", return_value=value):
        return link_class().get_link(operator=None, ti_key=ti_key)


EMULATOR_PAGES = {
    AEPBaseConnectionLink: "/source/accounts/abc",
    AEPDataflowLink: "/source/dataflows/abc",
    AEPFlowRunLink: "/source/dataflows/f1/runs/abc",
    AEPDatasetLink: "/dataset/browse/abc",
    AEPSchemaLink: "/schema?search=abc",
}


@pytest.mark.parametrize("platform_url", [EMULATOR, "http://localhost:8081/", "http://[::1]:8081"])
@pytest.mark.parametrize("link_class", ALL_LINKS)
def test_an_emulator_connection_links_to_the_emulator_page(link_class, platform_url) -> None:
    value = persisted(link_class, flow_id="f1", platform_url=platform_url)
    assert value["emulator_url"] == platform_url.rstrip("/")
    url = get_link(link_class, value)
    base = f"{platform_url.rstrip('/')}/__emulator/ui/@{ORG}/sname:prod/platform"
    assert url == base + EMULATOR_PAGES[link_class]
    assert "experience.adobe.com" not in url and "#" not in url


@pytest.mark.parametrize("link_class", ALL_LINKS)
def test_an_adobe_connection_keeps_the_experience_cloud_link(link_class) -> None:
    value = persisted(link_class, flow_id="f1", platform_url="https://platform.adobe.io")
    assert "emulator_url" not in value, "nothing new is stored for a real AEP connection"
    assert get_link(link_class, value).startswith(f"{UI}{ORG}/sname:prod/platform/")


def test_ui_base_overrides_the_automatic_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__UI_BASE", "https://aep.example/ui/{tenant}/{sandbox}/")
    for platform_url in (EMULATOR, "https://platform.adobe.io"):
        value = persisted(AEPFlowRunLink, flow_id="f1", platform_url=platform_url)
        assert get_link(AEPFlowRunLink, value) == f"https://aep.example/ui/{ORG}/prod/source/dataflows/f1/runs/abc"


def test_a_configured_template_wins_over_the_emulator_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__DATAFLOW_LINK", "https://aep.example/flows/{id}")
    monkeypatch.setenv("AIRFLOW__AEP__UI_BASE", "https://ignored.example")
    value = persisted(AEPDataflowLink, platform_url=EMULATOR)
    assert get_link(AEPDataflowLink, value) == "https://aep.example/flows/abc"
    # the other links still follow ui_base
    assert get_link(AEPBaseConnectionLink, value) == "https://ignored.example/source/accounts/abc"


def test_links_built_for_the_emulator_open_its_pages(aep_emulator) -> None:
    """End to end: what the operators persist for an emulator connection opens a page showing the resource."""
    from aep_emulator.testing import FlowClient, fetch_token

    fs = FlowClient(aep_emulator.url, fetch_token(aep_emulator.url))
    ids = fs.pipeline()
    run = fs.post("/runs", json={"flowId": ids["flow"], "params": {"startTime": int(time.time())}})
    run_id = run.json()["items"][0]["id"]
    dataset_id, schema_id = fs.dataset()
    cases = [
        (AEPBaseConnectionLink, ids["base"], {}),
        (AEPDataflowLink, ids["flow"], {}),
        (AEPFlowRunLink, run_id, {"flow_id": ids["flow"]}),
        (AEPDatasetLink, dataset_id, {}),
        (AEPSchemaLink, quote(schema_id, safe=""), {}),  # what CreateSchemaOperator persists
    ]
    for link_class, resource_id, extra in cases:
        value = persisted(link_class, id=resource_id, platform_url=aep_emulator.url, **extra)
        url = get_link(link_class, value)
        assert url.startswith(f"{aep_emulator.url}/__emulator/ui/"), url
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, (link_class.__name__, url, response.text[:300])
        assert (schema_id if link_class is AEPSchemaLink else resource_id) in response.text
    missing = persisted(AEPDataflowLink, id="no-such-flow", platform_url=aep_emulator.url)
    assert requests.get(get_link(AEPDataflowLink, missing), timeout=10).status_code == 404


def test_importing_links_stays_cheap() -> None:
    code = (
        "import sys, airflow_provider_aep.links;"
        "heavy = [m for m in ('requests', 'aep_emulator', 'airflow_provider_aep.hooks') "
        "if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)

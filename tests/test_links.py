"""Extra links: what the worker stores at task end (``get_link``) from what the operator persisted."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from unittest import mock

import pytest

from airflow_provider_aep.get_provider_info import DEFAULT_LINK_TEMPLATES
from airflow_provider_aep.links import (
    AEPBaseConnectionLink,
    AEPDataflowLink,
    AEPFlowRunLink,
    format_link,
)

ORG = "0123456789ABCDEF01234567@AdobeOrg"
UI = "https://experience.adobe.com/#/@"
LINKS = (AEPBaseConnectionLink, AEPDataflowLink, AEPFlowRunLink)


@pytest.fixture(autouse=True)
def _no_link_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (*DEFAULT_LINK_TEMPLATES, "ui_tenant"):
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
    link_class.persist({"ti": ti}, org_id=ORG, sandbox="prod", id="abc", flow_id="f1")
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

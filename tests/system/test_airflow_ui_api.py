"""The provider inside a real local Airflow (the latest; ``make test-lowest`` runs the hook-meta tests on the
lowest supported one too): registration, connection-form metadata, the Test button
(``POST /api/v2/connections/test`` runs ``hook.test_connection()`` in the api-server) and extra links
(stored by the worker at task end, served by the api-server)."""

from __future__ import annotations

import json

import pytest
import requests

from airflow_provider_aep.get_provider_info import (
    AEP_CONN_TYPE,
    AEP_CONNECTION_TYPE,
    HUBSPOT_CONN_TYPE,
    HUBSPOT_CONNECTION_TYPE,
    PACKAGE_NAME,
)
from airflow_provider_aep.sources import sources
from tests.conftest import ORG_ID, aep_conn_json, hubspot_conn_json
from tests.system.airflow_server import free_port

pytestmark = pytest.mark.system

EXAMPLE_DAG = "aep_hubspot_connection"
CREATE_TASK = "create_hubspot_connection"


def test_provider_is_listed(airflow_api) -> None:
    providers = airflow_api.providers()
    assert PACKAGE_NAME in providers, sorted(providers)
    assert "Adobe Experience Platform" in providers[PACKAGE_NAME]["description"]


def test_connection_types_in_hook_meta(airflow_api) -> None:
    meta = airflow_api.hook_meta()
    aep, hubspot = meta[AEP_CONN_TYPE], meta[HUBSPOT_CONN_TYPE]
    assert aep["hook_name"] == AEP_CONNECTION_TYPE["hook-name"] == "Adobe Experience Platform"
    assert hubspot["hook_name"] == HUBSPOT_CONNECTION_TYPE["hook-name"]
    assert aep["standard_fields"]["login"]["title"] == "Client ID (API key) *"
    assert aep["standard_fields"]["password"]["title"] == "Client secret *"
    assert aep["standard_fields"]["url_schema"]["hidden"] is True
    assert list(aep["extra_fields"]) == list(AEP_CONNECTION_TYPE["conn-fields"])
    assert aep["extra_fields"]["org_id"]["schema"]["title"] == "IMS Org ID"
    assert aep["extra_fields"]["sandbox_name"]["value"] == "prod"
    assert hubspot["standard_fields"]["host"]["hidden"] is True
    assert hubspot["extra_fields"]["access_token"]["schema"]["format"] == "password"
    assert hubspot["extra_fields"]["refresh_token"]["schema"]["format"] == "password"


DECLARED_FORMS = {AEP_CONN_TYPE: AEP_CONNECTION_TYPE, **{kind.conn_type: kind.connection_type() for kind in sources()}}
UI_STANDARD_FIELD = {"schema": "url_schema"}  # the standard fields as hook_meta names them


def _types(schema: dict) -> list[str]:
    return schema["type"] if isinstance(schema["type"], list) else [schema["type"]]


@pytest.mark.parametrize("conn_type", sorted(DECLARED_FORMS))
def test_every_connection_form_in_hook_meta(airflow_api, conn_type: str) -> None:
    """Each declared form as the UI gets it, on whichever Airflow runs: 3.2+ builds it from provider info
    (``conn-fields``), 3.1 from the hook's ``get_ui_field_behaviour()`` / ``get_connection_form_widgets()``."""
    declared, meta = DECLARED_FORMS[conn_type], airflow_api.hook_meta()[conn_type]
    assert (meta["hook_name"], meta["hook_class_name"]) == (declared["hook-name"], declared["hook-class-name"])
    behaviour, standard = declared["ui-field-behaviour"], meta["standard_fields"]
    for field in behaviour["hidden-fields"]:
        assert standard[UI_STANDARD_FIELD.get(field, field)]["hidden"] is True, field
    for field, label in behaviour["relabeling"].items():
        shown = standard[UI_STANDARD_FIELD.get(field, field)]
        assert (shown["hidden"], shown["title"]) == (False, label), field
    for field, text in behaviour["placeholders"].items():
        assert standard[UI_STANDARD_FIELD.get(field, field)]["placeholder"] == text, field
    extras = meta["extra_fields"] or {}
    assert list(extras) == list(declared["conn-fields"])
    for name, spec in declared["conn-fields"].items():
        rendered, wanted = extras[name]["schema"], spec["schema"]
        assert rendered["title"] == spec["label"], name
        assert extras[name]["description"] == spec["description"], name
        assert (rendered.get("format") == "password") is (wanted.get("format") == "password"), name
        assert ("boolean" in _types(rendered)) is ("boolean" in _types(wanted)), name
        default = wanted.get("default")
        if "number" in _types(wanted) and "string" in _types(rendered):  # 3.1: a text field the hook parses
            assert extras[name]["value"] == str(default), name
        else:
            assert extras[name]["value"] == default, name


def _as_api_connection(conn_id: str, env_json: str) -> dict:
    conn = json.loads(env_json)
    return {
        "connection_id": conn_id,
        "conn_type": conn["conn_type"],
        "host": conn.get("host"),
        "login": conn.get("login"),
        "password": conn.get("password"),
        "extra": json.dumps(conn.get("extra") or {}),
    }


def test_test_button_aep_success(airflow_api, system_emulator) -> None:
    body = _as_api_connection("aep_ui_test", aep_conn_json(system_emulator.url))
    result = airflow_api.test_connection(body)
    assert result["status"] is True, result
    assert ORG_ID in result["message"]


def test_test_button_aep_reports_the_field_to_fix(airflow_api, system_emulator) -> None:
    body = _as_api_connection("aep_ui_test", aep_conn_json(system_emulator.url, org_id="my-org"))
    result = airflow_api.test_connection(body)
    assert result["status"] is False
    # Through the real api-server, which tests a copy under a random id: the message names the form field.
    assert result["message"].startswith("IMS Org ID: 'my-org' is not an IMS org id"), result
    assert "aep_ui_test" not in result["message"] and "Airflow connection" not in result["message"]


def test_test_button_aep_unreachable(airflow_api) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = airflow_api.test_connection(_as_api_connection("aep_ui_test", aep_conn_json(url)))
    assert result["status"] is False
    assert result["message"].startswith(f"Cannot reach AEP: {url}/ims/token/v3 refused the connection."), result


def test_test_button_hubspot(airflow_api) -> None:
    good = _as_api_connection("hubspot_ui_test", hubspot_conn_json())
    assert airflow_api.test_connection(good)["status"] is True
    bad = {**good, "extra": json.dumps({"access_token": "hs-access-token-only"})}
    result = airflow_api.test_connection(bad)
    assert result["status"] is False
    assert result["message"].startswith("Refresh token: is required"), result


def test_example_dag_stores_the_aep_link(airflow_api, airflow_server, fresh_emulator) -> None:
    run = airflow_api.run_dag(EXAMPLE_DAG, timeout=120)
    run_id = run["dag_run_id"]
    states = {ti["task_id"]: ti["state"] for ti in airflow_api.task_instances(EXAMPLE_DAG, run_id)}
    assert run["state"] == "success", (states, airflow_api.read_task_log(EXAMPLE_DAG, run_id, CREATE_TASK))

    connection_id = airflow_api.xcom(EXAMPLE_DAG, run_id, CREATE_TASK)
    assert connection_id in {c["id"] for c in fresh_emulator.control.state()["connections"]}
    # aep_default points at the (loopback) emulator, so the link opens the emulator's page of the account
    page_base = f"{fresh_emulator.url}/__emulator/ui/@{ORG_ID}/sname:prod/platform"
    links = airflow_api.links(EXAMPLE_DAG, run_id, CREATE_TASK)
    assert links == {"AEP Source Account": f"{page_base}/source/accounts/{connection_id}"}
    page = requests.get(links["AEP Source Account"], timeout=10)
    assert page.status_code == 200 and connection_id in page.text and "Source account" in page.text
    # the task log is where the files-based helper finds it, and the id is in it
    assert connection_id in airflow_api.read_task_log(EXAMPLE_DAG, run_id, CREATE_TASK)
    tries = airflow_api.task_tries(EXAMPLE_DAG, run_id, CREATE_TASK)
    assert [t["state"] for t in tries] == ["success"]


def test_list_test_button_and_the_port(airflow_api, system_emulator) -> None:
    """The Connections list's Test button posts the stored connection with ``port: Number(port)`` and the
    masked password. Airflow 3.3.2 then rejects a connection saved without a port (``0 != NULL``,
    apache/airflow#73298) before our hook runs; with the emulator's port stored it works. This is why
    the AEP form keeps the port field, and what docs/ui.md tells users."""
    from importlib.metadata import version

    from packaging.version import Version

    host, port = system_emulator.url.rsplit(":", 1)
    conn = json.loads(aep_conn_json(system_emulator.url))
    ui_body = {"conn_type": conn["conn_type"], "login": conn["login"], "password": "***", "schema": ""}
    ui_body["description"] = ""
    ui_body["extra"] = json.dumps(conn["extra"])
    try:
        airflow_api.create_connection(_as_api_connection("aep_no_port", aep_conn_json(system_emulator.url)))
        airflow_api.create_connection(
            {**_as_api_connection("aep_port", aep_conn_json(system_emulator.url)), "host": host, "port": int(port)}
        )
        with_port = airflow_api.test_connection(
            {**ui_body, "connection_id": "aep_port", "host": host, "port": int(port)}
        )
        assert with_port["status"] is True, with_port
        no_port = airflow_api.request(
            "POST",
            "/api/v2/connections/test",
            json={**ui_body, "connection_id": "aep_no_port", "host": system_emulator.url, "port": 0},
            expect=(200, 400),
        )
        if Version(version("apache-airflow-core")) <= Version("3.3.2"):
            assert "differs from the stored connection" in no_port["detail"]
        else:  # fixed upstream: then docs/ui.md's port advice can go
            assert no_port["status"] is True, no_port
    finally:
        airflow_api.delete_connection("aep_no_port")
        airflow_api.delete_connection("aep_port")


LINK_OF_OPERATOR = {
    "CreateConnectionOperator": ("AEP Source Account", "/source/accounts/"),  # source="hubspot"
    "CreateSchemaOperator": ("AEP XDM Schema", "/schema?search=https%3A%2F%2Fns.adobe.com%2F"),
    "CreateDatasetOperator": ("AEP Dataset", "/dataset/browse/"),
    "CreateDataflowOperator": ("AEP Dataflow", "/source/dataflows/"),
    "TriggerFlowRunOperator": ("AEP Dataflow Run", "/runs/"),
    "AEPFlowRunSensor": ("AEP Dataflow Run", "/runs/"),
}


def test_onboarding_links_on_mapped_and_deferred_tasks(airflow_api, airflow_server, fresh_emulator) -> None:
    """The whole onboarding DAG: links of mapped tasks and of the sensor that deferred to the triggerer."""
    dag_id = "aep_hubspot_onboarding"
    run = airflow_api.run_dag(dag_id, timeout=180)
    run_id = run["dag_run_id"]
    tis = airflow_api.task_instances(dag_id, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    seen = set()
    for ti in tis:
        if ti["operator"] not in LINK_OF_OPERATOR or ti["state"] != "success":
            continue
        name, part = LINK_OF_OPERATOR[ti["operator"]]
        url = airflow_api.links(dag_id, run_id, ti["task_id"], map_index=ti["map_index"])[name]
        assert url.startswith(f"{fresh_emulator.url}/__emulator/ui/@{ORG_ID}/sname:prod/platform/"), url
        assert part in url
        assert requests.get(url, timeout=10).status_code == 200, url  # the emulator has a page for it
        seen.add(ti["operator"])
    assert seen == set(LINK_OF_OPERATOR), seen

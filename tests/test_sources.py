"""Source declarations: each source is one declaration that the forms, hooks and operators read."""

from __future__ import annotations

import json

import pytest

from airflow_provider_aep.exceptions import AEPConnectionConfigError, AEPInvalidArgumentError
from airflow_provider_aep.sources import AuthParam, SourceKind, register, source_for_spec, source_kind, unregister


def test_builtin_sources_are_declared():
    hubspot, salesforce = source_kind("hubspot"), source_kind("salesforce")
    assert hubspot.connection_spec_id == "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
    assert salesforce.connection_spec_id == "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
    assert source_for_spec(salesforce.connection_spec_id) is salesforce
    assert source_for_spec("00000000-0000-0000-0000-000000000000") is None
    assert hubspot.source_params("Hubspot.Contacts") == {"path": "Hubspot.Contacts"}
    columns = [{"name": "Id", "type": "string", "meta": {"originalType": "id"}}]
    assert salesforce.source_params("Contact", columns) == {"tableName": "Contact", "columns": columns}


def test_an_unknown_source_lists_the_declared_ones():
    with pytest.raises(KeyError, match=r"unknown source 'marketo'.*hubspot.*salesforce"):
        source_kind("marketo")


def test_every_source_has_a_connection_form_in_provider_info():
    from airflow_provider_aep.get_provider_info import get_provider_info

    types = {t["connection-type"]: t for t in get_provider_info()["connection-types"]}
    salesforce = types["aep_salesforce"]
    assert salesforce["hook-class-name"] == "airflow_provider_aep.hooks.sources.AEPSalesforceHook"
    assert salesforce["ui-field-behaviour"]["relabeling"]["host"] == "Instance URL"
    assert salesforce["conn-fields"]["api_version"]["schema"]["default"] == "60.0"
    assert "port" in salesforce["ui-field-behaviour"]["hidden-fields"]
    assert types["hubspot"]["hook-class-name"] == "airflow_provider_aep.hooks.hubspot.HubSpotHook"


def salesforce_conn(**changes) -> str:
    conn = {
        "conn_type": "aep_salesforce",
        "host": "https://acme.my.salesforce.com",
        "login": "sf-consumer-key",
        "password": "sf-consumer-SECRET-1",
        "extra": {"api_version": "61.0"},
    }
    conn.update(changes)
    return json.dumps(conn)


def test_salesforce_hook_reads_the_auth_params(monkeypatch):
    from airflow_provider_aep.hooks.sources import AEPSalesforceHook

    monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", salesforce_conn())
    assert AEPSalesforceHook().get_auth_params() == {
        "environmentUrl": "https://acme.my.salesforce.com",
        "clientId": "sf-consumer-key",
        "clientSecret": "sf-consumer-SECRET-1",
        "apiVersion": "61.0",
        "includeDeletedObjects": False,
    }
    ok, message = AEPSalesforceHook().test_connection()
    assert ok and "sf-consumer-key" in message and "SECRET" not in message


def test_a_missing_salesforce_field_is_named_by_its_form_label(monkeypatch):
    from airflow_provider_aep.hooks.sources import AEPSalesforceHook

    monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", salesforce_conn(password=""))
    with pytest.raises(AEPConnectionConfigError, match="'password'"):
        AEPSalesforceHook().get_auth_params()
    ok, message = AEPSalesforceHook().test_connection()
    assert not ok and message.startswith("Client secret (consumer secret): is required")


def test_create_connection_for_a_source_builds_the_body_from_its_declaration(monkeypatch):
    from airflow_provider_aep.operators.connections import CreateConnectionOperator

    monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", salesforce_conn())
    body = CreateConnectionOperator(task_id="c", name="sf", source="salesforce").build_body()
    assert body["connectionSpec"]["id"] == "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
    assert body["auth"]["specName"] == "OAuth2 Client Credential"
    assert body["auth"]["params"]["clientSecret"] == "sf-consumer-SECRET-1"


def test_an_unknown_source_fails_when_the_dag_is_parsed():
    from airflow_provider_aep.operators.connections import CreateConnectionOperator

    with pytest.raises(AEPInvalidArgumentError, match=r"'source'.*declared sources"):
        CreateConnectionOperator(task_id="c", name="x", source="marketo")


@pytest.fixture
def test_source():
    """A third source that exists only as a declaration (and an emulator declaration, see below)."""
    kind = register(
        SourceKind(
            name="testcrm",
            title="Test CRM",
            connection_spec_id="11111111-2222-4333-8444-555555555555",
            auth_spec_name="Basic Authentication",
            conn_type="aep_testcrm",
            default_conn_id="testcrm_default",
            docs="(test only)",
            table_param="tableName",
            send_columns=True,
            delta_column="Modified",
            auth_params=(
                AuthParam("username", "login", "User", "the user"),
                AuthParam("password", "password", "Password", "the password", secret=True),
            ),
        )
    )
    yield kind
    unregister(kind.name)


def test_a_declared_source_gets_a_hook_and_a_form_without_code(test_source, monkeypatch):
    from airflow_provider_aep.hooks import sources as hooks

    hook_class = hooks.AEPTestCRMHook
    assert hook_class is hooks.hook_for(test_source) and hook_class.kind is test_source
    monkeypatch.setenv(
        "AIRFLOW_CONN_TESTCRM_DEFAULT", json.dumps({"conn_type": "aep_testcrm", "login": "u", "password": "p-12345"})
    )
    assert hook_class().get_auth_params() == {"username": "u", "password": "p-12345"}
    form = test_source.connection_type()
    assert form["ui-field-behaviour"]["relabeling"] == {"login": "User", "password": "Password"}

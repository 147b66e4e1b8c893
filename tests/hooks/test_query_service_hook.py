"""AEPQueryServiceHook with stubbed HTTP and a recorded psycopg2 connect: where each connection argument comes
from, TLS, the non-expiring credential, masking, and the provider's registration of the connection type.
(Over the real wire protocol against the emulator: tests/hooks/test_query_service_wire.py.)"""

from __future__ import annotations

import json

import psycopg2
import pytest
import responses

from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook
from tests.operators import conftest as operator_fixtures
from tests.operators.conftest import IMS_TOKEN, PLATFORM

aep_http = operator_fixtures.aep_http  # stubbed AEP with IMS answering

QS = PLATFORM + "/data/foundation/query"
PARAMS = {
    "username": "0123456789ABCDEF01234567@AdobeOrg",
    "dbName": "prod:all",
    "host": "acme.platform-query.adobe.io",
    "port": 80,
    "version": 1,
}


def query_conn(monkeypatch, conn_id: str = "aep_query_service_default", **fields) -> None:
    conn = {"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def connects(monkeypatch) -> list[dict]:
    """The psycopg2 ``connect()`` keywords of every connection the hook opened (none really opened)."""
    seen: list[dict] = []

    def record(self, arguments):
        seen.append(dict(arguments))
        return object()

    monkeypatch.setattr(AEPQueryServiceHook, "_create_connection", record)
    return seen


def stub_parameters(http) -> None:
    http.add(responses.GET, QS + "/connection_parameters", json={**PARAMS, "token": IMS_TOKEN})


def test_every_connection_reads_the_parameters_and_signs_in_with_the_ims_token(aep_http, monkeypatch, connects):
    query_conn(monkeypatch)
    stub_parameters(aep_http)
    hook = AEPQueryServiceHook()
    hook.get_conn()
    hook.get_conn()
    assert connects[0] == {
        "host": "acme.platform-query.adobe.io",
        "port": 80,
        "dbname": "prod:all",
        "user": PARAMS["username"],
        "password": IMS_TOKEN,
        "sslmode": "require",
        "connect_timeout": 10,
        "application_name": "airflow-provider-aep",
    }
    assert len(connects) == 2
    assert len([c for c in aep_http.calls if c.request.url.endswith("/connection_parameters")]) == 2
    assert len([c for c in aep_http.calls if "/ims/" in c.request.url]) == 1  # one token per process


def test_a_non_expiring_credential_username_and_database_from_the_connection(aep_http, monkeypatch, connects):
    query_conn(monkeypatch, login="tech@techacct.adobe.com", password="acct-id:cred-SECRET-77", schema="prod:contacts")
    stub_parameters(aep_http)
    AEPQueryServiceHook().get_conn()
    assert connects[0]["password"] == "acct-id:cred-SECRET-77"
    assert connects[0]["user"] == "tech@techacct.adobe.com" and connects[0]["dbname"] == "prod:contacts"


def test_loopback_hosts_prefer_tls_instead_of_requiring_it(aep_http, monkeypatch, connects):
    query_conn(monkeypatch)
    aep_http.add(responses.GET, QS + "/connection_parameters", json={**PARAMS, "host": "127.0.0.1", "port": 5439})
    AEPQueryServiceHook().get_conn()
    assert connects[0]["sslmode"] == "prefer" and connects[0]["port"] == 5439


def test_connection_errors_never_show_the_token(aep_http, monkeypatch):
    query_conn(monkeypatch)
    stub_parameters(aep_http)

    def fail(self, arguments):
        raise psycopg2.OperationalError(f"FATAL: bad password {arguments['password']}")

    monkeypatch.setattr(AEPQueryServiceHook, "_create_connection", fail)
    with pytest.raises(psycopg2.OperationalError) as err:
        AEPQueryServiceHook().get_conn()
    assert IMS_TOKEN not in str(err.value) and "***" in str(err.value)


def test_openlineage_names_the_query_service_host_and_database(aep_http, monkeypatch):
    query_conn(monkeypatch)
    stub_parameters(aep_http)
    hook = AEPQueryServiceHook()
    info = hook.get_openlineage_database_info(hook.connection)
    assert (info.scheme, info.authority, info.database) == ("postgres", "acme.platform-query.adobe.io:80", "prod:all")
    assert hook.get_openlineage_database_dialect(hook.connection) == "postgres"
    assert hook.get_openlineage_default_schema() == "public"
    assert IMS_TOKEN not in hook.get_uri()


def test_the_connection_type_is_registered_with_its_form():
    from airflow_provider_aep.get_provider_info import get_provider_info

    types = {t["connection-type"]: t for t in get_provider_info()["connection-types"]}
    declared = types["aep_query_service"]
    assert declared["hook-class-name"] == "airflow_provider_aep.hooks.query_service.AEPQueryServiceHook"
    assert "password" not in declared["conn-fields"] and "client_secret" not in declared["conn-fields"]
    assert declared["conn-fields"]["aep_conn_id"]["schema"]["default"] == "aep_default"
    assert AEPQueryServiceHook.get_ui_field_behaviour()["relabeling"]["schema"] == "Database"

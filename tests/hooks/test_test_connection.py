"""The connection form's Test button: ``hook.test_connection()`` → ``(ok, message)``.

Airflow's ``POST /api/v2/connections/test`` runs it synchronously inside the api-server, so it must answer
quickly (no retries, bounded by the connection's timeouts), say which field to fix, and never echo secrets.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from aep_emulator import EmulatorConfig, run_emulator

from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
from airflow_provider_aep.hooks.hubspot import HubSpotHook
from tests.conftest import AEP_CLIENT_ID, AEP_CLIENT_SECRET, HUBSPOT_SECRETS, ORG_ID, hubspot_conn_json

FLOW_CONNECTIONS = "/data/foundation/flowservice/connections"
TOKEN_PATH = "/ims/token/v3"
FAST = 3.0  # seconds; every failure below must be reported well within this


@pytest.fixture(scope="module")
def strict_emulator() -> Iterator:
    """An emulator whose IMS only accepts AEP_CLIENT_ID/AEP_CLIENT_SECRET and which knows one sandbox."""
    config = EmulatorConfig(credentials={AEP_CLIENT_ID: AEP_CLIENT_SECRET}, sandboxes=["prod"])
    with run_emulator(config) as emulator:
        yield emulator


@pytest.fixture
def emu(strict_emulator):
    strict_emulator.control.reset()
    yield strict_emulator
    strict_emulator.control.reset()


def set_aep(monkeypatch: pytest.MonkeyPatch, host: str, *, conn_id: str = "aep_default", **fields) -> None:
    extra = {"org_id": ORG_ID, "sandbox_name": "prod", "ims_url": host, **fields.pop("extra", {})}
    conn = {
        "conn_type": "adobe_experience_platform",
        "host": host,
        "login": AEP_CLIENT_ID,
        "password": AEP_CLIENT_SECRET,
        "extra": extra,
        **fields,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def run_test(conn_id: str = "aep_default") -> tuple[bool, str, float]:
    started = time.monotonic()
    ok, message = AEPFlowServiceHook(aep_conn_id=conn_id).test_connection()
    return ok, message, time.monotonic() - started


def assert_no_secret(message: str) -> None:
    for secret in (AEP_CLIENT_SECRET, *HUBSPOT_SECRETS.values()):
        if "SECRET" in secret:
            assert secret not in message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


# --- AEP ----------------------------------------------------------------------------------------------


def test_success_against_the_emulator(emu, monkeypatch) -> None:
    set_aep(monkeypatch, emu.url)
    ok, message, _ = run_test()
    assert ok, message
    assert ORG_ID in message and "sandbox prod" in message and emu.url in message
    calls = [(entry["method"], entry["path"]) for entry in emu.control.journal()]
    assert calls == [("POST", TOKEN_PATH), ("GET", FLOW_CONNECTIONS)]
    assert emu.control.journal()[-1]["query"].get("limit") in ("1", ["1"])


def test_hook_instantiated_like_the_api_server_does(emu, monkeypatch) -> None:
    """``Connection.get_hook()`` calls ``hook_class(**{conn_name_attr: conn_id})``."""
    set_aep(monkeypatch, emu.url, conn_id="tmp_conn_abc")
    hook = AEPFlowServiceHook(**{AEPFlowServiceHook.conn_name_attr: "tmp_conn_abc"})
    assert hook.test_connection()[0]


@pytest.mark.parametrize(
    ("login", "password", "phrase"),
    [
        (AEP_CLIENT_ID, "wrong-client-secret-123", "invalid client_secret"),
        ("unknown-client-id", AEP_CLIENT_SECRET, "invalid client_id"),
    ],
)
def test_bad_credentials(emu, monkeypatch, login: str, password: str, phrase: str) -> None:
    set_aep(monkeypatch, emu.url, login=login, password=password)
    ok, message, elapsed = run_test()
    assert not ok
    assert message.startswith("Adobe IMS rejected the client ID, client secret or scopes")
    assert phrase in message and "HTTP 401" in message
    assert "wrong-client-secret-123" not in message
    assert_no_secret(message)
    assert elapsed < FAST
    assert len(emu.control.journal(path=TOKEN_PATH)) == 1, "no retry on a credential error"
    assert emu.control.journal(path=FLOW_CONNECTIONS) == []


def test_org_unknown_to_aep(emu, monkeypatch) -> None:
    """A well-formed org the credential does not belong to: the gateway answers 403 403025."""
    emu.control.add_fault(
        method="GET",
        path=FLOW_CONNECTIONS,
        status=403,
        body={"error_code": "403025", "message": "Profile is not valid"},
    )
    set_aep(monkeypatch, emu.url)
    ok, message, elapsed = run_test()
    assert not ok
    assert message.startswith(f"Experience Platform refused access for org {ORG_ID}")
    assert "403025" in message and "Profile is not valid" in message
    assert elapsed < FAST
    assert len(emu.control.journal(path=FLOW_CONNECTIONS)) == 1


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        ({"org_id": "not-an-org"}, "IMS Org ID: 'not-an-org' is not an IMS org id"),
        ({"org_id": ""}, "IMS Org ID: is required"),
        ({"sandbox_name": "Prod Sandbox"}, "Sandbox name: 'Prod Sandbox' is not a sandbox name"),
        ({"ims_url": "https://ims.example.com"}, "IMS URL: host 'ims.example.com' is not an Adobe host"),
    ],
)
def test_invalid_fields_fail_before_any_request(emu, monkeypatch, extra: dict, phrase: str) -> None:
    """The message names the field by its form label. Before: "Airflow connection 'MSXmaYI7', field
    'sandbox_name'", where 'MSXmaYI7' is the random id the api-server tests a copy of the form under."""
    set_aep(monkeypatch, emu.url, extra=extra)
    ok, message, _ = run_test()
    assert not ok
    assert message.startswith(phrase), message
    assert "Airflow connection" not in message
    assert emu.control.journal() == []


def test_missing_secret(emu, monkeypatch) -> None:
    set_aep(monkeypatch, emu.url, password="")
    ok, message, _ = run_test()
    assert not ok
    assert message == "Client secret: is required"


def test_unknown_sandbox(emu, monkeypatch) -> None:
    set_aep(monkeypatch, emu.url, extra={"sandbox_name": "dev"})
    ok, message, _ = run_test()
    assert not ok
    assert message.startswith("Sandbox 'dev' not found")
    assert "FLOW-2100-404" in message


def test_unreachable_host_fails_fast(monkeypatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    set_aep(monkeypatch, url)
    ok, message, elapsed = run_test()
    assert not ok
    # One readable sentence naming the host and the field to check, not urllib3's exception text.
    assert message == (
        f"Cannot reach AEP: {url}/ims/token/v3 refused the connection. "
        "Check the IMS URL field and that this machine can reach it."
    )
    assert "HTTPConnectionPool" not in message and "Errno" not in message
    assert elapsed < FAST


def test_a_wrong_platform_port_is_named_as_the_field_to_fix(emu, monkeypatch) -> None:
    """As ``make airflow`` stores it: the host without a port, the port in its own field, IMS at the emulator."""
    port = closed_port()
    set_aep(monkeypatch, "http://127.0.0.1", port=port, extra={"ims_url": emu.url})
    ok, message, elapsed = run_test()
    assert not ok
    assert message == (
        f"Cannot reach AEP: http://127.0.0.1:{port} refused the connection. "
        f"Check the Platform port field ({port}) and that this machine can reach it."
    )
    assert elapsed < FAST
    emulator_port = int(emu.url.rsplit(":", 1)[1])
    set_aep(monkeypatch, "http://127.0.0.1", port=emulator_port, extra={"ims_url": emu.url})
    assert run_test()[:2] == (True, f"Connected to {emu.url} (org {ORG_ID}, sandbox prod)")


def test_server_error_is_not_retried(emu, monkeypatch) -> None:
    emu.control.add_fault(method="GET", path=FLOW_CONNECTIONS, status=503, count=5)
    set_aep(monkeypatch, emu.url)
    ok, message, elapsed = run_test()
    assert not ok
    assert message.startswith("AEP is unavailable right now (HTTP 503)")
    assert elapsed < FAST
    assert len(emu.control.journal(path=FLOW_CONNECTIONS)) == 1, "RetryPolicy(max_attempts=1)"


def test_slow_platform_is_bounded_by_read_timeout(emu, monkeypatch) -> None:
    emu.control.add_fault(method="GET", path=FLOW_CONNECTIONS, action="delay", latency=8)
    set_aep(monkeypatch, emu.url, extra={"read_timeout": 0.5})
    ok, message, elapsed = run_test()
    assert not ok
    assert message.startswith(f"Cannot reach AEP: {emu.url} did not answer in time. Check the Platform URL field")
    assert elapsed < FAST


def test_success_message_never_contains_the_secret(emu, monkeypatch) -> None:
    set_aep(monkeypatch, emu.url)
    ok, message, _ = run_test()
    assert ok
    assert_no_secret(message)


# --- HubSpot (a local check: Airflow never calls HubSpot, AEP does) ----------------------------------


def test_hubspot_complete_connection(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_conn_json())
    ok, message = HubSpotHook().test_connection()
    assert ok
    assert HUBSPOT_SECRETS["login"] in message
    assert_no_secret(message)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"login": ""}, "Client ID"),
        ({"password": None}, "Client secret"),
        ({"extra": {"refresh_token": HUBSPOT_SECRETS["refresh_token"]}}, "Access token"),
        ({"extra": {"access_token": HUBSPOT_SECRETS["access_token"], "refresh_token": "  "}}, "Refresh token"),
    ],
)
def test_hubspot_missing_field(monkeypatch, change: dict, field: str) -> None:
    conn = json.loads(hubspot_conn_json())
    conn.update(change)
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(conn))
    ok, message = HubSpotHook().test_connection()
    assert not ok
    assert message.startswith(f"{field}: is required"), message
    assert_no_secret(message)


def test_hubspot_legacy_prefixed_extras(monkeypatch) -> None:
    conn = json.loads(hubspot_conn_json())
    conn["extra"] = {f"extra__hubspot__{key}": value for key, value in conn["extra"].items()}
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(conn))
    assert HubSpotHook().test_connection()[0]

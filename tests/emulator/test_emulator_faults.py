"""Fault injection: every action, expiry, Retry-After, latency and the commit-then-* variants."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_aep.emulator import EmulatorControlError

from .helpers import FS, HUBSPOT, HUBSPOT_AUTH, flow_error_code

CONNECTIONS = f"{FS}/connections"
BODY = {"name": "faulty", "auth": HUBSPOT_AUTH, "connectionSpec": {"id": HUBSPOT}}


def names(emu):
    return [c["name"] for c in emu.control.state()["connections"]]


def test_respond_with_retry_after_then_expire(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, count=2, status=503, retry_after="2")
    for _ in range(2):
        response = fs.post("/connections", json=BODY)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        assert flow_error_code(response) == "1103-503"
    assert fs.post("/connections", json=BODY).status_code == 201
    assert names(emu) == ["faulty"]
    assert emu.control.faults() == []
    stats = emu.control.stats()
    assert stats["faults_injected"] == {"503": 2}


def test_retry_after_absent_and_http_date(emu, fs):
    emu.control.add_fault("GET", CONNECTIONS, count=1, status=429)
    response = fs.get("/connections")
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert response.json()["error_code"] == "429050"
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    emu.control.add_fault("GET", CONNECTIONS, status=429, retry_after=date)
    assert fs.get("/connections").headers["Retry-After"] == date


def test_default_and_custom_bodies(emu, fs):
    emu.control.add_fault("GET", CONNECTIONS)  # status defaults to 503 for "respond"
    assert fs.get("/connections").status_code == 503
    emu.control.add_fault("GET", CONNECTIONS, status=500)
    assert flow_error_code(fs.get("/connections")) == "1102-500"
    emu.control.add_fault("GET", CONNECTIONS, status=504)
    assert flow_error_code(fs.get("/connections")) == "1104-504"
    emu.control.add_fault("GET", CONNECTIONS, status=502, body={"custom": True})
    response = fs.get("/connections")
    assert (response.status_code, response.json()) == (502, {"custom": True})


def test_path_is_a_full_regex_and_method_optional(emu, fs):
    conn_id = fs.connection()
    emu.control.add_fault(None, rf"{FS}/connections/[^/]+", count=3, status=500)
    assert fs.get("/connections").status_code == 200  # the collection path does not fully match
    assert fs.get(f"/connections/{conn_id}").status_code == 500
    assert fs.delete(f"/connections/{conn_id}").status_code == 500
    assert fs.get(f"/connections/{conn_id}/test").status_code == 200  # fullmatch, not search
    assert fs.patch(f"/connections/{conn_id}", [], "x").status_code == 500
    assert fs.get(f"/connections/{conn_id}").status_code == 200


def test_drop_closes_the_connection(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, action="drop")
    with pytest.raises(requests.ConnectionError):
        fs.post("/connections", json=BODY)
    assert names(emu) == []
    assert fs.post("/connections", json=BODY).status_code == 201
    assert emu.control.stats()["faults_injected"] == {"drop": 1}
    entries = emu.control.journal(method="POST", path=CONNECTIONS)
    assert [e["status"] for e in entries] == [0, 201]
    assert entries[0]["fault"] is not None and entries[1]["fault"] is None


def test_latency_exceeds_client_timeout(emu, fs):
    emu.control.add_fault("GET", CONNECTIONS, action="delay", latency=0.5)
    with pytest.raises(requests.ReadTimeout):
        fs.get("/connections", timeout=0.2)
    assert fs.get("/connections", timeout=5).status_code == 200
    emu.control.add_fault("GET", CONNECTIONS, latency=0.3, status=503)
    response = fs.get("/connections", timeout=5)
    assert response.status_code == 503 and response.elapsed.total_seconds() >= 0.3


def test_commit_then_fail_really_commits(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, action="commit_then_fail")
    response = fs.post("/connections", json=BODY)
    assert response.status_code == 500
    assert names(emu) == ["faulty"]
    assert fs.get("/connections", params={"property": "name==faulty"}).json()["items"][0]["name"] == "faulty"


def test_commit_then_fail_with_status_and_patch(emu, fs):
    created = fs.created("/connections", BODY)
    emu.control.add_fault("PATCH", rf"{CONNECTIONS}/.*", action="commit_then_fail", status=504)
    ops = [{"op": "replace", "path": "/name", "value": "patched"}]
    assert fs.patch(f"/connections/{created['id']}", ops, created["etag"]).status_code == 504
    assert fs.item(f"/connections/{created['id']}")["name"] == "patched"
    assert fs.patch(f"/connections/{created['id']}", ops, created["etag"]).status_code == 412


def test_commit_then_drop(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, action="commit_then_drop")
    with pytest.raises(requests.ConnectionError):
        fs.post("/connections", json=BODY)
    assert names(emu) == ["faulty"]


def test_faults_apply_to_ims(emu):
    emu.control.add_fault("POST", "/ims/token/v3", status=503, retry_after="1")
    data = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": "openid"}
    response = requests.post(f"{emu.url}/ims/token/v3", data=data, timeout=10)
    assert response.status_code == 503 and response.json()["error"] == "server_error"
    assert requests.post(f"{emu.url}/ims/token/v3", data=data, timeout=10).status_code == 200


def test_fault_rules_can_be_listed_and_removed(emu, fs):
    keep = emu.control.add_fault("GET", CONNECTIONS, count=5)
    gone = emu.control.add_fault("POST", CONNECTIONS)
    assert [f["id"] for f in emu.control.faults()] == [keep, gone]
    emu.control.remove_fault(gone)
    assert [f["id"] for f in emu.control.faults()] == [keep]
    emu.control.clear_faults()
    assert fs.get("/connections").status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "explode"},
        {"count": 0},
        {"path": "("},
        {"latency": -1},
    ],
)
def test_invalid_fault_rules(emu, rule):
    with pytest.raises(EmulatorControlError):
        emu.control.add_fault(**{"method": "GET", "path": CONNECTIONS, **rule})


def test_faults_do_not_touch_the_control_plane(emu):
    emu.control.add_fault(None, ".*", count=100, status=500)
    assert emu.control.health() == {"status": "ok"}
    assert emu.control.journal() == []

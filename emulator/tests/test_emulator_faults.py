"""Fault injection: every action, expiry, Retry-After, latency, the commit-then-* variants, commit_later and hold."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from aep_emulator import EmulatorControlError
from aep_emulator.testing import CLIENT_ID, FS, HUBSPOT, HUBSPOT_AUTH, ORG, FlowClient, fetch_token, flow_error_code

from airflow_provider_aep.client.auth import TokenCache
from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import RetryPolicy
from airflow_provider_aep.client.platform import RECONCILE_WINDOW_FACTOR

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


def test_hold_keeps_requests_inside_until_released_then_handles_them(emu, fs):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="hold", count=2)
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(fs.post, "/connections", json={**BODY, "name": f"held {i}"}) for i in range(2)]
        assert emu.control.wait_held(fault, 2, timeout=30) == 2  # both in flight at once, neither handled
        assert names(emu) == [] and not any(c.done() for c in calls)
        assert emu.control.release(fault)["released"] is True
        statuses = sorted(c.result(timeout=30).status_code for c in calls)
    assert statuses == [201, 201]
    assert sorted(names(emu)) == ["held 0", "held 1"]
    assert emu.control.held(fault) == {"held": 0, "passed": 2, "released": True}
    assert fs.post("/connections", json={**BODY, "name": "after"}).status_code == 201  # the rule is used up


def test_hold_ends_by_itself_after_its_latency_bound(emu, fs):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="hold", latency=0.2)
    assert fs.post("/connections", json=BODY).status_code == 201  # not released: the bound let it through
    assert emu.control.held(fault)["passed"] == 1 and names(emu) == ["faulty"]


def test_hold_of_a_caller_that_went_away_still_commits(emu, fs):
    """What a killed worker leaves behind: the create it was inside is performed once the hold ends."""
    fault = emu.control.add_fault("POST", CONNECTIONS, action="hold")
    with pytest.raises(requests.Timeout):
        fs.post("/connections", json=BODY, timeout=0.5)
    emu.control.wait_held(fault, 1, timeout=30)
    emu.control.release(fault)
    deadline = time.monotonic() + 30
    while names(emu) != ["faulty"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert names(emu) == ["faulty"]


def test_holds_are_released_by_clearing_faults_and_unknown_ids_are_404(emu, fs):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="hold")
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(fs.post, "/connections", json=BODY)
        emu.control.wait_held(fault, 1, timeout=30)
        emu.control.clear_faults()
        assert call.result(timeout=30).status_code == 201
    for action in (emu.control.held, emu.control.release):
        with pytest.raises(EmulatorControlError, match="404"):
            action("no-such-fault")


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
        {"commit_after": 1.0},  # only with commit_later
        {"action": "commit_later", "commit_after": -1},
        {"action": "commit_later", "commit_after": "soon"},
    ],
)
def test_invalid_fault_rules(emu, rule):
    with pytest.raises(EmulatorControlError):
        emu.control.add_fault(**{"method": "GET", "path": CONNECTIONS, **rule})


def test_faults_do_not_touch_the_control_plane(emu):
    emu.control.add_fault(None, ".*", count=100, status=500)
    assert emu.control.health() == {"status": "ok"}
    assert emu.control.journal() == []


# -- commit_later: answered now, committed later on the emulator clock ---------------------------------------
def late_posts(emu) -> list[tuple[int, str | None, bool]]:
    """(status, fault id, committed late) of every journaled POST /connections, oldest first."""
    entries = emu.control.journal(method="POST", path=CONNECTIONS)
    return [(e["status"], e["fault"], e.get("committed_late", False)) for e in entries]


def test_commit_later_defaults(emu):
    emu.control.add_fault("POST", CONNECTIONS, action="commit_later")
    (rule,) = emu.control.faults()
    assert (rule["status"], rule["commit_after"]) == (504, 2.0)


def test_commit_later_answers_504_now_and_commits_once_the_clock_passes(emu, fs):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=30)
    response = fs.post("/connections", json=BODY)
    assert response.status_code == 504
    assert flow_error_code(response) == "1104-504"  # the gateway's own timeout body
    assert names(emu) == []
    assert fs.get("/connections", params={"property": "name==faulty"}).json()["items"] == []
    assert emu.control.stats()["pending_commits"] == 1
    emu.control.advance_clock(25)
    assert names(emu) == []
    emu.control.advance_clock(5)
    assert names(emu) == ["faulty"]
    emu.control.advance_clock(60)
    assert fs.get("/connections", params={"property": "name==faulty"}).json()["items"][0]["name"] == "faulty"
    assert names(emu) == ["faulty"]  # exactly once
    assert late_posts(emu) == [(504, fault, False), (201, fault, True)]
    stats = emu.control.stats()
    assert stats["pending_commits"] == 0
    assert stats["faults_injected"] == {"504": 1}
    assert stats["responses"]["504"] == 1 and "201" not in stats["responses"]  # nobody received the late 201


def test_commit_later_is_performed_before_the_next_request_of_any_path(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=30)
    assert fs.post("/connections", json=BODY).status_code == 504
    emu.state.clock.advance(30)  # in-process: no control call performs it
    assert emu.state.faults.pending() == 1
    fetch_token(emu.url)  # an IMS request
    assert emu.state.faults.pending() == 0
    assert names(emu) == ["faulty"]


def test_commit_later_keeps_the_callers_context(emu, flow_client):
    dev = flow_client("dev")
    emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=5)
    assert dev.post("/connections", json=BODY).status_code == 504
    emu.control.expire_tokens()  # the token it arrived with is no longer valid when it is performed
    emu.control.advance_clock(5)
    token = fetch_token(emu.url)
    dev_items = FlowClient(emu.url, token, sandbox="dev").get("/connections").json()["items"]
    assert [c["name"] for c in dev_items] == ["faulty"]
    assert FlowClient(emu.url, token).get("/connections").json()["items"] == []
    assert [e["status"] for e in emu.control.journal(method="POST", path=CONNECTIONS)] == [504, 201]


def test_commit_later_refused_at_the_gateway_defers_nothing(emu, fs):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=1)
    response = requests.post(f"{emu.url}{CONNECTIONS}", json=BODY, timeout=10)  # no token
    assert response.status_code == 403 and response.json()["error_code"] == "403010"
    assert emu.control.stats()["pending_commits"] == 0
    emu.control.advance_clock(5)
    assert names(emu) == []
    assert late_posts(emu) == [(403, fault, False)]


def test_commit_later_makes_an_immediate_resend_a_duplicate(emu, fs):
    """Why clients must settle: the POST re-sent after the 504 commits, then the first one does too."""
    emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=3)
    assert fs.post("/connections", json=BODY).status_code == 504
    assert fs.post("/connections", json=BODY).status_code == 201
    assert names(emu) == ["faulty"]
    emu.control.advance_clock(3)
    assert names(emu) == ["faulty", "faulty"]


def test_commit_later_each_match_commits_in_arrival_order(emu, fs):
    emu.control.add_fault("POST", CONNECTIONS, count=2, action="commit_later", commit_after=10)
    for name in ("first", "second"):
        assert fs.post("/connections", json={**BODY, "name": name}).status_code == 504
    assert emu.control.stats()["pending_commits"] == 2
    emu.control.advance_clock(10)
    assert names(emu) == ["first", "second"]


@pytest.mark.parametrize("drop", ["reset", "clear_faults", "remove_fault"])
def test_pending_commits_are_dropped_by_reset_and_clearing_faults(emu, fs, drop):
    fault = emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=5)
    assert fs.post("/connections", json=BODY).status_code == 504
    assert emu.control.faults() == []  # the rule expired; its commit is still owed
    assert emu.control.stats()["pending_commits"] == 1
    if drop == "remove_fault":
        emu.control.remove_fault(fault)
    else:
        getattr(emu.control, drop)()
    assert emu.control.stats()["pending_commits"] == 0
    emu.control.advance_clock(60)
    assert names(emu) == []
    assert not any(e.get("committed_late") for e in emu.control.journal())
    with pytest.raises(EmulatorControlError):
        emu.control.remove_fault(fault)  # nothing left of it


def test_an_ambiguous_create_through_the_client_ends_with_one_connection(emu):
    """A create the gateway answered 504 but AEP commits 0.2 s later: the client's settle window finds it.

    The emulator clock runs in real time, so the commit falls due while the client polls its lookup; with
    no back-off the first lookup comes right after the 504, before the commit.
    """
    settings = AEPSettings(
        client_id=CLIENT_ID, client_secret="s", org_id=ORG, platform_url=emu.url, ims_url=emu.url, read_timeout=1.0
    )
    retry = RetryPolicy(initial_backoff=0, max_backoff=0)  # real sleeps in the settle loop, none between tries
    fault = emu.control.add_fault("POST", CONNECTIONS, action="commit_later", commit_after=0.2)
    started = time.monotonic()
    with FlowServiceClient(settings, retry=retry, token_cache=TokenCache()) as client:
        created = client.create_connection(BODY)
    assert time.monotonic() - started < RECONCILE_WINDOW_FACTOR * settings.read_timeout  # within the window
    emu.control.advance_clock(1)  # whatever is still owed is performed now: a re-sent create would show twice
    assert emu.control.stats()["pending_commits"] == 0
    assert [c["id"] for c in emu.control.state()["connections"]] == [created.id]
    assert late_posts(emu) == [(504, fault, False), (201, fault, True)]  # one POST sent, never re-sent

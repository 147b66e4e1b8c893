"""IMS /ims/token/v3: validation, restricted credentials, token binding and expiry."""

from __future__ import annotations

import pytest
import requests
from aep_emulator.testing import CLIENT_ID, FlowClient, fetch_token

GOOD = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "s", "scope": "openid,AdobeID"}


def post_token(emu, data=None, params=None, **kwargs):
    return requests.post(f"{emu.url}/ims/token/v3", data=data, params=params, timeout=10, **kwargs)


def test_token_response_shape(emu):
    response = post_token(emu, GOOD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    assert response.headers["x-request-id"]
    assert post_token(emu, GOOD).json()["access_token"] != body["access_token"]
    assert emu.control.stats()["tokens_issued"] == 2


def test_fields_as_query_parameters(emu):
    assert post_token(emu, params=GOOD).status_code == 200


@pytest.mark.parametrize(
    ("missing", "status", "error"),
    [
        ("grant_type", 400, "invalid_request"),
        ("client_id", 400, "invalid_request"),
        ("client_secret", 400, "invalid_request"),
        ("scope", 400, "invalid_scope"),
    ],
)
def test_missing_fields(emu, missing, status, error):
    data = {k: v for k, v in GOOD.items() if k != missing}
    response = post_token(emu, data)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert missing in response.json()["error_description"]


def test_wrong_grant_type(emu):
    response = post_token(emu, {**GOOD, "grant_type": "password"})
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_json_body_is_not_a_form(emu):
    response = requests.post(f"{emu.url}/ims/token/v3", json=GOOD, timeout=10)
    assert response.status_code == 400


def test_restricted_credentials(emu):
    emu.control.configure(credentials={"good-client": "good-secret"})
    ok = post_token(emu, {**GOOD, "client_id": "good-client", "client_secret": "good-secret"})
    assert ok.status_code == 200
    wrong_secret = post_token(emu, {**GOOD, "client_id": "good-client", "client_secret": "nope"})
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    unknown = post_token(emu, {**GOOD, "client_id": "other", "client_secret": "good-secret"})
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")


def test_token_lifetime_is_configurable(emu):
    emu.control.configure(token_lifetime=120)
    assert post_token(emu, GOOD).json()["expires_in"] == 120


def test_token_expires_on_the_emulator_clock(emu):
    emu.control.configure(token_lifetime=60)
    fs = FlowClient(emu.url, fetch_token(emu.url))
    assert fs.get("/connections").status_code == 200
    emu.control.advance_clock(59)
    assert fs.get("/connections").status_code == 200
    emu.control.advance_clock(2)
    expired = fs.get("/connections")
    assert expired.status_code == 401
    assert expired.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


def test_expire_tokens(emu):
    fs = FlowClient(emu.url, fetch_token(emu.url))
    assert emu.control.expire_tokens() == 1
    assert fs.get("/connections").status_code == 401
    fresh = FlowClient(emu.url, fetch_token(emu.url))
    assert fresh.get("/connections").status_code == 200


def test_token_is_bound_to_its_client_id(emu):
    fs = FlowClient(emu.url, fetch_token(emu.url, client_id="someone-else"))
    response = fs.get("/connections")
    assert response.status_code == 403
    assert response.json() == {"error_code": "403003", "message": "Api Key is invalid"}


def test_control_can_issue_tokens(emu):
    fs = FlowClient(emu.url, emu.control.issue_token(CLIENT_ID))
    assert fs.get("/connections").status_code == 200

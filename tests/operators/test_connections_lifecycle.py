"""UpdateHubSpotCredentialsOperator (credential rotation with If-Match) and DeleteConnectionOperator."""

from __future__ import annotations

import json

import pytest
import responses

from airflow_provider_aep.client.errors import AEPBadRequestError, AEPPreconditionFailedError
from airflow_provider_aep.exceptions import AEPConnectionConfigError
from airflow_provider_aep.operators.connections import DeleteConnectionOperator, UpdateHubSpotCredentialsOperator
from tests.conftest import HUBSPOT_SECRETS

from .conftest import FS, sent_bodies, stub_gone, stub_owned

CONNECTION = FS + "/connections/base-1"
NEW_SECRETS = {
    "login": "hubspot-client-id-1234",
    "password": "hs-client-secret-NEW-1111",
    "access_token": "hs-access-token-NEW-2222",
    "refresh_token": "hs-refresh-token-NEW-3333",
}


def rotate() -> UpdateHubSpotCredentialsOperator:
    return UpdateHubSpotCredentialsOperator(task_id="rotate", base_connection_id="base-1")


def if_match_headers(http) -> list[str]:
    return [c.request.headers.get("If-Match") for c in http.calls if c.request.method == "PATCH"]


def test_patches_auth_params_with_the_current_etag(aep_http, context):
    aep_http.add(responses.GET, CONNECTION, json={"items": [{"id": "base-1", "etag": '"v1"'}]})
    aep_http.add(responses.PATCH, CONNECTION, json={"id": "base-1", "etag": '"v2"'})
    assert rotate().execute(context) == "base-1"
    assert sent_bodies(aep_http, "PATCH", "/connections/base-1") == [
        [
            {
                "op": "replace",
                "path": "/auth/params",
                "value": {
                    "clientId": HUBSPOT_SECRETS["login"],
                    "clientSecret": HUBSPOT_SECRETS["password"],
                    "accessToken": HUBSPOT_SECRETS["access_token"],
                    "refreshToken": HUBSPOT_SECRETS["refresh_token"],
                },
            }
        ]
    ]
    assert if_match_headers(aep_http) == ['"v1"']
    assert context["ti"].xcoms["etag"] == '"v2"'
    assert not any(secret in json.dumps(context["ti"].xcoms) for secret in HUBSPOT_SECRETS.values())


def test_a_stale_etag_is_re_read_once(aep_http, context):
    aep_http.add(responses.GET, CONNECTION, json={"items": [{"id": "base-1", "etag": '"v1"'}]})
    aep_http.add(responses.GET, CONNECTION, json={"items": [{"id": "base-1", "etag": '"v2"'}]})
    aep_http.add(responses.PATCH, CONNECTION, status=412, json={"errorMessage": "Supplied version does not match"})
    aep_http.add(responses.PATCH, CONNECTION, json={"id": "base-1", "etag": '"v3"'})
    rotate().execute(context)
    assert if_match_headers(aep_http) == ['"v1"', '"v2"']
    assert context["ti"].xcoms["etag"] == '"v3"'


def test_a_second_412_is_raised(aep_http, context):
    aep_http.add(responses.GET, CONNECTION, json={"items": [{"id": "base-1", "etag": '"v1"'}]})
    aep_http.add(responses.PATCH, CONNECTION, status=412, json={"errorMessage": "Supplied version does not match"})
    with pytest.raises(AEPPreconditionFailedError):
        rotate().execute(context)
    assert len(if_match_headers(aep_http)) == 2


def test_an_aep_error_echoing_the_body_does_not_leak_the_tokens(aep_http, context):
    aep_http.add(responses.GET, CONNECTION, json={"items": [{"id": "base-1", "etag": '"v1"'}]})
    echo = {"title": "Bad", "detail": f"invalid params {json.dumps(HUBSPOT_SECRETS)}"}
    aep_http.add(responses.PATCH, CONNECTION, status=400, json=echo)
    with pytest.raises(AEPBadRequestError) as err:
        rotate().execute(context)
    for secret in ("password", "access_token", "refresh_token"):
        assert HUBSPOT_SECRETS[secret] not in str(err.value)


def test_incomplete_hubspot_connection_fails_before_any_request(aep_http, context, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps({"conn_type": "hubspot", "login": "id"}))
    with pytest.raises(AEPConnectionConfigError, match="hubspot_default"):
        rotate().execute(context)
    assert not aep_http.calls


def test_base_connection_id_is_templated():
    assert "base_connection_id" in UpdateHubSpotCredentialsOperator.template_fields
    assert "base_connection_id" in DeleteConnectionOperator.template_fields


def test_delete_base_connection(aep_http, context):
    stub_owned(aep_http, "connections", "base-1")
    aep_http.add(responses.GET, FS + "/sourceConnections", json={"items": []})  # none on it any more
    aep_http.add(responses.DELETE, CONNECTION, status=204)
    stub_gone(aep_http, "connections", "gone")
    assert DeleteConnectionOperator(task_id="d", base_connection_id="base-1").execute(context) is True
    assert DeleteConnectionOperator(task_id="d", base_connection_id="gone").execute(context) is False


# --------------------------------------------------------------------------- against the emulator
def test_emulator_rotation_replaces_the_stored_credentials(emulator, context, pipeline, monkeypatch):
    rotated = {
        "conn_type": "hubspot",
        "login": NEW_SECRETS["login"],
        "password": NEW_SECRETS["password"],
        "extra": {"access_token": NEW_SECRETS["access_token"], "refresh_token": NEW_SECRETS["refresh_token"]},
    }
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(rotated))
    emulator.control.add_fault(method="PATCH", path=".*/connections/.*", status=412, count=1)
    before = emulator.control.state()["connections"][0]["etag"]
    UpdateHubSpotCredentialsOperator(task_id="rotate", base_connection_id=pipeline["base"]).execute(context)
    stored = emulator.control.state(include_secrets=True)["connections"][0]
    assert stored["auth"]["params"]["accessToken"] == NEW_SECRETS["access_token"]
    assert stored["auth"]["params"]["refreshToken"] == NEW_SECRETS["refresh_token"]
    assert stored["auth"]["params"]["clientSecret"] == NEW_SECRETS["password"]
    assert stored["etag"] != before
    assert stored["etag"] == context["ti"].xcoms["etag"]
    patches = emulator.control.journal(method="PATCH")
    assert [p["status"] for p in patches] == [412, 200]


def test_emulator_teardown_order(emulator, context, pipeline):
    from airflow_provider_aep.operators.flows import DeleteDataflowOperator
    from airflow_provider_aep.operators.source_connections import DeleteSourceConnectionOperator
    from airflow_provider_aep.operators.target_connections import DeleteTargetConnectionOperator

    delete_base = DeleteConnectionOperator(task_id="d", base_connection_id=pipeline["base"])
    # AEP refuses while a dataflow still uses it (FLOW-1418-400): left, and the log says why.
    assert delete_base.execute(context) is False
    assert len(emulator.control.state()["connections"]) == 1
    emulator.control.advance_clock(24 * 3600)  # the flow's first run ends
    assert DeleteDataflowOperator(task_id="f", flow_id=pipeline["flow"]).execute(context) is True
    DeleteSourceConnectionOperator(task_id="s", source_connection_id=pipeline["source"]).execute(context)
    DeleteTargetConnectionOperator(task_id="t", target_connection_id=pipeline["target"]).execute(context)
    assert (delete_base.execute(context), delete_base.execute(context)) == (True, False)
    state = emulator.control.state()
    assert not any(state[c] for c in ("connections", "sourceConnections", "targetConnections", "flows"))

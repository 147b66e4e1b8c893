"""CreateHubSpotConnectionOperator / CreateConnectionOperator with HTTP stubbed."""

from __future__ import annotations

import json

import pytest
import responses

from airflow_provider_aep.client.flow_service import AEPResourceExistsError
from airflow_provider_aep.exceptions import AEPConnectionConfigError, AEPInvalidArgumentError
from airflow_provider_aep.operators.connections import CreateConnectionOperator, CreateHubSpotConnectionOperator
from tests.conftest import HUBSPOT_SECRETS, ORG_ID

from .conftest import owned

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
IMS = "https://ims-na1.adobelogin.com/ims/token/v3"
HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"


@pytest.fixture
def aep(connections):
    connections(PLATFORM, ims_url="https://ims-na1.adobelogin.com")


@pytest.fixture
def http(aep):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.POST, IMS, json={"access_token": "ims-token-0001", "token_type": "bearer", "expires_in": 86399}
        )
        yield mock


def make(**kwargs):
    return CreateHubSpotConnectionOperator(task_id="create", name="connection for hubspot", **kwargs)


def test_sends_the_tutorial_body_and_pushes_id_and_etag(http, context):
    http.add(responses.GET, FS + "/connections", json={"items": [], "_links": {}})
    http.add(responses.POST, FS + "/connections", json={"id": "2fce94c1", "etag": '"d403848a"'}, status=201)
    op = make(description="connection for hubspot")
    assert op.execute(context) == "2fce94c1"
    post = next(c.request for c in http.calls if c.request.method == "POST" and c.request.url.startswith(FS))
    assert json.loads(post.body) == {
        "name": "connection for hubspot",
        "description": owned("create", "connection for hubspot"),
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "clientId": HUBSPOT_SECRETS["login"],
                "clientSecret": HUBSPOT_SECRETS["password"],
                "accessToken": HUBSPOT_SECRETS["access_token"],
                "refreshToken": HUBSPOT_SECRETS["refresh_token"],
            },
        },
        "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
    }
    assert context["ti"].xcoms["etag"] == '"d403848a"'
    link = context["ti"].xcoms["aep_base_connection"]
    assert link == {"org_id": ORG_ID, "sandbox": "prod", "id": "2fce94c1"}
    assert not any(secret in json.dumps(context["ti"].xcoms) for secret in HUBSPOT_SECRETS.values())


def test_reuses_a_connection_with_the_same_name(http, context):
    existing = {"id": "old", "etag": '"e"', "name": "connection for hubspot", "connectionSpec": {"id": HUBSPOT}}
    http.add(responses.GET, FS + "/connections", json={"items": [existing], "_links": {}})
    assert make().execute(context) == "old"
    assert not [c for c in http.calls if c.request.method == "POST" and c.request.url.startswith(FS)]


def test_if_exists_fail(http, context):
    existing = {"id": "old", "name": "connection for hubspot", "connectionSpec": {"id": HUBSPOT}}
    http.add(responses.GET, FS + "/connections", json={"items": [existing], "_links": {}})
    with pytest.raises(AEPResourceExistsError, match="old"):
        make(if_exists="fail").execute(context)


def test_aep_400_surfaces_code_and_message_without_secrets(http, context):
    http.add(responses.GET, FS + "/connections", json={"items": [], "_links": {}})
    echo = json.dumps({"clientSecret": HUBSPOT_SECRETS["password"]})
    http.add(
        responses.POST,
        FS + "/connections",
        status=400,
        json={
            "type": "https://ns.adobe.com/aep/errors/FLOW-1415-400",
            "title": "Bad Request",
            "status": 400,
            "report": {"detailed-message": f"The auth spec could not be found. Body: {echo}", "request-id": "r-7"},
        },
    )
    with pytest.raises(Exception) as err:
        make().execute(context)
    text = str(err.value)
    assert "FLOW-1415-400" in text and "auth spec could not be found" in text and "r-7" in text
    assert HUBSPOT_SECRETS["password"] not in text


@pytest.mark.parametrize("name", ["", "   ", None])
def test_empty_name_fails_before_any_request(http, context, name):
    with pytest.raises(AEPInvalidArgumentError, match="'name'"):
        make().__class__(task_id="t", name=name).execute(context)
    assert len(http.calls) == 0


def test_hubspot_connection_without_tokens_fails_before_any_request(http, context, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps({"conn_type": "hubspot", "login": "x", "password": "y"})
    )
    with pytest.raises(AEPConnectionConfigError, match="access_token"):
        make().execute(context)
    assert len(http.calls) == 0


def test_bad_aep_connection_fails_before_any_request(http, context, connections):
    connections(PLATFORM, ims_url="https://ims-na1.adobelogin.com", sandbox_name="PROD")
    with pytest.raises(AEPConnectionConfigError, match="sandbox_name"):
        make().execute(context)
    assert len(http.calls) == 0


def test_invalid_if_exists_is_rejected_at_parse_time():
    with pytest.raises(AEPInvalidArgumentError, match="if_exists"):
        make(if_exists="overwrite")


def test_generic_operator_masks_and_never_templates_auth_params(http, context):
    http.add(responses.GET, FS + "/connections", json={"items": [], "_links": {}})
    http.add(responses.POST, FS + "/connections", json={"id": "c2", "etag": '"e"'}, status=201)
    op = CreateConnectionOperator(
        task_id="generic",
        name="s3",
        connection_spec_id="ecadc60c-7455-4d87-84dc-2a0e293d997b",
        auth_spec_name="Access Key",
        auth_params={"s3AccessKey": "AKIA-XXXX", "s3SecretKey": "s3-secret-value"},
    )
    assert "auth_params" not in op.template_fields
    assert op.execute(context) == "c2"


def test_hands_the_connection_and_the_flow_spec_on_to_the_tables(http, context):
    flow_spec = {
        "id": "14518937",
        "name": "CRMToAEP",
        "version": "1.0",
        "sourceConnectionSpecIds": [HUBSPOT],
        "targetConnectionSpecIds": ["c604ff05"],
        "attributes": {"big": "document not handed on"},
    }
    http.add(responses.GET, FS + "/flowSpecs", json={"items": [flow_spec], "_links": {}})
    http.add(responses.GET, FS + "/connections", json={"items": [], "_links": {}})
    http.add(responses.POST, FS + "/connections", json={"id": "2fce94c1", "etag": '"e"'}, status=201)
    assert make(flow_spec_name="CRMToAEP").execute(context) == "2fce94c1"
    paths = [
        c.request.method + " " + c.request.path_url.split("?")[0]
        for c in http.calls
        if "/flowservice/" in c.request.url
    ]
    assert paths[0] == "GET /data/foundation/flowservice/flowSpecs"  # before the create: a failed try made nothing
    assert context["ti"].xcoms["connection"] == {
        "id": "2fce94c1",
        "name": "connection for hubspot",
        "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
    }
    assert context["ti"].xcoms["flow_spec"] == {k: v for k, v in flow_spec.items() if k != "attributes"}
    assert not any(secret in json.dumps(context["ti"].xcoms) for secret in HUBSPOT_SECRETS.values())

"""FlowServiceClient against stubbed HTTP: headers, auth, retries, pagination, envelopes, idempotent creates."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from airflow_provider_aep.client.errors import (
    AEPAuthError,
    AEPBadRequestError,
    AEPNotFoundError,
    AEPRateLimitError,
    AEPResponseError,
    AEPServerError,
    AEPTransportError,
)
from airflow_provider_aep.client.flow_service import AEPResourceExistsError, property_filter

from .conftest import FS, IMS, ORG, SECRET

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
BODY = {
    "name": "conn",
    "auth": {"specName": "Basic Authentication", "params": {"clientSecret": "hs-secret-value-1"}},
    "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
}


def calls_to(http, url_prefix, method=None):
    return [
        c for c in http.calls if c.request.url.startswith(url_prefix) and (method is None or c.request.method == method)
    ]


def empty_list(http, path="/connections"):
    http.add(responses.GET, FS + path, json={"items": [], "_links": {}})


def test_every_platform_call_sends_the_five_headers(client, http, ims):
    http.add(responses.POST, FS + "/connections", json={"id": "c1", "etag": '"e1"'}, status=201)
    client.create("connections", BODY)
    request = calls_to(http, FS)[0].request
    assert request.headers["Authorization"] == "Bearer token-1-xxxxxxxx"
    assert request.headers["x-api-key"] == "my-client"
    assert request.headers["x-gw-ims-org-id"] == ORG
    assert request.headers["x-sandbox-name"] == "dev-1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == BODY


def test_token_request_is_a_form_body_and_cached(client, http, ims):
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1"}]})
    for _ in range(3):
        client.get_connection("c1")
    assert ims["n"] == 1
    form = parse_qs(calls_to(http, IMS)[0].request.body)
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["my-client"],
        "client_secret": [SECRET],
        "scope": ["openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"],
    }
    assert "Content-Type" not in calls_to(http, FS)[0].request.headers


def test_token_is_shared_between_clients_of_one_process(settings, client, http, ims):
    from airflow_provider_aep.client.flow_service import FlowServiceClient

    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1"}]})
    client.get_connection("c1")
    FlowServiceClient(settings).get_connection("c1")
    assert ims["n"] == 1


def test_401_refreshes_the_token_once(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections/c1",
        json={"error_code": "401013", "message": "Oauth token is not valid"},
        status=401,
    )
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1"}]})
    assert client.get_connection("c1")["id"] == "c1"
    assert ims["n"] == 2
    assert calls_to(http, FS)[1].request.headers["Authorization"] == "Bearer token-2-xxxxxxxx"


def test_401_after_a_fresh_token_is_not_retried_forever(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections/c1",
        json={"error_code": "401013", "message": "Oauth token is not valid"},
        status=401,
    )
    with pytest.raises(AEPAuthError) as err:
        client.get_connection("c1")
    assert err.value.code == "401013"
    assert len(calls_to(http, FS)) == 2
    assert ims["n"] == 2


def test_ims_throttling_is_retried_then_raises_clearly(client, http, sleeps):
    http.add(responses.POST, IMS, json={"error": "too_many_requests"}, status=429, headers={"Retry-After": "3"})
    with pytest.raises(AEPRateLimitError) as err:
        client.auth.token()
    assert len(calls_to(http, IMS)) == 4
    assert sleeps == [3.0, 3.0, 3.0]
    assert SECRET not in str(err.value)


def test_ims_rejects_credentials(client, http):
    http.add(
        responses.POST,
        IMS,
        json={"error": "invalid_client", "error_description": "invalid client_secret parameter"},
        status=401,
    )
    with pytest.raises(AEPAuthError, match="invalid client_secret parameter") as err:
        client.auth.token()
    assert err.value.code == "invalid_client"
    assert len(calls_to(http, IMS)) == 1


@pytest.mark.parametrize("body", ["<html>oops</html>", '{"access_token": "t"}', '{"expires_in": 10}'])
def test_malformed_token_responses(client, http, body):
    http.add(responses.POST, IMS, body=body, status=200)
    with pytest.raises(AEPResponseError):
        client.auth.token()


def test_get_retries_honour_retry_after(client, http, ims, sleeps):
    http.add(
        responses.GET,
        FS + "/connections/c1",
        status=429,
        json={"error_code": "429", "message": "slow down"},
        headers={"Retry-After": "2"},
    )
    http.add(responses.GET, FS + "/connections/c1", status=503, json={"title": "Unavailable"})
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1"}]})
    assert client.get_connection("c1")["id"] == "c1"
    assert sleeps[0] == 2.0
    assert len(sleeps) == 2 and 0 < sleeps[1] <= 30


def test_get_retries_are_bounded(client, http, ims, sleeps):
    http.add(responses.GET, FS + "/connections/c1", status=502, body="<html>bad gateway</html>")
    with pytest.raises(AEPServerError) as err:
        client.get_connection("c1")
    assert len(calls_to(http, FS)) == 4
    assert "non-JSON" in str(err.value)


def test_connection_errors_on_get_are_retried(client, http, ims):
    http.add(responses.GET, FS + "/connections/c1", body=requests.ConnectionError("reset by peer"))
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1"}]})
    assert client.get_connection("c1")["id"] == "c1"


def test_bare_post_is_not_retried_on_5xx(client, http, ims):
    http.add(responses.POST, FS + "/connections", status=503, json={"title": "Service Unavailable"})
    with pytest.raises(AEPServerError):
        client.create("connections", BODY)
    assert len(calls_to(http, FS, "POST")) == 1


def test_bare_post_is_resent_after_429(client, http, ims, sleeps):
    http.add(responses.POST, FS + "/connections", status=429, json={"message": "slow"}, headers={"Retry-After": "1"})
    http.add(responses.POST, FS + "/connections", json={"id": "c9", "etag": '"e"'}, status=201)
    assert client.create("connections", BODY).id == "c9"
    assert sleeps == [1.0]


def test_create_once_reuses_an_existing_resource(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections",
        json={
            "items": [{"id": "old", "name": "conn", "etag": '"e0"', "connectionSpec": {"id": HUBSPOT}, "createdAt": 1}]
        },
    )
    result = client.create_connection(BODY)
    assert (result.id, result.etag, result.created) == ("old", '"e0"', False)
    assert not calls_to(http, FS, "POST")
    query = parse_qs(urlsplit(calls_to(http, FS)[0].request.url).query)
    assert query["property"] == ["name==conn", f"connectionSpec.id=={HUBSPOT}"]


def test_create_once_if_exists_fail(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections",
        json={"items": [{"id": "old", "name": "conn", "connectionSpec": {"id": HUBSPOT}}]},
    )
    with pytest.raises(AEPResourceExistsError, match="old"):
        client.create_connection(BODY, if_exists="fail")


def test_create_once_ignores_near_matches_a_server_returns(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections",
        json={"items": [{"id": "x", "name": "conn 2", "connectionSpec": {"id": HUBSPOT}}]},
    )
    http.add(responses.POST, FS + "/connections", json={"id": "new", "etag": '"e"'}, status=201)
    assert client.create_connection(BODY).id == "new"


def test_create_once_recovers_a_committed_create_whose_answer_was_lost(client, http, ims):
    empty_list(http)
    http.add(responses.POST, FS + "/connections", body=requests.ConnectionError("Connection aborted"))
    http.add(
        responses.GET,
        FS + "/connections",
        json={"items": [{"id": "made", "name": "conn", "connectionSpec": {"id": HUBSPOT}, "etag": '"e"'}]},
    )
    result = client.create_connection(BODY)
    assert (result.id, result.created) == ("made", True)
    assert len(calls_to(http, FS, "POST")) == 1


def test_create_once_resends_only_after_confirming_absence(client, http, ims):
    empty_list(http)
    http.add(responses.POST, FS + "/connections", status=503, json={"title": "Service Unavailable"})
    empty_list(http)
    http.add(responses.POST, FS + "/connections", json={"id": "second", "etag": '"e"'}, status=201)
    assert client.create_connection(BODY).id == "second"
    methods = [c.request.method for c in calls_to(http, FS)]
    assert methods == ["GET", "POST", "GET", "POST", "GET"]  # the last GET: the convergence check


def test_create_once_does_not_retry_a_400(client, http, ims):
    empty_list(http)
    http.add(
        responses.POST,
        FS + "/connections",
        status=400,
        json={
            "type": "https://ns.adobe.com/aep/errors/FLOW-1415-400",
            "title": "Bad Request",
            "status": 400,
            "report": {
                "detailed-message": 'Auth spec not found; body {"clientSecret": "hs-secret-value-1"}',
                "request-id": "r1",
            },
        },
    )
    with pytest.raises(AEPBadRequestError) as err:
        client.create_connection(BODY)
    assert err.value.code == "FLOW-1415-400"
    assert "hs-secret-value-1" not in str(err.value)
    assert len(calls_to(http, FS, "POST")) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [("<html>proxy</html>", "not JSON"), ('{"id": "c1"', "not JSON"), ('{"etag": "e"}', "no 'id'")],
)
def test_create_with_an_unexpected_2xx_body(client, http, ims, body, message):
    http.add(responses.POST, FS + "/connections", body=body, status=201)
    with pytest.raises(AEPResponseError, match=message):
        client.create("connections", BODY)


def test_pagination_follows_relative_next_href(client, http, ims):
    http.add(
        responses.GET,
        FS + "/connections",
        json={
            "items": [{"id": "1"}, {"id": "2"}],
            "_links": {"next": {"href": "/connections?continuationToken=abc&limit=2"}},
        },
        match=[responses.matchers.query_param_matcher({"limit": "2"})],
    )
    http.add(
        responses.GET,
        FS + "/connections",
        json={"items": [{"id": "3"}], "_links": {}},
        match=[responses.matchers.query_param_matcher({"continuationToken": "abc", "limit": "2"})],
    )
    assert [c["id"] for c in client.iter_resources("connections", page_size=2)] == ["1", "2", "3"]


def test_pagination_accepts_a_full_service_path_and_stops_on_loops(client, http, ims):
    href = "/data/foundation/flowservice/connections?continuationToken=same"
    http.add(responses.GET, FS + "/connections", json={"items": [{"id": "1"}], "_links": {"next": {"href": href}}})
    assert [c["id"] for c in client.iter_resources("connections")] == ["1", "1"]


def test_pagination_refuses_to_follow_links_to_other_hosts(client, http, ims):
    href = "https://evil.example.com/connections?continuationToken=x"
    http.add(responses.GET, FS + "/connections", json={"items": [{"id": "1"}], "_links": {"next": {"href": href}}})
    with pytest.raises(AEPResponseError, match="another host"):
        list(client.iter_resources("connections"))


def test_count_never_sends_limit(client, http, ims):
    http.add(responses.GET, FS + "/connections", json={"count": 95})
    assert client.count("connections", filters=["state==enabled"]) == 95
    query = parse_qs(urlsplit(calls_to(http, FS)[0].request.url).query)
    assert "limit" not in query and query["count"] == ["true"]


def test_get_by_id_unwraps_items_and_rejects_unknown_envelopes(client, http, ims):
    http.add(responses.GET, FS + "/flows/f1", json={"items": [{"id": "f1", "name": "flow"}]})
    http.add(responses.GET, FS + "/flows/f2", json={"data": []})
    http.add(responses.GET, FS + "/flows/f3", json={"items": []})
    assert client.get_flow("f1")["name"] == "flow"
    with pytest.raises(AEPResponseError, match="envelope"):
        client.get_flow("f2")
    with pytest.raises(AEPNotFoundError):
        client.get_flow("f3")


def test_delete_treats_404_as_gone(client, http, ims):
    http.add(responses.DELETE, FS + "/flows/f1", status=204)
    http.add(responses.DELETE, FS + "/flows/f2", status=404, json={"title": "Resource not found", "status": 404})
    assert client.delete("flows", "f1") is True
    assert client.delete("flows", "f2") is False
    with pytest.raises(AEPNotFoundError):
        client.delete("flows", "f2", missing_ok=False)


def test_patch_rereads_a_stale_etag_once(client, http, ims):
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1", "etag": '"v1"'}]})
    http.add(responses.PATCH, FS + "/connections/c1", status=412, json={"title": "Precondition failed", "status": 412})
    http.add(responses.GET, FS + "/connections/c1", json={"items": [{"id": "c1", "etag": '"v2"'}]})
    http.add(responses.PATCH, FS + "/connections/c1", json={"id": "c1", "etag": '"v3"'})
    result = client.update_connection_auth("c1", {"accessToken": "new-token-value"})
    assert result.etag == '"v3"'
    patches = calls_to(http, FS, "PATCH")
    assert [p.request.headers["If-Match"] for p in patches] == ['"v1"', '"v2"']
    assert json.loads(patches[0].request.body) == [
        {"op": "replace", "path": "/auth/params", "value": {"accessToken": "new-token-value"}}
    ]


def test_transport_errors_say_whether_the_request_was_sent(settings):
    from airflow_provider_aep.client.config import AEPSettings
    from airflow_provider_aep.client.flow_service import FlowServiceClient
    from airflow_provider_aep.client.http import RetryPolicy

    closed = AEPSettings(
        client_id="c",
        client_secret="s-secret",
        org_id=ORG,
        platform_url="http://127.0.0.1:9",
        ims_url="http://127.0.0.1:9",
    )
    with pytest.raises(AEPTransportError) as err:
        FlowServiceClient(closed, retry=RetryPolicy(max_attempts=1)).auth.token()
    assert err.value.sent is False
    assert "s-secret" not in str(err.value)


def test_property_filter_quotes_commas():
    assert property_filter("name", "a,b") == 'name=="a,b"'
    assert property_filter("name", "plain name") == "name==plain name"


def test_latest_run_and_run_parsing(client, http, ims):
    run = {
        "id": "r2",
        "flowId": "f1",
        "createdAt": 2,
        "metrics": {
            "statusSummary": {"status": "Failed", "errors": [{"code": "CONNECTOR-2001-500", "message": "boom"}]},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 9, "failedRecordCount": 1},
        },
    }
    http.add(responses.GET, FS + "/runs", json={"items": [run], "_links": {}})
    latest = client.latest_run("f1")
    assert latest is not None and latest.phase == "failed" and latest.failed_records == 1
    assert "CONNECTOR-2001-500: boom" in latest.describe_errors()
    query = parse_qs(urlsplit(calls_to(http, FS)[0].request.url).query)
    assert query == {"property": ["flowId==f1"], "orderby": ["-createdAt"], "limit": ["1"]}

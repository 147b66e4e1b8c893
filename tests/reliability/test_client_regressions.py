"""Regression tests for client bugs the reliability suite found (responses stubs, sleeps recorded, no waiting).

1. Retry amplification: a failing IMS token request was retried by the token fetch (5 attempts) *and* by
   the retry loop of the Platform call around it (5 attempts), i.e. 25 token requests per call during an
   IMS outage, and as many for every Airflow try; Adobe throttles integrations that mint too many tokens.
   Now the token fetch's error is final for the outer loop: 5 requests per call.
2. Unanswered creates: after a create timed out, one empty lookup was enough to send it again, so a create
   AEP committed a moment later (slow, not lost) became a duplicate. Now the lookup is repeated for up to
   two read timeouts before the POST is re-sent.
"""

from __future__ import annotations

import pytest
import requests
import responses

from airflow_provider_aep.client.auth import TokenCache
from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.errors import AEPRateLimitError, AEPServerError, AEPTransportError
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import RetryPolicy

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
IMS = "https://ims-na1.adobelogin.com/ims/token/v3"
ORG = "0123456789ABCDEF01234567@AdobeOrg"
HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
BODY = {"name": "conn", "auth": {"specName": "Basic Authentication", "params": {}}, "connectionSpec": {"id": HUBSPOT}}
TOKEN = '{"access_token": "token-xxxxxxxx", "token_type": "bearer", "expires_in": 86399}'
ATTEMPTS = 5


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps) -> FlowServiceClient:
    settings = AEPSettings(client_id="c", client_secret="s-e-c-r-e-t", org_id=ORG, read_timeout=10)
    policy = RetryPolicy(max_attempts=ATTEMPTS, sleep=sleeps.append)
    return FlowServiceClient(settings, retry=policy, token_cache=TokenCache())


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def calls(http, url: str, method: str | None = None) -> list:
    return [
        c for c in http.calls if c.request.url.split("?")[0] == url and (method is None or c.request.method == method)
    ]


@pytest.mark.parametrize(
    ("ims", "error"),
    [
        ({"status": 503, "json": {"error": "server_error"}}, AEPServerError),
        ({"status": 429, "json": {"error": "too_many_requests"}, "headers": {"Retry-After": "0"}}, AEPRateLimitError),
        ({"body": requests.ConnectionError("reset")}, AEPTransportError),
    ],
    ids=["503", "429", "reset"],
)
@pytest.mark.parametrize("call", ["get", "create_once", "bare_create"])
def test_an_ims_outage_costs_one_token_retry_loop_per_call_not_one_per_attempt(client, http, ims, error, call):
    http.add(responses.POST, IMS, **ims)
    with pytest.raises(error):
        if call == "get":
            client.get_connection("c1")
        elif call == "create_once":
            client.create_connection(BODY)
        else:
            client.create("connections", BODY)
    assert len(calls(http, IMS)) == ATTEMPTS
    assert not [c for c in http.calls if c.request.url.startswith(FS)]


async def test_the_async_client_does_not_amplify_ims_retries_either():
    import httpx

    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(503, json={"error": "server_error"})

    async def no_sleep(_: float) -> None:
        return None

    settings = AEPSettings(client_id="c", client_secret="s-e-c-r-e-t", org_id=ORG)
    client = AsyncFlowServiceClient(
        settings,
        retry=RetryPolicy(max_attempts=ATTEMPTS),
        token_cache=TokenCache(),
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    )
    async with client:
        with pytest.raises(AEPServerError):
            await client.get_run("r1")
    assert seen == [IMS] * ATTEMPTS


def _lookup(http, items: list) -> None:
    http.add(responses.GET, FS + "/connections", json={"items": items})


MADE = {"id": "made", "name": "conn", "connectionSpec": {"id": HUBSPOT}, "etag": '"e"'}


def test_a_timed_out_create_that_shows_up_late_is_found_not_resent(client, http, ims_ok, sleeps):
    _lookup(http, [])  # before the create
    http.add(responses.POST, FS + "/connections", body=requests.ReadTimeout("read timed out"))
    for _ in range(3):
        _lookup(http, [])  # AEP is still working on it
    _lookup(http, [MADE])
    result = client.create_connection(BODY)
    assert (result.id, result.created) == ("made", True)
    assert len(calls(http, FS + "/connections", "POST")) == 1
    # the lookup before the create, four while AEP works on it, and the one convergence makes after a create
    assert len(calls(http, FS + "/connections", "GET")) == 6


def test_a_timed_out_create_that_never_shows_up_is_resent_after_the_window(client, http, ims_ok, sleeps):
    _lookup(http, [])
    http.add(responses.POST, FS + "/connections", body=requests.ReadTimeout("read timed out"))
    _lookup(http, [])  # responses repeats the last match: the create never appears
    http.add(responses.POST, FS + "/connections", json={"id": "second", "etag": '"e"'}, status=201)
    assert client.create_connection(BODY).id == "second"
    assert len(calls(http, FS + "/connections", "POST")) == 2
    _backoff, *polls = sleeps
    assert sum(polls) == pytest.approx(2 * client.settings.read_timeout)  # looked for it that long, no longer
    assert len(polls) == 5


def test_a_5xx_answered_create_is_looked_up_once_then_resent(client, http, ims_ok, sleeps):
    """A 500 from the service itself means it finished with the request: no waiting before the re-send.

    (A gateway's 502/504 is another matter: the backend may still commit, see docs/reliability.md.)
    """
    _lookup(http, [])
    http.add(responses.POST, FS + "/connections", status=500, json={"title": "Internal Server Error"})
    _lookup(http, [])
    http.add(responses.POST, FS + "/connections", json={"id": "second", "etag": '"e"'}, status=201)
    assert client.create_connection(BODY).id == "second"
    # the last GET: convergence lists the natural key again after the create (ServiceClient.converge)
    assert [c.request.method for c in http.calls if c.request.url.startswith(FS)] == [
        "GET",
        "POST",
        "GET",
        "POST",
        "GET",
    ]
    assert len(sleeps) == 1


@pytest.fixture
def ims_ok(http):
    http.add(responses.POST, IMS, body=TOKEN, status=200)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": "server_error"}', 'error body without a message: \'{"error": "server_error"}\''),
        ("<html>502 Bad Gateway</html>", "non-JSON error body: '<html>502 Bad Gateway</html>'"),
        ("", "empty error body"),
    ],
)
def test_error_messages_do_not_call_a_json_body_non_json(body, expected):
    """IMS answers 5xx with ``{"error": "server_error"}`` only; the message used to say "non-JSON error body"."""
    from airflow_provider_aep.client.errors import Redactor, error_from_response

    err = error_from_response(status=503, headers={}, text=body, method="POST", url=IMS, redact=Redactor())
    assert err.message == expected

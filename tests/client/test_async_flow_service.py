"""AsyncFlowServiceClient over httpx (stubbed with respx): same headers, auth, retries and errors as the sync one."""

from __future__ import annotations

import httpx
import pytest
import respx

from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
from airflow_provider_aep.client.errors import AEPNotFoundError, AEPResponseError, AEPServerError, AEPTransportError
from airflow_provider_aep.client.http import RetryPolicy

from .conftest import FS, IMS, ORG, SECRET

RUN = {
    "id": "run-1",
    "flowId": "flow-1",
    "createdAt": 10,
    "metrics": {
        "statusSummary": {"status": "success", "errors": []},
        "recordSummary": {"inputRecordCount": 100, "outputRecordCount": 99, "failedRecordCount": 1},
    },
}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def aclient(settings, sleeps):
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    client = AsyncFlowServiceClient(settings, retry=RetryPolicy(max_attempts=3), sleep=record)
    yield client
    await client.aclose()


@pytest.fixture
def aep():
    with respx.mock(assert_all_called=False) as mock:
        mock.post(IMS).mock(
            side_effect=[
                httpx.Response(200, json={"access_token": f"atoken-{n}-xxxxxxxx", "expires_in": 86399})
                for n in range(1, 5)
            ]
        )
        yield mock


async def test_get_run_sends_the_platform_headers_and_unwraps_items(aclient, aep):
    route = aep.get(FS + "/runs/run-1").respond(json={"items": [RUN]})
    run = await aclient.get_run("run-1")
    assert (run.id, run.flow_id, run.phase, run.failed_records, run.output_records) == (
        "run-1",
        "flow-1",
        "success",
        1,
        99,
    )
    headers = route.calls.last.request.headers
    assert headers["Authorization"] == "Bearer atoken-1-xxxxxxxx"
    assert headers["x-api-key"] == "my-client"
    assert headers["x-gw-ims-org-id"] == ORG
    assert headers["x-sandbox-name"] == "dev-1"
    assert "content-type" not in headers


async def test_token_form_and_cache(aclient, aep):
    aep.get(FS + "/runs/run-1").respond(json={"items": [RUN]})
    await aclient.get_run("run-1")
    await aclient.get_run("run-1")
    assert aep.routes[0].call_count == 1
    form = dict(httpx.QueryParams(aep.routes[0].calls.last.request.content.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "my-client",
        "client_secret": SECRET,
        "scope": form["scope"],
    }


async def test_shares_the_process_wide_token_cache_with_the_sync_client(settings, aep):
    from airflow_provider_aep.client.auth import TOKENS, AccessToken, cache_key

    TOKENS.put(cache_key(settings), AccessToken("sync-token-xxxxxxxx", expires_at=float("inf")))
    route = aep.get(FS + "/runs/run-1").respond(json={"items": [RUN]})
    async with AsyncFlowServiceClient(settings) as client:
        await client.get_run("run-1")
    assert aep.routes[0].call_count == 0
    assert route.calls.last.request.headers["Authorization"] == "Bearer sync-token-xxxxxxxx"


async def test_latest_run_query_and_newest_item(aclient, aep):
    older = {**RUN, "id": "run-0", "createdAt": 1}
    route = aep.get(FS + "/runs").respond(json={"items": [older, RUN], "_links": {}})
    run = await aclient.latest_run("flow-1")
    assert run is not None and run.id == "run-1"
    params = route.calls.last.request.url.params
    assert (params["property"], params["orderby"], params["limit"]) == ("flowId==flow-1", "-createdAt", "1")


async def test_latest_run_of_a_flow_that_never_ran(aclient, aep):
    aep.get(FS + "/runs").respond(json={"items": [], "_links": {}})
    assert await aclient.latest_run("flow-1") is None


async def test_a_401_refreshes_the_token_once(aclient, aep):
    route = aep.get(FS + "/runs/run-1").mock(
        side_effect=[
            httpx.Response(401, json={"error_code": "401013", "message": "Oauth token is not valid"}),
            httpx.Response(200, json={"items": [RUN]}),
        ]
    )
    await aclient.get_run("run-1")
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer atoken-1-xxxxxxxx",
        "Bearer atoken-2-xxxxxxxx",
    ]


async def test_throttling_honours_retry_after(aclient, aep, sleeps):
    aep.get(FS + "/runs/run-1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error_code": "429050", "message": "Too many"}),
            httpx.Response(200, json={"items": [RUN]}),
        ]
    )
    assert (await aclient.get_run("run-1")).id == "run-1"
    assert sleeps == [7.0]


async def test_server_errors_are_retried_then_raised(aclient, aep, sleeps):
    route = aep.get(FS + "/runs/run-1").respond(503, json={"title": "Service Unavailable", "status": 503})
    with pytest.raises(AEPServerError):
        await aclient.get_run("run-1")
    assert route.call_count == 3 and len(sleeps) == 2


async def test_connection_refused_is_a_transport_error_that_was_not_sent(aclient, aep):
    aep.get(FS + "/runs/run-1").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(AEPTransportError) as err:
        await aclient.get_run("run-1")
    assert err.value.sent is False


async def test_not_found_error_is_typed_and_redacted(aclient, aep):
    body = {
        "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
        "title": "Resource not found",
        "status": 404,
        "report": {"detailed-message": f"run-9 not found (secret {SECRET})", "request-id": "req-1"},
    }
    aep.get(FS + "/runs/run-9").respond(404, json=body)
    with pytest.raises(AEPNotFoundError) as err:
        await aclient.get_run("run-9")
    assert err.value.code == "FLOW-1439-404" and err.value.request_id == "req-1"
    assert SECRET not in str(err.value)


async def test_non_json_body_is_a_response_error(aclient, aep):
    aep.get(FS + "/runs/run-1").respond(200, text="<html>proxy</html>")
    with pytest.raises(AEPResponseError, match="not JSON"):
        await aclient.get_run("run-1")


async def test_links_to_other_hosts_are_refused(aclient, aep):
    with pytest.raises(AEPResponseError, match="another host"):
        await aclient.request("GET", "https://evil.example.com/runs")


async def test_secrets_are_handed_to_the_async_masker(settings, aep):
    masked: list[str] = []

    async def mask(value: str) -> None:
        masked.append(value)

    aep.get(FS + "/runs/run-1").respond(json={"items": [RUN]})
    async with AsyncFlowServiceClient(settings, on_secret=mask) as client:
        await client.get_run("run-1")
    assert masked == [SECRET, "atoken-1-xxxxxxxx"]


async def test_clients_of_one_loop_share_one_connection_pool(settings):
    import airflow_provider_aep.client.async_flow_service as module

    first, second = module.AsyncFlowServiceClient(settings), module.AsyncFlowServiceClient(settings)
    pool = first._pool
    assert pool is not None and second._pool is pool  # one set of connections per loop, not a socket per trigger
    assert len(pool.clients) == module.POOL_CONNECTIONS and first.http is None
    await first.aclose()
    assert not pool.closed  # still in use
    await second.aclose()
    await second.aclose()  # closing twice releases once
    assert pool.closed and all(client.is_closed for client in pool.clients)
    third = module.AsyncFlowServiceClient(settings)
    assert third._pool is not pool and not third._pool.closed
    await third.aclose()

"""Which requests are retried is decided per request: a PATCH only with If-Match or when its caller says it is
idempotent; GET, HEAD, OPTIONS, PUT and DELETE always; POST never (creates are reconciled instead).

The sync client (``requests``, stubbed with ``responses``) and the async one (``httpx``, stubbed with respx)
answer every case the same way; then real HTTP against the emulator shows what is at stake: a PATCH that AEP
committed but answered 500 is sent once without If-Match (so it cannot apply twice), and with If-Match its
replay is refused with 412 instead of applying again.
"""

from __future__ import annotations

from typing import Any

import pytest
import respx
from aep_emulator.testing import CATALOG, CLIENT_ID, ORG, FlowClient, fetch_token, make_dataset

from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
from airflow_provider_aep.client.auth import TokenCache
from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.errors import AEPPreconditionFailedError, AEPServerError
from airflow_provider_aep.client.http import JSON_PATCH_CONTENT, RetryPolicy, retried_by_default
from airflow_provider_aep.client.platform import PlatformClient

from .conftest import FS, IMS

ATTEMPTS = 3
OPS = [{"op": "replace", "path": "/name", "value": "renamed"}]

# (method, headers, idempotent, retried)
CASES = [
    ("PATCH", None, False, False),
    ("PATCH", {"If-Match": '"v1"'}, False, True),
    ("PATCH", {"if-match": '"v1"'}, False, True),  # header names are case-insensitive
    ("PATCH", {"If-Match": ""}, False, False),  # an empty etag guards nothing
    ("PATCH", {"If-None-Match": "*"}, False, False),
    ("PATCH", None, True, True),
    ("patch", None, False, False),
    ("GET", None, False, True),
    ("HEAD", None, False, True),
    ("OPTIONS", None, False, True),
    ("PUT", None, False, True),
    ("DELETE", None, False, True),
    ("POST", None, False, False),
    ("POST", {"If-Match": '"v1"'}, False, False),
]
IDS = [f"{m}-{'+'.join(h or ['bare'])}{'-idempotent' if i else ''}" for m, h, i, _ in CASES]


@pytest.mark.parametrize(("method", "headers", "idempotent", "retried"), CASES, ids=IDS)
def test_the_policy_decides_per_request(method, headers, idempotent, retried):
    assert retried_by_default(method, headers, idempotent=idempotent) is retried


@pytest.mark.parametrize(("method", "headers", "idempotent", "retried"), CASES, ids=IDS)
def test_the_sync_client_sends_each_request_as_often_as_the_policy_says(
    settings, http, ims, method, headers, idempotent, retried
):
    sleeps: list[float] = []
    http.add(method.upper(), FS + "/flows/f1", status=503)  # no body: HEAD answers have none
    client = PlatformClient(settings, retry=RetryPolicy(max_attempts=ATTEMPTS, sleep=sleeps.append))
    with pytest.raises(AEPServerError):
        client.request(method, FS + "/flows/f1", json_body=OPS, headers=headers, idempotent=idempotent)
    sent = [c for c in http.calls if c.request.url.startswith(FS)]
    assert len(sent) == (ATTEMPTS if retried else 1)
    assert len(sleeps) == len(sent) - 1


@pytest.mark.parametrize(("method", "headers", "idempotent", "retried"), CASES, ids=IDS)
async def test_the_async_client_follows_the_same_policy(settings, method, headers, idempotent, retried):
    async def no_sleep(seconds: float) -> None:
        pass

    with respx.mock(assert_all_called=True) as mock:
        mock.post(IMS).respond(json={"access_token": "atoken-xxxxxxxx", "expires_in": 86399})
        route = mock.route(method=method.upper(), url=FS + "/flows/f1").respond(503)
        client = AsyncFlowServiceClient(
            settings, retry=RetryPolicy(max_attempts=ATTEMPTS), sleep=no_sleep, token_cache=TokenCache()
        )
        try:
            with pytest.raises(AEPServerError):
                await client.request(method, "/flows/f1", json_body=OPS, headers=headers, idempotent=idempotent)
        finally:
            await client.aclose()
    assert route.call_count == (ATTEMPTS if retried else 1)


def test_an_explicit_retry_still_wins(settings, http, ims):
    """``retry=`` is the caller's decision for this one request, either way."""
    http.add("PATCH", FS + "/flows/f1", status=503, json={"title": "Service Unavailable"})
    client = PlatformClient(settings, retry=RetryPolicy(max_attempts=ATTEMPTS, sleep=[].append))
    with pytest.raises(AEPServerError):
        client.request("PATCH", FS + "/flows/f1", json_body=OPS, headers={"If-Match": '"v1"'}, retry=False)
    with pytest.raises(AEPServerError):
        client.request("PATCH", FS + "/flows/f1", json_body=OPS, retry=True)
    assert len([c for c in http.calls if c.request.url.startswith(FS)]) == 1 + ATTEMPTS


# ---------------------------------------------------------------------- real HTTP: the emulator
APPEND = [{"op": "add", "path": "/tags/owners/-", "value": "team-a"}]
PATCH_KW: dict[str, Any] = {"content_type": JSON_PATCH_CONTENT}


def dataset_path(dataset_id: str) -> str:
    return f"{CATALOG}/dataSets/{dataset_id}"


@pytest.fixture
def dataset(aep_emulator) -> str:
    """A Catalog dataset (Catalog's If-Match is optional)."""
    dataset_id, _ = make_dataset(FlowClient(aep_emulator.url, fetch_token(aep_emulator.url)))
    return dataset_id


@pytest.fixture
def aep(aep_emulator, dataset):
    """The provider's client on the emulator, after giving the dataset an empty ``tags.owners`` array."""
    settings = AEPSettings(
        client_id=CLIENT_ID, client_secret="s", org_id=ORG, platform_url=aep_emulator.url, ims_url=aep_emulator.url
    )
    retry = RetryPolicy(max_attempts=ATTEMPTS, sleep=[].append)
    with PlatformClient(settings, retry=retry, token_cache=TokenCache()) as client:
        owners_list = [{"op": "add", "path": "/tags/owners", "value": []}]
        client.request("PATCH", dataset_path(dataset), json_body=owners_list, **PATCH_KW)
        yield client


def owners(client: PlatformClient, dataset_id: str) -> list[str]:
    return CatalogClient(client).get_dataset(dataset_id)["tags"]["owners"]


def patches(emulator, dataset_id: str) -> list[dict[str, Any]]:
    return emulator.control.journal(method="PATCH", path=dataset_path(dataset_id))


def test_a_committed_patch_without_if_match_is_not_sent_again(aep_emulator, aep, dataset):
    """AEP applies the append, then answers 500: a replay would append twice, so the error is raised."""
    before = len(patches(aep_emulator, dataset))
    aep_emulator.control.add_fault("PATCH", dataset_path(dataset), action="commit_then_fail")
    with pytest.raises(AEPServerError):
        aep.request("PATCH", dataset_path(dataset), json_body=APPEND, **PATCH_KW)
    assert len(patches(aep_emulator, dataset)) == before + 1
    assert owners(aep, dataset) == ["team-a"]


def test_a_committed_patch_with_if_match_is_replayed_and_refused(aep_emulator, aep, dataset):
    """With If-Match the retry is safe: the committed first attempt changed the version, so the replay is
    answered 412 and the append is applied once."""
    version = CatalogClient(aep).get_dataset(dataset)["version"]
    before = len(patches(aep_emulator, dataset))
    aep_emulator.control.add_fault("PATCH", dataset_path(dataset), action="commit_then_fail")
    with pytest.raises(AEPPreconditionFailedError):
        aep.request("PATCH", dataset_path(dataset), json_body=APPEND, headers={"If-Match": version}, **PATCH_KW)
    sent = patches(aep_emulator, dataset)[before:]
    assert [e["status"] for e in sent] == [500, 412]
    assert owners(aep, dataset) == ["team-a"]


def test_a_patch_with_if_match_is_retried_after_a_503(aep_emulator, aep, dataset):
    version = CatalogClient(aep).get_dataset(dataset)["version"]
    before = len(patches(aep_emulator, dataset))
    aep_emulator.control.add_fault("PATCH", dataset_path(dataset), status=503)
    aep.request("PATCH", dataset_path(dataset), json_body=APPEND, headers={"If-Match": version}, **PATCH_KW)
    assert [e["status"] for e in patches(aep_emulator, dataset)[before:]] == [503, 200]
    assert owners(aep, dataset) == ["team-a"]


def test_a_patch_its_caller_calls_idempotent_is_retried_after_a_503(aep_emulator, aep, dataset):
    before = len(patches(aep_emulator, dataset))
    aep_emulator.control.add_fault("PATCH", dataset_path(dataset), status=503)
    replace = [{"op": "replace", "path": "/tags/owners", "value": ["team-b"]}]
    aep.request("PATCH", dataset_path(dataset), json_body=replace, idempotent=True, **PATCH_KW)
    assert [e["status"] for e in patches(aep_emulator, dataset)[before:]] == [503, 200]
    assert owners(aep, dataset) == ["team-b"]


def test_catalog_sends_an_idempotent_dataset_patch_as_idempotent(aep_emulator, aep, dataset):
    """The Catalog client says so itself for a patch that replays harmlessly (no If-Match needed)."""
    before = len(patches(aep_emulator, dataset))
    aep_emulator.control.add_fault("PATCH", dataset_path(dataset), status=503)
    CatalogClient(aep).patch_dataset(dataset, [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled"]}])
    sent = patches(aep_emulator, dataset)[before:]
    assert [e["status"] for e in sent] == [503, 200]
    assert sent[-1]["body"] == [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled"]}]
    assert CatalogClient(aep).get_dataset(dataset)["tags"]["unifiedProfile"] == ["enabled"]

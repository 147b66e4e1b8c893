"""Fixtures for client unit tests: HTTP stubbed with ``responses``, sleeps recorded instead of slept."""

from __future__ import annotations

import pytest
import responses

from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import RetryPolicy

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
IMS = "https://ims-na1.adobelogin.com/ims/token/v3"
ORG = "0123456789ABCDEF01234567@AdobeOrg"
SECRET = "client-secret-SECRET-abc123"


@pytest.fixture
def settings() -> AEPSettings:
    return AEPSettings(client_id="my-client", client_secret=SECRET, org_id=ORG, sandbox_name="dev-1")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(settings: AEPSettings, sleeps: list[float]) -> FlowServiceClient:
    return FlowServiceClient(settings, retry=RetryPolicy(max_attempts=4, sleep=sleeps.append))


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def ims(http):
    """IMS that mints token-1, token-2, ... on each request."""
    counter = {"n": 0}

    def mint(request):
        counter["n"] += 1
        return (
            200,
            {},
            f'{{"access_token": "token-{counter["n"]}-xxxxxxxx", "token_type": "bearer", "expires_in": 86399}}',
        )

    http.add_callback(responses.POST, IMS, callback=mint)
    return counter

"""Fixtures for client unit tests: HTTP stubbed with ``responses``, sleeps recorded instead of slept."""

from __future__ import annotations

import pytest
import responses

from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import RetryPolicy
from airflow_provider_aep.client.platform import PlatformClient

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
SR = PLATFORM + "/data/foundation/schemaregistry"
CAT = PLATFORM + "/data/foundation/catalog"
DP = PLATFORM + "/data/foundation/conversion"
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
def platform(settings: AEPSettings, sleeps: list[float]) -> PlatformClient:
    return PlatformClient(settings, retry=RetryPolicy(max_attempts=4, sleep=sleeps.append))


@pytest.fixture(autouse=True)
def _fresh_tenant_cache():
    """Tenant ids are cached per process, like tokens; each test starts without one."""
    from airflow_provider_aep.client.schema_registry import TENANTS

    TENANTS.clear()
    yield
    TENANTS.clear()


@pytest.fixture
def http():
    """Stubbed HTTP; every stub a test registers must be called (traps: ``optional_stub``), IMS excepted."""
    from tests.conftest import assert_stubs_fired

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert_stubs_fired(mock, shared=[r for r in mock.registered() if r.url == IMS])


@pytest.fixture
def strict_http(http):
    """The same as ``http`` (kept for the service-client tests that asked for the strict check by name)."""
    return http


def mint_tokens(mock) -> dict[str, int]:
    """IMS that mints token-1, token-2, ... on each request."""
    counter = {"n": 0}

    def mint(request):
        counter["n"] += 1
        return (
            200,
            {},
            f'{{"access_token": "token-{counter["n"]}-xxxxxxxx", "token_type": "bearer", "expires_in": 86399}}',
        )

    mock.add_callback(responses.POST, IMS, callback=mint)
    return counter


@pytest.fixture
def ims(http):
    return mint_tokens(http)


@pytest.fixture
def strict_ims(strict_http):
    return mint_tokens(strict_http)


def assert_platform_headers(request, *, accept: str, content_type: str | None = None) -> None:
    """The five platform headers, plus the Accept and (only with a body) Content-Type of this call."""
    assert request.headers["Authorization"].startswith("Bearer token-")
    assert request.headers["x-api-key"] == "my-client"
    assert request.headers["x-gw-ims-org-id"] == ORG
    assert request.headers["x-sandbox-name"] == "dev-1"
    assert request.headers["Accept"] == accept
    if content_type is None:
        assert "Content-Type" not in request.headers
    else:
        assert request.headers["Content-Type"] == content_type


def service_calls(mock, prefix: str, method: str | None = None) -> list:
    return [
        c for c in mock.calls if c.request.url.startswith(prefix) and (method is None or c.request.method == method)
    ]

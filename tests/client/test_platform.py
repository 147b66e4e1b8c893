"""PlatformClient: one session, token, redactor and retry policy shared by every service; URLs; redaction cuts."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.data_prep import DataPrepClient
from airflow_provider_aep.client.errors import (
    AEPAuthError,
    AEPNotFoundError,
    AEPResponseError,
    AEPServerError,
    AEPTransportError,
    Redactor,
    error_from_response,
)
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import (
    json_patch_is_idempotent,
    parse_json_body,
    resolve_url,
    transport_error,
)
from airflow_provider_aep.client.platform import PlatformClient
from airflow_provider_aep.client.schema_registry import SchemaRegistryClient

from .conftest import CAT, DP, FS, IMS, PLATFORM, SECRET, SR, assert_platform_headers, service_calls


def test_services_over_one_platform_client_share_its_session_token_and_redactor(platform, strict_http, strict_ims):
    services = [
        FlowServiceClient(platform),
        SchemaRegistryClient(platform),
        CatalogClient(platform),
        DataPrepClient(platform),
    ]
    assert [type(s) for s in services] == [FlowServiceClient, SchemaRegistryClient, CatalogClient, DataPrepClient]
    for service in services:
        assert service.platform is platform
        assert service.session is platform.session and service.auth is platform.auth
        assert service.redact is platform.redact and service.retry is platform.retry
        assert service.settings is platform.settings
    strict_http.add(responses.GET, FS + "/flows/f1", json={"items": [{"id": "f1"}]})
    strict_http.add(responses.GET, SR + "/stats", json={"tenantId": "acme"})
    strict_http.add(responses.GET, CAT + "/dataSets/d1", json={"d1": {"name": "n"}})
    strict_http.add(responses.GET, DP + "/mappingSets/m1", json={"id": "m1", "version": 0})
    FlowServiceClient(platform).get_flow("f1")
    SchemaRegistryClient(platform).tenant_id()
    CatalogClient(platform).get_dataset("d1")
    DataPrepClient(platform).get_mapping_set("m1")
    assert strict_ims["n"] == 1
    for prefix in (FS, SR, CAT, DP):
        assert_platform_headers(service_calls(strict_http, prefix)[0].request, accept="application/json")


def test_the_flow_service_client_still_builds_and_owns_its_platform_client(settings, sleeps):
    from airflow_provider_aep.client.auth import TokenCache
    from airflow_provider_aep.client.http import RetryPolicy

    seen: list[str] = []
    policy = RetryPolicy(max_attempts=2, sleep=sleeps.append)
    cache = TokenCache()
    session = requests.Session()
    client = FlowServiceClient(settings, retry=policy, session=session, on_secret=seen.append, token_cache=cache)
    assert client.retry is policy and client.session is session and client.platform.auth._cache is cache
    assert seen == [SECRET]
    client.add_secret("another-secret")
    assert client.redact("x another-secret y") == "x *** y"
    with client as entered:
        assert entered is client
    with pytest.raises(TypeError):
        FlowServiceClient(PlatformClient(settings), retry=policy)


def test_a_shared_platform_client_is_not_closed_by_its_services(platform):
    closed: list[bool] = []
    platform.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with CatalogClient(platform):
        pass
    assert closed == []
    with platform:
        pass
    assert closed == [True]


def test_401_on_any_service_refreshes_the_shared_token_once(platform, strict_http, strict_ims):
    strict_http.add(responses.GET, CAT + "/dataSets/d1", status=401, json={"error_code": "401013", "message": "bad"})
    strict_http.add(responses.GET, CAT + "/dataSets/d1", json={"d1": {"name": "n"}})
    assert CatalogClient(platform).get_dataset("d1")["name"] == "n"
    assert strict_ims["n"] == 2


def test_errors_name_their_service(platform, strict_http, strict_ims):
    strict_http.add(responses.GET, DP + "/mappingSets/m1", status=404, json={"title": "Not Found", "status": 404})
    with pytest.raises(AEPNotFoundError) as err:
        DataPrepClient(platform).get_mapping_set("m1")
    assert err.value.service == "conversion"


def test_ims_errors_name_ims(settings, http):
    http.add(responses.POST, IMS, status=401, json={"error": "invalid_client", "error_description": "bad secret"})
    with pytest.raises(AEPAuthError) as err:
        PlatformClient(settings).auth.token()
    assert err.value.service == "ims"


def test_platform_request_takes_absolute_urls_or_full_service_paths(platform, strict_http, strict_ims):
    strict_http.add(responses.GET, CAT + "/dataSets/d1", json={"d1": {}})
    strict_http.add(responses.GET, SR + "/stats", json={"tenantId": "t"})
    platform.request("GET", "/data/foundation/catalog/dataSets/d1")
    platform.request("GET", SR + "/stats")
    with pytest.raises(ValueError, match="service path"):
        platform.request("GET", "/dataSets/d1")


@pytest.mark.parametrize(
    ("base", "link", "expected"),
    [
        ("/data/foundation/flowservice", "/connections?continuationToken=a", FS + "/connections?continuationToken=a"),
        ("/data/foundation/flowservice", "runs", FS + "/runs"),
        ("/data/foundation/schemaregistry", "/tenant/schemas?start=B", SR + "/tenant/schemas?start=B"),
        ("/data/foundation/schemaregistry", SR + "/global/schemas", SR + "/global/schemas"),
        ("/data/foundation/catalog", "@/dataSetFiles?dataSetId=d1", CAT + "/dataSetFiles?dataSetId=d1"),
        ("/data/foundation/catalog", "/dataSets/d1", CAT + "/dataSets/d1"),
        ("/data/foundation/conversion", "/mappingSets?start=10", DP + "/mappingSets?start=10"),
        ("/data/foundation/catalog", "/data/foundation/schemaregistry/stats", SR + "/stats"),
    ],
)
def test_links_resolve_relative_to_their_own_service(settings, base, link, expected):
    assert resolve_url(settings, link, base_path=base) == expected


def test_links_to_another_host_are_refused_for_every_service(settings):
    for base in ("/data/foundation/schemaregistry", "/data/foundation/catalog", "/data/foundation/conversion"):
        with pytest.raises(AEPResponseError, match="another host"):
            resolve_url(settings, "https://evil.example.com/data/foundation/catalog/dataSets", base_path=base)
    assert resolve_url(settings, PLATFORM + "/data/x") == PLATFORM + "/data/x"


@pytest.mark.parametrize(
    ("ops", "idempotent"),
    [
        ([{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}], True),
        ([{"op": "replace", "path": "/allOf/0", "value": {}}], True),
        ([{"op": "add", "path": "/allOf/-", "value": {}}], False),
        ([{"op": "add", "path": "/allOf/1", "value": {}}], False),
        ([{"op": "remove", "path": "/description"}], False),
        ([], False),
    ],
)
def test_which_json_patches_may_be_replayed(ops, idempotent):
    assert json_patch_is_idempotent(ops) is idempotent


def test_a_create_through_the_platform_client_is_reconciled(platform):
    from airflow_provider_aep.client.models import CreatedResource

    posts: list[int] = []
    found: list[CreatedResource | None] = [None, CreatedResource(id="made")]

    def post() -> CreatedResource:
        posts.append(1)
        raise AEPServerError(status=500, code=None, message="internal error")

    result = platform.create_reconciled(post, lambda: found.pop(0), what="things")
    assert result.id == "made" and len(posts) == 2  # looked up (empty), re-sent, looked up (found)


# ---------------------------------------------------------------------- redaction happens before every cut
SECRET_VALUE = "Q7Z9K3W8J2V6"


def leaked_prefix(text: str) -> str | None:
    """The longest prefix (2+ chars) of the secret visible in ``text``, if any."""
    for n in range(len(SECRET_VALUE), 1, -1):
        if SECRET_VALUE[:n] in text:
            return SECRET_VALUE[:n]
    return None


class _Resp:
    def __init__(self, text: str, status: int = 200) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.text = text
        self.content = text.encode()


def _straddling(cut: int, prefix: str = "") -> list[str]:
    """Texts that put the secret across position ``cut`` at every offset (plus the prefix's length)."""
    pad = "." * max(0, cut - len(prefix))
    return [prefix + pad[: len(pad) - k] + SECRET_VALUE + "~" * 400 for k in range(1, len(SECRET_VALUE))]


def _err(text: str) -> str:
    redact = Redactor([SECRET_VALUE])
    err = error_from_response(status=400, headers={}, text=text, method="POST", url="https://x/y", redact=redact)
    return " ".join([str(err), err.title or "", err.detail or "", *err.sub_errors])


@pytest.mark.parametrize("text", _straddling(200))
def test_a_secret_across_the_non_json_snippet_cut_never_leaks(text):
    assert leaked_prefix(_err(text)) is None


@pytest.mark.parametrize("text", _straddling(200))
def test_a_secret_across_the_json_without_message_snippet_cut_never_leaks(text):
    assert leaked_prefix(_err(json.dumps({"error": text}))) is None


@pytest.mark.parametrize("text", _straddling(500))
def test_a_secret_across_the_message_cut_never_leaks(text):
    assert leaked_prefix(_err(json.dumps({"detail": text, "title": text[300:]}))) is None


@pytest.mark.parametrize("text", _straddling(200))
def test_a_secret_across_the_sub_error_cut_never_leaks(text):
    body = {"title": "Bad", "report": {"detailed-message": "x", "sub-errors": [{"path": "$", "message": text}]}}
    assert leaked_prefix(_err(json.dumps(body))) is None


@pytest.mark.parametrize("text", _straddling(120))
def test_a_secret_across_the_2xx_body_cut_never_leaks(text):
    with pytest.raises(AEPResponseError) as err:
        parse_json_body(_Resp(text), method="GET", url="https://x/y", redact=Redactor([SECRET_VALUE]))
    assert leaked_prefix(str(err.value)) is None


@pytest.mark.parametrize("text", _straddling(300))
def test_a_secret_across_the_transport_error_cut_never_leaks(text):
    err = transport_error(OSError(text), method="GET", url="https://x/y", redact=Redactor([SECRET_VALUE]), sent=True)
    assert isinstance(err, AEPTransportError)
    assert leaked_prefix(str(err)) is None


def test_json_escaped_secrets_are_redacted_too():
    secret = 'pa"ss\\word-1'
    text = json.dumps({"note": f"echo {secret}"})  # not a message field: the raw body is quoted
    err = error_from_response(status=400, headers={}, text=text, method="GET", url="u", redact=Redactor([secret]))
    assert "ss\\\\word" not in str(err) and "***" in str(err)

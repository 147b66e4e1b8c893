"""SchemaRegistryClient against stubbed HTTP: Accept matrix, title paging, lookups before create, XDM-1521-400."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
import responses
from responses import matchers

from airflow_provider_aep.client.errors import AEPBadRequestError, AEPNotFoundError, AEPServerError
from airflow_provider_aep.client.schema_registry import XDM, XED, XED_FULL_V1, XED_ID, XED_V1, SchemaRegistryClient

from .conftest import SR, assert_platform_headers, service_calls

TENANT = "acmecorp"
SCHEMA_ID = f"https://ns.adobe.com/{TENANT}/schemas/533ca5da28087c44344810891b0f03d9"
FG_ID = f"https://ns.adobe.com/{TENANT}/mixins/e49cbb2eec33618f686b8344b4597ecf"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
SCHEMA_BODY = {
    "type": "object",
    "title": "HubSpot Contacts",
    "description": "Contacts from HubSpot",
    "allOf": [{"$ref": PROFILE}],
}
SCHEMA = {**SCHEMA_BODY, "$id": SCHEMA_ID, "meta:altId": f"_{TENANT}.schemas.533ca5da", "version": "1.0"}
SUMMARY = {"$id": SCHEMA_ID, "meta:altId": SCHEMA["meta:altId"], "version": "1.0", "title": "HubSpot Contacts"}


def schema_url(resource_id: str = SCHEMA_ID, container: str = "tenant", kind: str = "schemas") -> str:
    return f"{SR}/{container}/{kind}/{quote(resource_id, safe='')}"


def listing(results, next_start=None):
    return {"results": results, "_page": {"orderby": "title", "next": next_start, "count": len(results)}}


def title_lookup(mock, results, kind="schemas", title="HubSpot Contacts"):
    mock.add(
        responses.GET,
        f"{SR}/tenant/{kind}",
        json=listing(results),
        match=[matchers.query_param_matcher({"orderby": "title", "property": f"title=={title}"})],
    )


def xdm_error(code: str, status: int, detail: str, request_id: str = "reg-req-1") -> dict:
    return {
        "type": f"http://ns.adobe.com/aep/errors/{code}",
        "title": "Title not unique" if code == "XDM-1521-400" else "Error",
        "status": status,
        "report": {"registryRequestId": request_id, "detailed-message": detail, "sub-errors": []},
        "detail": detail,
    }


@pytest.fixture
def registry(platform):
    return SchemaRegistryClient(platform)


# ---------------------------------------------------------------------- tenant id
def test_tenant_id_is_fetched_once_per_process_and_sandbox(settings, platform, strict_http, strict_ims):
    from dataclasses import replace

    from airflow_provider_aep.client.platform import PlatformClient

    strict_http.add(responses.GET, SR + "/stats", json={"imsOrg": settings.org_id, "tenantId": TENANT})
    assert SchemaRegistryClient(platform).tenant_id() == TENANT
    assert SchemaRegistryClient(PlatformClient(settings)).tenant_id() == TENANT  # another client, same process
    assert len(service_calls(strict_http, SR + "/stats")) == 1
    assert_platform_headers(strict_http.calls[1].request, accept="application/json")
    other = replace(settings, sandbox_name="other")
    assert SchemaRegistryClient(PlatformClient(other)).tenant_id() == TENANT
    assert len(service_calls(strict_http, SR + "/stats")) == 2
    assert strict_http.calls[-1].request.headers["x-sandbox-name"] == "other"


def test_concurrent_first_calls_share_one_stats_request(registry, strict_http, strict_ims):
    strict_http.add(responses.GET, SR + "/stats", json={"tenantId": TENANT})
    registry.auth.token()  # every thread then starts from a cached token
    start = threading.Barrier(8)
    seen: list[str] = []

    def worker() -> None:
        start.wait()
        seen.append(registry.tenant_id())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [TENANT] * 8
    assert len(service_calls(strict_http, SR + "/stats")) == 1


def test_stats_without_a_tenant_is_an_error(registry, strict_http, strict_ims):
    from airflow_provider_aep.client.errors import AEPResponseError

    strict_http.add(responses.GET, SR + "/stats", json={"imsOrg": "x"})
    with pytest.raises(AEPResponseError, match="tenantId"):
        registry.tenant_id()


# ---------------------------------------------------------------------- listing and lookups
def test_listing_pages_by_title_with_start_from_page_next(registry, strict_http, strict_ims):
    strict_http.add(
        responses.GET,
        SR + "/tenant/fieldgroups",
        json=listing([{"$id": "a", "title": "A"}, {"$id": "b", "title": "B"}], next_start="B"),
        match=[matchers.query_param_matcher({"orderby": "title"})],
    )
    strict_http.add(
        responses.GET,
        SR + "/tenant/fieldgroups",
        json=listing([{"$id": "c", "title": "C"}]),
        match=[matchers.query_param_matcher({"orderby": "title", "start": "B"})],
    )
    assert [r["$id"] for r in registry.iter_resources("fieldgroups")] == ["a", "b", "c"]
    for call in service_calls(strict_http, SR):
        assert_platform_headers(call.request, accept=XED_ID)


def test_listing_stops_when_the_server_repeats_a_start(registry, strict_http, strict_ims):
    strict_http.add(responses.GET, SR + "/global/classes", json=listing([{"$id": "x", "title": "X"}], "X"))
    items = list(registry.iter_resources("classes", container="global", full=True))
    assert [i["$id"] for i in items] == ["x", "x"]  # the second page repeated "X": stop instead of looping
    assert all(c.request.headers["Accept"] == XED for c in service_calls(strict_http, SR))


def test_unknown_kind_is_rejected_before_any_request(registry):
    with pytest.raises(ValueError, match="kind"):
        registry.get("unions", "x")


def test_find_by_title_filters_on_the_server_and_checks_exactly(registry, strict_http, strict_ims):
    title_lookup(strict_http, [{**SUMMARY, "title": "HubSpot Contacts 2"}])
    assert registry.find_by_title("schemas", "HubSpot Contacts") is None
    title_lookup(strict_http, [{**SUMMARY, "title": "HubSpot Contacts 2"}, SUMMARY])
    assert registry.find_by_title("schemas", "HubSpot Contacts") == SUMMARY


@pytest.mark.parametrize(("full", "accept"), [(False, XED_V1), (True, XED_FULL_V1)])
def test_get_url_encodes_the_id_and_asks_for_a_version(registry, strict_http, strict_ims, full, accept):
    strict_http.add(responses.GET, schema_url(), json=SCHEMA)
    assert registry.get("schemas", SCHEMA_ID, full=full) == SCHEMA
    request = service_calls(strict_http, SR)[0].request
    assert urlsplit(request.url).path.endswith(
        "/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facmecorp%2Fschemas%2F533ca5da28087c44344810891b0f03d9"
    )
    assert_platform_headers(request, accept=accept)


def test_adobe_resources_are_read_from_the_global_container(registry, strict_http, strict_ims):
    strict_http.add(responses.GET, schema_url(PROFILE, "global", "classes"), json={"$id": PROFILE})
    assert registry.get("classes", PROFILE)["$id"] == PROFILE


def test_a_missing_resource_is_a_typed_error_with_the_registry_request_id(registry, strict_http, strict_ims):
    detail = f"Requested resource {SCHEMA_ID} with version 1 is not found"
    strict_http.add(responses.GET, schema_url(), status=404, json=xdm_error("XDM-1012-404", 404, detail, "reg-9"))
    with pytest.raises(AEPNotFoundError) as err:
        registry.get("schemas", SCHEMA_ID)
    assert (err.value.code, err.value.request_id, err.value.service) == ("XDM-1012-404", "reg-9", "schemaregistry")
    assert "is not found" in err.value.message


# ---------------------------------------------------------------------- create
def test_create_returns_an_existing_resource_without_posting(registry, strict_http, strict_ims):
    # listed whole (Accept: xed+json), so the found resource is not read a second time
    title_lookup(strict_http, [SCHEMA])
    assert registry.create("schemas", SCHEMA_BODY) == (SCHEMA, False)
    assert not service_calls(strict_http, SR, "POST")
    assert [c.request.headers["Accept"] for c in strict_http.calls if "/schemaregistry/" in c.request.url] == [
        "application/vnd.adobe.xed+json"
    ]


def test_create_posts_once_when_nothing_has_the_title(registry, strict_http, strict_ims):
    title_lookup(strict_http, [])
    strict_http.add(responses.POST, SR + "/tenant/schemas", json=SCHEMA, status=201)
    assert registry.create("schemas", SCHEMA_BODY) == (SCHEMA, True)
    post = service_calls(strict_http, SR, "POST")[0].request
    assert_platform_headers(post, accept="application/json", content_type="application/json")
    assert json.loads(post.body) == SCHEMA_BODY


@pytest.mark.parametrize(
    "failure",
    [{"body": requests.ConnectionError("Connection aborted")}, {"status": 502, "json": {"title": "Bad Gateway"}}],
    ids=["dropped", "502"],
)
def test_a_create_whose_answer_was_lost_is_found_not_resent(registry, strict_http, strict_ims, failure):
    title_lookup(strict_http, [])
    strict_http.add(responses.POST, SR + "/tenant/schemas", **failure)
    title_lookup(strict_http, [SUMMARY])
    strict_http.add(responses.GET, schema_url(), json=SCHEMA)
    assert registry.create("schemas", SCHEMA_BODY) == (SCHEMA, True)
    assert len(service_calls(strict_http, SR, "POST")) == 1


def test_title_not_unique_means_it_exists_and_the_named_id_is_returned(registry, strict_http, strict_ims):
    title_lookup(strict_http, [])  # not visible yet, or made by someone else in the meantime
    detail = f"Object titles must be unique. An object {SCHEMA_ID} already exists with the same title"
    strict_http.add(responses.POST, SR + "/tenant/schemas", status=400, json=xdm_error("XDM-1521-400", 400, detail))
    strict_http.add(responses.GET, schema_url(), json=SCHEMA)
    assert registry.create("schemas", SCHEMA_BODY) == (SCHEMA, False)
    assert len(service_calls(strict_http, SR, "POST")) == 1


def test_title_not_unique_without_an_id_falls_back_to_the_title_lookup(registry, strict_http, strict_ims):
    title_lookup(strict_http, [], kind="fieldgroups")
    strict_http.add(
        responses.POST,
        SR + "/tenant/fieldgroups",
        status=400,
        json={"type": "http://ns.adobe.com/aep/errors/XDM-1521-400", "title": "Title not unique", "status": 400},
    )
    title_lookup(strict_http, [{"$id": FG_ID, "title": "HubSpot Contacts"}], kind="fieldgroups")
    strict_http.add(responses.GET, schema_url(FG_ID, kind="fieldgroups"), json={"$id": FG_ID, "title": "x"})
    body = {"type": "object", "title": "HubSpot Contacts", "meta:intendedToExtend": [PROFILE]}
    resource, created = registry.create("fieldgroups", body)
    assert (resource["$id"], created) == (FG_ID, False)


def test_a_title_taken_by_another_kind_of_resource_is_a_real_conflict(registry, strict_http, strict_ims):
    title_lookup(strict_http, [])
    detail = f"Object titles must be unique. An object {FG_ID} already exists with the same title"
    strict_http.add(responses.POST, SR + "/tenant/schemas", status=400, json=xdm_error("XDM-1521-400", 400, detail))
    with pytest.raises(AEPBadRequestError) as err:
        registry.create("schemas", SCHEMA_BODY)
    assert err.value.code == "XDM-1521-400" and err.value.request_id == "reg-req-1"
    assert FG_ID in err.value.message


def test_a_resent_create_answered_title_not_unique_was_ours(registry, strict_http, strict_ims):
    title_lookup(strict_http, [])
    strict_http.add(responses.POST, SR + "/tenant/schemas", status=503, json={"title": "Service Unavailable"})
    title_lookup(strict_http, [])  # the lookup misses it (not visible yet)
    detail = f"An object {SCHEMA_ID} already exists with the same title"
    strict_http.add(responses.POST, SR + "/tenant/schemas", status=400, json=xdm_error("XDM-1521-400", 400, detail))
    strict_http.add(responses.GET, schema_url(), json=SCHEMA)
    assert registry.create("schemas", SCHEMA_BODY) == (SCHEMA, True)
    assert len(service_calls(strict_http, SR, "POST")) == 2  # and still one schema


def test_create_needs_a_title(registry):
    with pytest.raises(ValueError, match="title"):
        registry.create("schemas", {"type": "object"})


# ---------------------------------------------------------------------- patch, delete
def test_patch_returns_the_whole_resource(registry, strict_http, strict_ims):
    ops = [{"op": "add", "path": "/allOf/-", "value": {"$ref": FG_ID}}]
    strict_http.add(responses.PATCH, schema_url(), json={**SCHEMA, "version": "1.1"})
    assert registry.patch("schemas", SCHEMA_ID, ops)["version"] == "1.1"
    request = service_calls(strict_http, SR, "PATCH")[0].request
    assert_platform_headers(request, accept="application/json", content_type="application/json")
    assert json.loads(request.body) == ops


def test_a_patch_that_would_apply_twice_is_not_resent_after_a_5xx(registry, strict_http, strict_ims):
    ops = [{"op": "add", "path": "/allOf/-", "value": {"$ref": FG_ID}}]
    strict_http.add(responses.PATCH, schema_url(), status=503, json={"title": "Service Unavailable"})
    with pytest.raises(AEPServerError):
        registry.patch("schemas", SCHEMA_ID, ops)
    assert len(service_calls(strict_http, SR, "PATCH")) == 1


def test_an_idempotent_patch_is_retried(registry, strict_http, strict_ims):
    ops = [{"op": "replace", "path": "/description", "value": "d"}]
    strict_http.add(responses.PATCH, schema_url(), status=503, json={"title": "Service Unavailable"})
    strict_http.add(responses.PATCH, schema_url(), json=SCHEMA)
    assert registry.patch("schemas", SCHEMA_ID, ops) == SCHEMA


def test_delete_treats_404_as_gone(registry, strict_http, strict_ims):
    strict_http.add(responses.DELETE, schema_url(), status=204)
    strict_http.add(responses.DELETE, schema_url(FG_ID, kind="fieldgroups"), status=404, json={"status": 404})
    assert registry.delete("schemas", SCHEMA_ID) is True
    assert registry.delete("fieldgroups", FG_ID) is False
    with pytest.raises(AEPNotFoundError):
        registry.delete("fieldgroups", FG_ID, missing_ok=False)


# ---------------------------------------------------------------------- descriptors
IDENTITY = {
    "@type": "xdm:descriptorIdentity",
    "xdm:sourceSchema": SCHEMA_ID,
    "xdm:sourceVersion": 1,
    "xdm:sourceProperty": "/personalEmail/address",
    "xdm:namespace": "Email",
    "xdm:property": "xdm:code",
    "xdm:isPrimary": True,
}
DESC_ID = "f3a1dfa38a4871cf4442a33074c1f9406a593407"


def descriptor_list(mock, groups):
    mock.add(
        responses.GET,
        SR + "/tenant/descriptors",
        json=groups,
        match=[matchers.query_param_matcher({"property": f"xdm:sourceSchema=={SCHEMA_ID}"})],
    )


def test_descriptors_are_flattened_from_the_type_groups(registry, strict_http, strict_ims):
    other = {"@type": "xdm:alternateDisplayInfo", "xdm:sourceSchema": SCHEMA_ID, "@id": "d2"}
    stranger = {**IDENTITY, "xdm:sourceSchema": "https://ns.adobe.com/acmecorp/schemas/other", "@id": "d3"}
    descriptor_list(
        strict_http,
        {"xdm:descriptorIdentity": [{**IDENTITY, "@id": DESC_ID}, stranger], "xdm:alternateDisplayInfo": [other]},
    )
    found = registry.descriptors(SCHEMA_ID)
    assert sorted(d["@id"] for d in found) == ["d2", DESC_ID]
    assert_platform_headers(service_calls(strict_http, SR)[0].request, accept=XDM)


def test_create_descriptor_reuses_one_on_the_same_field(registry, strict_http, strict_ims):
    descriptor_list(strict_http, {"xdm:descriptorIdentity": [{**IDENTITY, "@id": DESC_ID}]})
    assert registry.create_descriptor(IDENTITY)["@id"] == DESC_ID
    assert not service_calls(strict_http, SR, "POST")


def test_create_descriptor_posts_and_reconciles_a_lost_answer(registry, strict_http, strict_ims):
    descriptor_list(strict_http, {})
    strict_http.add(responses.POST, SR + "/tenant/descriptors", body=requests.ConnectionError("reset"))
    descriptor_list(strict_http, {"xdm:descriptorIdentity": [{**IDENTITY, "@id": DESC_ID}]})
    assert registry.create_descriptor(IDENTITY)["@id"] == DESC_ID
    post = service_calls(strict_http, SR, "POST")
    assert len(post) == 1 and json.loads(post[0].request.body) == IDENTITY


def test_create_descriptor_returns_the_created_one(registry, strict_http, strict_ims):
    descriptor_list(strict_http, {})
    strict_http.add(
        responses.POST,
        SR + "/tenant/descriptors",
        status=201,
        json={**IDENTITY, "@id": DESC_ID, "meta:containerId": "tenant"},
    )
    made = registry.create_descriptor(IDENTITY)
    assert made["@id"] == DESC_ID and made["xdm:namespace"] == "Email"


def test_replace_and_delete_descriptor(registry, strict_http, strict_ims):
    url = f"{SR}/tenant/descriptors/{DESC_ID}"
    strict_http.add(responses.PUT, url, status=201, json={"@id": DESC_ID})
    strict_http.add(responses.DELETE, url, status=204)
    strict_http.add(responses.DELETE, url, status=404, json={"status": 404})
    changed = {**IDENTITY, "xdm:namespace": "Phone"}
    assert registry.replace_descriptor(DESC_ID, changed) == {**changed, "@id": DESC_ID}
    put = service_calls(strict_http, SR, "PUT")[0].request
    assert_platform_headers(put, accept="application/json", content_type="application/json")
    assert registry.delete_descriptor(DESC_ID) is True
    assert registry.delete_descriptor(DESC_ID) is False


def test_xdm_4000_sub_errors_reach_the_message(registry, strict_http, strict_ims):
    descriptor_list(strict_http, {})
    body = xdm_error("XDM-4000-400", 400, "JSON validation error")
    body["report"]["sub-errors"] = [{"path": "$", "type": "required", "arguments": ["xdm:property"]}]
    strict_http.add(responses.POST, SR + "/tenant/descriptors", status=400, json=body)
    with pytest.raises(AEPBadRequestError) as err:
        registry.create_descriptor({k: v for k, v in IDENTITY.items() if k != "xdm:property"})
    assert err.value.code == "XDM-4000-400"
    assert err.value.sub_errors == ("$: required xdm:property",)
    assert "required xdm:property" in str(err.value)


# ---------------------------------------------------------------------- Profile
def test_enable_profile_adds_the_union_tag(registry, strict_http, strict_ims):
    strict_http.add(responses.GET, schema_url(), json=SCHEMA)
    strict_http.add(responses.PATCH, schema_url(), json={**SCHEMA, "meta:immutableTags": ["union"]})
    assert registry.enable_profile(SCHEMA_ID)["meta:immutableTags"] == ["union"]
    patch = service_calls(strict_http, SR, "PATCH")[0].request
    assert json.loads(patch.body) == [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]
    assert service_calls(strict_http, SR, "GET")[0].request.headers["Accept"] == XED_V1


def test_enable_profile_is_a_no_op_when_already_enabled(registry, strict_http, strict_ims):
    strict_http.add(responses.GET, schema_url(), json={**SCHEMA, "meta:immutableTags": ["union"]})
    assert registry.enable_profile(SCHEMA_ID)["meta:immutableTags"] == ["union"]
    assert not service_calls(strict_http, SR, "PATCH")


def test_list_queries_send_orderby_title(registry, strict_http, strict_ims):
    title_lookup(strict_http, [])
    registry.find_by_title("schemas", "HubSpot Contacts")
    query = parse_qs(urlsplit(service_calls(strict_http, SR)[0].request.url).query)
    assert query == {"orderby": ["title"], "property": ["title==HubSpot Contacts"]}

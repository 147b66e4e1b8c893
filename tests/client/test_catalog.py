"""CatalogClient against stubbed HTTP: id-keyed objects, offset paging, lookups before create, reconciliation."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.errors import AEPBadRequestError, AEPNotFoundError, AEPServerError

from .conftest import CAT, assert_platform_headers, service_calls

SCHEMA_ID = "https://ns.adobe.com/acmecorp/schemas/533ca5da28087c44344810891b0f03d9"
DS_ID = "5ed5639d798a22191b6987b2"
BODY = {
    "name": "HubSpot Contacts",
    "schemaRef": {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"},
}
LOOKUP = {
    "name": "HubSpot Contacts",
    "properties": "name,description,schemaRef,tags,created",
    "limit": "100",
    "start": "0",
}


def dataset(n: int, **extra) -> dict:
    return {"name": f"ds {n}", "schemaRef": {"id": SCHEMA_ID}, "created": n, **extra}


@pytest.fixture
def catalog(platform):
    return CatalogClient(platform)


def lookup(mock, found: dict) -> None:
    mock.add(responses.GET, CAT + "/dataSets", json=found, match=[matchers.query_param_matcher(LOOKUP)])


def test_get_dataset_unwraps_the_id_keyed_object(catalog, strict_http, strict_ims):
    strict_http.add(responses.GET, f"{CAT}/dataSets/{DS_ID}", json={DS_ID: {"name": "x", "schemaRef": {"id": "s"}}})
    assert catalog.get_dataset(DS_ID) == {"name": "x", "schemaRef": {"id": "s"}, "id": DS_ID}
    assert_platform_headers(service_calls(strict_http, CAT)[0].request, accept="application/json")


def test_a_missing_dataset_is_not_found(catalog, strict_http, strict_ims):
    strict_http.add(responses.GET, f"{CAT}/dataSets/nope", json={})
    strict_http.add(
        responses.GET,
        f"{CAT}/dataSets/gone",
        status=404,
        json={"title": "Not Found", "status": 404, "detail": "Dataset gone not found"},
        headers={"x-request-id": "cat-req-1"},
    )
    with pytest.raises(AEPNotFoundError) as err:
        catalog.get_dataset("nope")
    assert err.value.service == "catalog"
    with pytest.raises(AEPNotFoundError) as err:
        catalog.get_dataset("gone")
    assert (err.value.service, err.value.request_id, err.value.message) == (
        "catalog",
        "cat-req-1",
        "Dataset gone not found",
    )


def test_offset_paging_advances_by_the_page_and_stops_on_a_short_page(catalog, strict_http, strict_ims):
    pages = {0: {"a": dataset(1), "b": dataset(2)}, 2: {"c": dataset(3), "d": dataset(4)}, 4: {"e": dataset(5)}}
    for start, page in pages.items():
        strict_http.add(
            responses.GET,
            CAT + "/dataSets",
            json=page,
            match=[matchers.query_param_matcher({"limit": "2", "start": str(start)})],
        )
    assert [d["id"] for d in catalog.iter_datasets(params={"limit": 2})] == ["a", "b", "c", "d", "e"]
    assert len(service_calls(strict_http, CAT)) == 3  # no request past the short page, none skipped


def test_paging_stops_when_the_server_ignores_start(catalog, strict_http, strict_ims):
    strict_http.add(responses.GET, CAT + "/dataSets", json={"a": dataset(1), "b": dataset(2)})
    assert [d["id"] for d in catalog.iter_datasets(params={"limit": 2})] == ["a", "b"]
    assert len(service_calls(strict_http, CAT)) == 2


def test_find_datasets_pages_checks_names_exactly_and_sorts_oldest_first(catalog, strict_http, strict_ims):
    first = {f"id{n:03}": dataset(n) for n in range(99)}
    first["late"] = {**dataset(500), "name": "HubSpot Contacts"}
    strict_http.add(responses.GET, CAT + "/dataSets", json=first, match=[matchers.query_param_matcher(LOOKUP)])
    strict_http.add(
        responses.GET,
        CAT + "/dataSets",
        json={"early": {**dataset(7), "name": "HubSpot Contacts"}},
        match=[matchers.query_param_matcher({**LOOKUP, "start": "100"})],
    )
    assert [d["id"] for d in catalog.find_datasets("HubSpot Contacts")] == ["early", "late"]


@pytest.mark.parametrize(("name", "sent"), [("a*b", ["a**b"]), ("!odd", None), ("x,y", ["x,y"])])
def test_name_filters_never_narrow_the_lookup(catalog, strict_http, strict_ims, name, sent):
    strict_http.add(responses.GET, CAT + "/dataSets", json={})
    catalog.find_datasets(name)
    query = parse_qs(urlsplit(service_calls(strict_http, CAT)[0].request.url).query)
    assert query.get("name") == sent


def test_create_reuses_a_dataset_with_the_same_name_and_schema(catalog, strict_http, strict_ims):
    lookup(
        strict_http,
        {
            "other": {"name": "HubSpot Contacts", "schemaRef": {"id": "https://ns.adobe.com/acmecorp/schemas/x"}},
            DS_ID: {"name": "HubSpot Contacts", "schemaRef": {"id": SCHEMA_ID}, "created": 5},
        },
    )
    result = catalog.create_dataset(BODY)
    assert (result.id, result.created) == (DS_ID, False)
    assert result.resource is not None and result.resource["schemaRef"]["id"] == SCHEMA_ID


def test_create_posts_with_request_data_source_and_strips_the_reference(catalog, strict_http, strict_ims):
    lookup(strict_http, {"other": {"name": "HubSpot Contacts", "schemaRef": {"id": "elsewhere"}}})
    strict_http.add(
        responses.POST,
        CAT + "/dataSets",
        status=201,
        json=[f"@/dataSets/{DS_ID}"],
        match=[matchers.query_param_matcher({"requestDataSource": "true"})],
    )
    result = catalog.create_dataset(BODY)
    assert (result.id, result.created) == (DS_ID, True)
    post = service_calls(strict_http, CAT, "POST")[0].request
    assert_platform_headers(post, accept="application/json", content_type="application/json")
    assert json.loads(post.body) == BODY


@pytest.mark.parametrize(
    "failure",
    [{"body": requests.ConnectionError("Connection aborted")}, {"status": 500, "json": {"title": "Internal"}}],
    ids=["dropped", "500"],
)
def test_a_create_whose_answer_was_lost_is_found_not_resent(catalog, strict_http, strict_ims, failure):
    lookup(strict_http, {})
    strict_http.add(responses.POST, CAT + "/dataSets", **failure)
    lookup(strict_http, {DS_ID: {"name": "HubSpot Contacts", "schemaRef": {"id": SCHEMA_ID}}})
    result = catalog.create_dataset(BODY)
    assert (result.id, result.created) == (DS_ID, True)
    assert len(service_calls(strict_http, CAT, "POST")) == 1


def test_a_create_is_resent_only_after_confirming_absence(catalog, strict_http, strict_ims):
    lookup(strict_http, {})
    strict_http.add(responses.POST, CAT + "/dataSets", status=503, json={"title": "Service Unavailable"})
    lookup(strict_http, {})
    strict_http.add(responses.POST, CAT + "/dataSets", status=201, json=[f"@/dataSets/{DS_ID}"])
    assert catalog.create_dataset(BODY).id == DS_ID
    # the last GET: the key listed again after the create (convergence with racing DAG runs)
    assert [c.request.method for c in service_calls(strict_http, CAT)] == ["GET", "POST", "GET", "POST", "GET"]


def test_a_rejected_create_is_not_retried(catalog, strict_http, strict_ims):
    lookup(strict_http, {})
    strict_http.add(
        responses.POST,
        CAT + "/dataSets",
        status=400,
        json=[{"code": "400", "message": "schemaRef.id does not exist"}],
    )
    with pytest.raises(AEPBadRequestError, match=r"schemaRef\.id does not exist") as err:
        catalog.create_dataset(BODY)
    assert err.value.service == "catalog"
    assert len(service_calls(strict_http, CAT, "POST")) == 1


def test_create_needs_the_natural_key(catalog):
    with pytest.raises(ValueError, match="schemaRef"):
        catalog.create_dataset({"name": "x"})


def test_patch_sends_json_patch(catalog, strict_http, strict_ims):
    ops = [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}]
    strict_http.add(responses.PATCH, f"{CAT}/dataSets/{DS_ID}", status=503, json={"title": "Unavailable"})
    strict_http.add(responses.PATCH, f"{CAT}/dataSets/{DS_ID}", json=[f"@/dataSets/{DS_ID}"])
    assert catalog.patch_dataset(DS_ID, ops) is None  # an idempotent patch is retried
    request = service_calls(strict_http, CAT, "PATCH")[-1].request
    assert_platform_headers(request, accept="application/json", content_type="application/json-patch+json")
    assert json.loads(request.body) == ops


def test_a_patch_appending_to_an_array_is_not_resent(catalog, strict_http, strict_ims):
    ops = [{"op": "add", "path": "/tags/adobe~1pqs~1table/-", "value": "x"}]
    strict_http.add(responses.PATCH, f"{CAT}/dataSets/{DS_ID}", status=503, json={"title": "Unavailable"})
    with pytest.raises(AEPServerError):
        catalog.patch_dataset(DS_ID, ops)
    assert len(service_calls(strict_http, CAT, "PATCH")) == 1


def test_delete_counts_an_empty_answer_and_404_as_gone(catalog, strict_http, strict_ims):
    strict_http.add(responses.DELETE, f"{CAT}/dataSets/{DS_ID}", json=[f"@/dataSets/{DS_ID}"])
    strict_http.add(responses.DELETE, f"{CAT}/dataSets/unknown", json=[])
    strict_http.add(responses.DELETE, f"{CAT}/dataSets/gone", status=404, json={"title": "Not Found"})
    assert catalog.delete_dataset(DS_ID) is True
    assert catalog.delete_dataset("unknown") is False
    assert catalog.delete_dataset("gone") is False
    with pytest.raises(AEPNotFoundError):
        catalog.delete_dataset("unknown", missing_ok=False)


def test_batches_newest_first(catalog, strict_http, strict_ims):
    strict_http.add(
        responses.GET,
        CAT + "/batches",
        json={"01OLD": {"status": "success", "created": 1}, "01NEW": {"status": "success", "created": 9}},
        match=[
            matchers.query_param_matcher(
                {"dataSet": DS_ID, "orderBy": "desc:created", "limit": "5", "status": "success"}
            )
        ],
    )
    assert [b["id"] for b in catalog.batches(DS_ID, status="success", limit=5)] == ["01NEW", "01OLD"]


def test_get_batch(catalog, strict_http, strict_ims):
    batch = {"status": "failed", "metrics": {"recordCount": 3, "failedRecordCount": 1}}
    strict_http.add(responses.GET, CAT + "/batches/01ABC", json={"01ABC": batch})
    assert catalog.get_batch("01ABC") == {**batch, "id": "01ABC"}

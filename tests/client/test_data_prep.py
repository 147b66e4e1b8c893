"""DataPrepClient against stubbed HTTP: limit+start paging, lookups by name before create, 200 creates, versions."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from airflow_provider_aep.client import data_prep
from airflow_provider_aep.client.data_prep import DataPrepClient
from airflow_provider_aep.client.errors import AEPBadRequestError, AEPServerError

from .conftest import DP, assert_platform_headers, service_calls

SCHEMA_ID = "https://ns.adobe.com/acmecorp/schemas/533ca5da28087c44344810891b0f03d9"
MAP_ID = "500a9b747fcf4908a21917d49bd61780"
BODY = {
    "name": "HubSpot Contacts mapping",
    "outputSchema": {"schemaRef": {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
    "mappings": [{"sourceType": "ATTRIBUTE", "source": "Vid", "destination": "_id"}],
}
CREATED = {"id": MAP_ID, "version": 0, "createdDate": 1591043336298, "modifiedDate": 1591043336298}
LOOKUP = {"name": BODY["name"], "limit": "100", "start": "0"}


@pytest.fixture
def prep(platform):
    return DataPrepClient(platform)


def lookup(mock, found: list) -> None:
    page = {"data": found, "_page": {"count": len(found), "limit": 100}}
    mock.add(responses.GET, DP + "/mappingSets", json=page, match=[matchers.query_param_matcher(LOOKUP)])


def test_validate_returns_one_entry_per_mapping(prep, strict_http, strict_ims):
    answer = {"validationResponse": [{"status": "SUCCESS", "errors": None}, {"status": "FAILED", "errors": [{}]}]}
    strict_http.add(responses.POST, DP + "/mappingSets/validate", json=answer)
    assert [e["status"] for e in prep.validate_mapping_set(BODY)] == ["SUCCESS", "FAILED"]
    request = service_calls(strict_http, DP)[0].request
    assert_platform_headers(request, accept="application/json", content_type="application/json")
    assert json.loads(request.body) == BODY


def test_create_reuses_the_oldest_set_with_the_name(prep, strict_http, strict_ims):
    lookup(
        strict_http,
        [
            {"id": "newer", "name": BODY["name"], "createdDate": 20},
            {"id": "near", "name": BODY["name"] + " 2", "createdDate": 1},
            {"id": "older", "name": BODY["name"], "createdDate": 10},
        ],
    )
    result = prep.create_mapping_set(BODY)
    assert (result.id, result.created) == ("older", False)
    assert result.resource is not None and result.resource["createdDate"] == 10


def test_create_posts_and_takes_the_200_answer(prep, strict_http, strict_ims):
    lookup(strict_http, [])
    strict_http.add(responses.POST, DP + "/mappingSets", status=200, json=CREATED)
    result = prep.create_mapping_set(BODY)
    assert (result.id, result.created) == (MAP_ID, True)
    assert result.resource is not None and result.resource["version"] == 0
    post = service_calls(strict_http, DP, "POST")[0].request
    assert_platform_headers(post, accept="application/json", content_type="application/json")


@pytest.mark.parametrize(
    "failure",
    [{"body": requests.ConnectionError("Connection aborted")}, {"status": 503, "json": {"message": "unavailable"}}],
    ids=["dropped", "503"],
)
def test_a_create_whose_answer_was_lost_is_found_not_resent(prep, strict_http, strict_ims, failure):
    lookup(strict_http, [])
    strict_http.add(responses.POST, DP + "/mappingSets", **failure)
    lookup(strict_http, [{**CREATED, "name": BODY["name"]}])
    result = prep.create_mapping_set(BODY)
    assert (result.id, result.created) == (MAP_ID, True)
    assert len(service_calls(strict_http, DP, "POST")) == 1


def test_a_create_without_a_name_is_never_resent_after_an_ambiguous_failure(prep, strict_http, strict_ims):
    strict_http.add(responses.POST, DP + "/mappingSets", status=503, json={"message": "unavailable"})
    with pytest.raises(AEPServerError) as err:
        prep.create_mapping_set({k: v for k, v in BODY.items() if k != "name"})
    assert err.value.service == "conversion" and err.value.message == "unavailable"
    assert len(service_calls(strict_http, DP)) == 1


def test_listing_pages_by_offset(prep, strict_http, strict_ims, monkeypatch):
    monkeypatch.setattr(data_prep, "PAGE_SIZE", 2)
    for start, ids in ((0, ["a", "b"]), (2, ["c", "d"]), (4, ["e"])):
        strict_http.add(
            responses.GET,
            DP + "/mappingSets",
            json={"data": [{"id": i} for i in ids], "_page": {"count": len(ids), "limit": 2}},
            match=[matchers.query_param_matcher({"limit": "2", "start": str(start)})],
        )
    assert [m["id"] for m in prep.iter_mapping_sets()] == ["a", "b", "c", "d", "e"]


def test_get_a_version_and_update(prep, strict_http, strict_ims):
    strict_http.add(
        responses.GET,
        f"{DP}/mappingSets/{MAP_ID}",
        json={**CREATED, "mappings": []},
        match=[matchers.query_param_matcher({"version": "0"})],
    )
    strict_http.add(responses.PUT, f"{DP}/mappingSets/{MAP_ID}", json={**CREATED, "version": 1})
    assert prep.get_mapping_set(MAP_ID, version=0)["version"] == 0
    assert prep.update_mapping_set(MAP_ID, BODY)["version"] == 1
    put = service_calls(strict_http, DP, "PUT")[0].request
    assert_platform_headers(put, accept="application/json", content_type="application/json")
    assert json.loads(put.body) == BODY


def test_an_invalid_mapping_set_is_a_typed_error(prep, strict_http, strict_ims):
    lookup(strict_http, [])
    strict_http.add(
        responses.POST,
        DP + "/mappingSets",
        status=400,
        json={"errorCode": "MAPPER-1001-400", "message": "Destination _id.x is not in the schema"},
        headers={"x-request-id": "dp-req-7"},
    )
    with pytest.raises(AEPBadRequestError) as err:
        prep.create_mapping_set(BODY)
    assert (err.value.code, err.value.request_id, err.value.service) == ("MAPPER-1001-400", "dp-req-7", "conversion")

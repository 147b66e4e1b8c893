"""Catalog Service emulation over real HTTP: datasets (create/read/list/filter/patch/put/delete) and batches.

Responses are also checked against the schemas of Adobe's Catalog OpenAPI spec
(``shared/reference/catalog.openapi.yaml``) when it is available.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aep_emulator.testing import ORG
from jsonschema import Draft7Validator
from target_helpers import (
    SR,
    XED,
    batch_id_of,
    call,
    catalog,
    contact_mappings,
    finished_run,
    make_dataset,
    make_flow,
    make_mapping_set,
    make_schema,
    tenant,
)

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "catalog.openapi.yaml"
PATCH_JSON = {"Content-Type": "application/json-patch+json"}


def one(response: Any) -> tuple[str, dict[str, Any]]:
    """The only ``{id: doc}`` entry of a Catalog single-object response."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body) == 1, body
    return next(iter(body.items()))


def generic_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body["detail"]


@pytest.fixture
def schema_id(fs) -> str:
    return make_schema(fs)


@pytest.fixture
def profile_schema_id(fs) -> str:
    return make_schema(fs, "Profile contacts", identity="email", profile=True)


# -- create --------------------------------------------------------------------------------------
def test_create_answers_201_location_and_reference(fs, schema_id):
    body = {"name": "HubSpot Contacts", "description": "Landing", "schemaRef": {"id": schema_id, "contentType": XED}}
    response = catalog(fs, "POST", "/dataSets", params={"requestDataSource": "true"}, json=body)
    assert response.status_code == 201, response.text
    [reference] = response.json()
    dataset_id = reference.removeprefix("@/dataSets/")
    assert re.fullmatch(r"[0-9a-f]{24}", dataset_id)
    assert response.headers["Location"].endswith(f"/data/foundation/catalog/dataSets/{dataset_id}")
    got = catalog(fs, "GET", f"/dataSets/{dataset_id}")
    key, doc = one(got)
    assert key == dataset_id and "id" not in doc
    assert doc["name"] == "HubSpot Contacts" and doc["description"] == "Landing"
    assert doc["schemaRef"] == {"id": schema_id, "contentType": XED}
    assert doc["imsOrg"] == ORG and doc["version"] == "1.0.0" and doc["tags"] == {}
    assert doc["created"] == doc["updated"] and doc["createdClient"] == "test-client"
    assert doc["files"] == f"@/dataSetFiles?dataSetId={dataset_id}"
    assert isinstance(doc["dataSourceId"], int)
    assert got.headers["E-Tag"] == '"1.0.0"'


def test_create_without_request_data_source_and_with_legacy_schema_string(fs, schema_id):
    response = catalog(fs, "POST", "/dataSets", json={"name": "legacy", "schema": schema_id})
    assert response.status_code == 201, response.text
    _, doc = one(catalog(fs, "GET", response.json()[0][1:]))
    assert doc["schemaRef"]["id"] == schema_id and "schema" not in doc and "dataSourceId" not in doc


def test_datasets_carry_the_classification_the_spec_requires(fs, schema_id):
    """``classification{dataBehavior, managedBy}`` is required in the spec's dataSetResponse; aepp's
    ``Catalog.getDataSets`` reads it from every dataset. The behaviour is the schema class's."""
    event_schema = call(
        fs,
        "POST",
        SR,
        "/tenant/schemas",
        json={
            "title": "Web events",
            "description": "Events",
            "type": "object",
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/experienceevent"}],
        },
        headers={"Accept": "application/json"},
    )
    assert event_schema.status_code == 201, event_schema.text
    body = {"name": "classified", "schemaRef": {"id": schema_id}, "classification": {"managedBy": "SYSTEM"}}
    record_id = catalog(fs, "POST", "/dataSets", json=body).json()[0].removeprefix("@/dataSets/")
    events = {"name": "events", "schemaRef": {"id": event_schema.json()["$id"]}}
    events_id = catalog(fs, "POST", "/dataSets", json=events).json()[0].removeprefix("@/dataSets/")
    listed = catalog(fs, "GET", "/dataSets").json()
    assert listed[record_id]["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert listed[events_id]["classification"] == {"dataBehavior": "time-series", "managedBy": "CUSTOMER"}
    _, doc = one(catalog(fs, "GET", f"/dataSets/{record_id}", params={"properties": "classification"}))
    assert doc == {"classification": {"dataBehavior": "record", "managedBy": "CUSTOMER"}}
    patch = [{"op": "replace", "path": "/classification/managedBy", "value": "SYSTEM"}]
    refused = catalog(fs, "PATCH", f"/dataSets/{record_id}", json=patch, headers=PATCH_JSON)
    assert "read-only" in generic_error(refused, 400)


def test_schema_may_be_named_by_alt_id(fs, schema_id):
    alt = "_" + schema_id.removeprefix("https://ns.adobe.com/").replace("/", ".")
    response = catalog(fs, "POST", "/dataSets", json={"name": "alt", "schemaRef": {"id": alt}})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "no schema"}, "schemaRef.id"),
        ({"name": "x", "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/missing"}}, "does not exist"),
        ({"name": 5, "schemaRef": {"id": "SCHEMA"}}, "'name'"),
        ({"name": "x", "schemaRef": {"id": "SCHEMA"}, "tags": {"a": "b"}}, "'tags'"),
    ],
)
def test_create_refuses_invalid_bodies(fs, schema_id, body, fragment):
    if body.get("schemaRef", {}).get("id") == "SCHEMA":
        body["schemaRef"]["id"] = schema_id
    detail = generic_error(catalog(fs, "POST", "/dataSets", json=body), 400)
    assert fragment in detail
    assert catalog(fs, "GET", "/dataSets").json() == {}


def test_create_refuses_non_object_and_empty_bodies(fs):
    assert catalog(fs, "POST", "/dataSets", json=[1]).status_code == 400
    assert catalog(fs, "POST", "/dataSets", data="", headers={"Content-Type": "application/json"}).status_code == 400


@pytest.mark.parametrize("spelling", ["enabled:true", "enabled: true"])
def test_profile_tag_needs_a_union_schema(fs, schema_id, profile_schema_id, spelling):
    tags = {"unifiedProfile": [spelling], "unifiedIdentity": [spelling]}
    refused = catalog(fs, "POST", "/dataSets", json={"name": "p", "schemaRef": {"id": schema_id}, "tags": tags})
    assert generic_error(refused, 400) == "To enable profile datasets the schema should be valid"
    dataset_id = make_dataset(fs, profile_schema_id, tags=tags)
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    assert doc["tags"] == tags
    # unifiedIdentity alone, or a disabled profile tag, is fine on any schema
    make_dataset(fs, schema_id, tags={"unifiedIdentity": ["enabled:true"], "unifiedProfile": ["enabled:false"]})


def test_validate_only_checks_without_storing(fs, schema_id):
    headers = {"Pragma": "validate-only"}
    body = {"name": "dry run", "schemaRef": {"id": schema_id}}
    response = catalog(fs, "POST", "/dataSets", json=body, headers=headers)
    assert response.status_code == 200 and response.json() == []
    assert catalog(fs, "GET", "/dataSets").json() == {}
    bad = catalog(fs, "POST", "/dataSets", json={"name": "dry run"}, headers=headers)
    assert bad.status_code == 400


# -- read and list --------------------------------------------------------------------------------
def test_get_with_properties_and_unknown_id(fs, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}", params={"properties": "name,schemaRef,nothing"}))
    assert set(doc) == {"name", "schemaRef"}
    _, empty = one(catalog(fs, "GET", f"/dataSets/{dataset_id}", params={"properties": "nothing"}))
    assert empty == {}
    generic_error(catalog(fs, "GET", "/dataSets/5ed5639d798a22191b6987b2"), 404)


def test_list_limit_start_and_order(emu, fs, schema_id):
    ids = []
    for index in range(22):
        ids.append(make_dataset(fs, schema_id, name=f"ds-{index:02d}"))
        emu.control.advance_clock(1)
    page = catalog(fs, "GET", "/dataSets").json()
    assert list(page) == ids[:20]  # default limit 20, creation order
    assert list(catalog(fs, "GET", "/dataSets", params={"start": 20}).json()) == ids[20:]
    assert list(catalog(fs, "GET", "/dataSets", params={"limit": 3, "start": 4}).json()) == ids[4:7]
    newest = catalog(fs, "GET", "/dataSets", params={"orderBy": "desc:created", "limit": 2}).json()
    assert list(newest) == [ids[21], ids[20]]
    by_name = catalog(fs, "GET", "/dataSets", params={"orderBy": "asc:name", "limit": 100}).json()
    assert list(by_name) == ids
    for bad in ("0", "101", "ten", "-1"):
        assert "limit" in generic_error(catalog(fs, "GET", "/dataSets", params={"limit": bad}), 400)
    generic_error(catalog(fs, "GET", "/dataSets", params={"start": "-1"}), 400)
    generic_error(catalog(fs, "GET", "/dataSets", params={"orderBy": "sideways:name"}), 400)


def test_list_properties_projection(fs, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    listed = catalog(fs, "GET", "/dataSets", params={"properties": "name,description"}).json()
    assert listed == {dataset_id: {"name": "HubSpot Contacts"}}


def test_simple_name_filters_and_wildcards(fs, schema_id):
    hub = make_dataset(fs, schema_id, name="HubSpot Contacts")
    deals = make_dataset(fs, schema_id, name="HubSpot Deals")
    star = make_dataset(fs, schema_id, name="literal*star")

    def names(**params: str) -> set[str]:
        response = catalog(fs, "GET", "/dataSets", params=params)
        assert response.status_code == 200, response.text
        return set(response.json())

    assert names(name="HubSpot Contacts") == {hub}
    assert names(name="HubSpot Contacts,HubSpot Deals") == {hub, deals}
    assert names(name="!HubSpot Contacts") == {deals, star}
    assert names(name="!HubSpot Contacts,HubSpot Deals") == {star}
    assert names(name="HubSpot*") == {hub, deals}
    assert names(name="*Deal*") == {deals}
    assert names(name="literal**star") == {star}
    assert names(name="hubspot contacts") == set()  # case-sensitive


def test_property_and_tag_filters(fs, schema_id):
    first = make_dataset(fs, schema_id, name="hub one", description="d", tags={"team": ["growth-eu"]})
    second = make_dataset(fs, schema_id, name="other", tags={"team": ["core"], "sampleTag": ["123456"]})
    patched = catalog(
        fs,
        "PATCH",
        f"/dataSets/{second}",
        json=[{"op": "add", "path": "/description", "value": "x"}],
        headers=PATCH_JSON,
    )
    assert patched.status_code == 200, patched.text

    def ids(*pairs: tuple[str, str]) -> set[str]:
        response = catalog(fs, "GET", "/dataSets", params=list(pairs))
        assert response.status_code == 200, response.text
        return set(response.json())

    assert ids(("property", "name~^hub")) == {first}
    assert ids(("property", "name==other")) == {second}
    assert ids(("property", "name!=other")) == {first}
    assert ids(("property", "version>1.0.0")) == {second}
    assert ids(("property", "version<=1.0.0")) == {first}
    assert ids(("property", "!lastBatchId")) == {first, second}
    assert ids(("property", "description")) == {first, second}
    assert ids(("tags", "team:growth*")) == {first}
    assert ids(("tags", "team:*")) == {first, second}
    assert ids(("tags", "team:*,sampleTag:123*")) == {second}  # AND
    assert ids(("tags", "team:*"), ("name", "other")) == {second}
    generic_error(catalog(fs, "GET", "/dataSets", params={"property": "name~("}), 400)
    generic_error(catalog(fs, "GET", "/dataSets", params={"tags": "novalue"}), 400)


def test_datasets_are_per_sandbox(fs, flow_client, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    dev = flow_client(sandbox="dev")
    assert catalog(dev, "GET", "/dataSets").json() == {}
    generic_error(catalog(dev, "GET", f"/dataSets/{dataset_id}"), 404)


# -- update and delete ------------------------------------------------------------------------------
def test_patch_needs_json_patch_content_type(fs, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    ops = [{"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]}]
    detail = generic_error(catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops), 400)
    assert "application/json-patch+json" in detail
    ok = catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers=PATCH_JSON)
    assert ok.status_code == 200 and ok.json() == [f"@/dataSets/{dataset_id}"]
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    assert doc["tags"] == {"unifiedIdentity": ["enabled:true"]} and doc["version"] == "1.0.1"


def test_patch_if_match_and_etags(emu, fs, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    etag = catalog(fs, "GET", f"/dataSets/{dataset_id}").headers["E-Tag"]
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    emu.control.advance_clock(5)
    first = catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers={**PATCH_JSON, "If-Match": etag})
    assert first.status_code == 200, first.text
    stale = catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers={**PATCH_JSON, "If-Match": etag})
    assert generic_error(stale, 412)
    got = catalog(fs, "GET", f"/dataSets/{dataset_id}")
    _, doc = one(got)
    assert got.headers["E-Tag"] != etag and doc["name"] == "renamed" and doc["updated"] > doc["created"]
    fresh = catalog(
        fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers={**PATCH_JSON, "If-Match": got.headers["E-Tag"]}
    )
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/created", "value": 1}],
        [{"op": "remove", "path": "/description"}],
        [{"op": "move", "path": "/name", "from": "/description"}],
        [{"op": "add", "path": "/name"}],
        [],
        [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}],
    ],
)
def test_patch_refusals(fs, schema_id, ops):
    dataset_id = make_dataset(fs, schema_id)
    generic_error(catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers=PATCH_JSON), 400)
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    assert doc["version"] == "1.0.0"


def test_patch_profile_tags_on_union_schema_and_unknown_dataset(fs, profile_schema_id):
    dataset_id = make_dataset(fs, profile_schema_id)
    ops = [
        {"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true", "isUpsert:true"]},
        {"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]},
    ]
    assert catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers=PATCH_JSON).status_code == 200
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    assert doc["tags"]["unifiedProfile"] == ["enabled:true", "isUpsert:true"]
    missing = catalog(fs, "PATCH", "/dataSets/5ed5639d798a22191b6987b2", json=ops, headers=PATCH_JSON)
    generic_error(missing, 404)


def test_put_replaces_writable_fields(fs, schema_id):
    dataset_id = make_dataset(fs, schema_id, description="old", tags={"a": ["1"]})
    _, doc = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    doc.update(name="new name", tags={"b": ["2"]})
    del doc["description"]
    dry = catalog(fs, "PUT", f"/dataSets/{dataset_id}", json=doc, headers={"Pragma": "validate-only"})
    assert dry.status_code == 200
    assert one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))[1]["name"] == "HubSpot Contacts"
    response = catalog(fs, "PUT", f"/dataSets/{dataset_id}", json=doc, headers={"If-Match": '"1.0.0"'})
    assert response.status_code == 200 and response.json() == [f"@/dataSets/{dataset_id}"]
    _, after = one(catalog(fs, "GET", f"/dataSets/{dataset_id}"))
    assert after["name"] == "new name" and after["tags"] == {"b": ["2"]} and "description" not in after
    assert after["created"] == doc["created"] and after["version"] == "1.0.1"
    stale = catalog(fs, "PUT", f"/dataSets/{dataset_id}", json=doc, headers={"If-Match": '"1.0.0"'})
    generic_error(stale, 412)


def test_delete_answers_reference_then_empty_array(fs, schema_id):
    dataset_id = make_dataset(fs, schema_id)
    first = catalog(fs, "DELETE", f"/dataSets/{dataset_id}")
    assert first.status_code == 200 and first.json() == [f"@/dataSets/{dataset_id}"]
    again = catalog(fs, "DELETE", f"/dataSets/{dataset_id}")
    assert again.status_code == 200 and again.json() == []
    generic_error(catalog(fs, "GET", f"/dataSets/{dataset_id}"), 404)


def test_unknown_endpoint_and_method(fs):
    generic_error(catalog(fs, "GET", "/dataSetFiles"), 404)
    generic_error(catalog(fs, "POST", "/batches", json={}), 405)


# -- batches -------------------------------------------------------------------------------------
@pytest.fixture
def ingested(emu, fs) -> dict[str, Any]:
    """Two finished runs into one dataset and one into another."""
    schema = make_schema(fs)
    mapping = make_mapping_set(fs, schema, contact_mappings(tenant(fs)))
    first, second = make_dataset(fs, schema, name="first"), make_dataset(fs, schema, name="second")
    flow = make_flow(fs, first, schema, mapping)
    runs = [finished_run(emu, fs, flow), finished_run(emu, fs, flow)]
    other = finished_run(emu, fs, make_flow(fs, second, schema, mapping))
    return {"first": first, "second": second, "batches": [batch_id_of(r) for r in runs], "other": batch_id_of(other)}


def test_batches_list_and_filters(fs, ingested):
    everything = catalog(fs, "GET", "/batches").json()
    assert list(everything) == [*ingested["batches"], ingested["other"]]
    mine = catalog(fs, "GET", "/batches", params={"dataSet": ingested["first"]}).json()
    assert list(mine) == ingested["batches"]
    newest = catalog(
        fs, "GET", "/batches", params={"dataSet": ingested["first"], "orderBy": "desc:created", "limit": 1}
    ).json()
    assert list(newest) == [ingested["batches"][1]]
    assert list(catalog(fs, "GET", "/batches", params={"status": "success"}).json()) == list(everything)
    assert catalog(fs, "GET", "/batches", params={"status": "failed"}).json() == {}
    created = [everything[b]["created"] for b in ingested["batches"]]
    after = catalog(fs, "GET", "/batches", params={"createdAfter": created[0], "dataSet": ingested["first"]}).json()
    assert list(after) == [ingested["batches"][1]]
    before = catalog(fs, "GET", "/batches", params={"createdBefore": created[1]}).json()
    assert list(before) == [ingested["batches"][0]]
    projected = catalog(fs, "GET", "/batches", params={"properties": "status", "limit": 1}).json()
    assert projected == {ingested["batches"][0]: {"status": "success"}}


def test_batch_document(fs, ingested):
    batch_id = ingested["batches"][0]
    key, batch = one(catalog(fs, "GET", f"/batches/{batch_id}"))
    assert key == batch_id == batch["id"] and re.fullmatch(r"[0-9A-Z]{26}", batch_id)
    assert batch["status"] == "success" and batch["imsOrg"] == ORG
    assert batch["relatedObjects"] == [{"type": "dataSet", "id": ingested["first"]}]
    assert batch["metrics"]["inputRecordCount"] == batch["metrics"]["outputRecordCount"] == 10
    assert batch["metrics"]["recordCount"] == 10 and batch["metrics"]["failedRecordCount"] == 0
    assert batch["completed"] >= batch["started"] and "errors" not in batch
    _, dataset = one(catalog(fs, "GET", f"/dataSets/{ingested['first']}"))
    assert dataset["lastBatchId"] == dataset["lastSuccessfulBatch"] == ingested["batches"][1]
    assert dataset["lastBatchStatus"] == "success"
    generic_error(catalog(fs, "GET", "/batches/01ABCDEFGHJKMNPQRSTVWXYZ00"), 404)


def test_batches_appear_when_runs_finish_without_reading_runs(emu, fs):
    """Catalog reads bring runs up to date themselves (a dataset sensor never reads Flow Service)."""
    schema = make_schema(fs)
    dataset = make_dataset(fs, schema)
    flow = make_flow(fs, dataset, schema, make_mapping_set(fs, schema, contact_mappings(tenant(fs))))
    assert fs.post("/runs", json={"flowId": flow}).status_code == 201
    assert catalog(fs, "GET", "/batches", params={"dataSet": dataset}).json() == {}
    emu.control.advance_clock(10)
    batches = catalog(fs, "GET", "/batches", params={"dataSet": dataset}).json()
    assert [b["status"] for b in batches.values()] == ["success"]


# -- against Adobe's spec -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Adobe's Catalog OpenAPI spec is not available at {SPEC_PATH}")
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def check(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    root = {**schema, "components": spec["components"]}
    errors = sorted(Draft7Validator(root).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def response_schema(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    responses = spec["paths"][path][method]["responses"]
    response = responses.get(status, responses.get(int(status)))
    return response["content"]["application/json"]["schema"]


def test_responses_match_the_spec(emu, fs, spec, ingested, profile_schema_id):
    dataset_id = make_dataset(
        fs, profile_schema_id, tags={"unifiedProfile": ["enabled: true"]}, fileDescription={"format": "parquet"}
    )
    body = {"name": "n", "schemaRef": {"id": profile_schema_id}}
    check(spec, {"$ref": "#/components/schemas/dataSetRequest"}, body)
    created = catalog(fs, "POST", "/dataSets", json=body)
    check(spec, response_schema(spec, "post", "/dataSets", "201"), created.json())
    assert "Location" in spec["paths"]["/dataSets"]["post"]["responses"][201]["headers"]
    check(spec, response_schema(spec, "get", "/dataSets", "200"), catalog(fs, "GET", "/dataSets").json())
    single = catalog(fs, "GET", f"/dataSets/{dataset_id}").json()
    check(spec, response_schema(spec, "get", "/dataSets/{DATASET_ID}", "200"), single)
    ops = [{"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]}]
    patched = catalog(fs, "PATCH", f"/dataSets/{dataset_id}", json=ops, headers=PATCH_JSON)
    check(spec, response_schema(spec, "patch", "/dataSets/{DATASET_ID}", "200"), patched.json())
    deleted = catalog(fs, "DELETE", f"/dataSets/{dataset_id}")
    check(spec, response_schema(spec, "delete", "/dataSets/{DATASET_ID}", "200"), deleted.json())
    check(spec, response_schema(spec, "get", "/batches", "200"), catalog(fs, "GET", "/batches").json())
    batch = catalog(fs, "GET", f"/batches/{ingested['batches'][0]}").json()
    check(spec, response_schema(spec, "get", "/batches/{BATCH_ID}", "200"), batch)


def test_failed_batch_matches_the_spec(emu, fs, spec):
    schema = make_schema(fs, fields={"count": {"type": "integer", "title": "Count", "description": "n"}})
    dataset = make_dataset(fs, schema)
    count = f"_{tenant(fs)}.hubspot.count"
    mapping = make_mapping_set(
        fs, schema, [{"sourceType": "ATTRIBUTE", "source": "Properties_Firstname_Value", "destination": count}]
    )
    run = finished_run(emu, fs, make_flow(fs, dataset, schema, mapping))
    batch = catalog(fs, "GET", f"/batches/{batch_id_of(run)}").json()
    check(spec, response_schema(spec, "get", "/batches/{BATCH_ID}", "200"), batch)
    assert next(iter(batch.values()))["status"] == "failed"


#: Catalog operations the emulator does not serve (README "Not emulated"); the rest must be routed.
NOT_EMULATED = {
    ("POST", "/batches"),
    ("GET", "/batches/uniques/{FIELD}"),
    ("PUT", "/batches/{BATCH_ID}"),
    ("POST", "/batches/{BATCH_ID}"),
    ("DELETE", "/batches/{BATCH_ID}"),
    ("PATCH", "/batches/{BATCH_ID}"),
    ("GET", "/lastBatches"),
    ("GET", "/dataSets/{id}/credentials"),
    ("GET", "/"),
    ("POST", "/"),
    ("GET", "/tags/{tagNamespace}"),
    ("PATCH", "/v2/dataSets/{DATASET_ID}"),
}


def test_every_spec_operation_is_emulated_or_listed(fs, spec):
    for path, operations in spec["paths"].items():
        for method in operations:
            key = (method.upper(), path)
            concrete = re.sub(r"\{[A-Za-z_]+\}", "5ed5639d798a22191b6987b2", path)
            response = catalog(fs, method.upper(), concrete, json=[] if method in ("post", "put", "patch") else None)
            body = response.json() if response.content else {}
            detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
            routed = response.status_code != 405 and not detail.startswith("No endpoint")
            assert routed == (key not in NOT_EMULATED), (key, response.status_code, body)

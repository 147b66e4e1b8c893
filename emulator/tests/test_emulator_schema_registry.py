"""The emulated Schema Registry over real HTTP: ids, the Accept matrix, validation, listing, descriptors,
unions and Profile rules, and its responses against Adobe's Swagger spec (shared/reference)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from aep_emulator import schema_registry
from aep_emulator.testing import (
    ORG,
    PERSON_DETAILS,
    PERSONAL_DETAILS,
    PROFILE,
    SR,
    XED,
    XED_FULL,
    XED_ID,
    encoded,
    make_dataset,
    make_schema,
    xdm_error_code,
)

EXPERIENCE_EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
IDENTITY_MAP = "https://ns.adobe.com/xdm/context/identitymap"
RECORD = "https://ns.adobe.com/xdm/data/record"
SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "schema-registry.openapi.yaml"


@pytest.fixture
def sr(fs):
    """A Schema Registry client (same token, org and sandbox as ``fs``)."""
    return fs.service(SR)


@pytest.fixture
def tenant(sr) -> str:
    return sr.get("/stats").json()["tenantId"]


def get(sr, path: str, accept: str = XED, **kwargs: Any):
    return sr.get(path, headers={"Accept": accept}, **kwargs)


def field_group_body(tenant: str, title: str = "HubSpot Contact Fields", fields: dict | None = None, **extra):
    fields = fields or {"vid": {"title": "VID", "type": "string"}}
    return {
        "type": "object",
        "title": title,
        "description": "HubSpot fields",
        "meta:intendedToExtend": [PROFILE],
        "definitions": {
            "hubspot": {
                "properties": {
                    f"_{tenant}": {
                        "type": "object",
                        "properties": {"hubspot": {"type": "object", "properties": fields}},
                    }
                }
            }
        },
        "allOf": [{"$ref": "#/definitions/hubspot"}],
        **extra,
    }


def created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def schema_body(title: str = "HubSpot Contacts", *refs: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": "Contacts from HubSpot",
        "allOf": [{"$ref": ref} for ref in (refs or (PROFILE, PERSON_DETAILS, PERSONAL_DETAILS))],
    }


def store_of(emu, sandbox: str = "prod"):
    return emu.state.store(ORG, sandbox)


# -- stats, tenant, containers -------------------------------------------------------------------------
def test_stats_give_one_tenant_per_org(sr, flow_client):
    stats = sr.get("/stats").json()
    assert re.fullmatch(r"[a-z]{10}", stats["tenantId"])
    assert stats["imsOrg"] == ORG
    assert stats["counts"] == {"schemas": 0, "mixins": 0, "datatypes": 0, "classes": 0, "unions": 0}
    dev = flow_client(sandbox="dev").service(SR)
    assert dev.get("/stats/").json()["tenantId"] == stats["tenantId"]
    other = flow_client(org="FEDCBA9876543210FEDCBA98@AdobeOrg").service(SR)
    assert other.get("/stats").json()["tenantId"] != stats["tenantId"]
    make_schema(sr)
    sr.post("/tenant/fieldgroups", json=field_group_body(stats["tenantId"]))
    counts = sr.get("/stats").json()
    assert counts["counts"]["schemas"] == 1 and counts["counts"]["mixins"] == 1
    assert counts["classUsage"][0]["$id"] == PROFILE and counts["classUsage"][0]["numberOfSchemas"] == 1
    assert dev.get("/stats").json()["counts"]["schemas"] == 0


def test_global_container_is_read_only_and_ships_the_standard_resources(sr):
    classes = get(sr, "/global/classes", XED_ID).json()["results"]
    assert {PROFILE, EXPERIENCE_EVENT} <= {c["$id"] for c in classes}
    groups = get(sr, "/global/fieldgroups", XED_ID, params={"property": f"meta:intendedToExtend=={PROFILE}"}).json()
    assert {PERSON_DETAILS, PERSONAL_DETAILS, IDENTITY_MAP} == {g["$id"] for g in groups["results"]}
    ee_groups = get(
        sr, "/global/fieldgroups", XED_ID, params={"property": f"meta:intendedToExtend=={EXPERIENCE_EVENT}"}
    )
    assert [g["$id"] for g in ee_groups.json()["results"]] == [IDENTITY_MAP]
    behaviours = get(sr, "/global/behaviors", XED_ID).json()["results"]
    assert {b["meta:altId"] for b in behaviours} == {"_xdm.data.record", "_xdm.data.time-series", "_xdm.data.adhoc"}
    profile = get(sr, f"/global/classes/{encoded(PROFILE)}").json()
    assert profile["meta:altId"] == "_xdm.context.profile" and profile["meta:resourceType"] == "classes"
    assert get(sr, "/global/classes/_xdm.context.profile").json()["$id"] == PROFILE
    assert get(sr, f"/global/behaviors/{encoded(RECORD)}").json()["title"] == "Record Schema"
    datatypes = {d["$id"] for d in get(sr, "/global/datatypes", XED_ID).json()["results"]}
    assert "https://ns.adobe.com/xdm/context/person-name" in datatypes
    refused = sr.post("/global/schemas", json=schema_body())
    assert refused.status_code == 405 and xdm_error_code(refused) == "XDM-1001-405"
    assert xdm_error_code(get(sr, f"/tenant/classes/{encoded(PROFILE)}")) == "XDM-1010-404"
    assert xdm_error_code(sr.get("/tenant/nothing")) == "XDM-1000-404"


# -- Accept matrix -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "accept", "status", "code"),
    [
        ("/tenant/schemas", None, 400, "XDM-1006-400"),
        ("/tenant/schemas", "*/*", 400, "XDM-1006-400"),
        ("/tenant/schemas", "application/vnd.adobe.xed+json;version=1", 400, "XDM-1006-400"),
        ("/tenant/schemas", "application/vnd.adobe.xed-full+json", 406, None),
        ("/tenant/schemas", "application/vnd.adobe.xdm-id+json; version=1", 400, "XDM-1006-400"),
        ("/tenant/schemas", "application/vnd.adobe.xmd-id+json", 400, "XDM-1006-400"),
        ("/tenant/schemas", "application/vnd.adobe.xdm-v2+json", 406, None),
        ("/global/classes/_xdm.context.profile", "application/vnd.adobe.xed+json", 400, "XDM-1007-400"),
        ("/global/classes/_xdm.context.profile", None, 400, "XDM-1007-400"),
        ("/global/classes/_xdm.context.profile", "application/vnd.adobe.xed+json; version=2", 406, None),
        ("/global/classes/_xdm.context.profile", "application/vnd.adobe.xed-fancy+json; version=1", 406, None),
        ("/tenant/descriptors", "application/vnd.adobe.xed+json", 400, "XDM-1008-400"),
        ("/tenant/descriptors", "application/vnd.adobe.xdm-v3+json", 406, None),
        ("/tenant/descriptors/abc", "application/vnd.adobe.xed+json; version=1", 400, "XDM-1009-400"),
    ],
)
def test_accept_matrix_errors(sr, path, accept, status, code):
    headers = {"Accept": accept} if accept else {}
    response = sr.get(path, headers=headers)
    assert response.status_code == status, response.text
    if code:
        assert xdm_error_code(response) == code
        assert "Accept" in response.json()["title"]
    else:
        assert response.json()["title"] == "NotAcceptableError"


def test_lookup_formats(sr):
    raw = get(sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}").json()
    person = raw["definitions"]["profile-person-details"]["properties"]["person"]
    assert person["$ref"] == "https://ns.adobe.com/xdm/context/person" and "allOf" in raw
    full = get(sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}", XED_FULL).json()
    assert "allOf" not in full and "definitions" not in full
    name = full["properties"]["person"]["properties"]["name"]
    assert name["properties"]["firstName"]["type"] == "string"
    assert name["meta:referencedFrom"] == "https://ns.adobe.com/xdm/context/person-name"
    assert full["meta:intendedToExtend"] == [PROFILE]
    notext = get(
        sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}", "application/vnd.adobe.xed-full-notext+json; version=1"
    ).json()
    first = notext["properties"]["person"]["properties"]["name"]["properties"]["firstName"]
    assert "title" not in first and "description" not in first and first["type"] == "string"
    assert notext["title"] == "Demographic Details"
    desc = get(
        sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}", "application/vnd.adobe.xed-full-desc+json; version=1"
    ).json()
    first = desc["properties"]["person"]["properties"]["name"]["properties"]["firstName"]
    assert "title" not in first and first["description"]
    raw_notext = get(
        sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}", "application/vnd.adobe.xed-notext+json; version=1"
    ).json()
    assert "title" not in raw_notext["definitions"]["profile-person-details"]["properties"]["person"]
    assert get(sr, "/tenant/schemas", "application/vnd.adobe.xed+json").json()["results"] == []


# -- schemas: create, ids, resolution ---------------------------------------------------------------
def test_create_schema_shape_and_lookup(emu, sr, tenant):
    body = created(sr.post("/tenant/schemas", json=schema_body()))
    assert re.fullmatch(rf"https://ns\.adobe\.com/{tenant}/schemas/[0-9a-f]{{48}}", body["$id"])
    assert body["meta:altId"] == f"_{tenant}.schemas.{body['$id'].rsplit('/', 1)[1]}"
    assert body["version"] == "1.0" and body["meta:resourceType"] == "schemas"
    assert body["meta:class"] == PROFILE
    assert body["meta:extends"] == [
        "https://ns.adobe.com/xdm/common/auditable",
        RECORD,
        PROFILE,
        PERSON_DETAILS,
        PERSONAL_DETAILS,
    ]
    assert body["allOf"][0] == {"$ref": PROFILE, "type": "object", "meta:xdmType": "object"}
    assert PROFILE in body["refs"]
    assert (body["meta:extensible"], body["meta:abstract"]) == (False, False)
    meta = body["meta:registryMetadata"]
    assert isinstance(meta["repo:createdDate"], int) and meta["repo:createdDate"] == meta["repo:lastModifiedDate"]
    assert re.fullmatch(r"[0-9a-f]{64}", meta["eTag"])
    assert body["meta:containerId"] == "tenant" and body["imsOrg"] == ORG
    assert body["meta:sandboxType"] == "production" and body["meta:tenantNamespace"] == f"_{tenant}"
    by_id = get(sr, f"/tenant/schemas/{encoded(body['$id'])}").json()
    by_alt = get(sr, f"/tenant/schemas/{body['meta:altId']}").json()
    assert by_id == by_alt and "refs" not in by_id and by_id["title"] == "HubSpot Contacts"
    with emu.state.lock:
        assert schema_registry.find_schema(store_of(emu), body["meta:altId"])["$id"] == body["$id"]
        assert schema_registry.tenant_id(store_of(emu)) == tenant
    missing = get(sr, f"/tenant/schemas/{encoded(body['$id'] + 'ff')}")
    assert missing.status_code == 404 and xdm_error_code(missing) == "XDM-1012-404"
    assert "with version 1 is not found" in missing.json()["detail"]
    assert xdm_error_code(get(sr, "/tenant/fieldgroups/_x.mixins.0")) == "XDM-1011-404"
    assert xdm_error_code(get(sr, "/tenant/datatypes/_x.datatypes.0")) == "XDM-1013-404"


def test_xed_full_merges_class_and_field_groups(emu, sr, tenant):
    group = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant)))
    schema = created(
        sr.post("/tenant/schemas", json=schema_body("Full", PROFILE, PERSON_DETAILS, PERSONAL_DETAILS, group["$id"]))
    )
    full = get(sr, f"/tenant/schemas/{encoded(schema['$id'])}", XED_FULL).json()
    props = full["properties"]
    assert props["_id"]["format"] == "uri-reference"
    assert set(props["_repo"]["properties"]) == {"createDate", "modifyDate"}
    assert props["_repo"]["properties"]["createDate"]["format"] == "date-time"
    assert props["createdByBatchID"]["type"] == "string"
    assert props["person"]["properties"]["name"]["properties"]["lastName"]["meta:xdmType"] == "string"
    assert props["personalEmail"]["properties"]["address"]["format"] == "email"
    assert props[f"_{tenant}"]["properties"]["hubspot"]["properties"]["vid"]["meta:xdmType"] == "string"
    assert full["meta:class"] == PROFILE and full["$id"] == schema["$id"] and "allOf" not in full
    with emu.state.lock:
        assert schema_registry.resolve_schema(store_of(emu), schema["$id"]) == full
        with pytest.raises(schema_registry.ApiError) as caught:
            schema_registry.resolve_schema(store_of(emu), "https://ns.adobe.com/x/schemas/nope")
    assert caught.value.status == 404 and caught.value.body["type"].endswith("XDM-1012-404")


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        (lambda b: b.pop("description"), "XDM-4000-400", "description"),
        (lambda b: b.pop("allOf"), "XDM-4000-400", "allOf"),
        (lambda b: b.update(type="array"), "XDM-4000-400", "type"),
        (lambda b: b.update(title=3), "XDM-4000-400", "title"),
        (lambda b: b.update(allOf=[{"$ref": PERSON_DETAILS}]), "XDM-4000-400", "exactly one class"),
        (lambda b: b.update(allOf=[{"$ref": PROFILE}, {"$ref": EXPERIENCE_EVENT}]), "XDM-4000-400", "found 2"),
        (lambda b: b.update(allOf=[{"$ref": RECORD}]), "XDM-4000-400", "behavior cannot be referenced"),
        (lambda b: b.update(properties={"a": {"type": "string"}}), "XDM-4000-400", "field group"),
        (lambda b: b["allOf"].append({"$ref": "https://ns.adobe.com/acme/mixins/0f"}), "XDM-1011-404", "field group"),
        (
            lambda b: b["allOf"].__setitem__(0, {"$ref": "https://ns.adobe.com/acme/classes/0f"}),
            "XDM-1010-404",
            "class",
        ),
    ],
)
def test_create_schema_validation(sr, change, code, needle):
    body = schema_body()
    change(body)
    response = sr.post("/tenant/schemas", json=body)
    assert xdm_error_code(response) == code, response.text
    assert needle in response.json()["detail"]
    if code == "XDM-4000-400":
        assert response.json()["report"]["sub-errors"]


def test_field_groups_must_suit_the_schema_class(sr, tenant):
    group = created(
        sr.post("/tenant/fieldgroups", json=field_group_body(tenant, **{"meta:intendedToExtend": [EXPERIENCE_EVENT]}))
    )
    response = sr.post("/tenant/schemas", json=schema_body("Mixed", PROFILE, group["$id"]))
    assert xdm_error_code(response) == "XDM-4000-400"
    assert "not intended to extend class" in response.json()["detail"]
    event = created(
        sr.post("/tenant/schemas", json=schema_body("Events", EXPERIENCE_EVENT, group["$id"], IDENTITY_MAP))
    )
    assert event["meta:class"] == EXPERIENCE_EVENT
    assert xdm_error_code(sr.post("/tenant/schemas", json=schema_body("Ev2", EXPERIENCE_EVENT, PERSON_DETAILS))) == (
        "XDM-4000-400"
    )


def test_titles_are_unique_across_resource_types(sr, tenant, flow_client):
    schema = created(sr.post("/tenant/schemas", json=schema_body("Shared title")))
    clash = sr.post("/tenant/fieldgroups", json=field_group_body(tenant, title="Shared title"))
    assert xdm_error_code(clash) == "XDM-1521-400"
    assert clash.json()["title"] == "Title not unique"
    assert schema["$id"] in clash.json()["detail"]
    other = created(sr.post("/tenant/schemas", json=schema_body("Other title")))
    renamed = sr.put(f"/tenant/schemas/{encoded(other['$id'])}", json=schema_body("Shared title"))
    assert xdm_error_code(renamed) == "XDM-1521-400"
    again = sr.patch_json(
        f"/tenant/schemas/{encoded(other['$id'])}", [{"op": "replace", "path": "/title", "value": "Other title"}]
    )
    assert again.status_code == 200  # its own title is no clash
    dev = flow_client(sandbox="dev").service(SR)
    assert dev.post("/tenant/schemas", json=schema_body("Shared title")).status_code == 201


# -- field groups, classes, data types --------------------------------------------------------------
def test_field_group_create_annotates_types(sr, tenant):
    fields = {
        "vid": {"title": "VID", "type": "string"},
        "addedAt": {"type": "string", "format": "date-time"},
        "born": {"type": "string", "format": "date"},
        "count": {"type": "integer"},
        "big": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
        "score": {"type": "number"},
        "active": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    body = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant, fields=fields)))
    assert re.fullmatch(rf"https://ns\.adobe\.com/{tenant}/mixins/[0-9a-f]{{48}}", body["$id"])
    assert body["meta:altId"].startswith(f"_{tenant}.mixins.") and body["meta:resourceType"] == "mixins"
    assert (body["meta:abstract"], body["meta:extensible"]) == (True, True)
    assert body["meta:intendedToExtend"] == [PROFILE]
    namespace = body["definitions"]["hubspot"]["properties"][f"_{tenant}"]
    assert namespace["meta:xdmType"] == "object"
    got = {k: v["meta:xdmType"] for k, v in namespace["properties"]["hubspot"]["properties"].items()}
    assert got == {
        "vid": "string",
        "addedAt": "date-time",
        "born": "date",
        "count": "int",
        "big": "long",
        "score": "number",
        "active": "boolean",
        "tags": "array",
        "extra": "map",
    }
    assert body["allOf"] == [{"$ref": "#/definitions/hubspot", "type": "object", "meta:xdmType": "object"}]


@pytest.mark.parametrize(
    ("properties", "code", "needle"),
    [
        ({"hubspotVid": {"type": "string"}}, "XDM-1021-400", "hubspotVid"),
        ({"_othertenant": {"type": "object", "properties": {}}}, "XDM-1020-400", "_othertenant"),
        ("NS", "XDM-1022-400", "_hidden"),
        ("MISSING_TYPE", "XDM-4000-400", "type"),
        ("BAD_NAME", "XDM-4000-400", "letters"),
        ("BAD_TYPE", "XDM-4000-400", "enumeration"),
        ("ARRAY_NO_ITEMS", "XDM-4000-400", "items"),
        ("UNKNOWN_REF", "XDM-1013-404", "data type"),
    ],
)
def test_field_group_field_rules(sr, tenant, properties, code, needle):
    nested = {
        "NS": {"_hidden": {"type": "string"}},
        "MISSING_TYPE": {"vid": {"title": "no type"}},
        "BAD_NAME": {"first name": {"type": "string"}},
        "BAD_TYPE": {"vid": {"type": "text"}},
        "ARRAY_NO_ITEMS": {"tags": {"type": "array"}},
        "UNKNOWN_REF": {"thing": {"$ref": "https://ns.adobe.com/acme/datatypes/00"}},
    }
    if isinstance(properties, str):
        properties = {f"_{tenant}": {"type": "object", "properties": nested[properties]}}
    body = field_group_body(tenant)
    body["definitions"]["hubspot"]["properties"] = properties
    response = sr.post("/tenant/fieldgroups", json=body)
    assert xdm_error_code(response) == code, response.text
    assert needle in response.json()["detail"]
    if code == "XDM-4000-400":
        (sub,) = response.json()["report"]["sub-errors"]
        assert sub["path"].startswith("$.definitions.hubspot.properties")


def test_field_group_required_members(sr, tenant):
    body = field_group_body(tenant)
    del body["meta:intendedToExtend"]
    response = sr.post("/tenant/fieldgroups", json=body)
    assert xdm_error_code(response) == "XDM-4000-400"
    assert response.json()["report"]["sub-errors"][0]["arguments"] == ["meta:intendedToExtend"]
    unknown = sr.post(
        "/tenant/fieldgroups",
        json=field_group_body(tenant, **{"meta:intendedToExtend": ["https://ns.adobe.com/acme/classes/00"]}),
    )
    assert xdm_error_code(unknown) == "XDM-1010-404"
    bad_ref = field_group_body(tenant)
    bad_ref["allOf"] = [{"$ref": "#/definitions/nope"}]
    assert xdm_error_code(sr.post("/tenant/fieldgroups", json=bad_ref)) == "XDM-4000-400"


def test_legacy_mixins_paths(sr, tenant):
    group = created(sr.post("/tenant/mixins", json=field_group_body(tenant)))
    assert group["meta:resourceType"] == "mixins"
    assert [g["$id"] for g in get(sr, "/tenant/mixins", XED_ID).json()["results"]] == [group["$id"]]
    assert get(sr, f"/tenant/fieldgroups/{group['meta:altId']}").json()["$id"] == group["$id"]


def test_custom_class_data_type_and_ad_hoc_class(sr, tenant):
    datatype = created(
        sr.post(
            "/tenant/datatypes",
            json={
                "type": "object",
                "title": "Loyalty",
                "description": "Loyalty tier",
                "properties": {"tier": {"type": "string"}, "points": {"type": "integer"}},
            },
        )
    )
    assert datatype["$id"].startswith(f"https://ns.adobe.com/{tenant}/datatypes/")
    assert datatype["properties"]["points"]["meta:xdmType"] == "int"
    custom = created(
        sr.post(
            "/tenant/classes",
            json={
                "type": "object",
                "title": "Property",
                "description": "A building",
                "definitions": {
                    "property": {
                        "properties": {
                            f"_{tenant}": {
                                "type": "object",
                                "properties": {"propertyId": {"type": "string"}, "loyalty": {"$ref": datatype["$id"]}},
                            }
                        }
                    }
                },
                "allOf": [{"$ref": RECORD}, {"$ref": "#/definitions/property"}],
            },
        )
    )
    assert custom["meta:extends"] == [RECORD] and custom["meta:resourceType"] == "classes"
    assert (
        created(sr.post("/tenant/schemas", json=schema_body("Properties", custom["$id"])))["meta:class"]
        == (custom["$id"])
    )
    standard = sr.post("/tenant/schemas", json=schema_body("Std", custom["$id"], PERSON_DETAILS))
    assert "not intended to extend" in standard.json()["detail"]
    full = get(sr, f"/tenant/classes/{encoded(custom['$id'])}", XED_FULL).json()
    loyalty = full["properties"][f"_{tenant}"]["properties"]["loyalty"]
    assert loyalty["meta:referencedFrom"] == datatype["$id"] and "points" in loyalty["properties"]
    assert "_id" in full["properties"]
    no_behaviour = sr.post(
        "/tenant/classes",
        json={
            "type": "object",
            "title": "X",
            "description": "x",
            "allOf": [{"$ref": "#/definitions/a"}],
            "definitions": {"a": {}},
        },
    )
    assert xdm_error_code(no_behaviour) == "XDM-4000-400"
    adhoc = created(
        sr.post(
            "/tenant/classes",
            json={
                "type": "object",
                "title": "Raw Contacts",
                "description": "ad-hoc",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {"properties": {"_adhoc": {"type": "object", "properties": {"Vid": {"type": "string"}}}}},
                ],
            },
        )
    )
    namespace = adhoc["meta:datasetNamespace"]
    assert re.fullmatch(r"_[0-9a-f]{32}", namespace)
    assert namespace in adhoc["allOf"][1]["properties"] and "_adhoc" not in adhoc["allOf"][1]["properties"]
    in_use = sr.delete(f"/tenant/datatypes/{encoded(datatype['$id'])}")
    assert xdm_error_code(in_use) == "XDM-1541-400"


# -- PATCH, PUT, DELETE -------------------------------------------------------------------------------
def test_patch_and_put_bump_the_version(sr, tenant):
    schema = created(sr.post("/tenant/schemas", json=schema_body("Patched", PROFILE)))
    path = f"/tenant/schemas/{encoded(schema['$id'])}"
    group = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant)))
    ops = [
        {"op": "add", "path": "/meta:extends/-", "value": group["$id"]},
        {"op": "add", "path": "/allOf/-", "value": {"$ref": group["$id"]}},
    ]
    patched = sr.patch_json(path, ops)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["version"] == "1.1" and body["$id"] == schema["$id"]
    assert group["$id"] in body["meta:extends"] and body["allOf"][-1]["$ref"] == group["$id"]
    assert body["meta:registryMetadata"]["repo:createdDate"] == schema["meta:registryMetadata"]["repo:createdDate"]
    assert body["meta:registryMetadata"]["eTag"] != schema["meta:registryMetadata"]["eTag"]
    only_all_of = sr.patch_json(path, [{"op": "add", "path": "/allOf/-", "value": {"$ref": PERSON_DETAILS}}]).json()
    assert only_all_of["version"] == "1.2" and PERSON_DETAILS in only_all_of["meta:extends"]
    current = get(sr, path).json()
    current["description"] = "Rewritten"
    put = sr.put(path, json=current)
    assert put.status_code == 200 and put.json()["version"] == "1.3" and put.json()["description"] == "Rewritten"
    for bad in (
        [{"op": "replace", "path": "/version", "value": "9.9"}],
        [{"op": "replace", "path": "/$id", "value": "x"}],
        [{"op": "remove", "path": "/nope"}],
        [{"op": "jump", "path": "/title"}],
        {"not": "a patch"},
    ):
        assert xdm_error_code(sr.patch_json(path, bad)) == "XDM-4000-400", bad
    missing = sr.patch_json(f"/tenant/schemas/{encoded(schema['$id'] + '0')}", ops)
    assert xdm_error_code(missing) == "XDM-1012-404"
    field_ops = [
        {
            "op": "add",
            "path": f"/definitions/hubspot/properties/_{tenant}/properties/hubspot/properties/email",
            "value": {"title": "Email", "type": "string"},
        }
    ]
    group_patch = sr.patch_json(f"/tenant/fieldgroups/{encoded(group['$id'])}", field_ops)
    assert group_patch.status_code == 200 and group_patch.json()["version"] == "1.1"
    full = get(sr, path, XED_FULL).json()
    assert full["properties"][f"_{tenant}"]["properties"]["hubspot"]["properties"]["email"]["meta:xdmType"] == "string"
    bad_field = [{"op": "add", "path": "/definitions/hubspot/properties/outside", "value": {"type": "string"}}]
    assert xdm_error_code(sr.patch_json(f"/tenant/fieldgroups/{encoded(group['$id'])}", bad_field)) == "XDM-1021-400"


def test_delete_resources(sr, tenant):
    group = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant)))
    schema = created(sr.post("/tenant/schemas", json=schema_body("Doomed", PROFILE, PERSONAL_DETAILS, group["$id"])))
    sr.post("/tenant/descriptors", json=identity(schema["$id"]))
    in_use = sr.delete(f"/tenant/fieldgroups/{encoded(group['$id'])}")
    assert xdm_error_code(in_use) == "XDM-1541-400" and schema["$id"] in in_use.json()["detail"]
    assert sr.delete(f"/tenant/schemas/{schema['meta:altId']}").status_code == 204
    assert xdm_error_code(get(sr, f"/tenant/schemas/{encoded(schema['$id'])}")) == "XDM-1012-404"
    assert get(sr, "/tenant/descriptors", "application/vnd.adobe.xdm-id+json").json() == {}
    assert sr.delete(f"/tenant/fieldgroups/{encoded(group['$id'])}").status_code == 204
    assert xdm_error_code(sr.delete(f"/tenant/fieldgroups/{encoded(group['$id'])}")) == "XDM-1011-404"
    assert sr.delete(f"/global/classes/{encoded(PROFILE)}").status_code == 405


# -- listing ---------------------------------------------------------------------------------------
def test_listing_orderby_limit_start(sr):
    titles = ["delta", "Alpha", "charlie", "bravo", "echo"]
    for title in titles:
        make_schema(sr, title=title)
    plain = get(sr, "/tenant/schemas", XED_ID).json()
    assert [r["title"] for r in plain["results"]] == titles
    assert plain["_page"] == {"orderby": "updated", "next": None, "count": 5}
    assert plain["_links"]["next"] is None
    assert plain["_links"]["global_schemas"]["href"].endswith(f"{SR}/global/schemas")
    seen, start = [], None
    while True:
        params = {"orderby": "title", "limit": 2, **({"start": start} if start else {})}
        page = get(sr, "/tenant/schemas", XED_ID, params=params).json()
        seen += [r["title"] for r in page["results"]]
        start = page["_page"]["next"]
        if start is None:
            assert page["_links"]["next"] is None
            break
        assert page["_page"]["count"] == 2 and page["_links"]["next"]["href"].startswith("http")
        assert f"start={start}" in page["_links"]["next"]["href"]
    assert seen == ["Alpha", "bravo", "charlie", "delta", "echo"]
    desc = get(sr, "/tenant/schemas", XED_ID, params={"orderby": "-title", "limit": 3}).json()
    assert [r["title"] for r in desc["results"]] == ["echo", "delta", "charlie"] and desc["_page"]["next"] == "charlie"
    after = get(sr, "/tenant/schemas", XED_ID, params={"orderby": "-title", "start": "charlie"}).json()
    assert [r["title"] for r in after["results"]] == ["bravo", "Alpha"]
    # limit is a hint: a page never splits items that share the primary sort value
    ties = get(sr, "/tenant/schemas", XED_ID, params={"orderby": "description,title", "limit": 2}).json()
    assert ties["_page"]["count"] == 5 and ties["_page"]["next"] is None
    capped = get(sr, "/tenant/schemas", XED_ID, params={"limit": 1}).json()
    assert len(capped["results"]) == 1 and capped["_page"]["next"] is None
    full = get(sr, "/tenant/schemas", "application/vnd.adobe.xed+json", params={"orderby": "title", "limit": 1})
    assert full.json()["results"][0]["meta:class"] == PROFILE
    no_order = get(sr, "/tenant/schemas", XED_ID, params={"start": "bravo"})
    assert xdm_error_code(no_order) == "XDM-1002-400"
    assert xdm_error_code(get(sr, "/tenant/schemas", XED_ID, params={"limit": "lots"})) == "XDM-1002-400"
    assert len(get(sr, "/tenant/schemas", XED_ID, params={"limit": 9999}).json()["results"]) == 5


def test_property_filters(sr, tenant):
    for title in ("HubSpot Contacts", "HubSpot Deals", "Other"):
        make_schema(sr, title=title)
    created(sr.post("/tenant/schemas", json=schema_body("Events", EXPERIENCE_EVENT, IDENTITY_MAP)))

    def titles(*filters: str) -> list[str]:
        response = get(sr, "/tenant/schemas", XED_ID, params={"property": list(filters), "orderby": "title"})
        assert response.status_code == 200, response.text
        return [r["title"] for r in response.json()["results"]]

    assert titles("title==HubSpot Contacts") == ["HubSpot Contacts"]
    assert titles("title==hubspot contacts") == ["HubSpot Contacts"]
    assert titles("title!=Other") == ["Events", "HubSpot Contacts", "HubSpot Deals"]
    assert titles("title~^HubSpot") == ["HubSpot Contacts", "HubSpot Deals"]
    assert titles(f"meta:class=={EXPERIENCE_EVENT}") == ["Events"]
    assert titles(f"meta:extends=={PERSON_DETAILS}", "title~Deals$") == ["HubSpot Deals"]
    assert titles("meta:immutableTags") == []
    assert titles("title") == ["Events", "HubSpot Contacts", "HubSpot Deals", "Other"]
    assert titles("version>=1.0", "version<2") == ["Events", "HubSpot Contacts", "HubSpot Deals", "Other"]
    assert titles("version>1.0") == []
    assert xdm_error_code(get(sr, "/tenant/schemas", XED_ID, params={"property": "title~("})) == "XDM-1002-400"


# -- descriptors ----------------------------------------------------------------------------------------
def identity(schema_id: str, path: str = "/personalEmail/address", primary: bool = True, **extra: Any):
    return {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema_id,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": path,
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": primary,
        **extra,
    }


def test_identity_descriptor_lifecycle(emu, sr, tenant):
    schema_id = make_schema(sr)
    body = created(sr.post("/tenant/descriptors", json=identity(schema_id)))
    assert re.fullmatch(r"[0-9a-f]{40}", body["@id"])
    assert body["meta:containerId"] == "tenant" and body["imsOrg"] == ORG and body["version"] == "1"
    assert body["xdm:sourceProperty"] == "/personalEmail/address" and body["xdm:isPrimary"] is True
    phone = created(
        sr.post(
            "/tenant/descriptors",
            json=identity(schema_id, "/mobilePhone/number", False, **{"xdm:namespace": 7, "xdm:property": "xdm:id"}),
        )
    )
    label = created(
        sr.post(
            "/tenant/descriptors",
            json={
                "@type": "xdm:alternateDisplayInfo",
                "xdm:sourceSchema": schema_id,
                "xdm:sourceVersion": 1,
                "xdm:sourceProperty": "/person/name/firstName",
                "xdm:title": {"en_us": "Given name"},
            },
        )
    )
    other_schema = make_schema(sr)
    created(sr.post("/tenant/descriptors", json=identity(other_schema)))

    ids = get(
        sr,
        "/tenant/descriptors",
        "application/vnd.adobe.xdm-id+json",
        params={"property": f"xdm:sourceSchema=={schema_id}"},
    ).json()
    assert ids == {"xdm:descriptorIdentity": [body["@id"], phone["@id"]], "xdm:alternateDisplayInfo": [label["@id"]]}
    links = get(
        sr,
        "/tenant/descriptors",
        "application/vnd.adobe.xdm-link+json",
        params={"property": "@type==xdm:alternateDisplayInfo"},
    ).json()
    assert links == {"xdm:alternateDisplayInfo": [f"/tenant/descriptors/{label['@id']}"]}
    full = get(sr, "/tenant/descriptors", "application/vnd.adobe.xdm+json").json()
    assert len(full["xdm:descriptorIdentity"]) == 3 and full["xdm:descriptorIdentity"][0]["@id"] == body["@id"]
    first = get(
        sr, "/tenant/descriptors", "application/vnd.adobe.xdm-v2-id+json", params={"orderby": "@id", "limit": 1}
    ).json()
    assert len(first["results"]) == 1 and first["_page"]["next"] == first["results"][0]
    rest = get(
        sr,
        "/tenant/descriptors",
        "application/vnd.adobe.xdm-v2-id+json",
        params={"orderby": "@id", "start": first["_page"]["next"]},
    ).json()
    assert len(rest["results"]) == 3 and rest["_page"]["next"] is None
    assert sorted(first["results"] + rest["results"]) == first["results"] + rest["results"]

    assert sr.get(f"/tenant/descriptors/{body['@id']}").json() == body
    changed = identity(schema_id, "/homePhone/number", True, **{"xdm:namespace": "Phone"})
    put = sr.put(f"/tenant/descriptors/{body['@id']}", json=changed)
    assert put.status_code == 201 and put.json() == {"@id": body["@id"]}
    again = get(sr, f"/tenant/descriptors/{body['@id']}", "application/vnd.adobe.xdm+json").json()
    assert again["xdm:sourceProperty"] == "/homePhone/number"
    assert sr.delete(f"/tenant/descriptors/{label['@id']}").status_code == 204
    gone = sr.get(f"/tenant/descriptors/{label['@id']}")
    assert gone.status_code == 404 and xdm_error_code(gone) == "XDM-1014-404"
    assert xdm_error_code(sr.delete(f"/tenant/descriptors/{label['@id']}")) == "XDM-1014-404"


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        (lambda b: b.pop("xdm:property"), "XDM-4000-400", "xdm:property"),
        (lambda b: b.pop("@type"), "XDM-4000-400", "@type"),
        (lambda b: b.pop("xdm:sourceProperty"), "XDM-4000-400", "xdm:sourceProperty"),
        (lambda b: b.update({"@type": "xdm:nonsense"}), "XDM-4000-400", "@type"),
        (lambda b: b.update({"xdm:property": "xdm:name"}), "XDM-4000-400", "xdm:property"),
        (lambda b: b.update({"xdm:sourceProperty": "personalEmail/address"}), "XDM-4000-400", "start with"),
        (lambda b: b.update({"xdm:sourceProperty": "/personalEmail/nope"}), "XDM-4000-400", "does not exist"),
        (
            lambda b: b.update({"xdm:sourceProperty": "/properties/personalEmail/properties/address"}),
            "XDM-4000-400",
            "omit the 'properties'",
        ),
        (lambda b: b.update({"xdm:namespace": "NoSuchNamespace"}), "XDM-4000-400", "unknown identity namespace"),
        (lambda b: b.update({"xdm:isPrimary": "yes"}), "XDM-4000-400", "boolean"),
        (lambda b: b.update({"xdm:sourceSchema": "https://ns.adobe.com/acme/schemas/00"}), "XDM-1012-404", "schema"),
    ],
)
def test_descriptor_validation(sr, change, code, needle):
    body = identity(make_schema(sr))
    change(body)
    response = sr.post("/tenant/descriptors", json=body)
    assert xdm_error_code(response) == code, response.text
    assert needle in response.text


def test_descriptor_missing_property_matches_the_documented_error(sr):
    body = identity(make_schema(sr))
    del body["xdm:property"]
    error = sr.post("/tenant/descriptors", json=body).json()
    assert error["title"] == "Validation error" and error["status"] == 400
    assert error["report"]["sub-errors"] == [
        {
            "path": "$",
            "type": "required",
            "arguments": ["xdm:property"],
            "message": "$.xdm:property: is missing but it is required",
        }
    ]


def test_one_primary_identity_per_schema_and_custom_namespaces(emu, sr):
    schema_id = make_schema(sr)
    first = created(sr.post("/tenant/descriptors", json=identity(schema_id)))
    second = sr.post("/tenant/descriptors", json=identity(schema_id, "/mobilePhone/number"))
    assert xdm_error_code(second) == "XDM-1529-400" and first["@id"] in second.json()["detail"]
    assert sr.put(f"/tenant/descriptors/{first['@id']}", json=identity(schema_id, "/homePhone/number")).status_code == (
        201
    )
    custom = identity(schema_id, "/mobilePhone/number", False, **{"xdm:namespace": "HubSpotVid"})
    assert xdm_error_code(sr.post("/tenant/descriptors", json=custom)) == "XDM-4000-400"
    with emu.state.lock:
        namespace = schema_registry.add_identity_namespace(store_of(emu), "HubSpotVid", "HubSpot VID")
    assert namespace["custom"] is True
    assert sr.post("/tenant/descriptors", json=custom).status_code == 201
    by_id = identity(
        schema_id, "/faxPhone/number", False, **{"xdm:namespace": namespace["id"], "xdm:property": "xdm:id"}
    )
    assert sr.post("/tenant/descriptors", json=by_id).status_code == 201


# -- Profile union ---------------------------------------------------------------------------------
UNION = [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]


def test_union_needs_a_primary_identity_or_identity_map(sr):
    schema_id = make_schema(sr)
    path = f"/tenant/schemas/{encoded(schema_id)}"
    refused = sr.patch_json(path, UNION)
    assert xdm_error_code(refused) == "XDM-1528-400"
    assert refused.json()["title"] == "Union descriptor validation error"
    created(sr.post("/tenant/descriptors", json=identity(schema_id)))
    enabled = sr.patch_json(path, UNION)
    assert enabled.status_code == 200 and enabled.json()["meta:immutableTags"] == ["union"]
    assert enabled.json()["version"] == "1.1"
    with_map = created(
        sr.post(
            "/tenant/schemas", json={**schema_body("Mapped", PROFILE, IDENTITY_MAP), "meta:immutableTags": ["union"]}
        )
    )
    assert with_map["meta:immutableTags"] == ["union"]
    spec_form = make_schema(sr, field_groups=(IDENTITY_MAP,))
    response = sr.patch_json(
        f"/tenant/schemas/{encoded(spec_form)}", [{"op": "add", "path": "/meta:immutableTags-", "value": "union"}]
    )
    assert response.json()["meta:immutableTags"] == ["union"]
    for removal in (
        [{"op": "remove", "path": "/meta:immutableTags"}],
        [{"op": "replace", "path": "/meta:immutableTags", "value": []}],
    ):
        assert xdm_error_code(sr.patch_json(path, removal)) == "XDM-1540-400"
    put_without = get(sr, path).json()
    del put_without["meta:immutableTags"]
    assert xdm_error_code(sr.put(path, json=put_without)) == "XDM-1540-400"
    unions = get(sr, "/tenant/unions", XED_ID).json()["results"]
    assert [u["$id"] for u in unions] == [f"{PROFILE}__union"]
    union = get(sr, f"/tenant/unions/{encoded(PROFILE + '__union')}", XED_FULL).json()
    assert {"personalEmail", "identityMap", "_id"} <= set(union["properties"])
    assert get(sr, "/tenant/unions/_xdm.context.profile__union").json()["meta:class"] == PROFILE
    assert xdm_error_code(get(sr, "/tenant/unions/_xdm.context.experienceevent__union")) == "XDM-1015-404"
    assert (
        get(
            sr, "/tenant/schemas", XED_ID, params={"property": ["meta:immutableTags==union", f"meta:class=={PROFILE}"]}
        ).json()["_page"]["count"]
        == 3
    )


def test_union_schemas_of_a_class_must_merge(sr, tenant):
    as_string = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant, "Vid as string")))
    as_int = created(
        sr.post("/tenant/fieldgroups", json=field_group_body(tenant, "Vid as int", fields={"vid": {"type": "integer"}}))
    )
    first = created(
        sr.post(
            "/tenant/schemas",
            json={**schema_body("First", PROFILE, IDENTITY_MAP, as_string["$id"]), "meta:immutableTags": ["union"]},
        )
    )
    second = created(sr.post("/tenant/schemas", json=schema_body("Second", PROFILE, IDENTITY_MAP, as_int["$id"])))
    clash = sr.patch_json(f"/tenant/schemas/{encoded(second['$id'])}", UNION)
    assert xdm_error_code(clash) == "XDM-1413-400"
    assert first["$id"] in clash.json()["detail"] and f"/_{tenant}/hubspot/vid" in clash.json()["detail"]


def test_only_non_destructive_changes_once_a_dataset_uses_the_schema(sr, tenant):
    group = created(
        sr.post(
            "/tenant/fieldgroups",
            json=field_group_body(tenant, fields={"vid": {"type": "string"}, "portal": {"type": "string"}}),
        )
    )
    schema = created(sr.post("/tenant/schemas", json=schema_body("Used", PROFILE, PERSON_DETAILS, group["$id"])))
    path = f"/tenant/schemas/{encoded(schema['$id'])}"
    group_path = f"/tenant/fieldgroups/{encoded(group['$id'])}"
    field = f"/definitions/hubspot/properties/_{tenant}/properties/hubspot/properties"
    # before any dataset, destructive changes are fine
    assert sr.patch_json(group_path, [{"op": "remove", "path": f"{field}/portal"}]).status_code == 200
    dataset_id, _ = make_dataset(sr, schema["$id"])
    removal = sr.patch_json(path, [{"op": "remove", "path": "/allOf/1"}])
    assert xdm_error_code(removal) == "XDM-1540-400"
    assert dataset_id in removal.json()["detail"] and "/person" in removal.json()["detail"]
    retyped = sr.patch_json(group_path, [{"op": "replace", "path": f"{field}/vid", "value": {"type": "integer"}}])
    assert xdm_error_code(retyped) == "XDM-1540-400"
    assert get(sr, group_path).json()["version"] == "1.1"  # the refused change left the field group alone
    added = sr.patch_json(group_path, [{"op": "add", "path": f"{field}/email", "value": {"type": "string"}}])
    assert added.status_code == 200
    assert sr.patch_json(path, [{"op": "add", "path": "/allOf/-", "value": {"$ref": IDENTITY_MAP}}]).status_code == 200
    in_use = sr.delete(path)
    assert xdm_error_code(in_use) == "XDM-1541-400" and dataset_id in in_use.json()["detail"]


# -- bodies ------------------------------------------------------------------------------------------
def test_malformed_bodies(sr):
    empty = sr.post("/tenant/schemas", data="", headers={"Content-Type": "application/json"})
    assert xdm_error_code(empty) == "XDM-4000-400"
    broken = sr.post("/tenant/schemas", data="{nope", headers={"Content-Type": "application/json"})
    assert xdm_error_code(broken) == "XDM-4000-400" and "not valid JSON" in broken.json()["detail"]
    assert xdm_error_code(sr.post("/tenant/schemas", json=[schema_body()])) == "XDM-4000-400"
    typo = {**schema_body("Spec typo"), "allOf": [{"$ref ": PROFILE}]}  # the spec examples' "$ref " key
    assert created(sr.post("/tenant/schemas", json=typo))["allOf"][0]["$ref"] == PROFILE


# -- Adobe's Swagger spec ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The spec's definitions, with its known gaps tolerated (each one documented here):

    * ``linksBasic.next`` and ``_page.next`` are typed string, but every documented response shows ``null`` on
      the last page; the emulator sends ``null`` there and ``{"href": ...}`` links otherwise (as the
      ``global_schemas`` links are shaped).
    * ``createDescriptor.xdm:sourceVersion`` is typed string while every example (and client) sends ``1``.
    """
    if not SPEC_PATH.exists():
        pytest.skip(f"Adobe's Schema Registry Swagger spec is not available at {SPEC_PATH}")
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    definitions = copy.deepcopy(doc["definitions"])
    definitions["linksBasic"]["properties"]["next"] = {"type": ["string", "object", "null"]}
    definitions["listResponseBasic"]["properties"]["_page"]["properties"]["next"] = {"type": ["string", "null"]}
    definitions["createDescriptor"]["properties"]["xdm:sourceVersion"] = {"type": ["string", "integer"]}
    doc["definitions"] = definitions
    return doc


def check(spec: dict[str, Any], name: str, instance: Any) -> None:
    from jsonschema import Draft4Validator

    root = {"$ref": f"#/definitions/{name}", "definitions": spec["definitions"]}
    errors = sorted(Draft4Validator(root).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def response_definition(spec: dict[str, Any], method: str, path: str, status: str) -> str:
    schema = (
        spec["paths"][path][method]["responses"]
        .get(status, spec["paths"][path][method]["responses"].get(int(status), {}))
        .get("schema", {})
    )
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


def test_every_spec_operation_is_emulated_or_listed(spec, sr):
    not_emulated = {
        "/rpc/export/{RESOURCE_ID}",
        "/rpc/import",
        "/rpc/sampledata/{SCHEMA_ID}",
        "/rpc/auditlog/{RESOURCE_ID}",
    }
    for path, operations in spec["paths"].items():
        if path in not_emulated:
            continue
        concrete = path.replace("{CONTAINER_ID}", "tenant")
        concrete = re.sub(r"\{[A-Z_]+\}", "_none.schemas.0", concrete)
        for method in operations:
            if method == "parameters":
                continue
            kwargs = {"json": {}} if method in ("post", "put", "patch") else {}
            response = sr.request(method.upper(), concrete, headers={"Accept": XED}, **kwargs)
            assert response.status_code != 405, (method, path, response.text)
            assert "No endpoint" not in response.text, (method, path)


def test_responses_match_the_spec(spec, sr, tenant):
    check(spec, response_definition(spec, "get", "/stats", "200"), sr.get("/stats").json())
    group = created(sr.post("/tenant/fieldgroups", json=field_group_body(tenant)))
    check(spec, response_definition(spec, "post", "/tenant/fieldgroups", "201"), group)
    schema = created(sr.post("/tenant/schemas", json=schema_body("Spec", PROFILE, IDENTITY_MAP, group["$id"])))
    check(spec, response_definition(spec, "post", "/tenant/schemas", "201"), schema)
    path = f"/tenant/schemas/{encoded(schema['$id'])}"
    check(spec, response_definition(spec, "get", "/{CONTAINER_ID}/schemas/{SCHEMA_ID}", "200"), get(sr, path).json())
    patched = sr.patch_json(path, UNION).json()
    check(spec, response_definition(spec, "patch", "/tenant/schemas/{SCHEMA_ID}", "200"), patched)
    check(
        spec,
        response_definition(spec, "put", "/tenant/schemas/{SCHEMA_ID}", "200"),
        sr.put(path, json=get(sr, path).json()).json(),
    )
    listing = get(sr, "/tenant/schemas", XED_ID, params={"orderby": "title", "limit": 1}).json()
    check(spec, response_definition(spec, "get", "/{CONTAINER_ID}/schemas", "200"), listing)
    groups = get(sr, "/global/fieldgroups", "application/vnd.adobe.xed+json").json()
    check(spec, response_definition(spec, "get", "/{CONTAINER_ID}/fieldgroups", "200"), groups)
    check(
        spec,
        response_definition(spec, "get", "/{CONTAINER_ID}/fieldgroups/{FIELD_GROUP_ID}", "200"),
        get(sr, f"/global/fieldgroups/{encoded(PERSON_DETAILS)}").json(),
    )
    check(
        spec,
        response_definition(spec, "patch", "/tenant/fieldgroups/{FIELD_GROUP_ID}", "200"),
        sr.patch_json(
            f"/tenant/fieldgroups/{encoded(group['$id'])}", [{"op": "replace", "path": "/description", "value": "d"}]
        ).json(),
    )
    check(spec, "listClassesResponse", get(sr, "/global/classes", "application/vnd.adobe.xed+json").json())
    check(spec, "lookupClassResponse", get(sr, f"/global/classes/{encoded(PROFILE)}").json())
    check(spec, "singleBehaviorResponse", get(sr, f"/global/behaviors/{encoded(RECORD)}").json())
    check(spec, "lookupDataTypeResponse", get(sr, "/global/datatypes/_xdm.context.person").json())
    descriptor = created(
        sr.post("/tenant/descriptors", json=identity(schema["$id"], "/_id", False, **{"xdm:namespace": "ECID"}))
    )
    check(spec, response_definition(spec, "post", "/tenant/descriptors", "201"), descriptor)
    check(spec, "identityDescriptorResponse", sr.get(f"/tenant/descriptors/{descriptor['@id']}").json())
    check(
        spec,
        response_definition(spec, "get", "/{CONTAINER_ID}/descriptors", "200"),
        get(sr, "/tenant/descriptors", "application/vnd.adobe.xdm+json").json(),
    )
    check(spec, "listUnionsResponse", get(sr, "/tenant/unions", "application/vnd.adobe.xed+json").json())
    check(spec, "lookupUnionResponse", get(sr, f"/tenant/unions/{encoded(PROFILE + '__union')}").json())
    for error_response, name in (
        (get(sr, "/tenant/schemas", XED), "acceptErrorList"),
        (get(sr, path, "application/vnd.adobe.xed+json"), "acceptErrorLookup"),
        (get(sr, "/tenant/descriptors", XED), "acceptErrorDescriptorList"),
        (get(sr, f"/tenant/descriptors/{descriptor['@id']}", XED), "acceptErrorDescriptorLookup"),
        (get(sr, f"{path}00"), "notFoundError"),
        (sr.post("/tenant/schemas", json={}), "errorBasic"),
    ):
        check(spec, name, error_response.json())
        check(spec, "errorBasic", error_response.json())


def test_the_spec_request_requirements_are_enforced(spec, sr, tenant):
    """Every member the spec's create bodies require is required by the emulator too."""
    bodies = {
        "createSchema": ("/tenant/schemas", schema_body("Req")),
        "createFieldGroup": ("/tenant/fieldgroups", field_group_body(tenant, "Req FG")),
        "createClass": (
            "/tenant/classes",
            {"type": "object", "title": "Req class", "description": "d", "allOf": [{"$ref": RECORD}]},
        ),
        "createDataType": (
            "/tenant/datatypes",
            {"type": "object", "title": "Req DT", "properties": {"a": {"type": "string"}}},
        ),
    }
    for name, (path, body) in bodies.items():
        for member in spec["definitions"][name]["required"]:
            partial = {k: v for k, v in body.items() if k != member}
            response = sr.post(path, json=partial)
            assert xdm_error_code(response) == "XDM-4000-400", (name, member, response.text)
            assert member in response.json()["report"]["sub-errors"][0]["arguments"]
        assert sr.post(path, json=body).status_code == 201, (name, sr.post(path, json=body).text)

"""The Schema Registry as clients other than the provider use it: the ``Accept`` values Adobe's Python client
aepp 0.6 sends by default (aepp/schema.py), the ``xdm`` and ``xed`` spellings of every format, JSON Patch, and
the JSON Schema that records landing in a dataset must satisfy."""

from __future__ import annotations

from typing import Any

import pytest
from aep_emulator import schema_registry
from aep_emulator.testing import ORG, PROFILE, SR, XED, XED_FULL, encoded, xdm_error_code
from jsonschema import Draft7Validator
from target_helpers import contact_mappings, finished_run, make_dataset, make_flow, make_mapping_set, make_schema

IDENTITY_MAP = "https://ns.adobe.com/xdm/context/identitymap"
RECORD = "https://ns.adobe.com/xdm/data/record"
#: What aepp 0.6 sends by default (method: Accept), lists first.
AEPP_LIST_DEFAULTS = {
    "getSchemas": "application/vnd.adobe.xed-id+json",
    "getSchemasGlobal": "application/vnd.adobe.xed-id+json",
    "getClasses": "application/vnd.adobe.xdm-id+json",
    "getFieldGroups": "application/vnd.adobe.xdm+json",
    "getDataTypes": "application/vnd.adobe.xdm-id+json",
    "getUnions": "application/vnd.adobe.xed+json",
    "getBehaviors": "application/vnd.adobe.xed+json",
}
AEPP_XDM_FULL = "application/vnd.adobe.xdm-full+json; version=1"


@pytest.fixture
def sr(fs):
    return fs.service(SR)


@pytest.fixture
def tenant(sr) -> str:
    return sr.get("/stats").json()["tenantId"]


def get(sr, path: str, accept: str, **kwargs: Any):
    return sr.get(path, headers={"Accept": accept}, **kwargs)


def profile_schema(sr, tenant: str, fields: dict[str, Any], *, title: str = "Contacts") -> dict[str, Any]:
    """A Profile schema with identityMap and a field group of ``fields`` under ``_{tenant}``."""
    group = sr.post(
        "/tenant/fieldgroups",
        json={
            "type": "object",
            "title": f"{title} fields",
            "description": "custom fields",
            "meta:intendedToExtend": [PROFILE],
            "definitions": {
                "custom": {"properties": {f"_{tenant}": {"type": "object", "properties": fields}}},
            },
            "allOf": [{"$ref": "#/definitions/custom"}],
        },
    )
    assert group.status_code == 201, group.text
    body = {
        "type": "object",
        "title": title,
        "description": "for the tests",
        "allOf": [{"$ref": PROFILE}, {"$ref": IDENTITY_MAP}, {"$ref": group.json()["$id"]}],
    }
    schema = sr.post("/tenant/schemas", json=body)
    assert schema.status_code == 201, schema.text
    return schema.json()


# -- aepp's defaults ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "accept"), sorted(AEPP_LIST_DEFAULTS.items()))
def test_aepp_default_list_accept_values_are_served(sr, tenant, method, accept):
    schema = profile_schema(sr, tenant, {"vid": {"type": "integer"}})
    paths = {
        "getSchemas": "/tenant/schemas/",
        "getSchemasGlobal": "/global/schemas/",
        "getClasses": "/tenant/classes/",
        "getFieldGroups": "/tenant/fieldgroups/",
        "getDataTypes": "/tenant/datatypes/",
        "getUnions": "/tenant/unions",
        "getBehaviors": "/global/behaviors",
    }
    params = {"limit": 300} if method in ("getClasses", "getSchemasGlobal") else {}
    if method in ("getSchemas", "getClasses"):
        params["property"] = "meta:extends!=https://ns.adobe.com/xdm/data/adhoc"
    response = get(sr, paths[method], accept, params=params)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    short = "-id+json" in accept
    assert all((set(item) <= {"$id", "meta:altId", "version", "title"}) == short for item in results)
    if method == "getSchemas":
        assert [item["$id"] for item in results] == [schema["$id"]]
    if method == "getFieldGroups":
        assert results[0]["meta:intendedToExtend"] == [PROFILE]


def test_aepp_default_lookups_resolve_the_resource(sr, tenant):
    schema = profile_schema(sr, tenant, {"vid": {"type": "integer"}})
    # getSchema, getClass, getUnion: xdm-full; getFieldGroup, getDataType: xed-full; getBehavior: version=1.0.
    full = get(sr, f"/tenant/schemas/{encoded(schema['$id'])}", AEPP_XDM_FULL)
    assert full.status_code == 200, full.text
    assert full.json() == get(sr, f"/tenant/schemas/{encoded(schema['$id'])}", XED_FULL).json()
    assert full.json()["properties"][f"_{tenant}"]["properties"]["vid"]["type"] == "integer"
    assert "allOf" not in full.json() and "identityMap" in full.json()["properties"]
    profile = get(sr, f"/global/classes/{encoded(PROFILE)}", AEPP_XDM_FULL)
    assert profile.status_code == 200 and "properties" in profile.json() and "allOf" not in profile.json()
    behaviour = get(sr, f"/global/behaviors/{encoded(RECORD)}", "application/vnd.adobe.xdm-full+json; version=1.0")
    assert behaviour.status_code == 200, behaviour.text
    patched = sr.patch_json(
        f"/tenant/schemas/{encoded(schema['$id'])}", [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]
    )
    assert patched.status_code == 200, patched.text
    union = get(sr, f"/tenant/unions/{encoded(PROFILE + '__union')}", AEPP_XDM_FULL)
    assert union.status_code == 200, union.text
    assert f"_{tenant}" in union.json()["properties"]


@pytest.mark.parametrize("variant", ["", "-full", "-notext", "-full-notext", "-full-desc"])
def test_xdm_and_xed_spell_the_same_lookup_formats(sr, variant):
    path = f"/global/fieldgroups/{encoded('https://ns.adobe.com/xdm/context/profile-person-details')}"
    xdm = get(sr, path, f"application/vnd.adobe.xdm{variant}+json; version=1")
    xed = get(sr, path, f"application/vnd.adobe.xed{variant}+json;version=1")
    assert xdm.status_code == xed.status_code == 200
    assert xdm.json() == xed.json()


def email_identity(schema: dict[str, Any], tenant: str) -> dict[str, Any]:
    """A primary identity descriptor on the schema's ``_{tenant}.email`` field."""
    return {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema["$id"],
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": f"/_{tenant}/email",
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }


def test_aepp_descriptor_calls(sr, tenant):
    schema = profile_schema(sr, tenant, {"email": {"type": "string"}})
    descriptor = email_identity(schema, tenant)
    created = sr.post("/tenant/descriptors/", json=descriptor)
    assert created.status_code == 201, created.text
    listed = get(sr, "/tenant/descriptors/", "application/vnd.adobe.xdm-v2+json")
    assert listed.status_code == 200 and [d["@id"] for d in listed.json()["results"]] == [created.json()["@id"]]
    one = get(sr, f"/tenant/descriptors/{created.json()['@id']}", "application/vnd.adobe.xdm+json")
    assert one.status_code == 200 and one.json()["xdm:sourceProperty"] == f"/_{tenant}/email"


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/vnd.adobe.xdm-full+json; version=2", 406),
        ("application/vnd.adobe.xdm-full+json; version=1.x", 406),
        ("application/vnd.adobe.xdm-fancy+json; version=1", 406),
        ("application/vnd.adobe.xdm-full+json", 400),
        ("application/vnd.adobe.xyz-full+json; version=1", 400),
    ],
)
def test_lookup_refusals_in_the_xdm_spelling(sr, accept, status):
    response = get(sr, f"/global/classes/{encoded(PROFILE)}", accept)
    assert response.status_code == status, response.text
    if status == 400:
        assert xdm_error_code(response) == "XDM-1007-400"


# -- JSON Patch ---------------------------------------------------------------------------------------------
def test_patch_operations_of_rfc_6902(sr, tenant):
    schema = profile_schema(sr, tenant, {"vid": {"type": "integer"}})
    path = f"/tenant/schemas/{encoded(schema['$id'])}"
    ops = [
        {"op": "test", "path": "/title", "value": "Contacts"},
        {"op": "test", "path": "/version", "value": "1.0"},  # a test reads a read-only member, writes nothing
        {"op": "replace", "path": "/title", "value": "Contacts v2"},
        {"op": "copy", "from": "/title", "path": "/description"},
        {"op": "add", "path": "/meta:immutableTags-", "value": "union"},
        {"op": "add", "path": "/meta:immutableTags/-", "value": ["union"]},
    ]
    patched = sr.patch_json(path, ops)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == body["description"] == "Contacts v2"
    assert body["meta:immutableTags"] == ["union"] and body["version"] == "1.1"


@pytest.mark.parametrize(
    ("ops", "sub_error"),
    [
        ({"op": "replace", "path": "/nothing/here", "value": 1}, ("$.path", "patch")),
        ([{"op": "remove", "path": "/allOf/9"}], ("$.path", "patch")),
        ([{"op": "test", "path": "/title", "value": "other"}], ("$[0]", "test")),
        ([{"op": "replace", "path": "/version", "value": "9.9"}], ("$[0].path", "readOnly")),
        ([{"op": "move", "from": "/meta:altId", "path": "/x"}], ("$[0].path", "readOnly")),
        ([{"op": "frobnicate", "path": "/title"}], ("$[0].op", "enum")),
        ([{"op": "add", "path": "/title"}], ("$[0]", "required")),
        ([{"op": "copy", "path": "/title"}], ("$[0]", "required")),
        ([{"path": "/title", "value": 1}], ("$[0]", "required")),
        ([{"op": "replace", "path": "", "value": {}}], ("$.path", "patch")),
        ([{"op": "replace", "path": "title", "value": "x"}], ("$.path", "pattern")),
        (["add /title"], ("$[0]", "type")),
        ([], ("$", "type")),
    ],
)
def test_patch_failures_are_xdm_4000_with_a_sub_error(sr, tenant, ops, sub_error):
    schema = profile_schema(sr, tenant, {"vid": {"type": "integer"}})
    response = sr.patch_json(f"/tenant/schemas/{encoded(schema['$id'])}", ops)
    assert xdm_error_code(response) == "XDM-4000-400", response.text
    first = response.json()["report"]["sub-errors"][0]
    assert (first["path"], first["type"]) == sub_error
    assert get(sr, f"/tenant/schemas/{encoded(schema['$id'])}", XED).json()["version"] == "1.0"


# -- records as JSON Schema ---------------------------------------------------------------------------------
def test_record_json_schema_checks_types_bounds_formats_and_extra_fields(emu, sr, tenant):
    fields = {
        "vid": {"type": "integer", "minimum": 0, "maximum": 32767},
        "count": {"type": "integer"},
        "score": {"type": "number", "minimum": 0},
        "born": {"type": "string", "format": "date"},
        "seen": {"type": "string", "format": "date-time"},
        "stage": {"type": "string", "enum": ["lead", "customer"]},
        "code": {"type": "string", "pattern": "^[A-Z]{2}$", "maxLength": 2},
        "tags": {"type": "array", "items": {"type": "string"}},
        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
        "flag": {"type": "boolean"},
    }
    schema = profile_schema(sr, tenant, fields)
    store = emu.state.store(ORG, "prod")
    json_schema = schema_registry.record_json_schema(store, schema["meta:altId"])
    Draft7Validator.check_schema(json_schema)
    assert json_schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "meta:xdmType" not in str(json_schema)
    validator = schema_registry.record_validator(store, schema["$id"])
    good = {
        f"_{tenant}": {
            "vid": 32767,
            "count": -(2**31),
            "score": 1.5,
            "born": "1990-04-01",
            "seen": "2024-01-01T10:00:00.123Z",
            "stage": "lead",
            "code": "FR",
            "tags": ["a"],
            "attributes": {"any": "value"},
            "flag": False,
        },
        "identityMap": {"Email": [{"id": "ada@example.com", "primary": True}]},
    }
    assert list(validator.iter_errors(good)) == []
    bad_values = {
        "vid": 32768,  # above the field's maximum (a short)
        "count": 2**31,  # an int's bound
        "score": "high",
        "born": "01/04/1990",
        "seen": "yesterday",
        "stage": "prospect",
        "code": "fr",
        "tags": [1],
        "attributes": {"any": 1},
        "flag": "no",
    }
    for name, value in bad_values.items():
        record = {f"_{tenant}": {**good[f"_{tenant}"], name: value}}
        assert list(validator.iter_errors(record)), name
    assert list(validator.iter_errors({f"_{tenant}": {"unknown": 1}}))
    assert list(validator.iter_errors({"notInTheSchema": 1}))
    with pytest.raises(schema_registry.ApiError) as caught:
        schema_registry.record_json_schema(store, "https://ns.adobe.com/x/schemas/nope")
    assert caught.value.status == 404


def test_record_json_schema_requires_required_fields_and_the_primary_identity(emu, sr, tenant):
    fields = {"email": {"type": "string"}, "phone": {"type": "string"}}
    schema = profile_schema(sr, tenant, fields)
    descriptor = email_identity(schema, tenant)
    assert sr.post("/tenant/descriptors", json=descriptor).status_code == 201
    store = emu.state.store(ORG, "prod")
    validator = schema_registry.record_validator(store, schema["$id"])
    missing = list(validator.iter_errors({f"_{tenant}": {"phone": "1"}}))
    assert [(e.validator, list(e.absolute_path)) for e in missing] == [("required", [f"_{tenant}"])]
    assert list(validator.iter_errors({})) and not list(validator.iter_errors({f"_{tenant}": {"email": "a@b.c"}}))
    lenient = schema_registry.record_validator(store, schema["$id"], primary_identity=False)
    assert list(lenient.iter_errors({})) == []


def test_every_landed_record_satisfies_the_json_schema(emu, fs):
    schema_id = make_schema(fs, identity="email")
    dataset = make_dataset(fs, schema_id)
    tenant_id = fs.service(SR).get("/stats").json()["tenantId"]
    mapping = make_mapping_set(fs, schema_id, contact_mappings(tenant_id))
    run = finished_run(emu, fs, make_flow(fs, dataset, schema_id, mapping))
    assert run["state"] == "success"
    landed = emu.control.landed_records(dataset)
    validator = schema_registry.record_validator(emu.state.store(ORG, "prod"), schema_id)
    assert len(landed) == 10
    assert [list(validator.iter_errors(record)) for record in landed] == [[]] * 10

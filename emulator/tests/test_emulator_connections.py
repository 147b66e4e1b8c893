"""Base connections and connection specs."""

from __future__ import annotations

import re

import pytest
from aep_emulator.testing import DATA_LAKE, HUBSPOT, HUBSPOT_AUTH, S3, flow_error_code

ETAG = re.compile(r'^"[0-9a-f]{8}-0000-0200-0000-[0-9a-f]{12}"$')


def body(**overrides):
    return {"name": "conn", "auth": HUBSPOT_AUTH, "connectionSpec": {"id": HUBSPOT, "version": "1.0"}, **overrides}


def test_create_returns_id_etag_and_location(emu, fs):
    response = fs.post("/connections", json=body(description="desc"))
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "etag"}
    assert ETAG.match(created["etag"])
    assert response.headers["Location"].endswith(f"/data/foundation/flowservice/connections/{created['id']}")
    assert response.headers["Location"].startswith(emu.url)


def test_get_by_id_has_envelope_metadata_and_masked_secrets(fs):
    conn_id = fs.connection(description="desc")
    response = fs.get(f"/connections/{conn_id}")
    assert response.status_code == 200
    assert list(response.json()) == ["items"]
    item = response.json()["items"][0]
    for key in (
        "id", "name", "description", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdClient",
        "updatedClient", "sandboxId", "sandboxName", "imsOrgId", "state", "version", "etag",
    ):  # fmt: skip
        assert key in item, key
    assert item["state"] == "enabled"
    assert item["version"] == item["etag"]
    assert item["createdAt"] == item["updatedAt"] and item["createdAt"] > 1_600_000_000_000
    assert item["createdClient"] == "test-client"
    assert item["connectionSpec"] == {"id": HUBSPOT, "version": "1.0"}
    params = item["auth"]["params"]
    assert params["clientId"] == "hs-client"
    for secret in ("clientSecret", "accessToken", "refreshToken"):
        assert params[secret] != HUBSPOT_AUTH["params"][secret]
    assert "VALUE" not in response.text


def test_missing_connection(fs):
    response = fs.get("/connections/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert flow_error_code(response) == "1439-404"


def test_spec_version_defaults_to_latest(fs):
    conn_id = fs.created("/connections", body(connectionSpec={"id": HUBSPOT}))["id"]
    assert fs.item(f"/connections/{conn_id}")["connectionSpec"]["version"] == "1.0"


@pytest.mark.parametrize(
    ("payload", "code", "needle"),
    [
        (body(state="enabled"), "1410-400", "State"),
        (body(connectionSpec={"id": "not-a-spec"}), "1413-400", "spec ID"),
        (body(auth={**HUBSPOT_AUTH, "specName": "OAuth 2"}), "1415-400", "OAuth 2"),
        (body(auth={"specName": "Basic Authentication", "params": {"clientId": "x"}}), "1100-400", "clientSecret"),
        ({"name": "x", "auth": HUBSPOT_AUTH}, "1100-400", "connectionSpec"),
        (body(name=""), "1100-400", "name"),
        ({k: v for k, v in body().items() if k != "auth"}, "1100-400", "auth"),
        (
            body(auth={**HUBSPOT_AUTH, "params": {**HUBSPOT_AUTH["params"], "accessToken": 5}}),
            "1100-400",
            "auth.params.accessToken",
        ),
    ],
)
def test_create_validation(fs, payload, code, needle):
    response = fs.post("/connections", json=payload)
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == code
    assert needle in response.json()["report"]["detailed-message"]


def test_empty_and_invalid_bodies(fs):
    empty = fs.request("POST", "/connections", data=b"", headers={"Content-Type": "application/json"})
    assert flow_error_code(empty) == "1405-400"
    broken = fs.request("POST", "/connections", data=b"{nope", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    not_object = fs.post("/connections", json=["x"])
    assert not_object.status_code == 400


def test_data_lake_connection_needs_no_auth(fs):
    assert fs.post("/connections", json={"name": "dl", "connectionSpec": {"id": DATA_LAKE}}).status_code == 201


def test_patch_requires_if_match_and_current_etag(fs):
    created = fs.created("/connections", body())
    path = f"/connections/{created['id']}"
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert flow_error_code(fs.patch(path, ops, None)) == "1403-400"
    stale = fs.patch(path, ops, '"00000000-0000-0200-0000-000000000000"')
    assert stale.status_code == 412
    assert flow_error_code(stale) == "1404-412"
    ok = fs.patch(path, ops, created["etag"])
    assert ok.status_code == 200
    assert ok.json()["id"] == created["id"] and ok.json()["etag"] != created["etag"]
    assert fs.patch(path, ops, created["etag"]).status_code == 412
    item = fs.item(path)
    assert item["name"] == "renamed"
    assert item["etag"] == item["version"] == ok.json()["etag"]
    assert item["updatedAt"] >= item["createdAt"]


def test_patch_accepts_unquoted_etag(fs):
    created = fs.created("/connections", body())
    ops = [{"op": "add", "path": "/description", "value": "d"}]
    assert fs.patch(f"/connections/{created['id']}", ops, created["etag"].strip('"')).status_code == 200


def test_patch_operations(fs):
    created = fs.created("/connections", body(description="old"))
    path = f"/connections/{created['id']}"
    new_params = {**HUBSPOT_AUTH["params"], "accessToken": "rotated"}
    ops = [
        {"op": "REPLACE", "path": "/auth/params", "value": new_params},
        {"op": "Replace", "path": "/auth/params/clientId", "value": "new-client"},
        {"op": "remove", "path": "/description"},
        {"op": "add", "path": "/name", "value": "n2"},
    ]
    assert fs.patch(path, ops, created["etag"]).status_code == 200
    item = fs.item(path)
    assert item["name"] == "n2" and "description" not in item
    assert item["auth"]["params"]["clientId"] == "new-client"
    assert "rotated" not in str(item)


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "move", "path": "/name", "value": "x"}], "1434-400"),
        ([{"op": "replace", "path": "/nothing/here", "value": "x"}], "1455-400"),
        ([{"op": "remove", "path": "/description"}], "1455-400"),
        ([{"op": "replace", "path": "/connectionSpec/id", "value": "x"}], "1414-400"),
        ([{"op": "replace", "path": "/id", "value": "x"}], "1100-400"),
        ([{"op": "replace", "path": "/auth/params", "value": {"clientId": "only"}}], "1100-400"),
        ([{"op": "replace", "path": "/name"}], "1100-400"),
        ([], "1100-400"),
    ],
)
def test_patch_errors(fs, ops, code):
    created = fs.created("/connections", body())
    response = fs.patch(f"/connections/{created['id']}", ops, created["etag"])
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == code


def test_patch_single_instruction_object(fs):
    created = fs.created("/connections", body())
    op = {"op": "replace", "path": "/name", "value": "single"}
    assert fs.patch(f"/connections/{created['id']}", op, created["etag"]).status_code == 200


def test_delete(fs):
    conn_id = fs.connection()
    response = fs.delete(f"/connections/{conn_id}")
    assert response.status_code == 204 and response.content == b""
    assert fs.get(f"/connections/{conn_id}").status_code == 404
    assert fs.delete(f"/connections/{conn_id}").status_code == 404


def test_delete_refused_while_a_flow_uses_it(fs):
    ids = fs.pipeline()
    response = fs.delete(f"/connections/{ids['base']}")
    assert response.status_code == 400
    assert flow_error_code(response) == "1418-400"
    assert fs.delete(f"/flows/{ids['flow']}").status_code == 204
    assert fs.delete(f"/connections/{ids['base']}").status_code == 204


def test_test_connection(fs):
    conn_id = fs.connection()
    assert fs.get(f"/connections/{conn_id}/test").json() == {"result": True}
    assert fs.get("/connections/missing/test").status_code == 404


def test_unknown_query_parameter(fs):
    conn_id = fs.connection()
    assert flow_error_code(fs.get(f"/connections/{conn_id}", params={"foo": "1"})) == "1451-400"


def test_connection_specs(fs):
    listing = fs.get("/connectionSpecs").json()
    ids = {item["id"] for item in listing["items"]}
    assert {HUBSPOT, DATA_LAKE, S3} <= ids
    assert not any(key.startswith("_") for item in listing["items"] for key in item)
    hubspot = fs.item(f"/connectionSpecs/{HUBSPOT}")
    assert hubspot["name"] == "hubspot"
    assert hubspot["attributes"]["category"] == "Marketing Automation"
    assert hubspot["attributes"]["isSource"] is True
    auth = hubspot["authSpec"][0]
    assert auth["name"] == "Basic Authentication"
    assert auth["spec"]["required"] == ["clientId", "clientSecret", "accessToken", "refreshToken"]
    assert auth["spec"]["properties"]["clientSecret"]["format"] == "password"
    assert "sourceSpec" in hubspot and "exploreSpec" in hubspot
    data_lake = fs.item(f"/connectionSpecs/{DATA_LAKE}")
    assert data_lake["name"] == "Data Lake" and "targetSpec" in data_lake
    by_name = fs.get("/connectionSpecs", params={"property": 'name=="hubspot"'}).json()["items"]
    assert [spec["id"] for spec in by_name] == [HUBSPOT]
    missing = fs.get("/connectionSpecs/nope")
    assert (missing.status_code, flow_error_code(missing)) == (404, "1101-404")

"""Source and target connections."""

from __future__ import annotations

import pytest
from aep_emulator.testing import DATA_LAKE, HUBSPOT, S3, flow_error_code


def source_body(base_id, **overrides):
    doc = {
        "name": "src",
        "baseConnectionId": base_id,
        "data": {"format": "tabular"},
        "params": {"path": "Hubspot.Contacts"},
        "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
    }
    doc.update(overrides)
    return doc


def target_body(fs, **overrides):
    doc = fs.target_body("tgt")
    doc.update(overrides)
    return doc


def test_source_connection_lifecycle(fs):
    base = fs.connection()
    created = fs.created("/sourceConnections", source_body(base, description="d"))
    item = fs.item(f"/sourceConnections/{created['id']}")
    assert item["baseConnectionId"] == base
    assert item["params"] == {"path": "Hubspot.Contacts"}
    assert item["data"] == {"format": "tabular"}
    assert item["state"] == "enabled"
    assert item["etag"] == created["etag"]
    assert item["inheritedAttributes"]["baseConnection"] == {
        "id": base,
        "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
    }
    listing = fs.get("/sourceConnections", params={"property": f"baseConnectionId=={base}"}).json()
    assert [s["id"] for s in listing["items"]] == [created["id"]]
    ops = [{"op": "replace", "path": "/params/path", "value": "Hubspot.Deals"}]
    patched = fs.patch(f"/sourceConnections/{created['id']}", ops, created["etag"])
    assert patched.status_code == 200
    assert fs.item(f"/sourceConnections/{created['id']}")["params"]["path"] == "Hubspot.Deals"
    bad = [{"op": "replace", "path": "/params/path", "value": "Hubspot.Nope"}]
    assert fs.patch(f"/sourceConnections/{created['id']}", bad, patched.json()["etag"]).status_code == 400
    assert fs.delete(f"/sourceConnections/{created['id']}").status_code == 204
    assert fs.get(f"/sourceConnections/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "code", "needle"),
    [
        ({"state": "enabled"}, "1410-400", "State"),
        ({"name": None}, "1100-400", "name"),
        ({"data": {}}, "1100-400", "data.format"),
        ({"data": {"format": "delimited"}}, "1100-400", "data.format"),
        ({"connectionSpec": {"id": "nope"}}, "1413-400", "spec"),
        ({"connectionSpec": {"id": DATA_LAKE}}, "1100-400", "source"),
        ({"baseConnectionId": "missing"}, "1100-400", "missing"),
        ({"params": {"path": "Hubspot.Nope"}}, "1100-400", "Hubspot.Nope"),
        ({"params": {}}, "1100-400", "params.path"),
    ],
)
def test_source_validation(fs, overrides, code, needle):
    body = source_body(fs.connection(), **overrides)
    if overrides.get("name", "") is None:
        del body["name"]
    response = fs.post("/sourceConnections", json=body)
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == code
    assert needle in response.json()["report"]["detailed-message"]


def test_source_needs_base_connection(fs):
    body = source_body("x")
    del body["baseConnectionId"]
    response = fs.post("/sourceConnections", json=body)
    assert "baseConnectionId" in response.json()["report"]["detailed-message"]


def test_source_spec_must_match_base_connection(fs):
    s3 = fs.created(
        "/connections",
        {
            "name": "s3",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "a", "s3SecretKey": "b"}},
            "connectionSpec": {"id": S3},
        },
    )["id"]
    response = fs.post("/sourceConnections", json=source_body(s3))
    assert response.status_code == 400
    assert "does not match" in response.json()["report"]["detailed-message"]


def test_target_connection_lifecycle(fs):
    dataset_id, schema_id = fs.dataset()
    created = fs.created("/targetConnections", target_body(fs))
    item = fs.item(f"/targetConnections/{created['id']}")
    assert item["params"] == {"dataSetId": dataset_id}
    assert item["data"]["schema"]["id"] == schema_id
    assert item["connectionSpec"] == {"id": DATA_LAKE, "version": "1.0"}
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert fs.patch(f"/targetConnections/{created['id']}", ops, created["etag"]).status_code == 200
    assert fs.item(f"/targetConnections/{created['id']}")["name"] == "renamed"
    assert fs.get("/targetConnections").json()["items"][0]["id"] == created["id"]
    assert fs.delete(f"/targetConnections/{created['id']}").status_code == 204


@pytest.mark.parametrize(
    ("overrides", "code", "needle"),
    [
        ({"params": {}}, "1100-400", "params.dataSetId"),
        ({"params": {"dataSetId": "@/dataSets/5ed5639d798a22191b6987b2"}}, "1100-400", "params.dataSetId"),
        ({"data": {"schema": {"id": "meta:altId"}}}, "1100-400", "data.schema.id"),
        ({"data": {}}, "1100-400", "data.schema"),
        ({"connectionSpec": {"id": HUBSPOT}}, "1100-400", "target"),
        ({"connectionSpec": {"id": "nope"}}, "1413-400", "spec"),
        ({"state": "enabled"}, "1410-400", "State"),
    ],
)
def test_target_validation(fs, overrides, code, needle):
    response = fs.post("/targetConnections", json=target_body(fs, **overrides))
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == code
    assert needle in response.json()["report"]["detailed-message"]


def test_connections_in_use_cannot_be_deleted(fs):
    ids = fs.pipeline()
    for path in (f"/sourceConnections/{ids['source']}", f"/targetConnections/{ids['target']}"):
        response = fs.delete(path)
        assert response.status_code == 400
        assert flow_error_code(response) == "1447-400"
    assert fs.delete(f"/flows/{ids['flow']}").status_code == 204
    assert fs.delete(f"/sourceConnections/{ids['source']}").status_code == 204
    assert fs.delete(f"/targetConnections/{ids['target']}").status_code == 204
    assert fs.delete(f"/connections/{ids['base']}").status_code == 204

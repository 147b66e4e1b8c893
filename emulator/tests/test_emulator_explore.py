"""GET /connections/{id}/explore for HubSpot."""

from __future__ import annotations

import pytest
from aep_emulator.testing import HUBSPOT, S3, flow_error_code


@pytest.fixture
def conn_id(fs):
    return fs.connection()


@pytest.mark.parametrize("object_type", ["root", "ROOT", "Root"])
def test_root_is_a_bare_array_of_tables(fs, conn_id, object_type):
    response = fs.get(f"/connections/{conn_id}/explore", params={"objectType": object_type})
    assert response.status_code == 200
    tables = response.json()
    assert isinstance(tables, list)
    names = [t["name"] for t in tables]
    for expected in ("All_Deals", "Blog_Authors", "Blog_Comments", "Companies", "Contacts", "Deals", "Tickets"):
        assert f"Hubspot.{expected}" in names
    assert len(names) >= 13
    assert all(
        t == {"type": "table", "name": t["name"], "path": t["name"], "canPreview": True, "canFetchSchema": True}
        for t in tables
    )


def test_table_schema(fs, conn_id):
    response = fs.get(f"/connections/{conn_id}/explore", params={"objectType": "table", "object": "Hubspot.Contacts"})
    assert response.status_code == 200
    doc = response.json()
    assert doc["format"] == "flat" and "data" not in doc
    columns = {c["name"]: c for c in doc["schema"]["columns"]}
    assert {"Vid", "Properties_Firstname_Value", "Properties_Lastname_Value", "Added_At", "Portal_Id"} <= set(columns)
    updated = columns["Updated_At"]
    assert updated["meta:xdmType"] == "date-time"
    assert updated["xdm"] == {"type": "string", "format": "date-time"}
    assert all({"name", "type", "xdm"} <= set(c) for c in columns.values())


def test_every_table_has_a_delta_column(fs, conn_id):
    for table in fs.get(f"/connections/{conn_id}/explore", params={"objectType": "root"}).json():
        doc = fs.get(f"/connections/{conn_id}/explore", params={"objectType": "table", "object": table["path"]}).json()
        assert any(c.get("meta:xdmType") == "date-time" and c["name"] == "Updated_At" for c in doc["schema"]["columns"])


def test_preview_rows_are_deterministic(fs, conn_id):
    params = {"objectType": "table", "object": "Hubspot.Deals", "preview": "true"}
    first = fs.get(f"/connections/{conn_id}/explore", params=params).json()
    second = fs.get(f"/connections/{conn_id}/explore", params=params).json()
    assert first == second
    rows = first["data"]
    assert 3 <= len(rows) <= 10
    columns = [c["name"] for c in first["schema"]["columns"]]
    assert all(list(row) == columns for row in rows)
    other = fs.get(f"/connections/{conn_id}/explore", params={**params, "object": "Hubspot.Companies"}).json()
    assert other["data"] != rows
    assert all(row["Created_At"] <= row["Updated_At"] for row in rows)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"objectType": "table", "object": "Hubspot.Nope"}, 404, "1101-404"),
        ({"objectType": "table", "object": "Contacts"}, 404, "1101-404"),
        ({"objectType": "table"}, 400, "1100-400"),
        ({}, 400, "1100-400"),
        ({"objectType": "galaxy"}, 400, "1452-400"),
        ({"objectType": "folder"}, 400, "1100-400"),
        ({"objectType": "root", "bogus": "1"}, 400, "1451-400"),
        ({"objectType": "table", "object": "Hubspot.Deals", "preview": "maybe"}, 400, "1452-400"),
    ],
)
def test_explore_errors(fs, conn_id, params, status, code):
    response = fs.get(f"/connections/{conn_id}/explore", params=params)
    assert response.status_code == status, response.text
    assert flow_error_code(response) == code


def test_unknown_table_is_named(fs, conn_id):
    response = fs.get(f"/connections/{conn_id}/explore", params={"objectType": "table", "object": "Hubspot.Nope"})
    assert "Hubspot.Nope" in response.json()["report"]["detailed-message"]


def test_only_hubspot_connections_explore(fs):
    s3 = fs.created(
        "/connections",
        {
            "name": "s3",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "a", "s3SecretKey": "b"}},
            "connectionSpec": {"id": S3},
        },
    )["id"]
    assert fs.get(f"/connections/{s3}/explore", params={"objectType": "root"}).status_code == 400
    assert fs.get("/connections/missing/explore", params={"objectType": "root"}).status_code == 404
    assert HUBSPOT

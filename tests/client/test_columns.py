"""Declared columns to XDM field-group fields, and columns inferred from a sample of a CSV, JSON lines or
Parquet file (``airflow_provider_aep.client.columns`` and ``.samples``): pure, no HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airflow_provider_aep.client import columns, samples
from airflow_provider_aep.client.xdm import XDM_TYPES, XDMError

DECLARED = {"email": "string", "address.city": "string", "signup": "date-time", "age": "integer"}
BASE = ("_acme", "files", "signups")


# --------------------------------------------------------------------------- declared columns
def test_declared_columns_become_nested_typed_fields():
    fields = columns.declared_fields({**DECLARED, "Address.Zip Code": "string", "score": "Number"})
    assert fields["address.city"] == (("address", "city"), "string")
    assert fields["Address.Zip Code"] == (("address", "zipCode"), "string")  # XDM-safe, per part
    assert fields["age"] == (("age",), "int") and fields["score"] == (("score",), "number")
    body = columns.field_group_body(BASE, fields, title="Signups fields", class_id="https://ns.adobe.com/x")
    tree = body["definitions"]["fields"]["properties"]["_acme"]["properties"]["files"]["properties"]["signups"]
    leaves = tree["properties"]
    assert leaves["email"] == {"title": "email", "description": "Column email", **XDM_TYPES["string"]}
    assert leaves["signup"]["format"] == "date-time"
    assert leaves["age"] == {"title": "age", "description": "Column age", **XDM_TYPES["int"]}
    address = leaves["address"]
    assert address["type"] == "object" and set(address["properties"]) == {"city", "zipCode"}
    assert body["allOf"] == [{"$ref": "#/definitions/fields"}]
    assert body["meta:intendedToExtend"] == ["https://ns.adobe.com/x"]
    assert columns.field_paths(BASE, fields)["address.city"] == "_acme.files.signups.address.city"


@pytest.mark.parametrize(
    ("declared", "field", "message"),
    [
        ({"age": "integr"}, "columns.age", "unknown type 'integr'"),
        ({"age": 5}, "columns.age", "unknown type 5"),
        ({"address": "string", "address.city": "string"}, "columns.address", "is a field and also an object"),
        ({"address.city": "string", "address": "string"}, "columns.address", "is a field and also an object"),
        ({"first_name": "string", "firstName": "string"}, "columns.firstName", "becomes the field 'firstName'"),
        ({"a..b": "string"}, "columns.a..b", "empty part"),
        ({"a.$$": "string"}, "columns.a.$$", "no letters or digits"),
        ({}, "columns", "non-empty dict"),
        ("email", "columns", "non-empty dict"),
    ],
)
def test_bad_declared_columns_name_the_argument(declared, field, message):
    with pytest.raises(XDMError) as err:
        columns.declared_fields(declared)
    assert err.value.field == field and message in str(err.value)


def test_differences_add_missing_fields_and_branches_and_report_conflicts():
    existing = columns.field_group_body(
        BASE, columns.declared_fields({"email": "string", "age": "integer"}), title="t", class_id="c"
    )
    same, none = columns.field_group_differences(existing, BASE, columns.declared_fields({"email": "string"}))
    assert (same, none) == ([], [])
    ops, conflicts = columns.field_group_differences(
        existing, BASE, columns.declared_fields({"email": "string", "address.city": "string", "age": "integer"})
    )
    assert conflicts == []
    assert ops == [
        {
            "op": "add",
            "path": "/definitions/fields/properties/_acme/properties/files/properties/signups/properties/address",
            "value": {
                "type": "object",
                "properties": {
                    "city": {"title": "address.city", "description": "Column address.city", "type": "string"}
                },
            },
        }
    ]
    _, conflicts = columns.field_group_differences(
        existing, BASE, columns.declared_fields({"email": "boolean", "age.years": "integer"})
    )
    assert conflicts == [
        "_acme.files.signups.email is string, asked for boolean",
        "_acme.files.signups.age is integer, asked for an object",
    ]
    other = columns.declared_fields({"x": "string"})
    ops, _ = columns.field_group_differences(existing, ("_acme", "files", "other"), other)
    assert [op["path"] for op in ops] == ["/definitions/fields/properties/_acme/properties/files/properties/other"]


# --------------------------------------------------------------------------- inference from values
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("42", "integer"),
        ("-7", "integer"),
        ("12345678901", "long"),
        ("3.5", "number"),
        ("1e3", "number"),
        ("TRUE", "boolean"),
        ("2024-05-01", "date"),
        ("2024-05-01T10:00:00Z", "date-time"),
        ("2024-05-01 10:00:00.123+02:00", "date-time"),
        ("2024-13-01", "string"),
        ("hello", "string"),
        ("  ", None),
    ],
)
def test_value_types(text, kind):
    assert samples.value_type(text) == kind


def test_merged_types():
    assert samples.merged_type(["integer", "number"]) == "number"
    assert samples.merged_type(["integer", "long"]) == "long"
    assert samples.merged_type(["integer", "string"]) == "string"
    assert samples.merged_type(["date", "date-time"]) == "string"
    assert samples.merged_type([]) == "string"


def test_csv_header_and_first_rows(tmp_path: Path):
    path = tmp_path / "signups.csv"
    lines = ["email,address.city,signup,age,vip,score,note", "a@x.io,Paris,2024-05-01T10:00:00Z,31,true,1,"]
    lines += ["b@x.io,,2024-05-02T11:00:00+02:00,,false,2.5,"]
    path.write_text("\n".join(lines) + "\n")
    assert samples.infer_columns(str(path)) == {
        "email": "string",
        "address.city": "string",
        "signup": "date-time",
        "age": "integer",
        "vip": "boolean",
        "score": "number",
        "note": "string",  # no value in the sample
    }


def test_only_the_sample_is_read(tmp_path: Path):
    """Rows after ``sample_rows`` are never parsed: a broken line there does not matter."""
    path = tmp_path / "events.jsonl"
    with path.open("w") as out:
        for n in range(3):
            out.write(json.dumps({"n": n}) + "\n")
        out.write("{not json\n")
    assert samples.infer_columns(path, sample_rows=3) == {"n": "integer"}
    with pytest.raises(XDMError, match="line 4 is not JSON"):
        samples.infer_columns(path, sample_rows=4)
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("n\n1\n2\nnot-a-number\n")
    assert samples.infer_columns(csv_path, sample_rows=2) == {"n": "integer"}
    assert samples.infer_columns(csv_path) == {"n": "string"}


def test_json_lines_keep_nested_objects(tmp_path: Path):
    path = tmp_path / "people.ndjson"
    rows = [
        {"id": 1, "name": "A", "address": {"city": "Paris", "geo": {"lat": 48.8}}, "active": True},
        {"id": 2.5, "name": None, "address": {"city": "Lyon"}, "seen": "2024-05-01T10:00:00Z", "active": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert samples.infer_columns(path) == {
        "id": "number",
        "name": "string",
        "address.city": "string",
        "address.geo.lat": "number",
        "active": "boolean",
        "seen": "date-time",
    }
    fields = columns.declared_fields(samples.infer_columns(path))
    assert fields["address.geo.lat"] == (("address", "geo", "lat"), "number")


def test_json_lines_mistakes(tmp_path: Path):
    clash = tmp_path / "clash.jsonl"
    clash.write_text(json.dumps({"a": {"b": 1}}) + "\n" + json.dumps({"a": 2}) + "\n")
    with pytest.raises(XDMError, match="'a' is an object in some lines and a value in others"):
        samples.infer_columns(clash)
    lists = tmp_path / "lists.jsonl"
    lists.write_text(json.dumps({"tags": ["x"], "n": 1}) + "\n")
    with pytest.raises(XDMError, match=r"\['tags'\] hold values with no XDM type") as err:
        samples.infer_columns(lists)
    assert err.value.field == "infer_from"
    assert samples.infer_columns(lists, declared={"tags"}) == {"n": "integer"}
    array = tmp_path / "array.jsonl"
    array.write_text("[1, 2]\n")
    with pytest.raises(XDMError, match="line 1 is not an object"):
        samples.infer_columns(array)


def test_parquet_schema(tmp_path: Path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "email": pa.array(["a@x.io"]),
            "age": pa.array([31], pa.int32()),
            "visits": pa.array([10], pa.int64()),
            "score": pa.array([1.5]),
            "vip": pa.array([True]),
            "signup": pa.array([1_700_000_000_000], pa.timestamp("ms", tz="UTC")),
            "born": pa.array([19000], pa.date32()),
            "address": pa.array([{"city": "Paris", "zip": 75001}]),
        }
    )
    path = tmp_path / "signups.parquet"
    pq.write_table(table, path)
    assert samples.infer_columns(path) == {
        "email": "string",
        "age": "integer",
        "visits": "long",
        "score": "number",
        "vip": "boolean",
        "signup": "date-time",
        "born": "date",
        "address.city": "string",
        "address.zip": "long",
    }
    pq.write_table(pa.table({"tags": pa.array([["x"]]), "n": pa.array([1], pa.int16())}), tmp_path / "t.pq")
    with pytest.raises(XDMError, match="tags"):
        samples.infer_columns(tmp_path / "t.pq")
    assert samples.infer_columns(tmp_path / "t.pq", declared={"tags"}) == {"n": "integer"}


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(XDMError, match=r"pip install 'airflow-provider-aep\[parquet\]'"):
        samples.infer_columns(tmp_path / "x.parquet")


def test_file_and_format_mistakes(tmp_path: Path):
    with pytest.raises(XDMError, match="is not a file that exists") as err:
        samples.infer_columns(str(tmp_path / "missing.csv"))
    assert err.value.field == "infer_from"
    with pytest.raises(XDMError, match="is not a file that exists"):
        samples.infer_columns(tmp_path / "missing.csv")
    with pytest.raises(XDMError, match="cannot tell the format") as err:
        samples.infer_columns(tmp_path / "data.txt")
    assert err.value.field == "file_format"
    with pytest.raises(XDMError, match="must be one of csv, jsonl, parquet"):
        samples.file_format_of("x.csv", "xlsx")
    assert samples.file_format_of("s3://bucket/key/data", "CSV") == "csv"
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(XDMError, match="no header row"):
        samples.infer_columns(tmp_path / "empty.csv")
    assert samples.stem_of("s3://bucket/in/signups.csv") == "signups"


def test_object_storage_path(tmp_path: Path):
    """An ``ObjectStoragePath`` (here ``file://``) opens itself; only its sample is read."""
    from airflow.sdk import ObjectStoragePath

    (tmp_path / "signups.csv").write_text("email,age\na@x.io,3\n")
    path = ObjectStoragePath(f"file://{tmp_path}/signups.csv")
    assert samples.infer_columns(path) == {"email": "string", "age": "integer"}
    assert samples.stem_of(path) == "signups"
    with pytest.raises(XDMError, match="is not a file that exists"):
        samples.infer_columns(ObjectStoragePath(f"file://{tmp_path}/nope.csv"))

"""The Data Access API (``/data/foundation/export``) over real HTTP: a batch's files (paged), their bytes with
``Range``, ``HEAD``, failed records and the diagnostics under ``meta``."""

from __future__ import annotations

import json

import pytest
from batch_helpers import Target, lines, spec_schema


@pytest.fixture
def target(emu, fs) -> Target:
    return Target(fs, emu)


def test_batch_files_are_paged_with_next_links(target):
    files = {f"part={n}/p{n}.json": lines([target.record(n)]) for n in range(1, 4)}
    batch_id = target.ingest(files)
    first = target.client.export(f"/batches/{batch_id}/files", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    spec_schema("data-access.openapi.yaml", "dataSetFiles").validate(body)
    assert body["_page"] == {"limit": 2, "count": 3} and len(body["data"]) == 2
    item = body["data"][0]
    assert item["dataSetViewId"] == target.dataset and item["isValid"] is True
    assert item["size"] == str(len(files["part=1/p1.json"])) and item["records"] == "1"
    assert isinstance(item["created"], str) and item["dataSetFileId"].endswith("-1")
    rest = target.client.export(body["_links"]["next"]["href"]).json()
    assert [d["dataSetFileId"][-2:] for d in rest["data"]] == ["-3"] and "next" not in rest["_links"]
    assert target.client.export(f"/batches/{batch_id}/files", params={"limit": 500}).json()["_page"]["limit"] == 100


def test_file_entries_bytes_ranges_and_head(target):
    data = lines([target.record(n) for n in range(1, 4)])
    batch_id = target.ingest({"dir/people.json": data})
    file_id = target.client.export(f"/batches/{batch_id}/files").json()["data"][0]["dataSetFileId"]
    listing = target.client.export(f"/files/{file_id}").json()
    spec_schema("data-access.openapi.yaml", "files").validate(listing)
    (entry,) = listing["data"]
    assert entry["name"] == "dir/people.json" and entry["length"] == str(len(data))
    whole = target.client.export(entry["_links"]["self"]["href"])
    assert whole.status_code == 200 and whole.content == data
    part = target.client.export(f"/files/{file_id}", params={"path": "dir/people.json"}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == data[:10]
    assert part.headers["Content-Range"] == f"bytes 0-9/{len(data)}" and part.headers["Content-Length"] == "10"
    export = target.client.service("/data/foundation/export")
    head = export.request("HEAD", f"/files/{file_id}", params={"path": "dir/people.json"})
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert head.headers["Accept-Ranges"] == "bytes"
    outside = target.client.export(
        f"/files/{file_id}", params={"path": "dir/people.json"}, headers={"Range": "bytes=999999-"}
    )
    assert outside.status_code == 416
    assert target.client.export(f"/files/{file_id}", params={"path": "other.json"}).status_code == 404
    assert target.client.export("/files/00000000-0000-0000-0000-000000000000-1").status_code == 404


def test_a_loading_batch_has_no_files_yet(target):
    batch_id = target.client.create(target.dataset)
    target.client.upload(batch_id, target.dataset, "p.json", lines([target.record(1)]))
    body = target.client.export(f"/batches/{batch_id}/files").json()
    assert body["data"] == [] and body["_page"]["count"] == 0


def test_failed_records_and_row_errors(target):
    data = lines([target.record(1), target.record(2, email=None), target.record("x")]) + b"{missingQuotes: 'v1'}\n"
    batch_id = target.ingest({"p.json": data}, partialIngestionPercent=90)
    assert target.client.status(batch_id) == "success" and target.landed(batch_id) == [target.record(1)]
    listing = target.client.export(f"/batches/{batch_id}/failed").json()
    spec_schema("data-access.openapi.yaml", "files").validate(listing)
    names = [d["name"] for d in listing["data"]]
    assert names[0] == "_SUCCESS" and listing["data"][0]["length"] == "0"
    assert len(names) == 2 and names[1].startswith("part-00000-") and names[1].endswith(".json")
    download = target.client.export(listing["data"][1]["_links"]["self"]["href"])
    rows = [json.loads(line) for line in download.text.splitlines()]
    assert len(rows) == 3
    assert rows[0]["_errors"][0]["code"] == "1555"
    assert rows[1]["_validationErrors"][0]["keyword"] == "type"
    assert rows[1]["_validationErrors"][0]["pointerToViolation"] == f"#/_{target.tenant}/hubspot/vid"
    assert rows[2]["_corrupt_record"] == "{missingQuotes: 'v1'}" and rows[2]["_errors"][0]["code"] == "1401"
    meta = target.client.export(f"/batches/{batch_id}/meta", params={"path": "row_errors"}).json()
    by_name = {d["name"]: d for d in meta["data"]}
    assert set(by_name) == {"parsing_errors_0.json", "conversion_errors_0.json"}
    assert "%2F" in by_name["parsing_errors_0.json"]["_links"]["self"]["href"]
    parsing = target.client.export(by_name["parsing_errors_0.json"]["_links"]["self"]["href"]).json()
    assert parsing["_errors"] == [
        {"code": "1401", "message": "Row is corrupted and cannot be read, please fix and resend."}
    ]
    assert parsing["_filename"] == "parsing_errors_0.json"


def test_input_file_metadata(target):
    batch_id = target.ingest({"F1.json": lines([target.record(1)]), "etc/F2.json": lines([target.record(2)])})
    listing = target.client.export(f"/batches/{batch_id}/meta", params={"path": "input_files"}).json()
    assert [d["name"] for d in listing["data"]] == ["fileMetaData1.json"]
    content = target.client.export(f"/batches/{batch_id}/meta", params={"path": "input_files/fileMetaData1.json"})
    assert [json.loads(line) for line in content.text.splitlines()] == [{"path": "F1.json"}, {"path": "etc/F2.json"}]
    assert target.client.export(f"/batches/{batch_id}/meta", params={"path": "nothing"}).status_code == 404

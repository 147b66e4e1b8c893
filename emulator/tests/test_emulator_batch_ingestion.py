"""The Batch Ingestion API (``/data/foundation/import``) over real HTTP: batches, uploads, processing on the
emulator clock, validation errors and partial ingestion, the batch actions and the guardrails."""

from __future__ import annotations

import io
import json
import re

import pytest
from batch_helpers import DELAY, Target, lines, spec_schema

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@pytest.fixture
def target(emu, fs) -> Target:
    return Target(fs, emu)


# -- create ---------------------------------------------------------------------------------------------
def test_create_answers_a_flat_loading_batch_that_catalog_shows_the_same(target):
    body = {
        "datasetId": target.dataset,
        "inputFormat": {"format": "JSON", "isMultiLineJson": False},
        "externalId": "client-batch-7",
        "tags": {"team": ["growth"]},
        "enableErrorDiagnostics": True,
        "partialIngestionPercentage": 5,
    }
    spec_schema("batch-ingestion.openapi.yaml", "IngestBatch").validate(body)
    response = target.client.post("/batches", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    spec_schema("batch-ingestion.openapi.yaml", "Batch", drop_enum=("status",)).validate(created)
    assert ULID.fullmatch(created["id"]) and created["status"] == "loading"
    assert created["relatedObjects"] == [{"type": "dataSet", "id": target.dataset}]
    assert created["inputFormat"] == {"format": "json", "isMultiLineJson": False}
    assert created["externalId"] == "client-batch-7"
    assert created["tags"] == {"team": ["growth"], "acp_enableErrorDiagnostics": True, "acp_partialIngestionPercent": 5}
    assert created == target.client.batch(created["id"])
    found = target.client.service("/data/foundation/catalog").get("/batches", params={"externalId": "client-batch-7"})
    assert list(found.json()) == [created["id"]]


def test_create_refuses_unknown_datasets_and_bad_fields(target):
    unknown = target.client.post("/batches", json={"datasetId": "nope", "inputFormat": {"format": "json"}})
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
    bad_format = target.client.post("/batches", json={"datasetId": target.dataset, "inputFormat": {"format": "xml"}})
    assert bad_format.status_code == 400 and "inputFormat.format" in bad_format.json()["detail"]
    bad_percent = target.client.post("/batches", json={"datasetId": target.dataset, "partialIngestionPercent": 101})
    assert bad_percent.status_code == 400 and "partialIngestionPercent" in bad_percent.json()["detail"]


# -- happy paths in every format ----------------------------------------------------------------------
def test_json_lines_land_when_the_clock_passes_the_processing_delay(target):
    records = [target.record(1), target.record(2, "b@example.com")]
    batch_id = target.client.create(target.dataset, {"format": "json"})
    assert target.client.upload(batch_id, target.dataset, "people.json", lines(records)).status_code == 200
    completed = target.client.complete(batch_id).json()
    assert completed["status"] == "staging" and completed["started"] >= completed["created"]
    assert target.client.status(batch_id) == "staging" and target.landed() == []
    target.emu.control.advance_clock(DELAY)
    batch = target.client.batch(batch_id)
    assert batch["status"] == "success" and "errors" not in batch
    assert batch["metrics"] == {
        "inputByteSize": len(lines(records)),
        "inputFileCount": 1,
        "inputRecordCount": 2,
        "outputRecordCount": 2,
        "failedRecordCount": 0,
    }
    assert batch["completed"] >= batch["started"]
    assert target.landed(batch_id) == records


def test_multi_line_json_array(target):
    records = [target.record(n) for n in range(1, 4)]
    batch_id = target.ingest(
        {"all.json": json.dumps(records, indent=2).encode()}, {"format": "json", "isMultiLineJson": True}
    )
    assert target.client.status(batch_id) == "success"
    assert target.landed(batch_id) == records


def test_csv_with_options_converts_cells_to_the_schema_types(target):
    header = ";".join(target.column(c) for c in ("vid", "email", "isContact", "lifecycleStage"))
    data = f"{header}\n1;a@example.com;true;NULL\n2;'b;c@example.com';false;lead\n".encode()
    options = {"format": "csv", "delimiter": ";", "quote": "'", "nullMarker": "NULL"}
    batch_id = target.ingest({"people.csv": data}, options)
    assert target.client.status(batch_id) == "success"
    assert target.landed(batch_id) == [
        target.record(1, isContact=True),
        target.record(2, "b;c@example.com", isContact=False, lifecycleStage="lead"),
    ]


def test_parquet(target):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    hubspot = pa.array(
        [{"vid": 1, "email": "a@example.com"}, {"vid": 2, "email": "b@example.com"}],
        type=pa.struct([("vid", pa.int64()), ("email", pa.string())]),
    )
    sink = io.BytesIO()
    pq.write_table(pa.table({f"_{target.tenant}": pa.StructArray.from_arrays([hubspot], ["hubspot"])}), sink)
    batch_id = target.ingest({"part=1/people.parquet": sink.getvalue()}, {"format": "parquet"})
    assert target.client.status(batch_id) == "success"
    assert target.landed(batch_id) == [target.record(1), target.record(2, "b@example.com")]


# -- uploads ----------------------------------------------------------------------------------------------
def test_put_replaces_and_is_refused_once_the_batch_is_completed(target):
    client = target.client
    batch_id = client.create(target.dataset)
    assert client.upload(batch_id, target.dataset, "a/b/people.json", b"{broken\n").status_code == 200
    assert client.upload(batch_id, target.dataset, "a/b/people.json", lines([target.record(1)])).status_code == 200
    client.complete(batch_id)
    late = client.upload(batch_id, target.dataset, "more.json", lines([target.record(2)]))
    assert late.status_code == 400 and "loading" in late.json()["detail"]
    target.emu.control.advance_clock(DELAY)
    assert target.landed(batch_id) == [target.record(1)]


def test_uploads_need_raw_bytes_and_the_batch_dataset(target, fs):
    client = target.client
    batch_id = client.create(target.dataset)
    as_json = client.put(client.file_url(batch_id, target.dataset, "x.json"), json={"a": 1})
    assert as_json.status_code == 415
    other = target.client.upload(batch_id, "missing-dataset", "x.json", b"{}")
    assert other.status_code == 404
    assert client.upload("01NOSUCHBATCH0000000000000", target.dataset, "x.json", b"{}").status_code == 404


def test_file_size_limit_names_the_limit(target):
    target.emu.control.configure(batch_file_limit=10)
    batch_id = target.client.create(target.dataset)
    response = target.client.upload(batch_id, target.dataset, "big.json", b"x" * 11)
    assert response.status_code == 413 and "at most 10 bytes" in response.json()["detail"]
    assert target.client.upload(batch_id, target.dataset, "ok.json", b"x" * 10).status_code == 200


def test_the_1501st_file_is_refused(target):
    assert target.emu.control.config()["batch_max_files"] == 1500  # Adobe's guardrail, lowered for speed below
    target.emu.control.configure(batch_max_files=3)
    batch_id = target.client.create(target.dataset)
    for n in range(3):
        assert target.client.upload(batch_id, target.dataset, f"f{n}.json", b"{}\n").status_code == 200
    assert target.client.upload(batch_id, target.dataset, "f0.json", b"{}\n").status_code == 200  # a replacement
    refused = target.client.upload(batch_id, target.dataset, "f3.json", b"{}\n")
    assert refused.status_code == 400 and "at most 3 files" in refused.json()["detail"]


def test_large_file_parts_are_checked_and_stitched_at_complete(target):
    client = target.client
    batch_id = client.create(target.dataset)
    path = client.file_url(batch_id, target.dataset, "big/people.json")
    data = lines([target.record(n) for n in range(1, 6)])
    cut = len(data) // 2
    octets = {"Content-Type": "application/octet-stream"}
    assert client.post(path, params={"action": "initialize"}).status_code == 201
    first = client.request(
        "PATCH", path, data=data[:cut], headers={**octets, "Content-Range": f"bytes 0-{cut - 1}/{len(data)}"}
    )
    assert first.status_code == 200 and first.headers["Range"] == f"bytes=0-{cut - 1}"
    spec_schema("batch-ingestion.openapi.yaml", "File").validate(first.json())
    assert client.request("HEAD", path).headers["Range"] == f"bytes=0-{cut - 1}"
    missing = client.post(path, params={"action": "COMPLETE"})
    assert missing.status_code == 400 and "missing" in missing.json()["detail"]  # checked at COMPLETE, not PATCH
    overlap = {**octets, "Content-Range": f"bytes {cut - 1}-{len(data) - 1}/{len(data)}"}
    assert client.request("PATCH", path, data=data[cut - 1 :], headers=overlap).status_code == 200
    refused = client.post(path, params={"action": "COMPLETE"})
    assert refused.status_code == 400 and "overlap" in refused.json()["detail"]
    assert client.post(path, params={"action": "INITIALIZE"}).status_code == 201  # start again
    for a, b in ((cut, len(data) - 1), (0, cut - 1)):
        headers = {**octets, "Content-Range": f"bytes {a}-{b}/{len(data)}"}
        assert client.request("PATCH", path, data=data[a : b + 1], headers=headers).status_code == 200
    done = client.post(path, params={"action": "complete"})
    assert done.status_code == 200 and done.json() == {"name": "big/people.json", "sizeInBytes": len(data)}
    assert client.request("HEAD", path).headers["Range"] == f"bytes=0-{len(data) - 1}"
    client.complete(batch_id)
    target.emu.control.advance_clock(DELAY)
    assert target.landed(batch_id) == [target.record(n) for n in range(1, 6)]


def test_the_journal_keeps_upload_sizes_never_bytes(target):
    batch_id = target.client.create(target.dataset)
    secret = b'{"marker": "UPLOADED-BYTES-7f3a"}\n'
    target.client.upload(batch_id, target.dataset, "p.json", secret)
    entries = target.emu.control.journal()
    assert "UPLOADED-BYTES-7f3a" not in json.dumps(entries)
    put = next(e for e in entries if e["method"] == "PUT")
    assert put["body"] == {"contentLength": len(secret)}


# -- batch actions ---------------------------------------------------------------------------------------
def test_complete_is_idempotent_and_abort_works_only_while_loading(target):
    client = target.client
    batch_id = target.ingest({"p.json": lines([target.record(1)])})
    assert client.status(batch_id) == "success"
    again = client.action(batch_id, "COMPLETE")
    assert again.status_code == 200 and again.json()["status"] == "success"
    refused = client.action(batch_id, "ABORT")
    assert refused.status_code == 400 and "loading" in refused.json()["detail"]
    loading = client.create(target.dataset)
    aborted = client.action(loading, "abort")
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
    assert client.action(loading, "COMPLETE").status_code == 400
    assert client.action(loading, "EXPLODE").status_code == 400


def test_revert_removes_the_landed_records(target):
    client = target.client
    batch_id = target.ingest({"p.json": lines([target.record(1)])})
    assert target.landed(batch_id) == [target.record(1)]
    reverted = client.action(batch_id, "REVERT")
    assert reverted.status_code == 200 and client.status(batch_id) == "inactive"
    assert target.landed() == []
    assert client.action(client.create(target.dataset), "REVERT").status_code == 400


def test_replay_replace_reverts_the_predecessors_when_the_new_batch_succeeds(target):
    old = target.ingest({"p.json": lines([target.record(1)])})
    replay = {"predecessors": [f"${old}"], "reason": "replace"}
    new = target.client.create(target.dataset, replay=replay)
    assert target.client.batch(new)["replay"] == {"predecessors": [old], "reason": "replace"}
    target.client.upload(new, target.dataset, "p.json", lines([target.record(2)]))
    target.client.complete(new)
    assert target.client.status(old) == "success"  # still: the new batch is only staging
    target.emu.control.advance_clock(DELAY)
    assert (target.client.status(new), target.client.status(old)) == ("success", "inactive")
    assert target.landed() == [target.record(2)]


# -- errors and partial ingestion ------------------------------------------------------------------------
def errors(batch: dict) -> dict[str, dict]:
    return {e["code"]: e for e in batch.get("errors", [])}


def test_an_empty_file_fails_the_batch_with_106(target):
    batch_id = target.ingest({"good.json": lines([target.record(1)]), "empty.json": b""})
    batch = target.client.batch(batch_id)
    assert batch["status"] == "failed" and "106" in errors(batch)
    assert target.landed() == []


def test_a_csv_without_header_fails_with_118(target):
    batch_id = target.ingest({"p.csv": b"\n1,a@example.com\n"}, {"format": "csv"})
    batch = target.client.batch(batch_id)
    assert batch["status"] == "failed" and "118" in errors(batch)


def test_an_unparsable_line_fails_the_batch_without_partial_ingestion(target):
    data = lines([target.record(1)]) + b"{missingQuotes: 'v1'}\n"
    with_diagnostics = target.client.batch(target.ingest({"p.json": data}, enableErrorDiagnostics=True))
    assert with_diagnostics["status"] == "failed"
    corrupt = errors(with_diagnostics)["INGEST-1401-400"]
    assert corrupt["recordCount"] == 1 and corrupt["rows"] == ["2"]
    assert (
        with_diagnostics["metrics"]["failedRecordCount"] == 2 and with_diagnostics["metrics"]["outputRecordCount"] == 0
    )
    without = target.client.batch(target.ingest({"p.json": data}))
    assert without["status"] == "failed" and list(errors(without)) == ["INGEST-1211-400"]
    assert target.landed() == []


def test_a_missing_required_field_is_1555(target):
    batch_id = target.ingest({"p.json": lines([target.record(1, email=None)])}, enableErrorDiagnostics=True)
    batch = target.client.batch(batch_id)
    assert batch["status"] == "failed"
    assert "email" in errors(batch)["INGEST-1555-400"]["description"]


def test_partial_ingestion_under_and_over_the_threshold(target):
    good = [target.record(n) for n in range(1, 10)]
    data = lines(good) + lines([target.record(10, email=None)])  # 1 bad row in 10 = 10 %
    under = target.client.batch(target.ingest({"p.json": data}, partialIngestionPercent=10))
    assert under["status"] == "success"
    assert errors(under)["INGEST-1212-400"]["description"].startswith(
        "Encountered 1 errors in the data. Successfully ingested 9 rows."
    )
    assert errors(under)["INGEST-1555-400"]["recordCount"] == 1
    assert under["metrics"]["outputRecordCount"] == 9 and target.landed(under["id"]) == good
    over = target.client.batch(target.ingest({"p.json": data}, partialIngestionPercent=5))
    assert over["status"] == "failed" and "INGEST-1212-400" not in errors(over)
    assert target.landed(over["id"]) == []


# -- faults on the new routes -----------------------------------------------------------------------------
def test_a_held_upload_is_stored_once_released(target):
    from concurrent.futures import ThreadPoolExecutor

    batch_id = target.client.create(target.dataset)
    path = f"/data/foundation/import/batches/{batch_id}/datasets/{target.dataset}/files/.*"
    fault = target.emu.control.add_fault("PUT", path, action="hold")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(target.client.upload, batch_id, target.dataset, "p.json", lines([target.record(1)]))
        target.emu.control.wait_held(fault, 1)
        assert (
            target.client.request("HEAD", target.client.file_url(batch_id, target.dataset, "p.json")).status_code == 404
        )
        target.emu.control.release(fault)
        assert pending.result(timeout=30).status_code == 200
    target.client.complete(batch_id)
    target.emu.control.advance_clock(DELAY)
    assert target.landed(batch_id) == [target.record(1)]


def test_a_503_on_complete_is_safe_to_retry(target):
    batch_id = target.client.create(target.dataset)
    target.client.upload(batch_id, target.dataset, "p.json", lines([target.record(1)]))
    target.emu.control.add_fault("POST", f"/data/foundation/import/batches/{batch_id}", status=503)
    assert target.client.action(batch_id, "COMPLETE").status_code == 503
    assert target.client.status(batch_id) == "loading"
    target.client.complete(batch_id)
    target.emu.control.advance_clock(DELAY)
    assert target.client.status(batch_id) == "success"

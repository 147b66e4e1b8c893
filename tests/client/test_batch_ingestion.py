"""BatchIngestionClient and BatchUpload against stubbed HTTP: streamed PUTs re-sent from the first byte, a
create found by externalId instead of sent twice, a resumed upload that sends only what was not recorded."""

from __future__ import annotations

import io
import json

import pytest
import requests
import responses
from responses import matchers

from airflow_provider_aep.client.batch_files import Source, plan_parts
from airflow_provider_aep.client.batch_ingestion import BatchIngestionClient, received_bytes
from airflow_provider_aep.client.batch_upload import BatchUpload, Progress

from .conftest import CAT, PLATFORM, assert_platform_headers, service_calls

IMP = PLATFORM + "/data/foundation/import"
DS = "5ed5639d798a22191b6987b2"
BATCH = "01EQ1C48TR4GD4FE7NH2522TCQ"
EXT = "airflow-abc"
FIND = {"externalId": EXT, "dataSet": DS, "orderBy": "asc:created", "limit": "10"}


@pytest.fixture
def batches(platform):
    return BatchIngestionClient(platform)


def lines(count: int) -> bytes:
    return b"".join(json.dumps({"_id": f"r{i:04d}"}).encode() + b"\n" for i in range(count))


def found(mock, *items: dict) -> None:
    body = {i["id"]: {**i, "externalId": EXT, "relatedObjects": [{"type": "dataSet", "id": DS}]} for i in items}
    mock.add(responses.GET, CAT + "/batches", json=body, match=[matchers.query_param_matcher(FIND)])


def test_create_looks_the_external_id_up_first_and_reuses_what_it_finds(batches, strict_http, strict_ims):
    found(strict_http, {"id": BATCH, "status": "loading", "created": 1})
    made = batches.create_batch({"datasetId": DS, "externalId": EXT, "inputFormat": {"format": "json"}})
    assert (made.id, made.created) == (BATCH, False)
    assert not service_calls(strict_http, IMP, "POST")


def test_a_create_whose_answer_was_lost_is_found_not_sent_again(batches, strict_http, strict_ims, sleeps):
    found(strict_http)
    strict_http.add(responses.POST, IMP + "/batches", body=requests.ConnectionError("reset after send"))
    found(strict_http, {"id": BATCH, "status": "loading", "created": 1})
    made = batches.create_batch({"datasetId": DS, "externalId": EXT, "inputFormat": {"format": "json"}})
    assert (made.id, made.created) == (BATCH, False)
    assert len(service_calls(strict_http, IMP, "POST")) == 1


def test_put_streams_the_part_and_a_retry_sends_it_again_from_its_first_byte(batches, strict_http, strict_ims):
    data = lines(40)
    source = Source("x.json", len(data), lambda: io.BytesIO(data))
    part = plan_parts([source], "json", 10**6)[0]
    url = f"{IMP}/batches/{BATCH}/datasets/{DS}/files/x.json"
    strict_http.add(responses.PUT, url, status=503)
    strict_http.add(responses.PUT, url, status=200)
    from airflow_provider_aep.client.batch_files import part_reader

    batches.upload_file(BATCH, DS, part.name, lambda: part_reader(source, part))
    puts = service_calls(strict_http, IMP, "PUT")
    assert len(puts) == 2
    for call in puts:
        body = call.request.body
        sent = body.read() if hasattr(body, "read") else body
        assert sent == data
        assert_platform_headers(call.request, accept="application/json", content_type="application/octet-stream")


def test_complete_is_retried_but_a_batch_create_is_not_resent_blindly(batches, strict_http, strict_ims):
    strict_http.add(responses.POST, f"{IMP}/batches/{BATCH}", status=502)
    strict_http.add(
        responses.POST,
        f"{IMP}/batches/{BATCH}",
        status=200,
        match=[matchers.query_param_matcher({"action": "COMPLETE"})],
    )
    batches.complete_batch(BATCH)
    assert len(service_calls(strict_http, IMP, "POST")) == 2


def test_received_bytes_reads_the_range_header():
    assert received_bytes("bytes=0-1023") == 1024
    assert received_bytes("bytes 0-9") == 10
    assert received_bytes(None) == 0


def test_a_resumed_upload_sends_only_the_parts_not_recorded_then_completes(batches, strict_http, strict_ims):
    data = lines(60)
    source = Source("x.json", len(data), lambda: io.BytesIO(data))
    parts = plan_parts([source], "json", 300)
    assert len(parts) >= 3
    found(strict_http, {"id": BATCH, "status": "loading", "created": 1})
    for part in parts[1:]:
        strict_http.add(responses.PUT, f"{IMP}/batches/{BATCH}/datasets/{DS}/files/{part.name}", status=200)
    strict_http.add(responses.POST, f"{IMP}/batches/{BATCH}", status=200)
    saved: list[dict] = []
    upload = BatchUpload(batches, DS, [source], parts, patch_size=300, save=saved.append)
    progress = Progress(EXT, "digest", batch_id=BATCH, done=[parts[0].name])
    progress, batch = upload.open_batch(progress, {"datasetId": DS, "inputFormat": {"format": "json"}})
    assert batch is None
    upload.upload(progress)
    sent = [c.request.url.rsplit("/", 1)[-1] for c in service_calls(strict_http, IMP, "PUT")]
    assert sent == [p.name for p in parts[1:]]
    assert saved[-1]["completed"] and saved[-1]["done"] == [p.name for p in parts]

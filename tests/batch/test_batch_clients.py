"""BatchIngestionClient and DataAccessClient over real HTTP against the emulator: every call the operator does
not already make, and the ones it makes in other orders (abort, revert, a large file's progress)."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_aep.client.errors import AEPBadRequestError
from tests.batch.conftest import records


@pytest.fixture
def hook(batch_target):
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

    return AEPFlowServiceHook()


def lines(items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def new_batch(hook, dataset_id, external_id="client-test") -> str:
    body = {"datasetId": dataset_id, "externalId": external_id, "inputFormat": {"format": "json"}}
    return hook.batch_ingestion.create_batch(body, lookup_first=False).id


def test_upload_complete_list_files_and_revert(batch_target, hook):
    emulator, dataset_id = batch_target
    client = hook.batch_ingestion
    batch_id = new_batch(hook, dataset_id)
    for name, part in (("a.json", records(3)), ("b.json", records(2, 3))):
        data = lines(part)
        client.upload_file(batch_id, dataset_id, name, lambda d=data: io.BytesIO(d))
    client.complete_batch(batch_id)
    client.complete_batch(batch_id)  # documented safe to repeat
    assert client.get_batch(batch_id)["status"] == "success"
    files = hook.data_access.batch_files(batch_id)
    assert len(files) == 2 and all(f.get("dataSetFileId") for f in files)
    assert hook.data_access.failed_files(batch_id) == []
    assert len(emulator.control.landed_records(dataset_id)) == 5
    client.revert_batch(batch_id)
    assert client.get_batch(batch_id)["status"] == "inactive"
    assert emulator.control.landed_records(dataset_id) == []


def test_abort_a_loading_batch_and_no_upload_after_it(batch_target, hook):
    _, dataset_id = batch_target
    client = hook.batch_ingestion
    batch_id = new_batch(hook, dataset_id, "abort-test")
    client.abort_batch(batch_id)
    assert client.get_batch(batch_id)["status"] == "aborted"
    with pytest.raises(AEPBadRequestError):
        client.upload_file(batch_id, dataset_id, "late.json", lambda: io.BytesIO(lines(records(1))))


def test_a_large_file_reports_its_progress_and_lands_whole(batch_target, hook):
    emulator, dataset_id = batch_target
    client = hook.batch_ingestion
    batch_id = new_batch(hook, dataset_id, "large-test")
    data = lines(records(40))
    client.initialize_file(batch_id, dataset_id, "big.json")
    half = len(data) // 2
    client.upload_file_range(batch_id, dataset_id, "big.json", 0, half, lambda: io.BytesIO(data[:half]))
    assert client.file_received(batch_id, dataset_id, "big.json") == half
    rest = data[half:]
    client.upload_file_range(batch_id, dataset_id, "big.json", half, len(rest), lambda: io.BytesIO(rest))
    client.complete_file(batch_id, dataset_id, "big.json")
    client.complete_batch(batch_id)
    assert client.get_batch(batch_id)["status"] == "success"
    assert len(emulator.control.landed_records(dataset_id, batch_id=batch_id)) == 40


def test_failed_records_are_read_back_line_by_line(batch_target, hook):
    _, dataset_id = batch_target
    client = hook.batch_ingestion
    body = {
        "datasetId": dataset_id,
        "externalId": "failed-test",
        "inputFormat": {"format": "json"},
        "enableErrorDiagnostics": True,
        "partialIngestionPercent": 50,
    }
    batch_id = client.create_batch(body).id
    data = lines([*records(4), {"_id": "bad", "personalEmail": {"address": 5}}])
    client.upload_file(batch_id, dataset_id, "mixed.json", lambda: io.BytesIO(data))
    client.complete_batch(batch_id)
    assert client.get_batch(batch_id)["status"] == "success"
    assert hook.data_access.failed_files(batch_id)
    failed = list(hook.data_access.iter_failed_records(batch_id))
    assert len(failed) == 1 and "bad" in json.dumps(failed[0])
    assert hook.data_access.failed_records(batch_id, limit=0) == []


@pytest.mark.parametrize(("resumable", "status"), [(True, "loading"), (False, "aborted")])
def test_on_kill_aborts_the_batch_only_when_no_retry_can_resume_it(batch_target, hook, resumable, status):
    from airflow_provider_aep.client.batch_upload import Progress
    from airflow_provider_aep.operators.batch_ingestion import IngestFilesOperator

    _, dataset_id = batch_target
    batch_id = new_batch(hook, dataset_id, f"kill-{resumable}")
    task = IngestFilesOperator(task_id="ingest", dataset_id=dataset_id, files="x.json")
    task._progress = Progress("kill", "digest", batch_id=batch_id)
    task._resumable = resumable
    task.on_kill()
    assert hook.batch_ingestion.get_batch(batch_id)["status"] == status

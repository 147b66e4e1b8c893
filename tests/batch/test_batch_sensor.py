"""AEPBatchSensor and AEPBatchTrigger against the emulator: a batch another system loads, held ``staging`` on
the emulator clock, then its verdict; the trigger's serialisation carries no secret."""

from __future__ import annotations

import json

import pytest
from aep_emulator.testing import fetch_token
from aep_emulator.testing_batches import BatchClient

from airflow_provider_aep.exceptions import AEPBatchFailedError
from airflow_provider_aep.sensors.batches import AEPBatchSensor
from airflow_provider_aep.triggers.batches import AEPBatchTrigger
from tests.batch.conftest import records

DELAY = 30.0


@pytest.fixture
def loaded(batch_target):
    """``loaded(lines)``: a batch uploaded and completed by someone else, still ``staging`` (clock held)."""
    emulator, dataset_id = batch_target
    emulator.control.configure(batch_processing_delay=DELAY)
    client = BatchClient(emulator.url, fetch_token(emulator.url))

    def load(lines: bytes) -> str:
        batch_id = client.create(dataset_id, {"format": "json"})
        client.upload(batch_id, dataset_id, "other-system.json", lines)
        client.complete(batch_id)
        return batch_id

    return load


def lines(items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def test_the_sensor_waits_while_staging_then_returns_the_summary(batch_target, loaded, task_context):
    emulator, dataset_id = batch_target
    batch_id = loaded(lines(records(12)))
    sensor = AEPBatchSensor(task_id="wait", batch_id=batch_id)
    context = task_context()
    assert sensor.poke(context) is False
    emulator.control.advance_clock(DELAY)
    done = sensor.poke(context)
    assert done.is_done and done.xcom_value["records"] == 12 and done.xcom_value["dataset_id"] == dataset_id
    assert context["ti"].xcoms["failed_records"] == 0


def test_the_sensor_fails_on_a_failed_batch_with_its_codes(batch_target, loaded, task_context):
    emulator, _ = batch_target
    batch_id = loaded(b"{not json\n")
    emulator.control.advance_clock(DELAY)
    with pytest.raises(AEPBatchFailedError) as failed:
        AEPBatchSensor(task_id="wait", batch_id=batch_id).poke(task_context())
    assert failed.value.batch["status"] == "failed" and failed.value.batch["error_codes"]


async def test_the_trigger_polls_until_the_batch_is_processed(batch_target, loaded):
    emulator, _ = batch_target
    batch_id = loaded(lines(records(5)))
    trigger = AEPBatchTrigger(aep_conn_id="aep_default", batch_id=batch_id, poll_interval=0.05)
    import asyncio

    task = asyncio.ensure_future(trigger.run().__anext__())

    def polls() -> int:
        return len(emulator.control.journal(method="GET", path=f"/data/foundation/catalog/batches/{batch_id}"))

    async def polled_twice() -> None:
        while polls() < 2:  # a condition, not a delay: the clock holds the batch in staging meanwhile
            await asyncio.sleep(0.02)

    await asyncio.wait_for(polled_twice(), 60)
    assert not task.done()  # still staging: the trigger keeps polling
    emulator.control.advance_clock(DELAY)
    event = await asyncio.wait_for(task, 30)
    assert event.payload["status"] == "success" and event.payload["batch"]["records"] == 5


def test_the_trigger_serialises_ids_and_no_secret():
    classpath, kwargs = AEPBatchTrigger(aep_conn_id="aep_x", batch_id="b1", poll_interval=3, deadline=9.0).serialize()
    assert classpath == "airflow_provider_aep.triggers.batches.AEPBatchTrigger"
    assert kwargs == {
        "aep_conn_id": "aep_x",
        "batch_id": "b1",
        "poll_interval": 3.0,
        "deadline": 9.0,
        "failed_records_policy": "warn",
    }

"""A worker killed mid-upload: the retry continues the same batch and every record lands exactly once.

Real Airflow (scheduler + LocalExecutor, triggerer, API server) runs ``tests/system/dags/aep_batch_resume.py``:
``IngestFilesOperator`` cuts a JSON-lines file into parts. The emulator holds the PUT of the second part
(``hold`` fault), the test SIGKILLs the task's process (its pid comes from the task's ``on_execute_callback``),
then releases the held PUT, which AEP (the emulator) then performs without anyone hearing the answer. The
scheduler retries the task: the retry finds its progress in the task state store, uploads only the parts not
recorded (the second one again: a PUT replaces), completes the batch and waits for it in the triggerer.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

from aep_emulator.testing import ServiceClient, fetch_token, make_dataset

from tests.system.races import wait_until

DAG_ID = "aep_batch_resume"
RECORDS = 300
PART_PATH = r"/data/foundation/import/batches/[^/]+/datasets/[^/]+/files/(.*)"


def _write_export(path) -> None:
    with path.open("w") as out:
        for n in range(RECORDS):
            out.write(json.dumps({"_id": f"r{n:05d}", "personalEmail": {"address": f"p{n}@example.com"}}) + "\n")


def test_a_killed_upload_is_resumed_by_the_retry_in_the_same_batch(airflow_api, fresh_emulator, tmp_path):
    emulator = fresh_emulator
    client = ServiceClient(emulator.url, fetch_token(emulator.url))
    dataset_id, _ = make_dataset(client, name="batch resume")
    export, pid_file = tmp_path / "export.json", tmp_path / "task.pid"
    _write_export(export)
    assert export.stat().st_size > 3 * 4096  # several parts of AEP_BATCH_RESUME_CHUNK (4 KiB)
    held = emulator.control.add_fault(
        method="PUT", path=PART_PATH.replace("(.*)", r".*part-00002\.json"), action="hold", count=1, latency=600
    )

    airflow_api.unpause(DAG_ID)
    run_id = airflow_api.trigger(
        DAG_ID, conf={"dataset_id": dataset_id, "path": str(export), "pid_file": str(pid_file)}
    )
    emulator.control.wait_held(held, 1, timeout=300)
    pid, try_number = (int(v) for v in pid_file.read_text().split())
    assert try_number == 1
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _alive(pid), "the killed task process to be gone", timeout=60)
    emulator.control.release(held)  # AEP performs the PUT whose answer nobody reads

    run = airflow_api.wait_for_run(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", airflow_api.task_instances(DAG_ID, run_id)
    ti = airflow_api.task_instance(DAG_ID, run_id, "ingest")
    assert ti["try_number"] == 2

    summary = airflow_api.xcom(DAG_ID, run_id, "ingest")
    batches = [b for b in emulator.control.state()["batches"] if dataset_id in json.dumps(b.get("relatedObjects"))]
    assert [b["id"] for b in batches] == [summary["id"]], "one batch for the DAG-run task, not one per try"
    landed = emulator.control.landed_records(dataset_id)
    assert len(landed) == RECORDS and {r["_id"] for r in landed} == {f"r{n:05d}" for n in range(RECORDS)}

    puts = Counter(
        entry["path"].rsplit("/", 1)[-1]
        for entry in emulator.control.journal()
        if entry["method"] == "PUT" and "/files/" in entry["path"]
    )
    assert puts["export.part-00001.json"] == 1, puts  # recorded by the first try: not sent again
    assert puts["export.part-00002.json"] == 2, puts  # held and performed, then sent again by the retry
    assert set(puts.values()) <= {1, 2} and len(puts) >= 4, puts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

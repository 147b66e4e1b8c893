"""IngestFilesOperator over real HTTP against the emulator: split uploads landing once, a retry that resumes the
same batch, a lost create found by externalId, partial and failed batches, bad input refused before any call."""

from __future__ import annotations

import csv
import json

import pytest

from airflow_provider_aep.exceptions import AEPBatchFailedError, AEPInvalidArgumentError
from airflow_provider_aep.operators.batch_ingestion import IngestFilesOperator
from tests.batch.conftest import records, write_lines

IMPORT = "/data/foundation/import"


def ingest(dataset_id, files, **kwargs) -> IngestFilesOperator:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("deferrable", False)
    kwargs.setdefault("task_id", "ingest")
    return IngestFilesOperator(dataset_id=dataset_id, files=files, **kwargs)


def batches_of(emulator, dataset_id) -> list[dict]:
    return [b for b in emulator.control.state()["batches"] if dataset_id in json.dumps(b.get("relatedObjects"))]


def uploads(emulator) -> list[str]:
    return [e["path"].rsplit("/", 1)[-1] for e in emulator.control.journal(method="PUT", path=IMPORT + "/.*")]


def test_a_file_over_the_chunk_size_lands_once_in_one_batch_of_several_files(batch_target, task_context, tmp_path):
    emulator, dataset_id = batch_target
    path = write_lines(tmp_path / "people.json", records(200))
    context = task_context()
    summary = ingest(dataset_id, path, chunk_size=2048).execute(context)
    assert summary["status"] == "success" and summary["records"] == 200 and summary["failed_records"] == 0
    assert context["ti"].xcoms["batch_id"] == summary["id"]
    assert context["ti"].xcoms["records"] == 200 and context["ti"].xcoms["error_codes"] == []
    sent = uploads(emulator)
    assert len(sent) > 3 and sent[0] == "people.part-00001.json" and len(set(sent)) == len(sent)
    landed = emulator.control.landed_records(dataset_id)
    assert sorted(r["_id"] for r in landed) == [f"r{n:05d}" for n in range(200)]
    assert [b["id"] for b in batches_of(emulator, dataset_id)] == [summary["id"]]
    assert context["task_state_store"].values == {}  # done with: a retry finds the batch by its externalId


def test_a_retry_after_a_failed_upload_resumes_the_same_batch_and_sends_only_what_is_missing(
    batch_target, task_context, tmp_path
):
    emulator, dataset_id = batch_target
    path = write_lines(tmp_path / "people.json", records(200))
    fault = emulator.control.add_fault(method="PUT", path=IMPORT + r"/.*part-00003\.json", status=503, count=100)
    task = ingest(dataset_id, path, chunk_size=2048, retries=1)
    with pytest.raises(Exception, match="503"):
        task.execute(task_context(1))
    first = uploads(emulator)
    emulator.control.remove_fault(fault)
    emulator.control.clear_journal()

    summary = ingest(dataset_id, path, chunk_size=2048, retries=1).execute(task_context(2))
    again = uploads(emulator)
    assert "people.part-00001.json" not in again and "people.part-00002.json" not in again
    assert again[0] == "people.part-00003.json"
    assert {"people.part-00001.json", "people.part-00002.json"} <= set(first)
    assert summary["records"] == 200
    assert len(emulator.control.landed_records(dataset_id)) == 200
    assert [b["id"] for b in batches_of(emulator, dataset_id)] == [summary["id"]]
    assert not emulator.control.journal(method="POST", path=IMPORT + "/batches")  # no second create


def test_a_create_whose_answer_was_lost_is_found_by_its_external_id(batch_target, task_context, tmp_path):
    emulator, dataset_id = batch_target
    path = write_lines(tmp_path / "people.json", records(20))
    emulator.control.add_fault(method="POST", path=IMPORT + "/batches", action="commit_then_drop", count=1)
    summary = ingest(dataset_id, path).execute(task_context())
    assert summary["records"] == 20
    assert len(batches_of(emulator, dataset_id)) == 1
    assert len(emulator.control.journal(method="POST", path=IMPORT + "/batches")) == 1


def test_a_second_try_of_a_finished_batch_loads_nothing_again(batch_target, task_context, tmp_path):
    emulator, dataset_id = batch_target
    path = write_lines(tmp_path / "people.json", records(20))
    first = ingest(dataset_id, path).execute(task_context(1))
    emulator.control.clear_journal()
    second = ingest(dataset_id, path).execute(task_context(2))  # e.g. the task cleared and run again
    assert second["id"] == first["id"]
    assert not uploads(emulator) and len(emulator.control.landed_records(dataset_id)) == 20


def test_partial_ingestion_reports_failed_records_and_the_policy_decides(batch_target, task_context, tmp_path):
    _, dataset_id = batch_target
    bad = [{"_id": "bad-1", "personalEmail": {"address": 42}}, "not an object"]
    path = tmp_path / "mixed.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records(18), *bad]))
    context = task_context()
    summary = ingest(dataset_id, str(path), partial_ingestion_percent=50).execute(context)
    assert summary["status"] == "success" and summary["records"] == 18 and summary["failed_records"] == 2
    assert summary["error_codes"] and context["ti"].xcoms["failed_records"] == 2
    assert context["ti"].xcoms["failed_records_sample"]

    with pytest.raises(AEPBatchFailedError) as failed:
        ingest(
            dataset_id, str(path), task_id="strict", failed_records_policy="fail", partial_ingestion_percent=50
        ).execute(task_context())
    assert failed.value.batch["failed_records"] == 2


def test_a_batch_aep_rejects_fails_the_task_with_its_error_codes(batch_target, task_context, tmp_path):
    emulator, dataset_id = batch_target
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"_id": "x", "personalEmail": {"address": 7}}) + "\n{broken\n")
    with pytest.raises(AEPBatchFailedError) as failed:
        ingest(dataset_id, str(path)).execute(task_context())
    assert failed.value.batch["status"] == "failed" and failed.value.batch["error_codes"]
    assert emulator.control.landed_records(dataset_id) == []


def test_csv_with_dotted_headers_lands_and_unknown_columns_are_refused_before_any_batch(
    batch_target, task_context, tmp_path
):
    emulator, dataset_id = batch_target
    good = tmp_path / "people.csv"
    with good.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["_id", "personalEmail.address"])
        writer.writerows([[f"c{n}", f"c{n}@example.com"] for n in range(30)])
    summary = ingest(dataset_id, str(good), file_format="csv", chunk_size=256).execute(task_context())
    assert summary["records"] == 30 and len(uploads(emulator)) > 1

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("_id,shoeSize\n1,44\n")
    emulator.control.clear_journal()
    with pytest.raises(AEPInvalidArgumentError) as refused:
        ingest(dataset_id, str(unknown), file_format="csv").execute(task_context())
    assert refused.value.argument == "file_format" and "shoeSize" in str(refused.value)
    assert not emulator.control.journal(method="POST", path=IMPORT + "/.*")


def test_parquet_over_the_chunk_size_goes_up_through_the_large_file_calls(batch_target, task_context, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    emulator, dataset_id = batch_target
    table = pa.table(
        {"_id": [f"q{n}" for n in range(500)], "personalEmail": [{"address": f"q{n}@example.com"} for n in range(500)]}
    )
    path = tmp_path / "people.parquet"
    pq.write_table(table, path)
    summary = ingest(dataset_id, str(path), file_format="parquet", chunk_size=1024).execute(task_context())
    assert summary["records"] == 500
    patches = emulator.control.journal(method="PATCH", path=IMPORT + "/.*")
    assert len(patches) == -(-path.stat().st_size // 1024)
    assert (
        len(emulator.control.journal(method="POST", path=IMPORT + r"/.*files/people\.parquet")) == 2
    )  # INIT, COMPLETE


def test_object_storage_paths_are_read_through_airflow(batch_target, task_context, tmp_path):
    from airflow.sdk import ObjectStoragePath

    _, dataset_id = batch_target
    write_lines(tmp_path / "people.json", records(15))
    summary = ingest(dataset_id, [ObjectStoragePath(f"file://{tmp_path}/people.json")]).execute(task_context())
    assert summary["records"] == 15


@pytest.mark.parametrize(
    ("files", "kwargs", "argument"),
    [
        ("/nonexistent/people.json", {}, "files"),
        ([], {}, "files"),
        ("EMPTY", {}, "files"),
        ("ARRAY", {}, "files"),
        ("LINES", {"dataset_id": "5f0000000000000000000000"}, "dataset_id"),
        ("LINES", {"partial_ingestion_percent": 150}, "partial_ingestion_percent"),
    ],
)
def test_bad_input_is_refused_naming_the_argument_before_any_batch(
    batch_target, task_context, tmp_path, files, kwargs, argument
):
    emulator, dataset_id = batch_target
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "lines.json").write_text('{"_id": "1"}\n')
    (tmp_path / "array.json").write_text('{"_id": "1"}\n')
    named = {"EMPTY": str(tmp_path / "empty.json"), "LINES": str(tmp_path / "lines.json")}
    if files == "ARRAY":
        files = [str(tmp_path / "lines.json"), str(tmp_path / "a2.json")]
        (tmp_path / "a2.json").write_text('[{"_id": "2"}]')
    files = named.get(files, files) if isinstance(files, str) else files
    kwargs = {"dataset_id": dataset_id, **kwargs}
    with pytest.raises(AEPInvalidArgumentError) as refused:
        IngestFilesOperator(task_id="ingest", files=files, **kwargs).execute(task_context())
    assert refused.value.argument == argument
    assert not emulator.control.journal(method="POST", path=IMPORT + "/.*")


@pytest.mark.parametrize(
    ("kwargs", "argument"), [({"file_format": "xml"}, "file_format"), ({"chunk_size": 0}, "chunk_size")]
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as refused:
        IngestFilesOperator(task_id="ingest", dataset_id="d", files="x.json", **kwargs)
    assert refused.value.argument == argument


def test_lineage_has_the_files_as_inputs_and_the_dataset_with_its_schema_as_output(
    batch_target, task_context, tmp_path
):
    pytest.importorskip("airflow.providers.openlineage")
    _, dataset_id = batch_target
    path = write_lines(tmp_path / "people.json", records(25))
    task = ingest(dataset_id, path)
    task.execute(task_context())
    lineage = task.get_openlineage_facets_on_complete(None)
    assert [(i.namespace, i.name) for i in lineage.inputs] == [("file", path)]
    (output,) = lineage.outputs
    assert output.name == f"datasets/{dataset_id}" and output.namespace.startswith("aep://")
    fields = {f.name for f in output.facets["schema"].fields}
    assert {"_id", "personalEmail"} <= fields
    assert output.outputFacets["outputStatistics"].rowCount == 25


def test_replace_batches_replays_an_earlier_batch(batch_target, task_context, tmp_path):
    emulator, dataset_id = batch_target
    first = ingest(dataset_id, write_lines(tmp_path / "v1.json", records(10))).execute(task_context())
    second = ingest(
        dataset_id, write_lines(tmp_path / "v2.json", records(4, 100)), task_id="reload", replace_batches=[first["id"]]
    ).execute(task_context())
    assert second["status"] == "success"
    replay = emulator.control.journal(method="POST", path=IMPORT + "/batches")[-1]["body"]["replay"]
    assert replay == {"predecessors": [first["id"]], "reason": "replace"}
    assert sorted(r["_id"] for r in emulator.control.landed_records(dataset_id)) == [
        f"r{n:05d}" for n in range(100, 104)
    ]

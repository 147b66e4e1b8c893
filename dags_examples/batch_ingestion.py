"""Load a file this pipeline produced into an AEP dataset through the Batch Ingestion API.

A task exports customer records (generated here; in a real pipeline a warehouse export, a dbt model's output or a
file in object storage) as JSON lines → an XDM field group from the file's columns (inferred from a sample of it)
→ schema → dataset → the records shaped as XDM (each column at the path the field group gave it) →
``IngestFilesOperator`` (one batch, files over ``chunk_size`` split at record boundaries, resumable after a
worker dies, waited for in the triggerer) → a task that reads the counts.

Re-running the DAG reuses the field group, schema and dataset and lands a second batch. The ingest task emits
the dataset's ``aep://`` asset event; ``aep_batch_ingestion_consumer`` below is scheduled on its alias.

Connections: ``aep_default`` (type ``adobe_experience_platform``). ``AEP_BATCH_EXPORT_DIR`` is where the
export is written (default: the system's temporary folder); ``AEP_BATCH_POKE_INTERVAL`` (seconds, default 30)
how often the batch is polled.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, AssetAlias, Param, XComArg, task

from airflow_provider_aep.asset_events import default_asset_alias
from airflow_provider_aep.operators.batch_ingestion import IngestFilesOperator
from airflow_provider_aep.operators.catalog import CreateDatasetOperator
from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator

DAG_ID = "aep_batch_ingestion"
NAME = "Customers (Airflow batch ingestion)"
EXPORT_DIR = Path(os.environ.get("AEP_BATCH_EXPORT_DIR", tempfile.gettempdir())) / "aep_batch_ingestion"
POKE_INTERVAL = float(os.environ.get("AEP_BATCH_POKE_INTERVAL", "30"))

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "batch-ingestion", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"records": Param(2000, type="integer", minimum=1, description="How many customers to export")},
):

    @task
    def export_customers(params: dict[str, Any], run_id: str) -> str:
        """The pipeline's own output: flat customer records, one JSON object per line."""
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        path = EXPORT_DIR / f"customers-{abs(hash(run_id)):x}.json"
        rng = random.Random(run_id)
        start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        with path.open("w") as out:
            for number in range(int(params["records"])):
                customer = {
                    "customerId": f"C{number:07d}",
                    "email": f"customer{number}@example.com",
                    "country": rng.choice(["US", "FR", "DE", "JP", "BR"]),
                    "lifetimeValue": round(rng.uniform(0, 5000), 2),
                    "signedUpAt": (start + timedelta(minutes=rng.randrange(500_000))).isoformat(),
                }
                out.write(json.dumps(customer) + "\n")
        return str(path)

    export = export_customers()
    field_group = CreateFieldGroupOperator(
        task_id="field_group",
        infer_from=export,
        file_format="jsonl",
        object_name="customers",
        source="files",
        title=f"{NAME} fields",
    )
    schema = CreateSchemaOperator(task_id="schema", title=NAME, field_group_ids=[field_group.output])
    dataset = CreateDatasetOperator(task_id="dataset", name=NAME, schema_id=schema.output)

    @task
    def shape_as_xdm(path: str, field_paths: dict[str, str]) -> str:
        """Each record with its columns at the XDM paths of the field group, streamed line by line."""
        shaped = Path(path).with_suffix(".xdm.json")
        with open(path) as source, shaped.open("w") as out:
            for line in source:
                record: dict[str, Any] = {}
                for column, value in json.loads(line).items():
                    *parents, leaf = field_paths[column].split(".")
                    node = record
                    for parent in parents:
                        node = node.setdefault(parent, {})
                    node[leaf] = value
                out.write(json.dumps(record) + "\n")
        return str(shaped)

    shaped = shape_as_xdm(export, XComArg(field_group, key="field_paths"))

    ingest = IngestFilesOperator(
        task_id="ingest",
        dataset_id=dataset.output,
        files=shaped,
        file_format="json",
        deferrable=True,
        poll_interval=POKE_INTERVAL,
    )

    @task
    def report(summary: dict[str, Any]) -> dict[str, Any]:
        counts = {key: summary.get(key) for key in ("id", "status", "records", "failed_records", "error_codes")}
        print(
            f"Batch {summary['id']} {summary['status']}: {summary['records']} records landed, "
            f"{summary['failed_records']} failed"
        )
        return counts

    report(ingest.output)


with DAG(
    dag_id="aep_batch_ingestion_consumer",
    schedule=[AssetAlias(default_asset_alias(DAG_ID, "ingest"))],
    catchup=False,
    tags=["aep", "batch-ingestion", "example"],
    doc_md="Runs each time `aep_batch_ingestion` lands a batch: reads the dataset's asset event.",
):

    @task
    def landed(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        extras = [dict(event.extra) for events in (triggering_asset_events or {}).values() for event in events]
        for extra in extras:
            print(
                f"Dataset {extra.get('dataset_id')}: batch {extra.get('batch_id')}, "
                f"{extra.get('records_written')} records"
            )
        return extras

    landed()

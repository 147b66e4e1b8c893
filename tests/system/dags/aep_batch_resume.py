"""System test DAG: ``IngestFilesOperator`` loading a multi-part file, retried once if its worker dies.

``conf``: ``dataset_id``, ``path`` (a JSON-lines file on this machine), ``chunk_size`` (bytes per part) and
``pid_file``, where the task writes its process id when it starts, so the test can SIGKILL that process.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_aep.operators.batch_ingestion import IngestFilesOperator


def _write_pid(context) -> None:
    Path(context["params"]["pid_file"]).write_text(f"{os.getpid()} {context['ti'].try_number}")


with DAG(
    dag_id="aep_batch_resume",
    schedule=None,
    catchup=False,
    params={"dataset_id": "", "path": "", "chunk_size": 1024, "pid_file": ""},
    tags=["aep", "system-test"],
):
    IngestFilesOperator(
        task_id="ingest",
        dataset_id="{{ params.dataset_id }}",
        files="{{ params.path }}",
        file_format="json",
        chunk_size=int(os.environ.get("AEP_BATCH_RESUME_CHUNK", "4096")),
        deferrable=True,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=0),
        on_execute_callback=_write_pid,
    )

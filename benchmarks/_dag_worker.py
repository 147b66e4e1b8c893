"""Child process for the calls benchmark: run a DAG with ``dag.test()`` and report its task instances.

``python -m benchmarks._dag_worker DAG_FILE DAG_ID EMULATOR_URL CONFS_JSON`` migrates a fresh metadata DB in
``$AIRFLOW_HOME``, then runs the DAG once per entry of ``CONFS_JSON`` (a list of run confs; between runs the
emulator clock is advanced a minute, as a later schedule would be). Prints one JSON document: per run, each
task instance's id, map index, state and start/end (epoch seconds), plus the token-cache state of this
process. ``dag.test()`` runs every task, and the deferred sensor's trigger, inline in this one process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _count_execute_cpu() -> dict[str, float]:
    """CPU seconds spent in task ``execute`` calls (``task_runner._execute_task``), by who owns the operator:
    ``provider`` (an ``airflow_provider_aep`` class: its validation, HTTP client, JSON, XCom pushes) or
    ``other``. Everything else ``dag.test()`` does (scheduling, the metadata DB, rendering) is in
    ``process`` only."""
    from airflow.sdk.execution_time import task_runner

    totals = {"provider": 0.0, "other": 0.0}
    original = task_runner._execute_task

    def timed(context, ti, log):  # type: ignore[no-untyped-def]
        key = "provider" if type(ti.task).__module__.startswith("airflow_provider_aep") else "other"
        t = time.process_time()
        try:
            return original(context, ti, log)
        finally:
            totals[key] += time.process_time() - t

    task_runner._execute_task = timed
    return totals


def main(argv: list[str]) -> None:
    dag_file, dag_id, emulator_url, confs = argv[0], argv[1], argv[2], json.loads(argv[3])

    import requests
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    # dag.test() finds the DAG through the default bundle, i.e. the DAGs folder: link the file there.
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(parents=True, exist_ok=True)
    link = dags / Path(dag_file).name
    if not link.exists():
        link.symlink_to(Path(dag_file).resolve())
    db.resetdb()
    bag = DagBag(dag_folder=str(link))
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    execute_cpu = _count_execute_cpu()
    runs = []
    for index, conf in enumerate(confs):
        if index:
            requests.post(f"{emulator_url}/__emulator/clock/advance", json={"seconds": 60}, timeout=10)
        started = time.time()
        cpu0, execute0 = time.process_time(), dict(execute_cpu)
        dag_run = dag.test(run_conf=conf)
        cpu = {
            "process": time.process_time() - cpu0,
            **{k: v - execute0.get(k, 0.0) for k, v in execute_cpu.items()},
        }
        tis = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "try_number": ti.try_number,
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
            for ti in dag_run.get_task_instances()
        ]
        runs.append(
            {
                "conf": conf,
                "state": str(dag_run.state),
                "started": started,
                "ended": time.time(),
                "tis": tis,
                "cpu": cpu,
            }
        )
    sys.stdout.write("\n@@RESULT@@" + json.dumps({"runs": runs}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

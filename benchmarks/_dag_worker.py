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
    runs = []
    for index, conf in enumerate(confs):
        if index:
            requests.post(f"{emulator_url}/__emulator/clock/advance", json={"seconds": 60}, timeout=10)
        started = time.time()
        dag_run = dag.test(run_conf=conf)
        tis = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
            for ti in dag_run.get_task_instances()
        ]
        runs.append({"conf": conf, "state": str(dag_run.state), "started": started, "ended": time.time(), "tis": tis})
    sys.stdout.write("\n@@RESULT@@" + json.dumps({"runs": runs}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""`make demo BATCH=1`: the Batch Ingestion example DAG end to end against the local AEP emulator.

Starts the emulator, runs ``airflow dags test aep_batch_ingestion`` twice on a throwaway SQLite AIRFLOW_HOME,
and prints for each run the batch id, its status and counts (read back from the emulator), then what the
second run created: a second batch, and no second field group, schema or dataset. Exits non-zero if a run
did not succeed or the second run made anything but a batch. The home is removed or kept as by ``scripts/demo.py``
(``--keep-home``, ``AEP_DEMO_KEEP_HOME=1``, or a failure keeps it).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from aep_emulator import EmulatorConfig, run_emulator
from demo import airflow_env, finish, run

DAG_ID = "aep_batch_ingestion"
TARGET_SIDE = ("fieldgroups", "schemas", "dataSets")


def ingest_summary(home: Path) -> tuple[str, dict[str, Any] | None]:
    """The newest run's state and the ingest task's return value (the batch summary)."""
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        run_id, state = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'ingest' AND key = 'return_value'",
            (DAG_ID, run_id),
        ).fetchone()
    return state, json.loads(row[0]) if row else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="customers the export task writes")
    parser.add_argument("--keep-home", action="store_true", help="keep the throwaway AIRFLOW_HOME")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="aep-demo-batch-"))
    log = home / "demo.log"
    ok = True
    with run_emulator(EmulatorConfig(batch_processing_delay=1.0)) as emu:
        print(f"AEP emulator on {emu.url}; Airflow home {home}")
        env = {**airflow_env(home, emu.url), "AEP_BATCH_POKE_INTERVAL": "1", "AEP_BATCH_EXPORT_DIR": str(home)}
        run([sys.executable, "-m", "airflow", "db", "migrate"], env, log)
        counts = []
        for name in ("first", "second"):
            print(f"\nRunning `airflow dags test {DAG_ID}` ({name} run; log: {log}) ...")
            conf = json.dumps({"records": args.records})
            code = run([sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "--conf", conf], env, log)
            state, summary = ingest_summary(home)
            print(f"DAG run {DAG_ID}: {state}")
            if summary:
                landed = len(emu.control.landed_records(summary["dataset_id"], batch_id=summary["id"]))
                print(f"  dataset          {summary['dataset_id']}")
                print(f"  batch            {summary['id']}  {summary['status']}")
                print(
                    f"  records          {summary['records']} ingested, {summary['failed_records']} failed "
                    f"({summary.get('input_files')} file(s), {summary.get('bytes')} bytes); "
                    f"{landed} read back from the dataset"
                )
            ok = ok and code == 0 and state == "success" and summary is not None
            counts.append(emu.control.stats()["resources"])
    made = {kind: counts[1].get(kind, 0) - counts[0].get(kind, 0) for kind in (*TARGET_SIDE, "batches")}
    print(
        f"\nSecond run: {made['batches']} new batch(es); "
        + ", ".join(f"{made[kind]} new {kind}" for kind in TARGET_SIDE)
    )
    ok = ok and made["batches"] == 1 and not any(made[kind] for kind in TARGET_SIDE)
    return finish(ok, home, log, keep_home=args.keep_home)


if __name__ == "__main__":
    sys.exit(main())

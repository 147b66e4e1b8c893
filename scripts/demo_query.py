"""`make demo QUERY=1`: after the onboarding, run ``dags_examples/query_service.py`` on what it landed and print
the row counts Query Service reads back (the part of ``scripts/demo.py`` about Query Service)."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

DAG_ID = "aep_query_service"


def query_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the Query Service connection (it takes ``aep_default``'s credentials) and a short poll."""
    conn = {"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}}
    return {**env, "AIRFLOW_CONN_AEP_QUERY_SERVICE_DEFAULT": json.dumps(conn), "AEP_QUERY_POKE_INTERVAL": "1"}


def report_of(home: Path) -> tuple[str, dict | None]:
    """The newest run's state and its ``report`` XCom, from the throwaway SQLite metadata DB."""
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        row = db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC", (DAG_ID,)).fetchone()
        if row is None:
            return "missing", None
        value = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'report' AND key = 'return_value'",
            (DAG_ID, row[0]),
        ).fetchone()
    return row[1], json.loads(value[0]) if value else None


def run_query_dag(env: dict[str, str], home: Path, log: Path, run: Callable[[list[str], dict, Path], int]) -> bool:
    """Run the query DAG once with ``run`` (demo.py's runner); print its row counts. True if it succeeded."""
    print(f"\nRunning `airflow dags test {DAG_ID}` (Query Service over the emulator's PostgreSQL endpoint) ...")
    code = run([sys.executable, "-m", "airflow", "dags", "test", DAG_ID], query_env(env), log)
    state, report = report_of(home)
    print(f"DAG run {DAG_ID}: {state}")
    if report:
        print(
            f"  contacts           {report['contacts']} contacts in {report['records']} records of the onboarded "
            "dataset (every version of each is kept); their latest emails passed the null and unique checks"
        )
        print(
            f"  contacts per company  {report['companies']} companies in CTAS dataset {report['dataset_id']}, "
            f"{report['contacts_with_a_company']} contacts counted (query {report['query_id']})"
        )
    return code == 0 and state == "success" and report is not None

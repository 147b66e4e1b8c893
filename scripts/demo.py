"""`make demo`: run the HubSpot onboarding DAG end to end against the local AEP emulator.

Starts the emulator on a free loopback port, runs ``airflow dags test`` on a throwaway SQLite
AIRFLOW_HOME with ``AIRFLOW_CONN_*`` pointing at it, prints what was created, and exits non-zero if the
DAG run did not succeed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from airflow_provider_aep.emulator import EmulatorConfig, run_emulator

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "aep_hubspot_onboarding"
ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"


def airflow_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags_examples"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AEP_ONBOARDING_POKE_INTERVAL": "1",
            "AIRFLOW_CONN_AEP_DEFAULT": json.dumps(
                {
                    "conn_type": "adobe_experience_platform",
                    "host": url,
                    "login": "demo-client-id",
                    "password": "demo-client-secret",
                    "extra": {"org_id": ORG_ID, "sandbox_name": "prod", "ims_url": url},
                }
            ),
            "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
                {
                    "conn_type": "hubspot",
                    "login": "demo-hubspot-app",
                    "password": "demo-hubspot-secret",
                    "extra": {"access_token": "demo-access-token", "refresh_token": "demo-refresh-token"},
                }
            ),
        }
    )
    return env


def run(cmd: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("a") as out:
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def dag_run_result(home: Path) -> tuple[str, dict[str, Any] | None]:
    """The last run's state and its ``summary`` XCom, read from the throwaway SQLite metadata DB."""
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        row = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        if row is None:
            return "no run", None
        value = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'summary' AND key = 'return_value'",
            (DAG_ID, row[0]),
        ).fetchone()
    return row[1], json.loads(value[0]) if value else None


def summarize(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"  base connection    {summary['connection_id']}",
        f"  tables             {', '.join(summary['tables'])}",
        f"  source connections {', '.join(summary['source_connection_ids'])}",
        f"  target connection  {summary['target_connection_id']}",
        f"  dataflows          {', '.join(summary['flow_ids'])}",
    ]
    for run_ in summary["runs"]:
        lines.append(
            f"  run                {run_['id']}  {run_['status']}"
            f"  ({run_['records']} records, {run_['failed_records']} failed)"
        )
    return lines


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="aep-demo-"))
    log = home / "demo.log"
    with run_emulator(EmulatorConfig(run_start_delay=1.0, run_duration=3.0)) as emu:
        print(f"AEP emulator on {emu.url}; Airflow home {home}")
        env = airflow_env(home, emu.url)
        if run([sys.executable, "-m", "airflow", "db", "migrate"], env, log) != 0:
            print(f"airflow db migrate failed; see {log}")
            return 1
        print(f"Running `airflow dags test {DAG_ID}` (log: {log}) ...")
        code = run([sys.executable, "-m", "airflow", "dags", "test", DAG_ID], env, log)
        journal = emu.control.journal()
    state, summary = dag_run_result(home)
    print(f"\nDAG run {DAG_ID}: {state}")
    if summary:
        print("\n".join(summarize(summary)))
    tokens = sum(1 for entry in journal if entry["path"].endswith("/ims/token/v3"))
    print(f"  requests           {len(journal)} to the emulator, {tokens} IMS token request(s)")
    if code != 0 or state != "success":
        print(f"\nDemo FAILED (exit {code}); the last lines of {log}:")
        print("\n".join(log.read_text().splitlines()[-40:]))
        return 1
    print("\nDemo OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

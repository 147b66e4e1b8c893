"""`make demo [SOURCE=salesforce]`: run an onboarding DAG end to end against the local AEP emulator.

Starts the emulator on a free loopback port, runs ``airflow dags test`` on a throwaway SQLite
AIRFLOW_HOME with ``AIRFLOW_CONN_*`` pointing at it, prints what was created, and exits non-zero if the
DAG run did not succeed.
"""

from __future__ import annotations

import argparse
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
DAG_IDS = {"hubspot": "aep_hubspot_onboarding", "salesforce": "aep_salesforce_onboarding"}
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
            "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
                {
                    "conn_type": "aep_salesforce",
                    "host": "https://demo.my.salesforce.com",
                    "login": "demo-connected-app-key",
                    "password": "demo-connected-app-secret",
                    "extra": {"api_version": "60.0"},
                }
            ),
        }
    )
    return env


def run(cmd: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("a") as out:
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def dag_runs(home: Path, dag_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Every run's state and its ``summary`` XCom, oldest first, read from the throwaway SQLite metadata DB."""
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        rows = db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", (dag_id,)).fetchall()
        runs = []
        for run_id, state in rows:
            value = db.execute(
                "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'summary' "
                "AND key = 'return_value'",
                (dag_id, run_id),
            ).fetchone()
            runs.append((state, json.loads(value[0]) if value else None))
    return runs


def summarize(summary: dict[str, Any], landed: dict[str, int]) -> list[str]:
    """Per table what the run made and how many records landed in its dataset (read back from the emulator)."""
    lines = [f"  base connection    {summary['connection_id']}"]
    for table in sorted(summary["tables"], key=lambda t: t["table"]):
        lines += [
            f"  {table['table']}",
            f"    schema           {table['schema_id']}",
            f"    dataset          {table['dataset_id']}",
            f"    mapping set      {table['mapping_set_id']}",
            f"    dataflow         {table['flow_id']}",
            f"    run              {table['run_id']}  {table['status']}"
            f"  ({table['records']} records, {table['failed_records']} failed)",
            f"    landed           {landed.get(table['run_id'], 0)} records in the dataset (batch of this run)",
        ]
    return lines


def landed_by_run(control: Any, summary: dict[str, Any]) -> dict[str, int]:
    """Records in each run's Catalog batch (the batch id is the run's ``targetInfo`` reference)."""
    counts: dict[str, int] = {}
    for table in summary["tables"]:
        run = control.state()["runs"]
        batch_ids = [
            ref
            for item in run
            if item["id"] == table["run_id"]
            for activity in item.get("activities", [])
            for target in activity.get("targetInfo", [])
            for ref in target.get("reference", {}).get("ids", [])
        ]
        counts[table["run_id"]] = sum(
            len(control.landed_records(table["dataset_id"], batch_id=batch_id)) for batch_id in batch_ids
        )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an onboarding DAG end to end against the AEP emulator.")
    parser.add_argument("--source", choices=sorted(DAG_IDS), default=os.environ.get("SOURCE") or "hubspot")
    dag_id = DAG_IDS[parser.parse_args(argv).source]
    home = Path(tempfile.mkdtemp(prefix="aep-demo-"))
    log = home / "demo.log"
    failed = False
    with run_emulator(EmulatorConfig(run_start_delay=1.0, run_duration=3.0)) as emu:
        print(f"AEP emulator on {emu.url}; Airflow home {home}")
        env = airflow_env(home, emu.url)
        if run([sys.executable, "-m", "airflow", "db", "migrate"], env, log) != 0:
            print(f"airflow db migrate failed; see {log}")
            return 1
        counts: list[dict[str, int]] = []
        for attempt in ("first", "second"):
            print(f"\nRunning `airflow dags test {dag_id}` ({attempt} run; log: {log}) ...")
            code = run([sys.executable, "-m", "airflow", "dags", "test", dag_id], env, log)
            state, summary = dag_runs(home, dag_id)[-1]
            print(f"DAG run {dag_id}: {state}")
            if summary:
                print("\n".join(summarize(summary, landed_by_run(emu.control, summary))))
            counts.append(emu.control.stats()["resources"])
            failed = failed or code != 0 or state != "success"
        journal = emu.control.journal()
    created = {name: counts[1][name] - counts[0][name] for name in counts[0] if name not in ("runs", "batches")}
    new = {name: n for name, n in created.items() if n}
    print(
        f"\nSecond run: {'nothing new created' if not new else f'created {new}'}; "
        f"{counts[1]['batches'] - counts[0]['batches']} new batch(es) landed"
    )
    tokens = sum(1 for entry in journal if entry["path"].endswith("/ims/token/v3"))
    print(f"  requests           {len(journal)} to the emulator, {tokens} IMS token request(s)")
    if failed or new:
        print(f"\nDemo FAILED; the last lines of {log}:")
        print("\n".join(log.read_text().splitlines()[-40:]))
        return 1
    print("\nDemo OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

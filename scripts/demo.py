"""`make demo [SOURCE=salesforce]`: run an onboarding DAG end to end against the local AEP emulator.

Starts the emulator on a free loopback port, runs ``airflow dags test`` on a throwaway SQLite
AIRFLOW_HOME with ``AIRFLOW_CONN_*`` pointing at it, prints what was created and landed, changes a few sample
rows in the emulated source (its control plane), runs the DAG again and prints what that incremental run
landed and why. Exits non-zero if a DAG run did not succeed. The home is removed at the end unless
``--keep-home`` (or ``AEP_DEMO_KEEP_HOME=1``) is given or the demo failed; the output says where it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from aep_emulator import EmulatorConfig, run_emulator

REPO = Path(__file__).resolve().parents[1]
DAG_IDS = {"hubspot": "aep_hubspot_onboarding", "salesforce": "aep_salesforce_onboarding"}
ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
#: Between the two runs the demo changes these sample rows (table, how many), so the second run has news to copy.
CHANGED_ROWS = {"hubspot": ("Hubspot.Contacts", 3), "salesforce": ("Contact", 3)}


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
    runs = control.state()["runs"]
    for table in summary["tables"]:
        batch_ids = [
            ref
            for item in runs
            if item["id"] == table["run_id"]
            for activity in item.get("activities", [])
            for target in activity.get("targetInfo", [])
            for ref in target.get("reference", {}).get("ids", [])
        ]
        counts[table["run_id"]] = sum(
            len(control.landed_records(table["dataset_id"], batch_id=batch_id)) for batch_id in batch_ids
        )
    return counts


def why(attempt: int, landed: int, changed: dict[str, Any] | None, table: str) -> str:
    """Why a run landed what it did: runs copy the rows whose delta column changed in their window."""
    if attempt == 0:
        return f"{table}: {landed} records, every row (a new dataflow's first run copies the table's history)"
    column = changed["column"] if changed else "the delta column"
    if changed and changed["table"] == table:
        return f"{table}: {landed} records, the rows whose {column} changed since the first run"
    return f"{table}: {landed} records, no row's {column} changed since the first run"


def run_twice(dag_id: str, source: str, home: Path, log: Path, *, query: bool = False) -> bool:
    """Run the DAG, change sample rows, run it again; print what each run made and landed. True if all good.
    With ``query``, then run the Query Service example on what landed (``scripts/demo_query.py``)."""
    failed = False
    with run_emulator(EmulatorConfig(run_start_delay=1.0, run_duration=3.0)) as emu:
        print(f"AEP emulator on {emu.url}; Airflow home {home}")
        env = airflow_env(home, emu.url)
        if run([sys.executable, "-m", "airflow", "db", "migrate"], env, log) != 0:
            print(f"airflow db migrate failed; see {log}")
            return False
        counts: list[dict[str, int]] = []
        requests: list[int] = []
        per_run: list[dict[str, int]] = []  # records each run landed, per table
        changed: dict[str, Any] | None = None
        summary: dict[str, Any] | None = None
        for attempt, name in enumerate(("first", "second")):
            if attempt == 1:
                table, rows = CHANGED_ROWS[source]
                changed = emu.control.touch_rows(table, rows, source=source)
                print(
                    f"\nChanged {rows} rows of {table} in the emulated {source} account "
                    f"({changed['column']} = {changed['value']}), as a CRM user editing records would."
                )
            before = len(emu.control.journal())
            print(f"\nRunning `airflow dags test {dag_id}` ({name} run; log: {log}) ...")
            code = run([sys.executable, "-m", "airflow", "dags", "test", dag_id], env, log)
            state, summary = dag_runs(home, dag_id)[-1]
            print(f"DAG run {dag_id}: {state}")
            if summary:
                landed = landed_by_run(emu.control, summary)
                per_run.append({t["table"]: landed.get(t["run_id"], 0) for t in summary["tables"]})
                print("\n".join(summarize(summary, landed)))
                print("  What this run landed, and why:")
                for item in sorted(summary["tables"], key=lambda t: t["table"]):
                    print(f"    {why(attempt, landed.get(item['run_id'], 0), changed, item['table'])}")
            counts.append(emu.control.stats()["resources"])
            journal = emu.control.journal()
            tokens = sum(1 for entry in journal[before:] if entry["path"].endswith("/ims/token/v3"))
            requests.append(len(journal) - before)
            print(f"  requests           {requests[-1]} to the emulator in this run, {tokens} of them for an IMS token")
            failed = failed or code != 0 or state != "success"
        tables = (summary or {}).get("tables", [])
        datasets = {t["table"]: len(emu.control.landed_records(t["dataset_id"])) for t in tables}
        if query and not failed:
            from demo_query import run_query_dag

            failed = not run_query_dag(env, home, log, run)
    created = {name: counts[1][name] - counts[0][name] for name in counts[0] if name not in ("runs", "batches")}
    new = {name: n for name, n in created.items() if n}
    reused = "nothing new created (every resource was found and reused)" if not new else f"created {new}"
    print(f"\nSecond run: {reused}; {counts[1]['batches'] - counts[0]['batches']} new batch(es).")
    for table, total in sorted(datasets.items()) if len(per_run) == 2 else []:
        first, second = per_run[0].get(table, 0), per_run[1].get(table, 0)
        added = (
            f"and {second} from the second: newer versions of rows it already holds (a dataset keeps every batch)"
            if second
            else "and none from the second"
        )
        print(f"  {table} dataset holds {total} records: {first} from the first run {added}; no row was copied twice")
    print(f"  requests           {sum(requests)} to the emulator in both runs ({' + '.join(map(str, requests))})")
    return not (failed or new)


def finish(ok: bool, home: Path, log: Path, *, keep_home: bool) -> int:
    """Every demo's end and exit code: a failed demo prints the tail of ``log`` and keeps ``home`` to inspect; a
    good one removes ``home`` unless ``keep_home`` or ``AEP_DEMO_KEEP_HOME=1``."""
    if not ok:
        print(f"\nDemo FAILED; the last lines of {log}:")
        print("\n".join(log.read_text().splitlines()[-40:]) if log.exists() else "(no log)")
        print(f"Airflow home kept for inspection: {home}")
        return 1
    if keep_home or os.environ.get("AEP_DEMO_KEEP_HOME") == "1":
        print(f"\nAirflow home kept: {home} (metadata DB airflow.db, task logs in logs/, {log.name})")
    else:
        shutil.rmtree(home, ignore_errors=True)
        print(f"\nAirflow home {home} removed (--keep-home keeps it)")
    print("Demo OK")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an onboarding DAG end to end against the AEP emulator.")
    parser.add_argument("--source", choices=sorted(DAG_IDS), default=os.environ.get("SOURCE") or "hubspot")
    parser.add_argument(
        "--keep-home", action="store_true", help="keep the throwaway AIRFLOW_HOME (its DB and logs) after a success"
    )
    parser.add_argument(
        "--query",
        action="store_true",
        default=os.environ.get("QUERY", "") not in ("", "0"),
        help="then run the Query Service example DAG on the landed contacts (HubSpot only; make demo QUERY=1)",
    )
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="aep-demo-"))
    log = home / "demo.log"
    ok = run_twice(DAG_IDS[args.source], args.source, home, log, query=args.query and args.source == "hubspot")
    return finish(ok, home, log, keep_home=args.keep_home)


if __name__ == "__main__":
    sys.exit(main())

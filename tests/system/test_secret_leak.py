"""No secret reaches what Airflow stores or shows: logs, XComs, rendered template fields, exception text.

The example pipeline runs on the real local Airflow (scheduler + LocalExecutor workers, triggerer for the
deferred sensor) with recognisable values for the AEP client secret and the four HubSpot credentials
(``tests.conftest``); the IMS tokens are whatever the emulator issued, read back from the bearer headers
in its journal. A second DAG gets an AEP 400 that echoes the request body, credentials included, as AEP
sometimes does: its failed task must show the error with ``***`` in place of each credential.

Then everything is scanned: every file under ``AIRFLOW_HOME`` (task logs, trigger logs, the components'
console output) and every text/blob column of every table of the metadata DB (``xcom``,
``rendered_task_instance_fields``, ``task_instance``, ``dag_run`` ...). Expected: 0 occurrences.
(``dag.test()`` output is never masked by Airflow, which is why this needs the real task runner.)
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import AEP_CLIENT_SECRET, HUBSPOT_SECRETS
from tests.reliability.artifacts import write_artifact

pytestmark = pytest.mark.system

FS = "/data/foundation/flowservice"
ONBOARDING = "aep_hubspot_onboarding"
ECHO = "aep_secret_echo"
ECHO_TASK = "create_connection_rejected"
SECRETS = {
    "aep_client_secret": AEP_CLIENT_SECRET,
    "hubspot_client_id": HUBSPOT_SECRETS["login"],
    "hubspot_client_secret": HUBSPOT_SECRETS["password"],
    "hubspot_access_token": HUBSPOT_SECRETS["access_token"],
    "hubspot_refresh_token": HUBSPOT_SECRETS["refresh_token"],
}


def echoing_400(connection_name: str) -> dict:
    """A Flow Service 400 that quotes the create request, credentials and all."""
    echoed = {
        "name": connection_name,
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "clientId": HUBSPOT_SECRETS["login"],
                "clientSecret": HUBSPOT_SECRETS["password"],
                "accessToken": HUBSPOT_SECRETS["access_token"],
                "refreshToken": HUBSPOT_SECRETS["refresh_token"],
            },
        },
    }
    detail = f"Invalid value in auth.params of request body {json.dumps(echoed)}"
    return {
        "type": "https://ns.adobe.com/aep/errors/FLOW-1100-400",
        "title": "Invalid request",
        "status": 400,
        "report": {"detailed-message": detail},
        "errorMessage": detail,
        "errorDetails": detail,
    }


def issued_tokens(control) -> set[str]:
    tokens = set()
    for entry in control.journal(path=FS + "/.*", include_secrets=True):  # the raw tokens, to look for them
        value = entry["headers"].get("authorization", "")
        if value.lower().startswith("bearer "):
            tokens.add(value[7:].strip())
    return {t for t in tokens if len(t) >= 5}


def scan_files(home: Path, needles: dict[str, str]) -> Counter:
    found: Counter = Counter()
    for path in home.rglob("*"):
        if not path.is_file() or path.suffix in (".db", ".db-wal", ".db-shm") or path.name.startswith("airflow.db"):
            continue
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        for name, value in needles.items():
            if value in text:
                found[(name, str(path.relative_to(home)))] += text.count(value)
    return found


def scan_db(db: Path, needles: dict[str, str]) -> tuple[Counter, dict[str, int]]:
    """Occurrences per (secret, table.column), and the number of rows looked at per table."""
    found: Counter = Counter()
    rows_seen: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            rows_seen[table] = len(rows)
            for row in rows:
                for column, value in zip(columns, row, strict=True):
                    if value is None or isinstance(value, (int, float)):
                        continue
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    for name, needle in needles.items():
                        if needle in text:
                            found[(name, f"{table}.{column}")] += text.count(needle)
    finally:
        conn.close()
    return found, rows_seen


def test_no_secret_in_logs_xcom_rendered_fields_or_errors(airflow_server, airflow_api, system_emulator):
    control = system_emulator.control
    control.clear_faults()

    # Hold the emulated runs in progress until the sensors deferred, so a trigger log surely exists to be
    # scanned, however busy the machine (a run must not end before the sensor's first check).
    control.configure(run_start_delay=0.0, run_duration=3600.0)
    airflow_api.wait_for_dag(ONBOARDING)
    airflow_api.unpause(ONBOARDING)
    run_id = airflow_api.trigger(
        ONBOARDING, conf={"connection_name": "secret leak check", "tables": ["Hubspot.Contacts", "Hubspot.Deals"]}
    )
    airflow_api.wait_for_tasks(ONBOARDING, run_id, "onboard_table.wait_for_run", "deferred", count=2, timeout=300)
    control.advance_clock(7200)
    run = airflow_api.wait_for_run(ONBOARDING, run_id, timeout=240)
    tis = {
        (ti["task_id"], ti["map_index"]): ti["state"]
        for ti in airflow_api.task_instances(ONBOARDING, run["dag_run_id"])
    }
    assert run["state"] == "success", tis
    assert tis[("onboard_table.wait_for_run", 0)] == "success"

    control.add_fault(method="POST", path=FS + "/connections", status=400, body=echoing_400("secret echo"), count=1)
    try:
        echo = airflow_api.run_dag(ECHO, conf={"connection_name": "secret echo"}, timeout=120)
    finally:
        control.clear_faults()
    assert echo["state"] == "failed"
    echo_log = airflow_api.read_task_log(ECHO, echo["dag_run_id"], ECHO_TASK)
    assert "AEPBadRequestError" in echo_log and "HTTP 400" in echo_log, echo_log[-3000:]
    assert "Invalid value in auth.params of request body" in echo_log
    assert "clientSecret" in echo_log and "***" in echo_log, echo_log[-3000:]
    error_lines = [line for line in echo_log.splitlines() if "Invalid value in auth.params" in line]

    tokens = issued_tokens(control)
    assert tokens, "no bearer token in the emulator journal"
    needles = dict(SECRETS)
    needles.update({f"ims_token_{i}": token for i, token in enumerate(sorted(tokens))})

    in_files = scan_files(airflow_server.home, needles)
    in_db, rows_seen = scan_db(airflow_server.home / "airflow.db", needles)
    places_checked = {
        "files": sum(1 for p in airflow_server.home.rglob("*") if p.is_file()),
        "task_and_trigger_log_files": len(airflow_api.all_log_files()),
        "xcom_rows": rows_seen.get("xcom", 0),
        "rendered_task_instance_fields_rows": rows_seen.get("rendered_task_instance_fields", 0),
        "db_tables": len(rows_seen),
        "db_rows": sum(rows_seen.values()),
    }
    report = {
        "echoed_400_as_logged": error_lines[0][:1500] if error_lines else None,
        "secrets_checked": [*sorted(SECRETS), f"{len(tokens)} IMS tokens"],
        "places_checked": places_checked,
        "occurrences": sum(in_files.values()) + sum(in_db.values()),
        "where": {f"{name} in {place}": n for (name, place), n in (in_files + in_db).items()},
    }
    write_artifact("secret-leak.json", report)
    print(f"\nsecret leak scan: {json.dumps(report, indent=2)}")
    assert places_checked["xcom_rows"] > 0 and places_checked["rendered_task_instance_fields_rows"] > 0
    assert any(".trigger." in p.name for p in airflow_api.all_log_files()), "the sensor never deferred"
    assert report["occurrences"] == 0, report["where"]

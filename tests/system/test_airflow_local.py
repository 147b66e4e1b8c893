"""``make airflow`` (scripts/airflow_local.py): starts, answers, prints the login, stores both connections in
Airflow's DB (encrypted, listed, testable), and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import requests

from tests.conftest import REPO
from tests.system.airflow_server import ADMIN_PASSWORD, ADMIN_USER, AirflowClient, free_port
from tests.system.demo_connections import DEMO_ORG_ID


def test_make_airflow_starts_and_stops_everything(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "airflow_local.py"), "--port", str(port), "--home", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert f"Airflow UI : http://127.0.0.1:{port}" in output, output[-3000:]
        assert "login: admin / admin" in output
        health = requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10).json()
        assert health["scheduler"]["status"] == "healthy"
        assert health["triggerer"]["status"] == "healthy"
        assert "aep_secret_echo" not in output, "make airflow must not load the system tests' DAGs"
        assert "Sandboxes  : prod, dev (any other name answers 'Sandbox not found'" in output
        assert "Connections: aep_default (created), hubspot_default (created), in Airflow's DB" in output
        # Stored through the API, as a user would: listed (so they can be opened and edited), secrets masked.
        api = AirflowClient(f"http://127.0.0.1:{port}", ADMIN_USER, ADMIN_PASSWORD)
        listed = {c["connection_id"]: c for c in api.get("/api/v2/connections")["connections"]}
        assert set(listed) == {"aep_default", "hubspot_default"}
        aep = listed["aep_default"]
        emulator = re.search(r"Emulator   : (http://127\.0\.0\.1:(\d+))", output)
        assert emulator, output[-2000:]
        assert (aep["host"], aep["port"], aep["password"]) == ("http://127.0.0.1", int(emulator.group(2)), "***")
        assert json.loads(aep["extra"])["ims_url"] == emulator.group(1)
        assert json.loads(listed["hubspot_default"]["extra"]) == {"access_token": "***", "refresh_token": "***"}
        # the list's Test button: the stored connection with its password masked (the api-server uses the stored
        # one); on Airflow 3.3.2 this only works for a connection saved with a port (docs/ui.md)
        fields = ("connection_id", "conn_type", "host", "port", "login", "extra")
        listed_button = {**{k: aep[k] for k in fields}, "password": "***", "schema": "", "description": ""}
        connected = f"Connected to {emulator.group(1)} (org {DEMO_ORG_ID}, sandbox prod)"
        assert api.test_connection(listed_button) == {"status": True, "message": connected}
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    rest = proc.stdout.read()  # type: ignore[union-attr]
    assert proc.returncode == 0, "".join(lines)[-3000:] + rest
    assert "Traceback" not in rest, rest  # before: the emulator child died with a KeyboardInterrupt traceback
    assert rest.rstrip().splitlines()[-1] == "stopped", rest
    try:
        requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the api-server still answers after Ctrl-C")
    # and in the DB the secrets are encrypted with the home's Fernet key
    with closing(sqlite3.connect(tmp_path / "airflow.db")) as db:
        rows = db.execute("SELECT conn_id, is_encrypted, is_extra_encrypted, password FROM connection").fetchall()
    assert {(conn_id, encrypted, extra) for conn_id, encrypted, extra, _ in rows} == {
        ("aep_default", 1, 1),
        ("hubspot_default", 1, 1),
    }
    assert not any("demo-" in password for *_, password in rows)

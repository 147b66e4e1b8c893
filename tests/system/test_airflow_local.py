"""``make airflow`` (scripts/airflow_local.py): starts, answers, prints the login, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from tests.conftest import REPO
from tests.system.airflow_server import free_port


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

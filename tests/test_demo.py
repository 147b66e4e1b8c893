"""``make demo`` (scripts/demo.py): the onboarding DAG through ``airflow dags test`` against the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_demo_runs_the_onboarding_dag_and_prints_the_summary():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # the demo makes its own home
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "DAG run aep_hubspot_onboarding: success" in text
    assert re.search(r"base connection\s+[0-9a-f-]{36}", text)
    assert "Hubspot.Companies, Hubspot.Contacts" in text or "Hubspot.Contacts, Hubspot.Companies" in text
    assert len(re.findall(r"run\s+[0-9a-f-]{36}\s+success", text)) == 2
    assert "1 IMS token request(s)" in text
    assert text.rstrip().endswith("Demo OK")

"""``make demo`` (scripts/demo.py): an onboarding DAG through ``airflow dags test`` against the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

TABLES = {"hubspot": ("Hubspot.Companies", "Hubspot.Contacts"), "salesforce": ("Account", "Contact")}


@pytest.mark.parametrize("source", sorted(TABLES))
def test_demo_runs_the_onboarding_dag_twice_and_prints_what_landed(source):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # the demo makes its own home
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--source", source],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert text.count(f"DAG run aep_{source}_onboarding: success") == 2
    assert re.search(r"base connection\s+[0-9a-f-]{36}", text)
    for table in TABLES[source]:
        assert f"\n  {table}\n" in text
    assert len(re.findall(r"schema\s+https://ns\.adobe\.com/\w+/schemas/\w+", text)) == 4
    assert len(re.findall(r"run\s+[0-9a-f-]{36}\s+success\s+\(10 records, 0 failed\)", text)) == 4
    assert len(re.findall(r"landed\s+10 records in the dataset", text)) == 4
    assert "Second run: nothing new created; 2 new batch(es) landed" in text
    assert "2 IMS token request(s)" in text  # one per `airflow dags test` process
    assert text.rstrip().endswith("Demo OK")

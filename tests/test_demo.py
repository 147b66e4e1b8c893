"""``make demo`` (scripts/demo.py): an onboarding DAG through ``airflow dags test`` against the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

TABLES = {"hubspot": ("Hubspot.Companies", "Hubspot.Contacts"), "salesforce": ("Account", "Contact")}
CHANGED = {"hubspot": "Hubspot.Contacts", "salesforce": "Contact"}  # the demo changes 3 of its rows between runs


@pytest.mark.parametrize("source", sorted(TABLES))
def test_demo_runs_the_onboarding_dag_twice_and_prints_what_landed(source):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AEP_DEMO"))}  # its own home
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
    # The first run copies every sample row; the second only the rows changed in between (the delta column).
    assert len(re.findall(r"run\s+[0-9a-f-]{36}\s+success\s+\(10 records, 0 failed\)", text)) == 2
    assert len(re.findall(r"landed\s+10 records in the dataset", text)) == 2
    unchanged = next(t for t in TABLES[source] if t != CHANGED[source])
    assert re.search(rf"Changed 3 rows of {re.escape(CHANGED[source])} in the emulated {source} account", text)
    assert f"{CHANGED[source]}: 3 records, the rows whose" in text
    assert re.search(rf"{re.escape(unchanged)}: 0 records, no row's \w+ changed since the first run", text)
    assert f"{CHANGED[source]} dataset holds 13 records: 10 from the first run and 3 from the second" in text
    assert f"{unchanged} dataset holds 10 records: 10 from the first run and none from the second" in text
    assert "Second run: nothing new created (every resource was found and reused); 2 new batch(es)" in text
    # one IMS token per `airflow dags test` process, counted per run, then both runs' requests added up
    per_run = [int(n) for n in re.findall(r"requests\s+(\d+) to the emulator in this run, 1 of them for an IMS", text)]
    assert len(per_run) == 2
    assert f"{sum(per_run)} to the emulator in both runs ({per_run[0]} + {per_run[1]})" in text
    # the throwaway Airflow home is removed, and the output says so
    home = re.search(r"Airflow home (\S+) removed \(--keep-home keeps it\)", text)
    assert home and not Path(home.group(1)).exists(), text[-500:]
    assert text.rstrip().endswith("Demo OK")


def test_batch_demo_lands_a_batch_per_run_and_reuses_the_dataset():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AEP_DEMO", "AEP_BATCH"))}
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_batch.py"), "--records", "300"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert text.count("DAG run aep_batch_ingestion: success") == 2
    batches = re.findall(r"batch\s+(\w{26})\s+success", text)
    assert len(batches) == 2 and batches[0] != batches[1]
    assert len(set(re.findall(r"\n  dataset\s+(\w+)", text))) == 1
    assert len(re.findall(r"300 ingested, 0 failed .*; 300 read back from the dataset", text)) == 2
    assert "Second run: 1 new batch(es); 0 new fieldgroups, 0 new schemas, 0 new dataSets" in text
    assert text.rstrip().endswith("Demo OK")

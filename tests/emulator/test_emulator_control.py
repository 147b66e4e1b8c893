"""Control plane: reset, journal, state, stats, clock and configuration; cheap and Airflow-free imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airflow_provider_aep.emulator import EmulatorConfig, EmulatorControl, EmulatorControlError
from airflow_provider_aep.emulator.state import COLLECTIONS

from .helpers import FS, HUBSPOT_AUTH, ORG

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_aep" / "emulator"


def test_journal_records_requests(emu, fs):
    conn_id = fs.connection()
    fs.get("/connections", params={"property": ["name==x", "state==enabled"], "limit": 5})
    journal = emu.control.journal()
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/ims/token/v3", 200),
        ("POST", f"{FS}/connections", 201),
        ("GET", f"{FS}/connections", 200),
    ]
    ims, create, listing = journal
    assert ims["body"]["grant_type"] == "client_credentials"
    assert ims["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert create["body"]["auth"] == HUBSPOT_AUTH
    assert create["headers"]["x-gw-ims-org-id"] == ORG
    assert create["headers"]["authorization"].startswith("Bearer ")
    assert listing["query"] == {"property": ["name==x", "state==enabled"], "limit": ["5"]}
    assert listing["body"] is None
    assert all(isinstance(e["time"], float) for e in journal)
    assert journal[0]["time"] <= journal[1]["time"] <= journal[2]["time"]
    assert emu.control.journal(method="GET") == [listing]
    assert emu.control.journal(path=r".*/connections") == [create, listing]
    emu.control.clear_journal()
    assert emu.control.journal() == []
    assert conn_id


def test_journal_limit(emu, fs):
    emu.control.configure(journal_limit=3)
    for _ in range(5):
        fs.get("/connections")
    assert len(emu.control.journal()) == 3


def test_reset_clears_everything(emu, fs):
    fs.connection()
    emu.control.add_fault("GET", ".*")
    emu.control.advance_clock(100)
    emu.control.configure(token_lifetime=5)
    emu.control.set_run_outcome("failed")
    emu.control.reset()
    assert emu.control.state()["connections"] == []
    assert emu.control.faults() == [] and emu.control.journal() == []
    assert emu.control.clock()["offset"] == 0
    assert emu.control.config()["token_lifetime"] == 86399
    assert emu.control.stats()["tokens_issued"] == 0
    assert fs.get("/connections").status_code == 401  # tokens were forgotten too


def test_state_across_sandboxes(emu, flow_client):
    prod, dev = flow_client("prod"), flow_client("dev")
    prod.pipeline()
    dev.connection(name="dev-conn")
    state = emu.control.state()
    assert set(state) == set(COLLECTIONS)
    assert sorted(c["sandboxName"] for c in state["connections"]) == ["dev", "prod"]
    assert all(c["imsOrgId"] == ORG for c in state["connections"])
    assert len(state["flows"]) == 1 and len(state["sourceConnections"]) == 1
    assert "hs-secret-VALUE" not in str(state)
    raw = emu.control.state(include_secrets=True)
    assert raw["connections"][0]["auth"]["params"]["clientSecret"] == "hs-secret-VALUE"
    assert not any(key.startswith("_") for items in state.values() for item in items for key in item)


def test_stats(emu, fs):
    fs.connection()
    fs.get("/connections/missing")
    stats = emu.control.stats()
    assert stats["tokens_issued"] == 1
    assert stats["requests"] == 3
    assert stats["responses"] == {"200": 1, "201": 1, "404": 1}
    assert stats["resources"]["connections"] == 1


def test_clock(emu):
    before = emu.control.clock()["now"]
    after = emu.control.advance_clock(3600)
    assert after - before >= 3600
    with pytest.raises(EmulatorControlError):
        emu.control.advance_clock(-1)


def test_configure_validates(emu):
    with pytest.raises(EmulatorControlError):
        emu.control.configure(run_outcome="maybe")
    with pytest.raises(EmulatorControlError):
        emu.control.configure(no_such_field=1)
    assert emu.control.configure(run_duration=0.5)["run_duration"] == 0.5


def test_control_http_surface(emu):
    base = f"{emu.url}/__emulator"
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
    assert requests.post(f"{base}/reset", timeout=5).status_code == 200
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    assert requests.post(f"{base}/state", timeout=5).status_code == 405
    assert requests.post(f"{base}/clock/advance", json={"seconds": "x"}, timeout=5).status_code == 400
    created = requests.post(f"{base}/faults", json={"path": "/x", "status": 418}, timeout=5)
    assert created.status_code == 201
    assert requests.get(f"{emu.url}/x", timeout=5).status_code == 418
    assert requests.delete(f"{base}/faults", timeout=5).status_code == 204
    assert requests.post(f"{base}/runs/outcome", json={"outcome": "meh"}, timeout=5).status_code == 400
    unknown_run = requests.post(f"{base}/runs/outcome", json={"outcome": "failed", "run_id": "nope"}, timeout=5)
    assert unknown_run.status_code == 404


def test_control_client_waits_with_a_deadline():
    with pytest.raises(TimeoutError):
        EmulatorControl("http://127.0.0.1:9").wait_until_ready(timeout=0.3)


def test_config_round_trip():
    config = EmulatorConfig(credentials={"a": "b"}, run_duration=1.5)
    assert EmulatorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError):
        EmulatorConfig(run_outcome="bad")


def test_package_import_is_cheap_and_airflow_free():
    code = (
        "import sys, airflow_provider_aep.emulator as e;"
        "assert 'uvicorn' not in sys.modules and 'fastapi' not in sys.modules, 'heavy import';"
        "assert not any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules), 'airflow import';"
        "assert callable(e.run_emulator) and e.EmulatorConfig().token_lifetime == 86399"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parents[1])


def test_no_airflow_imports_in_the_emulator():
    offenders = [
        path.name
        for path in PACKAGE.glob("*.py")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import airflow", "from airflow "))
    ]
    assert offenders == []

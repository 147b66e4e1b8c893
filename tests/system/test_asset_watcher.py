"""``dags_examples/aep_run_watcher.py`` on a real Airflow: an ``AssetWatcher`` with
``AEPDataflowRunEventTrigger`` turns each run of an AEP-scheduled (every 15 minutes) dataflow into an asset
event, and the DAG scheduled on the asset runs for them, with no duplicate after the triggerer is restarted.

The example DAG reads the flow id at parse time (``AEP_WATCH_FLOW_ID``), so this test creates the flow in
the session emulator first, then starts its own Airflow (the shared one's environment is fixed) with only
that DAG. The emulator's clock is advanced to produce runs; real time never makes a slot due (the first slot
is an hour ahead). Airflow may merge close events into one DAG run, so the test checks the asset events and
the union of the DAG runs' upstream events, not one DAG run per event (see the notes, §2.2).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aep_conn_json
from tests.operators.conftest import base_connection_id, context, explored, pipeline, target_side  # noqa: F401
from tests.system.airflow_server import EXAMPLE_DAGS, AirflowClient, LocalAirflow

DAG_ID = "aep_run_watcher"
TIMEOUT = float(os.environ.get("AEP_SYSTEM_WATCHER_TIMEOUT", "240"))


@pytest.fixture
def emulator(system_emulator, connections):
    """The session emulator, emptied, with this process's ``aep_default`` pointing at it (for the operators)."""
    system_emulator.control.reset()
    connections(system_emulator.url)
    return system_emulator


@pytest.fixture
def minute_flow(emulator, pipeline, context) -> str:  # noqa: F811
    from airflow_provider_aep.operators.flows import CreateDataflowOperator

    emulator.control.configure(run_start_delay=1, run_duration=2)
    start = int(emulator.control.clock()["now"]) + 3600
    return CreateDataflowOperator(
        task_id="minute_flow",
        name="hubspot contacts every 15 minutes",
        source_connection_ids=pipeline["source"],
        target_connection_id=pipeline["target"],
        delta_column="Updated_At",
        mapping_id=pipeline["mapping"],
        schedule={"frequency": "minute", "interval": 15, "startTime": start},
    ).execute(context)


@pytest.fixture
def watcher_airflow(emulator, minute_flow, request: pytest.FixtureRequest) -> Iterator[LocalAirflow]:
    home = Path(tempfile.mkdtemp(prefix="aep-watcher-airflow-"))
    dags = home / "dag_sources"
    dags.mkdir()
    (dags / "aep_run_watcher.py").symlink_to(EXAMPLE_DAGS / "aep_run_watcher.py")
    server = LocalAirflow.create(
        home,
        connections={"aep_default": aep_conn_json(emulator.url)},
        dag_sources=[dags],
        extra_env={
            "AEP_WATCH_FLOW_ID": minute_flow,
            "AEP_WATCH_POLL_INTERVAL": "1",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        },
    )
    failed = True
    try:
        server.start()
        server.wait_until_ready(timeout=TIMEOUT)
        yield server
        report = getattr(request.node, "rep_call", None)  # set by tests/system/conftest.py
        failed = report is None or report.failed
    finally:
        if failed:
            print(server.log_tail(80))
        server.stop()
        if failed:
            print(f"\nwatcher Airflow home kept for inspection: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def restart_triggerer(server: LocalAirflow) -> None:
    proc = server.processes.pop("triggerer")
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # the triggerer can take > 20 s on SIGTERM (notes §2.4)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    server.processes["triggerer"] = server._spawn("triggerer", ["triggerer", "--skip-serve-logs"])


def run_polls(emulator, flow_id: str) -> int:
    """How many ``GET /runs`` of this flow the watcher has sent (the emulator's journal)."""
    return sum(1 for e in emulator.control.journal(method="GET", path=".*/flowservice/runs") if flow_id in str(e))


def wait_for_polls(emulator, flow_id: str, more: int, timeout: float = TIMEOUT) -> None:
    """Wait until the watcher has polled ``more`` more times (so it has taken its baseline / read its cursor)."""
    target = run_polls(emulator, flow_id) + more
    deadline = time.monotonic() + timeout
    while run_polls(emulator, flow_id) < target:
        assert time.monotonic() < deadline, f"the watcher did not poll AEP ({run_polls(emulator, flow_id)} polls)"
        time.sleep(0.5)


def watcher_events(api: AirflowClient, asset_name: str) -> list[dict[str, Any]]:
    """The asset's events, oldest first. Airflow 3.3.2 answers 500 while an event's DAG run is queued (its
    ``start_date`` is None and fails the response model), so that is retried until the run has started."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        body = api.request("GET", "/api/v2/assets/events", expect=None, params={"limit": 100, "order_by": "timestamp"})
        if isinstance(body, dict) and isinstance(body.get("asset_events"), list):
            return [e for e in body["asset_events"] if e.get("name") == asset_name or e.get("uri") == asset_name]
        assert time.monotonic() < deadline, f"GET /api/v2/assets/events kept failing: {body}"
        time.sleep(1)


def wait_for_events(api: AirflowClient, asset_name: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        events = watcher_events(api, asset_name)
        if len(events) >= count:
            return events
        assert time.monotonic() < deadline, f"expected {count} asset events, got {events}"
        time.sleep(1)


def finished_runs(emulator, flow_id: str) -> list[str]:
    runs = [r for r in emulator.control.state()["runs"] if r["flowId"] == flow_id]
    return sorted(r["id"] for r in runs if r["state"] in ("success", "failed"))


def test_watcher_runs_the_dag_once_per_aep_run_across_a_triggerer_restart(emulator, minute_flow, watcher_airflow):
    api = watcher_airflow.client()
    asset_name = f"aep_flow_runs_{minute_flow}"
    api.wait_for_dag(DAG_ID, timeout=TIMEOUT)
    wait_for_polls(emulator, minute_flow, 2)  # baseline taken (no runs yet), then at least one poll

    emulator.control.advance_clock(3600 + 5)  # the first slot: one run, finished
    first = wait_for_events(api, asset_name, 1)
    assert [e["extra"]["payload"]["run_id"] for e in first] == finished_runs(emulator, minute_flow)

    restart_triggerer(watcher_airflow)
    # Each slot copies the rows changed in its window (the first one all history): change one before each.
    emulator.control.touch_rows("Hubspot.Contacts", 1)
    emulator.control.advance_clock(900)  # a run that finishes while the new triggerer starts up
    wait_for_polls(emulator, minute_flow, 2)  # the restarted watcher is polling again
    emulator.control.touch_rows("Hubspot.Contacts", 1)
    emulator.control.advance_clock(900)  # one more after the restart
    events = wait_for_events(api, asset_name, 3)
    time.sleep(10)  # several more polls: a repeat would show up now
    events = watcher_events(api, asset_name)

    announced = [e["extra"]["payload"]["run_id"] for e in events]
    assert len(announced) == len(set(announced)) == 3, announced  # no duplicate after the restart
    assert sorted(announced) == finished_runs(emulator, minute_flow)  # and none lost
    for event in events:
        assert event["extra"]["from_trigger"] is True
        payload = event["extra"]["payload"]
        assert payload["flow_id"] == minute_flow and payload["status"] == "success"
        assert payload["records_written"] and payload["batch_id"] and payload["run"]["id"] == payload["run_id"]

    # the DAG ran for them: the union of its runs' triggering events covers every announced run
    deadline = time.monotonic() + TIMEOUT
    while True:
        runs = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
        done = [r for r in runs if r["state"] == "success"]
        consumed: set[str] = set()
        for run in done:
            upstream = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
            consumed |= {e["extra"]["payload"]["run_id"] for e in upstream["asset_events"]}
        if consumed >= set(announced) and len(done) == len(runs):
            break
        assert time.monotonic() < deadline, f"DAG runs {[(r['dag_run_id'], r['state']) for r in runs]}: {consumed}"
        time.sleep(1)
    assert not [r for r in runs if r["state"] == "failed"]

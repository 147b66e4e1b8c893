"""The onboarding DAG on a distributed Airflow: CeleryExecutor, PostgreSQL, Redis, two workers; faults included.

One DAG run onboards four tables against the emulator, on private PostgreSQL and Redis servers and separate
Airflow processes (``tests.system.distributed``), with the connections saved in the metadata DB through the
REST API as an operator would. Two faults happen on the way, each held in place by the emulator, not timed:

* **A worker is lost inside a create.** Every table's ``POST /dataSets`` is held by the emulator until all four
  are in flight at once (so the mapped creates ran in parallel, two on each worker); then worker-1 is killed
  with SIGKILL (its pool and task processes too) while its two creates wait, and the holds are released: the
  emulator performs those two creates although nobody is left to read the answer. worker-1 is started again, as
  an orchestrator would; the scheduler notices the lost task instances (heartbeat timeout) and retries them,
  and the retries must find the datasets by name and reuse them.
* **The triggerer is killed mid-wait.** The emulated runs are held in progress on the emulator clock until all
  four sensors have deferred; then each trigger's next poll of its run is held by the emulator, so all four are
  inside a request, and the triggerer is killed with SIGKILL (its whole process group: the triggerer and its
  trigger runner, as when its machine is lost; no cleanup, no graceful hand-over of the triggers). It is started
  again; once the waits it took over from the dead triggerer all poll again (held once more, all four at once)
  the clock moves so the runs end. No sensor is retried or lost.

Then: the DAG run succeeded; exactly one of every resource per table (no duplicate from the retries); every
task process requested at most one IMS token; and a scan of a ``pg_dump`` of the metadata DB, every log and
every component's output finds no secret. Figures go to ``test-artifacts/reliability/distributed.json``
(``docs/reliability.md`` quotes them).

Skips when PostgreSQL or Redis is not installed, except in CI (``CI`` or ``AEP_REQUIRE_DISTRIBUTED`` set, as
``.ci/run`` does), where that is a failure: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import AEP_CLIENT_ID, AEP_CLIENT_SECRET, HUBSPOT_SECRETS, ORG_ID
from tests.reliability.artifacts import write_artifact
from tests.system.distributed import (
    WORKERS,
    ServiceMissing,
    distributed_airflow,
    group_members,
    postgres_bindir,
    redis_server,
)
from tests.system.test_concurrency import max_overlap
from tests.system.test_secret_leak import SECRETS, issued_tokens, scan_files

pytestmark = pytest.mark.system

DAG_ID = "aep_hubspot_onboarding"
TABLES = ["Hubspot.Companies", "Hubspot.Contacts", "Hubspot.Deals", "Hubspot.Owners"]
CONNECTION_NAME = "distributed check"
DATASETS = "/data/foundation/catalog/dataSets"
RUN_POLLS = "/data/foundation/flowservice/runs(/[^/]+)?"  # a trigger's poll: GET /runs/{id} or GET /runs?...
CREATE_DATASET = "onboard_table.create_dataset"
SENSOR = "onboard_table.wait_for_run"
TOKEN_LINE = "Requesting an IMS access token"
# Airflow keeps a connection's Login in clear text (only Password and Extra are encrypted with the Fernet key),
# and its audit log of the REST call that saved the connection masks Password and secret Extra keys but not
# Login. The HubSpot client ID is the app's public OAuth identifier; it is expected there and nowhere else.
# docs/deploy.md says so (use a secrets backend where policy treats it as secret).
AIRFLOW_STORES_IN_CLEAR = {("hubspot_client_id", "public.connection"), ("hubspot_client_id", "public.log")}
NAMED = ("fieldgroups", "schemas", "dataSets", "mappingSets", "sourceConnections", "targetConnections", "flows")
KEEP = os.environ.get("AEP_SYSTEM_KEEP_HOME") == "1"

DISTRIBUTED_ENV = {
    "AIRFLOW__AEP__UI_TENANT": "aep-emulator",
    "AEP_ONBOARDING_POKE_INTERVAL": "1",
    # A lost worker's task instances are noticed after 20 s without a heartbeat (default 300 s).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "3",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
}


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def cluster(system_emulator):
    try:
        postgres_bindir()
        redis_server()
    except ServiceMissing as missing:
        if os.environ.get("CI") or os.environ.get("AEP_REQUIRE_DISTRIBUTED"):
            pytest.fail(f"CI must run the distributed test: {missing} (.ci/run installs it)", pytrace=False)
        pytest.skip(f"distributed test needs PostgreSQL and Redis: {missing}")
    root = Path(tempfile.mkdtemp(prefix="aep-distributed-"))
    if os.geteuid() == 0:
        root.chmod(0o755)  # PostgreSQL runs as the postgres user below it
    failed = False
    try:
        with distributed_airflow(root, extra_env=DISTRIBUTED_ENV) as stack:
            yield stack
    except BaseException:
        failed = True
        raise
    finally:
        if KEEP or failed:
            print(f"\ndistributed Airflow kept for inspection: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def save_connections(api, emulator_url: str) -> None:
    """The two connections, saved in the metadata DB (encrypted with the Fernet key) through the REST API."""
    api.create_connection(
        {
            "connection_id": "aep_default",
            "conn_type": "adobe_experience_platform",
            "host": emulator_url,
            "login": AEP_CLIENT_ID,
            "password": AEP_CLIENT_SECRET,
            "extra": json.dumps({"org_id": ORG_ID, "sandbox_name": "prod", "ims_url": emulator_url}),
        }
    )
    api.create_connection(
        {
            "connection_id": "hubspot_default",
            "conn_type": "hubspot",
            "login": HUBSPOT_SECRETS["login"],
            "password": HUBSPOT_SECRETS["password"],
            "extra": json.dumps(
                {"access_token": HUBSPOT_SECRETS["access_token"], "refresh_token": HUBSPOT_SECRETS["refresh_token"]}
            ),
        }
    )


def wait_for_state(api, run_id: str, task_id: str, map_indexes: list[int], states: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        tis = {t["map_index"]: t for t in api.task_instances(DAG_ID, run_id) if t["task_id"] == task_id}
        if all(tis.get(i, {}).get("state") in states for i in map_indexes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{task_id} {map_indexes} not in {states}: { {i: t['state'] for i, t in tis.items()} }")
        time.sleep(0.5)


def run_log_files(api, run_id: str) -> list[Path]:
    folder = api.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
    return sorted(p for p in folder.rglob("*") if p.is_file())


def token_requests_per_process(api, run_id: str) -> list[tuple[str, int, int]]:
    """(log file, IMS token requests logged, task processes that wrote it) for every task log file.

    Each start of a task process (a try, or a resume after deferral) writes the task runner's
    "DAG bundles loaded" line first, so those lines count the processes behind one file."""
    rows = []
    for path in run_log_files(api, run_id):
        if ".trigger." in path.name:
            continue
        text = path.read_text(errors="replace")
        processes = max(1, text.count("DAG bundles loaded"))
        rows.append((str(path.relative_to(api.home / "logs")), text.count(TOKEN_LINE), processes))
    return rows


def triggerer_token_requests(airflow, api, run_id: str) -> int:
    """IMS token requests the triggerers logged: in their console output or the trigger log files (a line may
    be in both places, so the larger count)."""
    in_output = airflow.output_file("triggerer").read_text(errors="replace").count(TOKEN_LINE)
    in_trigger_logs = sum(
        p.read_text(errors="replace").count(TOKEN_LINE) for p in run_log_files(api, run_id) if ".trigger." in p.name
    )
    return max(in_output, in_trigger_logs)


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def dump_hits(dump: str, needles: dict[str, str]) -> Counter:
    """Occurrences per (secret, table) in a ``pg_dump``: each table's rows are one ``COPY ... FROM stdin`` block."""
    found: Counter = Counter()
    for block in re.split(r"^COPY ", dump, flags=re.M)[1:]:
        table = block.split(" ", 1)[0]
        rows = block.split("\n\\.\n", 1)[0]
        for name, value in needles.items():
            if value in rows:
                found[(name, table)] += rows.count(value)
    return found


def test_onboarding_on_celery_postgres_redis_with_a_lost_worker_and_a_killed_triggerer(cluster, system_emulator):
    airflow, postgres, redis = cluster
    control = system_emulator.control
    control.reset()
    api = airflow.client()
    save_connections(api, system_emulator.url)
    started = time.monotonic()

    control.configure(run_start_delay=0.0, run_duration=3600.0)  # runs stay in progress until the clock moves
    hold = control.add_fault(method="POST", path=DATASETS, action="hold", count=len(TABLES), latency=600)
    api.wait_for_dag(DAG_ID, timeout=180)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID, conf={"connection_name": CONNECTION_NAME, "tables": TABLES})

    # 1. All four dataset creates are inside the emulator at once: the mapped creates run in parallel.
    in_flight = control.wait_held(hold, len(TABLES), timeout=600)
    running = [t for t in api.task_instances(DAG_ID, run_id) if t["task_id"] == CREATE_DATASET]
    on_worker = {t["map_index"]: t["hostname"] for t in running if t["state"] == "running"}
    assert sorted(Counter(on_worker.values()).items()) == [(w, 2) for w in WORKERS], on_worker

    # 2. worker-1 dies inside its two creates; the emulator then performs all four.
    lost = sorted(i for i, host in on_worker.items() if host == "worker-1")
    killed_pid = airflow.kill("worker-1")
    control.release(hold)
    airflow.restart("worker-1")
    wait_for_state(api, run_id, CREATE_DATASET, list(range(len(TABLES))), {"success"}, timeout=600)
    recovered_after = time.monotonic() - started

    # 3. Every wait deferred and inside a poll of its run; the triggerer is killed (SIGKILL, whole process
    # group) there and started again; once the new one polls all four runs, the runs end.
    api.wait_for_tasks(DAG_ID, run_id, SENSOR, "deferred", count=len(TABLES), timeout=900)
    mid_poll = control.add_fault(method="GET", path=RUN_POLLS, action="hold", count=len(TABLES), latency=600)
    polls_held_at_kill = control.wait_held(mid_poll, len(TABLES), timeout=600)  # a held trigger cannot poll again
    # The dead triggerer's token request must be on disk before the kill, or the accounting below would miss it.
    wait_until(lambda: triggerer_token_requests(airflow, api, run_id) >= 1, "no triggerer token line", 120)
    killed_group = group_members(airflow.processes["triggerer"].pid)
    assert len(killed_group) >= 2, killed_group  # the triggerer and its trigger runner process
    mark = airflow.output_size("triggerer")
    triggerer_pid = airflow.kill("triggerer")
    assert group_members(triggerer_pid) == []
    control.release(mid_poll)  # the held polls are answered to a dead process
    airflow.restart("triggerer")
    airflow.wait_for_output("triggerer", r"Starting the triggerer|triggerer.*(start|ready)", timeout=120, after=mark)
    # The dead triggerer's triggers are taken over once its heartbeat is stale (triggerer_health_check_threshold).
    resumed = control.add_fault(method="GET", path=RUN_POLLS, action="hold", count=len(TABLES), latency=600)
    polls_held_after_restart = control.wait_held(resumed, len(TABLES), timeout=600)
    control.release(resumed)
    control.advance_clock(7200)
    run = api.wait_for_run(DAG_ID, run_id, timeout=900)
    elapsed = time.monotonic() - started
    tis = api.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}

    # The lost creates were retried (on a live worker) and reused what the emulator committed for them.
    datasets = {t["map_index"]: t for t in tis if t["task_id"] == CREATE_DATASET}
    retried = sorted(i for i, t in datasets.items() if t["try_number"] > 1)
    assert retried == lost, (retried, lost)
    first_tries = {i: api.task_tries(DAG_ID, run_id, CREATE_DATASET, i)[0] for i in lost}
    assert {i: t["hostname"] for i, t in first_tries.items()} == dict.fromkeys(lost, "worker-1")
    assert {i: t["state"] for i, t in first_tries.items()} == dict.fromkeys(lost, "failed")
    for i in lost:
        log = api.read_task_log(DAG_ID, run_id, CREATE_DATASET, i)
        assert re.search(r"(reus|exists|found)", log, re.I), log[-2000:]

    # No duplicate: one of everything per table, one base connection.
    state = control.state()
    names = {
        kind: Counter(r.get("name") or r.get("title") or r.get("id") for r in rows) for kind, rows in state.items()
    }
    assert len(state["connections"]) == 1
    for kind in NAMED:
        assert len(state[kind]) == len(TABLES), (kind, names[kind])
        assert all(count == 1 for count in names[kind].values()), (kind, names[kind])
    assert Counter(d["name"] for d in state["dataSets"]) == {f"{CONNECTION_NAME}: {t}": 1 for t in TABLES}

    # Every mapped create ran on some worker, and both workers ran some; creates overlapped in time.
    creates = [t for t in tis if t["task_id"].startswith("onboard_table.create_")]
    assert creates and all(t["hostname"] in WORKERS for t in creates), {t["hostname"] for t in creates}
    assert {t["hostname"] for t in creates} == set(WORKERS)
    overlap = max_overlap([(_time(t["start_date"]), _time(t["end_date"])) for t in creates])
    assert overlap >= 2

    # No wait was lost or retried: each sensor deferred once and was finished by a triggerer.
    sensors = [t for t in tis if t["task_id"] == SENSOR]
    assert [t["try_number"] for t in sensors] == [1] * len(TABLES)
    for sensor in sensors:
        files = api.task_log_files(DAG_ID, run_id, SENSOR, sensor["map_index"])
        assert any(".trigger." in p.name for p in files), files
    restarted_output = airflow.output_file("triggerer").read_bytes()[mark:].decode(errors="replace")

    # At most one IMS token per task process, and every token request the emulator saw is accounted for.
    per_file = token_requests_per_process(api, run_id)
    assert per_file and all(tokens <= processes for _, tokens, processes in per_file), per_file
    journal_tokens = len(control.journal(path="/ims/token/v3"))
    logged_tokens = sum(tokens for _, tokens, _ in per_file)
    # Each triggerer process (the killed one and the restarted one) shares one token among its triggers.
    triggerer_tokens = triggerer_token_requests(airflow, api, run_id)
    assert triggerer_tokens <= 2, triggerer_tokens
    assert journal_tokens == logged_tokens + triggerer_tokens, (journal_tokens, logged_tokens, triggerer_tokens)

    # Secrets: nowhere in the metadata DB dump, the logs, or any component's output.
    needles = dict(SECRETS)
    needles.update({f"ims_token_{i}": token for i, token in enumerate(sorted(issued_tokens(control)))})
    dump = postgres.dump()
    in_dump = dump_hits(dump, needles)
    assert sum(in_dump.values()) == sum(dump.count(v) for v in needles.values())  # nothing outside a table
    in_clear_by_design = {f"{n} in {t}": in_dump.pop((n, t)) for n, t in AIRFLOW_STORES_IN_CLEAR if (n, t) in in_dump}
    assert set(in_clear_by_design) <= {"hubspot_client_id in public.connection", "hubspot_client_id in public.log"}
    in_files = scan_files(airflow.home, needles) + scan_files(redis.data_dir, needles)
    pg_log = postgres.data_dir.parent / "postgres.log"
    in_pg_log = Counter({(n, "postgres.log"): 1 for n, v in needles.items() if v in pg_log.read_text(errors="replace")})
    assert "connection" in dump and "xcom" in dump  # the dump really holds the tables scanned

    report = {
        "tables": len(TABLES),
        "executor": "CeleryExecutor",
        "workers": list(WORKERS),
        "worker_concurrency": int(airflow.env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]),
        "dataset_creates_in_flight_at_once": in_flight,
        "max_overlapping_create_tasks": overlap,
        "killed_worker_pid": killed_pid,
        "creates_lost_with_the_worker": lost,
        "their_tries": {i: datasets[i]["try_number"] for i in lost},
        "seconds_until_lost_creates_recovered": round(recovered_after, 1),
        "triggerer_killed_with_waits_deferred": len(sensors),
        "triggerer_kill": {
            "signal": "SIGKILL",
            "process_group": triggerer_pid,
            "processes_killed": len(killed_group),
            "run_polls_in_flight_at_kill": polls_held_at_kill,
            "run_polls_of_restarted_triggerer_held_at_once": polls_held_after_restart,
        },
        "sensor_tries": [t["try_number"] for t in sensors],
        "duplicates": sum(c - 1 for kind in NAMED for c in names[kind].values() if c > 1),
        "resources": {kind: len(rows) for kind, rows in state.items()},
        "ims_tokens": {"journal": journal_tokens, "task_processes": logged_tokens, "triggerers": triggerer_tokens},
        "max_tokens_in_one_task_process": max(t for _, t, _ in per_file),
        "task_log_files": len(per_file),
        "secret_occurrences": sum(in_dump.values()) + sum(in_files.values()) + sum(in_pg_log.values()),
        "secret_scan": {
            "pg_dump_bytes": len(dump),
            "pg_dump_tables": dump.count("\nCOPY "),
            "files": sum(1 for p in airflow.home.rglob("*") if p.is_file()),
            "stored_in_clear_by_airflow": in_clear_by_design,
        },
        "run_seconds": round(elapsed, 1),
        "restarted_triggerer_output_lines": len(restarted_output.splitlines()),
    }
    write_artifact("distributed.json", report, headline="distributed (Celery + PostgreSQL + Redis)")
    print(f"\ndistributed: {json.dumps(report, indent=2)}")
    where = {f"{n} in {place}": c for (n, place), c in (in_dump + in_files + in_pg_log).items()}
    assert report["secret_occurrences"] == 0, where

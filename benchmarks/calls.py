"""(b) HTTP calls per task and IMS tokens per process, from the emulator's request journal.

The example DAG runs twice through ``dag.test()`` in a child process with a throwaway ``AIRFLOW_HOME``
(SQLite), against the emulator in another child process: run 1 on an empty org (every create path), run 2
with ``teardown=True`` after it (every lookup finds the existing resource, then everything is deleted).
``dag.test()`` runs the tasks one after another, so each journal entry is attributed to the task instance
whose start/end window contains the request time. Each task's count is compared with the least the API
needs for what the task does (listed with the reason in ``MINIMUM``). ``dag.test()`` runs every task and
the deferred sensor's trigger in one process, so the number of ``POST /ims/token/v3`` is the number of
tokens per process (target 1: the token cache is process-wide and shared by the sync and async clients).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter, defaultdict
from typing import Any

from benchmarks.common import (
    EXAMPLE_DAGS,
    REPO,
    BenchResult,
    Row,
    aep_conn,
    bench_env,
    hubspot_conn,
    make_airflow_home,
    python,
)
from benchmarks.emulator_support import FLOW_SERVICE, IMS_TOKEN, emulator_process, journal_summary

DAG_FILE = EXAMPLE_DAGS / "hubspot_onboarding.py"
DAG_ID = "aep_hubspot_onboarding"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies"]

# (create path, reuse path, why): requests per task instance the API cannot do without.
MINIMUM: dict[str, tuple[int, int, str]] = {
    "create_base_connection": (2, 1, "lookup by name + spec, then POST (lookup only when it exists)"),
    "explore_tables": (1, 1, "one explore of the root"),
    "create_source_connection": (3, 2, "read the base connection (its spec goes in the body), lookup, POST"),
    "create_target_connection": (2, 1, "lookup, POST"),
    "create_dataflow": (3, 2, "find the flow spec by name, lookup, POST"),
    "trigger_run": (1, 1, "newest run (a running one is reused), + POST /runs when none is running"),
    "wait_for_run": (1, 1, "one GET per poll (shown: first check + trigger polls)"),
    "delete_dataflow": (1, 1, "DELETE"),
    "delete_source_connection": (1, 1, "DELETE"),
    "delete_target_connection": (1, 1, "DELETE"),
    "delete_base_connection": (1, 1, "DELETE"),
    "teardown_requested": (0, 0, "no AEP call"),
    "summary": (0, 0, "no AEP call"),
}
POLLING_TASKS = {"wait_for_run"}


def _attribute(entries: list[dict[str, Any]], tis: list[dict[str, Any]], slack: float = 0.002) -> dict:
    """``{(task_id, map_index): [entry, ...]}`` by time window; ``None`` key for requests outside every window."""
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    windows = [(ti["start"], ti["end"], (ti["task_id"], ti["map_index"])) for ti in tis if ti["start"] and ti["end"]]
    for entry in entries:
        t = entry["time"]
        owners = [key for start, end, key in windows if start - slack <= t <= end + slack]
        out[owners[0] if len(owners) == 1 else None].append(entry)
    return out


def run(
    poll_interval: float = 0.5, run_start_delay: float = 0.5, run_duration: float = 1.5, teardown_run: bool = True
) -> BenchResult:
    started = time.perf_counter()
    result = BenchResult("calls", "(b) HTTP requests per task and IMS tokens per process")
    if not DAG_FILE.exists():
        result.skipped = f"`{DAG_FILE.relative_to(REPO)}` does not exist"
        return result
    home = make_airflow_home("calls")
    confs = [{"tables": TABLES, "teardown": False}, {"tables": TABLES, "teardown": True}][: 2 if teardown_run else 1]
    with emulator_process(run_start_delay=run_start_delay, run_duration=run_duration, journal_limit=100_000) as emu:
        env = bench_env(
            home,
            AIRFLOW_CONN_AEP_DEFAULT=aep_conn(emu.url),
            AIRFLOW_CONN_HUBSPOT_DEFAULT=hubspot_conn(),
            AEP_ONBOARDING_POKE_INTERVAL=str(poll_interval),
        )
        proc = subprocess.run(
            [python(), "-m", "benchmarks._dag_worker", str(DAG_FILE), DAG_ID, emu.url, json.dumps(confs)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        marker = proc.stdout.rfind("@@RESULT@@")
        if proc.returncode != 0 or marker < 0:
            raise RuntimeError(f"dag.test() worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        report = json.loads(proc.stdout[marker + len("@@RESULT@@") :])
        journal = emu.control.journal()
        stats = emu.control.stats()

    tokens = [e for e in journal if e["path"] == IMS_TOKEN]
    platform = [e for e in journal if e["path"].startswith(FLOW_SERVICE)]
    per_run = []
    rows_detail = []
    total_min = 0
    total_actual = 0
    unattributed = 0
    for index, dag_run in enumerate(report["runs"]):
        path_kind = "create" if index == 0 else "reuse"
        in_run = [e for e in platform if dag_run["started"] <= e["time"] <= dag_run["ended"]]
        owners = _attribute(in_run, dag_run["tis"])
        unattributed += len(owners.get(None, []))
        by_task: dict[str, list[int]] = defaultdict(list)
        calls_by_task: dict[str, Counter] = defaultdict(Counter)
        states: dict[str, set[str]] = defaultdict(set)
        for ti in dag_run["tis"]:
            entries = owners.get((ti["task_id"], ti["map_index"]), [])
            states[ti["task_id"]].add(ti["state"])
            if ti["state"] == "skipped":
                continue
            by_task[ti["task_id"]].append(len(entries))
            calls_by_task[ti["task_id"]].update(journal_summary(entries))
        run_rows = []
        for task_id, counts in sorted(by_task.items(), key=lambda kv: list(MINIMUM).index(kv[0])):
            create_min, reuse_min, why = MINIMUM.get(task_id, (0, 0, "?"))
            minimum = create_min if path_kind == "create" else reuse_min
            if task_id == "trigger_run":  # the POST is only needed when no run was already going
                minimum += calls_by_task[task_id]["POST /runs"] / len(counts)
            per_instance = max(counts)
            # For a polling task one GET per poll is the floor; how many polls depends on the wait.
            minimum_total = sum(counts) if task_id in POLLING_TASKS else round(minimum * len(counts))
            total_min += minimum_total
            total_actual += sum(counts)
            run_rows.append(
                {
                    "task": task_id,
                    "instances": len(counts),
                    "requests": sum(counts),
                    "per_instance": per_instance,
                    "minimum_per_instance": round(minimum, 2),
                    "why": why,
                    "calls": dict(calls_by_task[task_id]),
                    "state": sorted(states[task_id]),
                }
            )
        per_run.append({"path": path_kind, "conf": dag_run["conf"], "state": dag_run["state"], "tasks": run_rows})
        rows_detail.extend(run_rows)

    result.rows.append(
        Row(
            metric=f"AEP requests, {len(confs)} DAG run(s) of 2 tables (create; reuse + teardown) vs API minimum",
            value=str(total_actual),
            baseline=str(total_min),
            ratio=total_actual / total_min if total_min else None,
            target="1.00x",
            met=total_actual <= total_min,
        )
    )
    result.rows.append(
        Row(
            metric=f"IMS token requests per process (`dag.test()`: {sum(len(r['tis']) for r in report['runs'])} "
            "task instances + inline triggers, one process)",
            value=str(len(tokens)),
            baseline="1",
            ratio=float(len(tokens)),
            target="1",
            met=len(tokens) == 1,
        )
    )
    over = [
        f"`{r['task']}` ({p['path']}): {r['per_instance']} vs {r['minimum_per_instance']:g}"
        for p in per_run
        for r in p["tasks"]
        if r["task"] not in POLLING_TASKS and r["per_instance"] > r["minimum_per_instance"]
    ]
    if over:
        result.notes.append("Tasks above the API minimum (per instance): " + "; ".join(over) + ".")
    if unattributed:
        result.notes.append(f"{unattributed} requests fell outside every task window (not attributed).")
    result.notes.append(
        f"Sensor polls every {poll_interval} s; emulator runs stay scheduled {run_start_delay} s and run "
        f"{run_duration} s, so `wait_for_run` counts depend on timing (one GET per poll is the floor)."
    )
    result.details = {
        "runs": per_run,
        "tokens": len(tokens),
        "journal_entries": len(journal),
        "unattributed": unattributed,
        "emulator_stats": stats,
    }
    result.seconds = time.perf_counter() - started
    return result

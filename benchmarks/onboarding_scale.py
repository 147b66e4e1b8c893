"""(e) Onboarding at scale: N tables in one DAG run of the example onboarding DAG, through ``dag.test()``.

The emulator runs in its own process with ``N`` extra HubSpot tables (``benchmarks._scale_emulator``;
the columns of ``Contacts``). ``dags_examples/hubspot_onboarding.py`` runs once per size (each on a fresh
emulator, so every create path is taken and the org holds only what that run made) with
``tables`` = those N tables, teardown off, runs that end at once. Requests are the emulator's journal for
the DAG run; the API minimum is :data:`benchmarks.calls.MINIMUM` (create column) per task instance, plus the
tenant id once, one ``POST /runs`` per run started and one ``GET`` per poll (so polls never count above it).
A create's lookup is one request whatever the org holds (server-side filters: Flow Service
``property=name==``, Schema Registry ``property=title==``, Catalog ``name=``, Data Prep ``name=``); that is
shown by the list requests per table at the small and the large size, which would grow with N if a lookup
paged through the org. Provider CPU is the CPU time spent inside the provider's operators' ``execute()``
(validation, the HTTP client, JSON, XCom pushes; ``benchmarks._dag_worker``); the whole ``dag.test()``
process CPU (Airflow's scheduling loop, SQLite, rendering) is shown for context.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.calls import DAG_FILE, DAG_ID, MINIMUM, PER_POST, POLLING_TASKS, TENANT_ID
from benchmarks.common import (
    REPO,
    BenchResult,
    Row,
    aep_conn,
    bench_env,
    hubspot_conn,
    make_airflow_home,
    python,
    run_dag_worker,
)
from benchmarks.emulator_support import SERVICE_PATHS, journal_summary

TARGET = 1.05


@contextmanager
def scale_emulator(tables: int, **config: Any) -> Iterator[Any]:
    """``run_emulator_subprocess`` for ``benchmarks._scale_emulator`` (the emulator with extra tables)."""
    from aep_emulator import EmulatorConfig
    from aep_emulator.server import LISTENING_PREFIX, SubprocessEmulator, _child_env, _pump

    command = [
        python(),
        "-m",
        "benchmarks._scale_emulator",
        str(tables),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--config-json",
        json.dumps(EmulatorConfig(**config).to_dict()),
    ]
    env = _child_env({"NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPO)})
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO, bufsize=1)
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    deadline, url = time.monotonic() + 60, None
    try:
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"scale emulator exited with {process.wait()}")
            if line.startswith(LISTENING_PREFIX):
                url = line[len(LISTENING_PREFIX) :].strip()
        handle = SubprocessEmulator(process, url)
        handle.control.wait_until_ready(timeout=30)
    except BaseException:
        process.kill()
        raise
    try:
        yield handle
    finally:
        handle.stop()


def _one_size(tables: int, poll_interval: float) -> dict[str, Any]:
    from benchmarks._scale_emulator import table_names

    names = ["Hubspot." + n for n in table_names(tables)]
    home = make_airflow_home(f"scale{tables}")
    with scale_emulator(tables, run_start_delay=0.0, run_duration=0.0, journal_limit=max(100_000, 200 * tables)) as emu:
        env = bench_env(
            home,
            AIRFLOW_CONN_AEP_DEFAULT=aep_conn(emu.url),
            AIRFLOW_CONN_HUBSPOT_DEFAULT=hubspot_conn(),
            AEP_ONBOARDING_POKE_INTERVAL=str(poll_interval),
        )
        conf = {"connection_name": f"HubSpot (scale {tables})", "tables": names}
        started = time.perf_counter()
        dag_run = run_dag_worker(DAG_FILE, DAG_ID, emu.url, [conf], env, timeout=7200)["runs"][0]
        wall = time.perf_counter() - started
        journal = emu.control.journal()
    platform = [
        e
        for e in journal
        if e["path"].startswith(SERVICE_PATHS) and dag_run["started"] <= e["time"] <= dag_run["ended"]
    ]
    calls = Counter(journal_summary(platform))
    states = Counter(ti["state"] for ti in dag_run["tis"])
    minimum = 1 if calls[TENANT_ID] else 0
    for ti in dag_run["tis"]:
        if ti["state"] == "skipped" or ti["task_id"] in POLLING_TASKS:
            continue
        minimum += MINIMUM.get(ti["task_id"], (0, 0, ""))[0]
    # + one POST /runs per run started (PER_POST: trigger_run) and one GET per poll (the sensors' floor)
    minimum += sum(calls[PER_POST[task]] for task in PER_POST)
    minimum += calls["GET /flowservice/runs/{id}"]
    lists = {k: v for k, v in calls.items() if k.startswith("GET ") and not k.endswith("{id}") and "explore" not in k}
    return {
        "tables": tables,
        "state": dag_run["state"],
        "task_instances": len(dag_run["tis"]),
        "ti_states": dict(states),
        "requests": len(platform),
        "minimum": minimum,
        "calls": dict(calls),
        "list_requests": sum(lists.values()),
        "lists": lists,
        "cpu": dag_run["cpu"],
        "wall": wall,
        "dag_run_seconds": dag_run["ended"] - dag_run["started"],
    }


def run(sizes: tuple[int, ...] = (20, 200), poll_interval: float = 0.2) -> BenchResult:
    started = time.perf_counter()
    result = BenchResult("onboarding", f"(f) {max(sizes)} tables in one DAG run (`dag.test()`, emulator)")
    measured = [_one_size(n, poll_interval) for n in sizes]
    small, big = measured[0], measured[-1]
    for m in measured:
        m["per_table"] = {
            "requests": m["requests"] / m["tables"],
            "list_requests": m["list_requests"] / m["tables"],
            "provider_cpu": m["cpu"].get("provider", 0.0) / m["tables"],
            "process_cpu": m["cpu"]["process"] / m["tables"],
        }
    result.rows.append(
        Row(
            metric=f"AEP requests, one DAG run of {big['tables']} tables (create paths) vs API minimum",
            value=str(big["requests"]),
            baseline=str(big["minimum"]),
            ratio=big["requests"] / big["minimum"] if big["minimum"] else None,
            target=f"<= {TARGET:.2f}x",
            met=big["requests"] <= TARGET * big["minimum"] and big["state"] == "success",
        )
    )
    if len(measured) > 1:
        result.rows.append(
            Row(
                metric=f"lookup (list) requests per table: {big['tables']} tables vs {small['tables']} tables "
                "(O(1) pages per create: equal)",
                value=f"{big['per_table']['list_requests']:.2f}",
                baseline=f"{small['per_table']['list_requests']:.2f}",
                ratio=big["per_table"]["list_requests"] / small["per_table"]["list_requests"]
                if small["per_table"]["list_requests"]
                else None,
                target="1.00x",
                met=big["per_table"]["list_requests"] <= small["per_table"]["list_requests"] + 1e-9,
            )
        )
        result.rows.append(
            Row(
                metric=f"AEP requests per table: {big['tables']} tables vs {small['tables']} tables",
                value=f"{big['per_table']['requests']:.2f}",
                baseline=f"{small['per_table']['requests']:.2f}",
                ratio=big["per_table"]["requests"] / small["per_table"]["requests"],
            )
        )
    result.rows.append(
        Row(
            metric=f"provider CPU per table (operators' `execute()`), {big['tables']} vs {small['tables']} tables",
            value=f"{big['per_table']['provider_cpu'] * 1000:.0f} ms",
            baseline=f"{small['per_table']['provider_cpu'] * 1000:.0f} ms",
            ratio=big["per_table"]["provider_cpu"] / small["per_table"]["provider_cpu"]
            if small["per_table"]["provider_cpu"]
            else None,
        )
    )
    result.rows.append(
        Row(
            metric=f"whole `dag.test()` process CPU per table (Airflow + provider), {big['tables']} vs "
            f"{small['tables']} tables",
            value=f"{big['per_table']['process_cpu'] * 1000:.0f} ms",
            baseline=f"{small['per_table']['process_cpu'] * 1000:.0f} ms",
            ratio=big["per_table"]["process_cpu"] / small["per_table"]["process_cpu"],
        )
    )
    result.rows.append(
        Row(
            metric=f"DAG run state and wall time, {big['tables']} tables ({big['task_instances']} task instances)",
            value=f"{big['state']}, {big['dag_run_seconds']:.0f} s",
            baseline=f"{small['state']}, {small['dag_run_seconds']:.0f} s ({small['tables']} tables)",
            met=big["state"] == "success" and small["state"] == "success",
            target="success",
        )
    )
    for m in measured:
        above = {k: v for k, v in m["calls"].items()}
        result.notes.append(
            f"{m['tables']} tables: {m['requests']} requests (minimum {m['minimum']}), task instances "
            f"{m['ti_states']}, lists {m['lists']}; CPU {m['cpu']}; dag.test() took {m['dag_run_seconds']:.0f} s. "
            f"Requests by kind: {dict(sorted(above.items()))}."
        )
    result.details = {"sizes": list(sizes), "measured": measured}
    result.seconds = time.perf_counter() - started
    return result

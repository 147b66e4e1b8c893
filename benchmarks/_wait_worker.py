"""Child process for the deferred-waits benchmark: N waits for N AEP runs, one mode per process.

``python -m benchmarks._wait_worker MODE SPEC_JSON`` where ``SPEC_JSON`` holds ``run_ids``, ``warm_run_id``,
``poll_interval`` and ``tracemalloc``. Modes:

* ``deferred``: one ``AEPFlowRunTrigger`` per run, all in one asyncio event loop (what a triggerer does);
* ``poke``: one thread per run calling ``AEPFlowRunSensor.poke()`` then sleeping ``poll_interval`` (each
  poking sensor holds a worker slot; threads are the cheapest possible slot, a real one is a process);
* ``process``: one poke of one sensor, then report this process's RSS: the floor of a real poke-mode slot.

After imports and one untimed warm-up wait (token, connection lookup, code paths), RSS is sampled every
20 ms by a thread; the worker prints ``@@START@@`` when the measured waits begin (the parent then starts
advancing the emulator clock) and a JSON result at the end.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

PROC = psutil.Process()


class RecordingTI:
    """Stands in for the task instance: the sensor pushes XComs (the run link) to it, and the set-up's creates
    record its DAG run on what they make."""

    dag_id = "bench_waits"
    run_id = "manual__bench_waits"

    def xcom_push(self, key: str, value: Any) -> None:
        return None


class Sampler(threading.Thread):
    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_rss = PROC.memory_info().rss
        self.peak_threads = PROC.num_threads()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak_rss = max(self.peak_rss, PROC.memory_info().rss)
            self.peak_threads = max(self.peak_threads, PROC.num_threads())


def _started() -> None:
    sys.stdout.write("@@START@@\n")
    sys.stdout.flush()


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": ordered[-1], "mean": sum(ordered) / len(ordered)}


def poll_timing(polls: dict[str, list[tuple[float, float]]], interval: float) -> dict[str, Any]:
    """From each wait's ``(issued, answered)`` poll times (perf_counter): the gaps between a wait's polls
    (on schedule: at most 10% over ``poll_interval``), how late each poll was issued after the previous
    one's interval ended (the trigger's own delay: event loop and scheduling) and how long its answer took
    (connection pool queue + network + the emulator's queue and work)."""
    gaps: list[float] = []
    latencies: list[float] = []
    issue_delays: list[float] = []
    for times in polls.values():
        latencies.extend(done - issued for issued, done in times)
        for (prev_issued, prev_done), (issued, _) in itertools.pairwise(times):
            gaps.append(issued - prev_issued)
            # due at the later of: one interval after the previous issue, or its answer
            issue_delays.append(issued - max(prev_issued + interval, prev_done))
    on_schedule = sum(g <= interval * 1.1 for g in gaps)
    histogram_edges = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, float("inf")]
    histogram = {f"<= {e:g} s": 0 for e in histogram_edges}
    for value in latencies:
        for edge in histogram_edges:
            if value <= edge:
                histogram[f"<= {edge:g} s"] += 1
                break
    return {
        "gaps": len(gaps),
        "gaps_on_schedule": on_schedule,
        "gap": _quantiles(gaps),
        "latency": _quantiles(latencies),
        "latency_histogram": histogram,
        "issue_delay": _quantiles(issue_delays),
    }


# ---------------------------------------------------------------------------------------------------- deferred
def deferred(spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
    from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger

    poll = spec["poll_interval"]
    polls: dict[str, list[tuple[float, float]]] = {}
    recording = False
    original_get_run = AsyncFlowServiceClient.get_run

    async def timed_get_run(self: Any, run_id: str) -> Any:  # records when each poll is issued and answered
        issued = time.perf_counter()
        try:
            return await original_get_run(self, run_id)
        finally:
            if recording:
                polls.setdefault(run_id, []).append((issued, time.perf_counter()))

    AsyncFlowServiceClient.get_run = timed_get_run  # type: ignore[method-assign]

    def trigger(run_id: str) -> AEPFlowRunTrigger:
        return AEPFlowRunTrigger(aep_conn_id="aep_default", run_id=run_id, poll_interval=poll)

    async def wait(run_id: str) -> dict[str, Any]:
        t = time.perf_counter()
        events = [event.payload async for event in trigger(run_id).run()]
        out = events[0] if len(events) == 1 else {"status": f"{len(events)} events"}
        return {**out, "elapsed": time.perf_counter() - t}

    async def main() -> dict[str, Any]:
        nonlocal recording
        if spec.get("asyncio_debug"):
            loop = asyncio.get_running_loop()
            loop.slow_callback_duration = 0.05
            loop.set_debug(True)
        warm = await wait(spec["warm_run_id"])
        recording = True
        gc.collect()
        rss0 = PROC.memory_info().rss
        sampler = Sampler()
        sampler.start()
        lag = 0.0
        done = asyncio.Event()

        if spec["tracemalloc"]:
            import tracemalloc

            tracemalloc.start()
        lags: list[float] = []

        async def heartbeat() -> None:  # how late the loop runs a 50 ms timer: its responsiveness
            nonlocal lag
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.05)
                late = time.perf_counter() - t - 0.05
                lags.append(late)
                lag = max(lag, late)

        beat = asyncio.create_task(heartbeat())
        _started()
        t0, cpu0 = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(wait(r) for r in spec["run_ids"]))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        done.set()
        await beat
        traced_peak = None
        if spec["tracemalloc"]:
            import tracemalloc

            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        sampler.stop.set()
        sampler.join()
        return {
            "warm_status": warm["status"],
            "rss0": rss0,
            "peak_rss": sampler.peak_rss,
            "peak_threads": sampler.peak_threads,
            "wall": wall,
            "cpu": cpu,
            "statuses": dict(Counter(r["status"] for r in results)),
            "elapsed": [r["elapsed"] for r in results],
            "messages": sorted({r.get("message", "") for r in results if r["status"] not in ("success", "failed")})[:5],
            "loop_lag_max": lag,
            "loop_lag": _quantiles(lags),
            "traced_peak": traced_peak,
            "timing": poll_timing(polls, poll),
        }

    return asyncio.run(main())


# ---------------------------------------------------------------------------------------------------- poke
def _sensor(run_id: str, task_id: str):
    from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

    return AEPFlowRunSensor(task_id=task_id, run_id=run_id, deferrable=False, poke_interval=1)


def _poke_until_done(sensor, poll: float, start: threading.Event | None = None) -> tuple[str, float]:
    if start is not None:
        start.wait()
    context = {"ti": RecordingTI()}
    t = time.perf_counter()
    while True:
        try:
            result = sensor.poke(context)
        except Exception as exc:  # a failed run raises; that is an outcome, not a crash
            outcome = "failed" if "AEPFlowRunFailed" in type(exc).__name__ else f"error: {type(exc).__name__}"
            return outcome, time.perf_counter() - t
        if result:
            return "success", time.perf_counter() - t
        time.sleep(poll)


def poke(spec: dict[str, Any]) -> dict[str, Any]:
    poll = spec["poll_interval"]
    warm, _ = _poke_until_done(_sensor(spec["warm_run_id"], "warm"), poll)
    sensors = [_sensor(r, f"wait_{i}") for i, r in enumerate(spec["run_ids"])]  # DAG-parse objects, not slots
    gc.collect()
    rss0 = PROC.memory_info().rss
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    start = threading.Event()

    def work(sensor) -> None:
        outcome = _poke_until_done(sensor, poll, start)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in sensors]
    sampler = Sampler()
    sampler.start()
    for t in threads:
        t.start()
    _started()
    t0, cpu0 = time.perf_counter(), time.process_time()
    start.set()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    sampler.stop.set()
    sampler.join()
    return {
        "warm_status": warm,
        "rss0": rss0,
        "peak_rss": sampler.peak_rss,
        "peak_threads": sampler.peak_threads,
        "wall": wall,
        "cpu": cpu,
        "statuses": dict(Counter(r for r, _ in results)),
        "elapsed": [e for _, e in results],
        "messages": sorted({r for r, _ in results if r not in ("success", "failed")})[:5],
    }


def one_process(spec: dict[str, Any]) -> dict[str, Any]:
    import airflow.sdk.execution_time.task_runner  # noqa: F401  (a task process has the task runner loaded)

    _sensor(spec["warm_run_id"], "one").poke({"ti": RecordingTI()})
    gc.collect()
    return {"rss": PROC.memory_info().rss, "uss": PROC.memory_full_info().uss}


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    """A ``once`` dataflow with everything it needs, made with the provider's operators over HTTP, as the
    example DAG makes it: base connection, explored table, field group, schema, dataset and mapping set
    (the emulator, like AEP, refuses a Data Lake target connection without a real dataset whose
    ``schemaRef`` matches, and a Mapping transformation without a real mapping set), then source and target
    connections and the dataflow with the mapping."""
    from airflow_provider_aep.operators.catalog import CreateDatasetOperator
    from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator
    from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
    from airflow_provider_aep.operators.explore import ExploreConnectionOperator
    from airflow_provider_aep.operators.flows import CreateDataflowOperator
    from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator
    from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
    from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator

    table_path = spec.get("table", "Hubspot.Contacts")
    context = {"ti": RecordingTI()}
    base = CreateHubSpotConnectionOperator(task_id="base", name="bench hubspot").execute(context)
    table = ExploreConnectionOperator(
        task_id="explore", base_connection_id=base, object_type="table", table=table_path
    ).execute(context)
    field_group = CreateFieldGroupOperator(task_id="field_group", table=table, title="bench fields").execute(context)
    schema = CreateSchemaOperator(task_id="schema", title="bench schema", field_group_ids=field_group).execute(context)
    dataset = CreateDatasetOperator(task_id="dataset", name="bench dataset", schema_id=schema).execute(context)
    mapping = CreateMappingSetOperator(task_id="mapping", schema_id=schema, table=table, name="bench mapping").execute(
        context
    )
    source = CreateSourceConnectionOperator(task_id="source", base_connection_id=base, table_path=table_path).execute(
        context
    )
    target = CreateTargetConnectionOperator(task_id="target", dataset_id=dataset, schema_id=schema).execute(context)
    flow = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=source,
        target_connection_id=target,
        mapping_id=mapping,
        delta_column="Updated_At",
    ).execute(context)
    return {"flow_id": flow, "dataset_id": dataset, "schema_id": schema, "mapping_set_id": mapping}


def main(argv: list[str]) -> None:
    # ``@path``: the spec in a file (10,000 run ids do not fit in an argument list)
    mode, raw = argv[0], argv[1]
    spec = json.loads(Path(raw[1:]).read_text() if raw.startswith("@") else raw)
    result = {"deferred": deferred, "poke": poke, "process": one_process, "setup": setup}[mode](spec)
    sys.stdout.write("@@RESULT@@" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])

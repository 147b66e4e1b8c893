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
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

import psutil

PROC = psutil.Process()


class RecordingTI:
    """Stands in for the task instance: the sensor only pushes XComs (the run link) to it."""

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


# ---------------------------------------------------------------------------------------------------- deferred
def deferred(spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger

    poll = spec["poll_interval"]

    def trigger(run_id: str) -> AEPFlowRunTrigger:
        return AEPFlowRunTrigger(aep_conn_id="aep_default", run_id=run_id, poll_interval=poll)

    async def wait(run_id: str) -> dict[str, Any]:
        t = time.perf_counter()
        events = [event.payload async for event in trigger(run_id).run()]
        out = events[0] if len(events) == 1 else {"status": f"{len(events)} events"}
        return {**out, "elapsed": time.perf_counter() - t}

    async def main() -> dict[str, Any]:
        warm = await wait(spec["warm_run_id"])
        gc.collect()
        rss0 = PROC.memory_info().rss
        sampler = Sampler()
        sampler.start()
        lag = 0.0
        done = asyncio.Event()

        async def heartbeat() -> None:  # how late the loop runs a 50 ms timer: its responsiveness
            nonlocal lag
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.05)
                lag = max(lag, time.perf_counter() - t - 0.05)

        if spec["tracemalloc"]:
            import tracemalloc

            tracemalloc.start()
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
            "traced_peak": traced_peak,
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
    mode, spec = argv[0], json.loads(argv[1])
    result = {"deferred": deferred, "poke": poke, "process": one_process, "setup": setup}[mode](spec)
    sys.stdout.write("@@RESULT@@" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])

"""(c) Deferred waits at scale: N ``AEPFlowRunTrigger`` in one event loop vs the same waits in poke mode.

The emulator runs in its own process (``run_emulator_subprocess``), so its memory and CPU never count (nor
does the ingestion it emulates when a run finishes). A dataflow (with the field group, schema, dataset and
mapping set it needs) is made with the provider's operators, then N on-demand runs are created in batches
whose ``run_duration`` grows linearly, so they finish spread over ``[min_duration, max_duration]`` seconds
of emulator time. Once a worker reports that its waits have started, this process advances the emulator
clock ``speed`` times faster than real time, so minutes of emulator time pass in seconds while every
trigger keeps polling at its real ``poll_interval``.

Each mode runs in a fresh child process (``benchmarks._wait_worker``) after an untimed warm-up wait:

* deferred: N triggers, one asyncio loop (a triggerer). Memory = (peak RSS - RSS before) / N; a 50 ms
  heartbeat measures how late the loop gets; optionally ``tracemalloc`` in a second pass.
* poke, threads: N threads each running ``AEPFlowRunSensor.poke()`` + ``sleep(poll_interval)``. In Airflow
  every poking sensor holds a worker slot, i.e. a task process; a thread is the cheapest conceivable slot,
  so this is a lower bound for poke mode. The RSS of one process that has poked once is reported too:
  that is the floor of one real poke-mode slot.

Polls per second come from the emulator's request counter; the ideal rate is N / poll_interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    BenchResult,
    Row,
    aep_conn,
    bench_env,
    emulator_mark,
    fmt_kib,
    fmt_mib,
    hubspot_conn,
    make_airflow_home,
    settings_for,
    stream_worker,
)
from benchmarks.emulator_support import emulator_process

RSS_TARGET = 64 * 1024
ON_SCHEDULE_TARGET = 0.95
POKE_CAP = 1000
"""Poke mode runs at most this many threads (its figures are per wait; 10,000 threads measure nothing more)."""


def _worker(
    mode: str, spec: dict[str, Any], env: dict[str, str], on: dict[str, Callable[[], None]] | None = None
) -> dict[str, Any]:
    """Run ``benchmarks._wait_worker MODE``; ``on["START"]`` is called when its measured waits begin."""
    return stream_worker("benchmarks._wait_worker", mode, spec, env, timeout=900, what=f"wait worker ({mode})", on=on)


class ClockDriver(threading.Thread):
    """Advances the emulator clock by ``(speed - 1) * dt`` every ``dt`` real seconds (time also passes)."""

    def __init__(self, control: Any, speed: float, dt: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.control, self.speed, self.dt = control, speed, dt
        self.stop = threading.Event()

    def run(self) -> None:
        from aep_emulator import EmulatorControl

        control = EmulatorControl(self.control.url)  # its own session: this thread only
        started, advanced = time.monotonic(), 0.0
        while not self.stop.wait(self.dt):
            # Catch up from the real time elapsed: a slow or failed call (a busy machine) must neither stop
            # the clock nor slow it down, or the runs outlast the benchmark.
            wanted = (self.speed - 1) * (time.monotonic() - started)
            try:
                control.advance_clock(wanted - advanced)
            except Exception:  # retried on the next tick
                continue
            advanced = wanted


def _create_runs(emu: Any, flow_id: str, n: int, durations: list[float]) -> list[str]:
    """N on-demand runs; batch i gets ``durations[i]`` so finish times are spread."""
    from airflow_provider_aep.client.auth import TokenCache
    from airflow_provider_aep.client.flow_service import FlowServiceClient

    ids: list[str] = []
    with FlowServiceClient(settings_for(emu.url), token_cache=TokenCache()) as client:
        per_batch = -(-n // len(durations))
        for duration in durations:
            emu.control.configure(run_duration=duration)
            for _ in range(min(per_batch, n - len(ids))):
                ids.append(client.create_run(flow_id, {}).id)
    return ids


def _measure(mode: str, emu: Any, env: dict[str, str], spec: dict[str, Any], speed: float) -> dict[str, Any]:
    marks: dict[str, dict[str, float]] = {}
    driver = ClockDriver(emu.control, speed)

    def on_start() -> None:
        marks["start"] = emulator_mark(emu)
        driver.start()

    before = emulator_mark(emu)
    try:
        out = _worker(mode, spec, env, on={"START": on_start})
    finally:
        driver.stop.set()
    after = emulator_mark(emu)
    start = marks.get("start", {**after, "requests": before["requests"]})  # no START: every request, no window
    out["polls"] = after["requests"] - start["requests"]
    out["tokens"] = after["tokens"] - before["tokens"]
    window = after["t"] - start["t"]
    out["emulator_cpu"] = after["cpu"] - start["cpu"]
    out["emulator_busy"] = out["emulator_cpu"] / window if window > 0 else 0.0  # 1.0 = one core, all the time
    return out


def run(
    n: int = 1000,
    poll_interval: float = 2.0,
    min_duration: float = 30.0,
    max_duration: float = 240.0,
    batches: int = 20,
    speed: float = 10.0,
    tracemalloc_pass: bool = True,
    n_poke: int | None = None,
) -> BenchResult:
    started = time.perf_counter()
    n_poke = n_poke if n_poke is not None else min(n, POKE_CAP)
    result = BenchResult("triggers", f"(c) {n:,} deferred waits in one event loop vs poke mode")
    home = make_airflow_home("waits")
    step = (max_duration - min_duration) / max(1, batches - 1)
    durations = [min_duration + i * step for i in range(batches)]
    measured: dict[str, dict[str, Any]] = {}
    with emulator_process(run_start_delay=0.0, run_duration=0.0, journal_limit=1000) as emu:
        env = bench_env(home, AIRFLOW_CONN_AEP_DEFAULT=aep_conn(emu.url), AIRFLOW_CONN_HUBSPOT_DEFAULT=hubspot_conn())
        flow_id = _worker("setup", {}, env)["flow_id"]
        warm_run = _create_runs(emu, flow_id, 1, [0.0])[0]  # finishes at once: the untimed warm-up wait
        modes = ["deferred", "poke"] + (["deferred_traced"] if tracemalloc_pass else [])
        for mode in modes:
            count = n_poke if mode == "poke" else n
            spec = {
                "run_ids": _create_runs(emu, flow_id, count, durations),
                "warm_run_id": warm_run,
                "poll_interval": poll_interval,
                "tracemalloc": mode == "deferred_traced",
            }
            measured[mode] = _measure(mode.removesuffix("_traced"), emu, env, spec, speed)
        one = _worker("process", {"warm_run_id": warm_run}, env)

    d, p = measured["deferred"], measured["poke"]
    sizes = {m: (n_poke if m == "poke" else n) for m in measured}
    per = {m: (r["peak_rss"] - r["rss0"]) / sizes[m] for m, r in measured.items()}
    ideal = n / poll_interval
    for r in measured.values():
        r["completed"] = r["statuses"].get("success", 0) + r["statuses"].get("failed", 0)
        r["polls_per_s"] = r["polls"] / r["wall"] if r["wall"] else 0.0
        # On schedule, a wait that took t seconds polls floor(t / poll_interval) + 1 times.
        r["expected_polls"] = sum(int(t // poll_interval) + 1 for t in r.pop("elapsed"))

    np_ = n_poke
    timing = d.get("timing") or {}
    gaps, on_time = timing.get("gaps", 0), timing.get("gaps_on_schedule", 0)
    made_due = d["polls"] / d["expected_polls"] if d["expected_polls"] else 0.0
    result.rows.append(
        Row(
            metric=f"peak RSS per wait: {n:,} triggers in one loop vs {np_:,} poking threads",
            value=fmt_kib(per["deferred"]),
            baseline=fmt_kib(per["poke"]),
            ratio=per["deferred"] / per["poke"] if per["poke"] > 0 else None,
            target=f"<= {fmt_kib(RSS_TARGET)} per trigger",
            met=per["deferred"] <= RSS_TARGET,
        )
    )
    result.rows.append(
        Row(
            metric="peak RSS per wait: trigger vs one poke-mode task process (RSS after one poke)",
            value=fmt_kib(per["deferred"]),
            baseline=fmt_mib(one["rss"]),
            ratio=per["deferred"] / one["rss"],
        )
    )
    if "deferred_traced" in measured and measured["deferred_traced"].get("traced_peak") is not None:
        traced = measured["deferred_traced"]["traced_peak"] / n
        result.rows.append(
            Row(
                metric="Python heap per trigger (`tracemalloc` peak / N, separate pass)",
                value=fmt_kib(traced),
                target=f"<= {fmt_kib(RSS_TARGET)}",
                met=traced <= RSS_TARGET,
            )
        )
    result.rows.append(
        Row(
            metric=f"polls made / polls due (1 per {poll_interval:g} s per open wait), {n:,} deferred vs "
            f"{np_:,} poking",
            value=f"{made_due:.2f}",
            baseline=f"{p['polls'] / p['expected_polls']:.2f}",
            ratio=made_due / (p["polls"] / p["expected_polls"]) if p["polls"] else None,
            target=f">= {ON_SCHEDULE_TARGET:.2f}",
            met=made_due >= ON_SCHEDULE_TARGET,
        )
    )
    if gaps:
        result.rows.append(
            Row(
                metric="trigger polls issued on schedule (gap to the wait's previous poll "
                f"<= 1.1 x {poll_interval:g} s)",
                value=f"{on_time / gaps:.3f} ({on_time:,}/{gaps:,})",
                target=f">= {ON_SCHEDULE_TARGET:.2f}",
                met=on_time / gaps >= ON_SCHEDULE_TARGET,
            )
        )
        lat, delay = timing.get("latency", {}), timing.get("issue_delay", {})
        result.rows.append(
            Row(
                metric="trigger poll answer time p50 / p99 (pool queue + network + emulator) vs issue delay p99 "
                "(the trigger's own lateness)",
                value=f"{lat.get('p50', 0) * 1000:.1f} / {lat.get('p99', 0) * 1000:.0f} ms",
                baseline=f"{delay.get('p99', 0) * 1000:.1f} ms",
            )
        )
    result.rows.append(
        Row(
            metric=f"polls per second (ideal N / {poll_interval:g} s = {ideal:.0f}/s while all wait): deferred vs poke",
            value=f"{d['polls_per_s']:.0f}/s",
            baseline=f"{p['polls_per_s']:.0f}/s",
        )
    )
    result.rows.append(
        Row(
            metric="emulator process CPU while the waits ran (1.00 = one core busy all the time): deferred vs poke",
            value=f"{d.get('emulator_busy', 0):.2f}",
            baseline=f"{p.get('emulator_busy', 0):.2f}",
        )
    )
    result.rows.append(
        Row(
            metric="CPU time of the waiting process per poll (all of it: HTTP, parsing, scheduling): deferred vs poke",
            value=f"{d['cpu'] / max(1, d['polls']) * 1000:.2f} ms",
            baseline=f"{p['cpu'] / max(1, p['polls']) * 1000:.2f} ms",
            ratio=(d["cpu"] / max(1, d["polls"])) / (p["cpu"] / max(1, p["polls"])) if p["cpu"] else None,
        )
    )
    result.rows.append(
        Row(
            metric="emulator CPU per request (its own process): deferred vs poke",
            value=f"{d.get('emulator_cpu', 0) / max(1, d['polls']) * 1000:.2f} ms",
            baseline=f"{p.get('emulator_cpu', 0) / max(1, p['polls']) * 1000:.2f} ms",
        )
    )
    result.rows.append(
        Row(
            metric="waits completed (success/failed events), deferred vs poke",
            value=f"{d['completed']}/{n}",
            baseline=f"{p['completed']}/{np_}",
            target=f"{n}/{n}",
            met=d["completed"] == n and p["completed"] == np_,
        )
    )
    result.rows.append(
        Row(
            metric=f"wall time for all waits (emulator clock x{speed:g}), deferred vs poke",
            value=f"{d['wall']:.1f} s",
            baseline=f"{p['wall']:.1f} s",
        )
    )
    result.rows.append(
        Row(
            metric="IMS token requests per process (deferred / poke)",
            value=str(d["tokens"]),
            baseline=str(p["tokens"]),
            target="1",
            met=d["tokens"] <= 1 and p["tokens"] <= 1,
        )
    )
    lag = d.get("loop_lag", {})
    result.notes.append(
        f"Runs finish spread over {min_duration:g}-{max_duration:g} s of emulator time ({batches} batches); the "
        f"emulator clock ran x{speed:g}; triggers and sensors poll every {poll_interval:g} s of real time. "
        f"Event-loop lag (50 ms heartbeat): p50 {lag.get('p50', 0) * 1000:.1f} ms, p99 "
        f"{lag.get('p99', 0) * 1000:.0f} ms, max {d.get('loop_lag_max', 0) * 1000:.0f} ms. Peak threads: "
        f"deferred {d['peak_threads']}, poke {p['peak_threads']}. Trigger polls keep to a fixed grid "
        "(`next_poll_at`): a slow answer no longer pushes the later polls back, and a poll answered after the "
        "next tick skips the missed ticks. Answer times: "
        + ", ".join(f"{k} {v:,}" for k, v in (timing.get("latency_histogram") or {}).items() if v)
        + ". The poll times are recorded by the worker (one tuple per poll, part of the RSS figure)."
    )
    for mode, r in (("deferred", d), ("poke", p)):
        if r["completed"] != sizes[mode]:
            result.notes.append(f"{mode}: outcomes {r['statuses']}; messages {r.get('messages')}.")
    result.details = {
        "n": n,
        "poll_interval": poll_interval,
        "durations": durations,
        "speed": speed,
        "measured": measured,
        "one_process": one,
        "per_wait_bytes": per,
        "n_poke": n_poke,
    }
    result.seconds = time.perf_counter() - started
    return result

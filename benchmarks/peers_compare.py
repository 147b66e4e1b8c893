"""(e) Peers: the example onboarding against the same pipeline written with ``HttpOperator`` and with ``aepp``.

``benchmarks/peers/`` holds the two peers (see its ``__init__``). Measured in one run, against the same
EmptyOperator floor as the parse benchmark (``baseline_dags/empty_hubspot_onboarding.py``):

* **Parse cost**: cold ``BundleDagBag`` load + serialisation of each DAG file, every sample a fresh
  processor-like subprocess (``benchmarks._parse_worker``, as for ``parse``), the four files interleaved in a
  shuffled order; ratio = median / median.
* **Requests per pipeline and tokens per DAG run**: each DAG runs once through ``dag.test()`` (a child process,
  throwaway ``AIRFLOW_HOME``) on an empty emulator org (the create path), 2 tables. Requests are the journal's
  Platform requests (Flow Service, Schema Registry, Catalog, Data Prep); those made while a ``wait_for_run``
  task instance ran are its polls and are counted apart (their number depends on timing). Tokens are the
  ``POST /ims/token/v3`` of the run: ``dag.test()`` runs every task in one process, so this is also tokens per
  process (on a real deployment, where each task instance is a process of its own, see the notes).
* **A lost create answer**: the same run with the emulator's ``commit_then_drop`` fault on the first
  ``POST`` of one collection (the resource is created, then the connection is closed without an answer).
  Duplicates = resources of that collection sharing a name beyond the first; the DAG run's state and the
  tries of the task that made the POST say what the user sees.

The peers need ``apache-airflow-providers-http`` (the parse rows) and ``aepp`` (its DAG run): the ``bench``
extra. Without one of them the affected rows are skipped with the reason.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BASELINE_DAGS,
    BENCH_DIR,
    CLIENT_ID,
    CLIENT_SECRET,
    EXAMPLE_DAGS,
    ORG_ID,
    BenchResult,
    Row,
    aep_conn,
    bench_env,
    fmt_spread_ms,
    hubspot_conn,
    make_airflow_home,
    ratio,
    run_dag_worker,
    summary,
)
from benchmarks.emulator_support import IMS_TOKEN, SERVICE_PATHS, emulator_process

PEERS = BENCH_DIR / "peers"
TABLES = ["Hubspot.Contacts", "Hubspot.Companies"]
HTTP_PROVIDER = "apache-airflow-providers-http"
#: label -> (DAG file, dag_id, distributions its DAG run needs)
DAGS: dict[str, tuple[Path, str, tuple[str, ...]]] = {
    "ours": (EXAMPLE_DAGS / "hubspot_onboarding.py", "aep_hubspot_onboarding", ()),
    "http": (PEERS / "http_operator_onboarding.py", "peer_http_hubspot_onboarding", (HTTP_PROVIDER,)),
    "aepp": (PEERS / "aepp_onboarding.py", "peer_aepp_hubspot_onboarding", ("aepp",)),
}
FLOOR = BASELINE_DAGS / "empty_hubspot_onboarding.py"
LABELS = {"ours": "this provider", "http": "HttpOperator peer", "aepp": "aepp peer", "floor": "EmptyOperator floor"}
PARSE_TARGET_PEER = 1.00  # ours <= the HttpOperator peer
PARSE_TARGET_FLOOR = 1.10  # ours <= 1.10x the EmptyOperator floor
#: (label, collection in the emulator state, path regex of the POST that loses its answer)
FAULTS: tuple[tuple[str, str, str], ...] = (
    ("POST /catalog/dataSets", "dataSets", "/data/foundation/catalog/dataSets"),
    ("POST /flowservice/connections", "connections", "/data/foundation/flowservice/connections"),
)


def missing(distributions: tuple[str, ...]) -> list[str]:
    """The distributions of ``distributions`` that are not installed (checked without importing them)."""
    out = []
    for name in distributions:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


# ---------------------------------------------------------------------------------------------------- parse
def _parse_samples(files: dict[str, Path], reps: int, env: dict[str, str], rng: random.Random) -> dict[str, list]:
    from benchmarks.parse_cost import _run_worker

    samples: dict[str, list[dict[str, Any]]] = {label: [] for label in files}
    for file in files.values():  # untimed: .pyc files, page cache
        _run_worker("parse", file, env)
    for _ in range(reps):
        for label in rng.sample(list(files), len(files)):
            sample = _run_worker("parse", files[label], env)
            if sample["errors"]:
                raise RuntimeError(f"{files[label].name} failed to parse: {sample['errors']}")
            samples[label].append(sample)
    return samples


def _parse_rows(result: BenchResult, samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    totals = {label: [s["load_s"] + s["serialize_s"] for s in runs] for label, runs in samples.items()}
    stats = {label: summary(values) for label, values in totals.items()}
    tasks = {label: runs[0]["tasks"] for label, runs in samples.items()}

    def row(label: str, against: str, target: float | None) -> None:
        r = ratio(stats[label]["median"], stats[against]["median"])
        result.rows.append(
            Row(
                metric=f"parse, load + serialise: {LABELS[label]} ({tasks[label]} tasks) vs "
                f"{LABELS[against]} ({tasks[against]} tasks)",
                value=fmt_spread_ms(stats[label]),
                baseline=fmt_spread_ms(stats[against]),
                ratio=r,
                target="" if target is None else f"<= {target:.2f}x",
                met=None if target is None else (r is not None and r <= target),
            )
        )

    if "http" in stats:
        row("ours", "http", PARSE_TARGET_PEER)
    row("ours", "floor", PARSE_TARGET_FLOOR)
    for peer in ("http", "aepp"):
        if peer in stats:
            row(peer, "floor", None)
    new_modules = {label: runs[0]["new_modules"] for label, runs in samples.items()}
    result.notes.append(
        "Modules a cold parse imports (on top of the DAG processor's): "
        + ", ".join(f"{LABELS[k]} {v}" for k, v in new_modules.items())
        + "."
    )
    return {"stats": stats, "tasks": tasks, "new_modules": new_modules}


# ---------------------------------------------------------------------------------------------------- DAG runs
def _connections(url: str) -> dict[str, str]:
    def http(**extra: str) -> str:
        return json.dumps(
            {"conn_type": "http", "host": url, "login": CLIENT_ID, "password": CLIENT_SECRET, "extra": extra}
        )

    return {
        "AIRFLOW_CONN_AEP_DEFAULT": aep_conn(url),
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": hubspot_conn(),
        # HttpHook sends a connection's extras as headers and its login as Basic auth: the Platform one has neither.
        "AIRFLOW_CONN_AEP_IMS_HTTP": http(org_id=ORG_ID, sandbox_name="prod", scopes="openid,AdobeID"),
        "AIRFLOW_CONN_AEP_PLATFORM_HTTP": json.dumps({"conn_type": "http", "host": url}),
        "AIRFLOW_CONN_AEP_AEPP": json.dumps(
            {
                "conn_type": "generic",
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {
                    "org_id": ORG_ID,
                    "sandbox_name": "prod",
                    "scopes": "openid,AdobeID",
                    "platform_url": url,
                    "ims_url": url,
                },
            }
        ),
    }


def _run_dag(label: str, emu: Any, home: Path, poll_interval: float) -> dict[str, Any]:
    dag_file, dag_id, _ = DAGS[label]
    env = bench_env(
        home,
        **_connections(emu.url),
        AEP_ONBOARDING_POKE_INTERVAL=str(poll_interval),
        AEP_PEER_POKE_INTERVAL=str(poll_interval),
        AEP_PEER_RETRY_DELAY="1",  # a task retry (the peers' only recovery) without a 30 s wait
    )
    confs = [{"tables": TABLES}]
    return run_dag_worker(dag_file, dag_id, emu.url, confs, env)["runs"][0]


def _owner(entry: dict[str, Any], tis: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = [
        ti for ti in tis if ti["start"] and ti["end"] and ti["start"] - 0.002 <= entry["time"] <= ti["end"] + 0.002
    ]
    return found[0] if len(found) == 1 else None


def _measure(label: str, emu: Any, home: Path, poll_interval: float, fault: tuple[str, str, str] | None) -> dict:
    emu.control.reset()
    emu.control.clear_journal()
    if fault is not None:
        emu.control.add_fault(method="POST", path=fault[2], count=1, action="commit_then_drop")
    started = time.perf_counter()
    dag_run = _run_dag(label, emu, home, poll_interval)
    journal = emu.control.journal()
    state = emu.control.state()
    in_run = [e for e in journal if dag_run["started"] <= e["time"] <= dag_run["ended"]]
    platform = [e for e in in_run if e["path"].startswith(SERVICE_PATHS)]
    polls = [e for e in platform if (_owner(e, dag_run["tis"]) or {}).get("task_id", "").endswith("wait_for_run")]
    out: dict[str, Any] = {
        "state": dag_run["state"],
        "requests": len(platform) - len(polls),
        "polls": len(polls),
        "tokens": sum(1 for e in in_run if e["path"] == IMS_TOKEN),
        "task_instances": len(dag_run["tis"]),
        "seconds": time.perf_counter() - started,
        "failed_tasks": sorted(
            {ti["task_id"] for ti in dag_run["tis"] if ti["state"] in ("failed", "upstream_failed")}
        ),
        # A task instance's record holds its last try only: a retried one is told by its try number.
        "retried": sorted(
            f"{ti['task_id']}[{ti['map_index']}] ({ti['try_number']} tries)"
            for ti in dag_run["tis"]
            if (ti.get("try_number") or 1) > 1
        ),
    }
    if fault is not None:
        _, collection, path = fault
        names = Counter(str(item.get("name") or item.get("title")) for item in state.get(collection, []))
        posts = [e for e in in_run if e["method"] == "POST" and e["path"] == path]
        out.update(
            {
                "duplicates": sum(n - 1 for n in names.values()),
                "resources": sum(names.values()),
                "posts": len(posts),
                "dropped": sum(1 for e in posts if e.get("fault")),
            }
        )
    return out


def _fault_text(m: dict[str, Any]) -> str:
    how = f"task retried: {', '.join(m['retried'])}" if m.get("retried") else "no task retried"
    return f"{m['duplicates']} (DAG run {m['state']}, {how}; {m['posts']} POSTs)"


# ---------------------------------------------------------------------------------------------------- driver
def run(reps: int = 12, seed: int = 11, dag_runs: bool = True, faults: int = len(FAULTS), poll_interval: float = 0.5):
    started = time.perf_counter()
    result = BenchResult("peers", "(e) Peers: HttpOperator and aepp versions of the onboarding")
    rng = random.Random(seed)
    home = make_airflow_home("peers")
    skipped: dict[str, str] = {}
    if missing((HTTP_PROVIDER,)):  # both peer DAG files import it
        result.skipped = "apache-airflow-providers-http is not installed (the `bench` extra: pip install -e '.[bench]')"
        return result
    files = {"ours": DAGS["ours"][0], "http": DAGS["http"][0], "aepp": DAGS["aepp"][0], "floor": FLOOR}
    parse = _parse_rows(result, _parse_samples(files, reps, bench_env(home), rng))

    measured: dict[str, dict[str, Any]] = {}
    if dag_runs:
        for label, (_, _, needs) in DAGS.items():
            if missing(needs):
                skipped[label] = f"{', '.join(missing(needs))} not installed (the `bench` extra)"
        plan = [label for label in DAGS if label not in skipped]
        with emulator_process(run_start_delay=0.5, run_duration=1.0, journal_limit=100_000) as emu:
            for label in plan:
                measured[label] = {"create": _measure(label, emu, home, poll_interval, None)}
                for fault in FAULTS[:faults]:
                    measured[label][fault[0]] = _measure(label, emu, home, poll_interval, fault)
        _run_rows(result, measured)
    else:
        result.notes.append("DAG runs not made in this run (`--smoke`: each takes 20-60 s); parse rows only.")
    for label, reason in skipped.items():
        result.notes.append(f"{LABELS[label]}: DAG runs skipped, {reason}.")
    result.details = {"parse": parse, "runs": measured, "skipped": skipped}
    result.seconds = time.perf_counter() - started
    return result


def _run_rows(result: BenchResult, measured: dict[str, dict[str, Any]]) -> None:
    ours = measured.get("ours", {}).get("create")
    for peer in ("http", "aepp"):
        theirs = measured.get(peer, {}).get("create")
        if ours and theirs:
            result.rows.append(
                Row(
                    metric=f"AEP requests per pipeline (create run, {len(TABLES)} tables, polls apart): "
                    f"{LABELS['ours']} vs {LABELS[peer]}",
                    value=f"{ours['requests']} + {ours['polls']} polls",
                    baseline=f"{theirs['requests']} + {theirs['polls']} polls",
                    ratio=ratio(ours["requests"], theirs["requests"]),
                )
            )
    for label, runs in measured.items():
        create = runs["create"]
        result.rows.append(
            Row(
                metric=f"IMS tokens per DAG run (`dag.test()`, one process): {LABELS[label]}",
                value=str(create["tokens"]),
                target="1" if label == "ours" else "",
                met=(create["tokens"] == 1) if label == "ours" else None,
            )
        )
    for fault in FAULTS:
        name = fault[0]
        ours_f = measured.get("ours", {}).get(name)
        for peer in ("http", "aepp"):
            theirs_f = measured.get(peer, {}).get(name)
            if ours_f is None and theirs_f is None:
                continue
            result.rows.append(
                Row(
                    metric=f"duplicates after a lost create answer (`commit_then_drop` on the first {name}): "
                    f"{LABELS['ours']} vs {LABELS[peer]}",
                    value=_fault_text(ours_f) if ours_f else "not run",
                    baseline=_fault_text(theirs_f) if theirs_f else "not run",
                    target="0",
                    met=(ours_f["duplicates"] == 0 and ours_f["state"] == "success") if ours_f else None,
                )
            )
    for label, runs in measured.items():
        create = runs["create"]
        line = (
            f"{LABELS[label]}: create run {create['state']}, {create['task_instances']} task instances, "
            f"{create['requests']} requests + {create['polls']} polls, {create['tokens']} token(s), "
            f"{create['seconds']:.0f} s"
        )
        for name in (f[0] for f in FAULTS):
            if name in runs:
                m = runs[name]
                line += (
                    f"; lost answer of {name}: {m['duplicates']} duplicate(s), {m['resources']} resources, "
                    f"{m['posts']} POSTs ({m['dropped']} unanswered), DAG run {m['state']}, "
                    + (f"task retries: {', '.join(m['retried'])}" if m["retried"] else "no task retried")
                )
                if m["failed_tasks"]:
                    line += f", failed: {', '.join(m['failed_tasks'])}"
        result.notes.append(line + ".")

"""(g) Batch ingestion: a large JSON-lines file into a dataset in 256 MB parts, the provider vs bare ``requests``.

The emulator runs in a child process with batch processing pushed beyond the run (the benchmark measures the
upload, not the emulator's parsing of a gigabyte). Each upload runs in a fresh process
(``benchmarks._batch_worker``): ``provider`` is the provider's upload path (plan, create, PUT each part streamed
from the file, COMPLETE); ``bare`` POSTs the batch and PUTs the same byte ranges with a plain ``requests``
session. Repetitions alternate; ratio = median / median of the same size in the same run.

Memory: the provider process's peak RSS minus its RSS when the upload started, at two file sizes: a streamed
upload's growth does not follow the file size. Requests: the provider's requests to the Batch Ingestion API and
Catalog for one batch (emulator journal) against the API minimum (create + one PUT per part + COMPLETE).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import CLIENT_ID, CLIENT_SECRET, MIB, ORG_ID, REPO, BenchResult, Row, fmt_mib, ratio, summary
from benchmarks.emulator_support import emulator_process, fetch_token

THROUGHPUT_TARGET = 0.9
RSS_TARGET = 64 * MIB
PART = 256 * MIB


def write_json_lines(path: Path, size: int) -> int:
    """About ``size`` bytes of JSON lines (distinct ids), written in 4 MiB blocks; returns the size written."""
    written, number = 0, 0
    with path.open("wb") as out:
        while written < size:
            lines = []
            for _ in range(20_000):
                lines.append(b'{"_id": "r%010d", "personalEmail": {"address": "p%d@example.com"}}\n' % (number, number))
                number += 1
            block = b"".join(lines)
            out.write(block)
            written += len(block)
    return written


def _worker(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._batch_worker", mode, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=3600,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"{mode} worker failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dataset(url: str) -> str:
    from aep_emulator import testing

    return testing.make_dataset(testing.ServiceClient(url, testing.fetch_token(url)), name="bench batch")[0]


def run(sizes: tuple[int, ...] = (1024 * MIB, 256 * MIB), reps: int = 3, chunk_size: int = PART) -> BenchResult:
    started = time.perf_counter()
    result = BenchResult("batch", "(g) Batch ingestion: a 1 GiB file in 256 MB parts vs bare `requests`")
    with (
        tempfile.TemporaryDirectory(prefix="aep-bench-batch-") as tmp,
        emulator_process(batch_processing_delay=10**9, journal_limit=100_000) as emu,
    ):
        url = emu.url
        dataset_id = _dataset(url)
        token = fetch_token(url)
        base = {
            "url": url,
            "token": token,
            "dataset_id": dataset_id,
            "chunk_size": chunk_size,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "org_id": ORG_ID,
        }
        figures: dict[int, dict[str, list[dict[str, Any]]]] = {}
        for index, size in enumerate(sizes):
            path = Path(tmp) / f"export-{index}.json"
            actual = write_json_lines(path, size)
            runs: dict[str, list[dict[str, Any]]] = {"provider": [], "bare": []}
            for rep in range(reps if index == 0 else 1):
                for mode in ("bare", "provider") if rep % 2 else ("provider", "bare"):
                    spec = {**base, "path": str(path), "external_id": f"bench-{index}-{rep}-{mode}"}
                    emu.control.clear_journal()
                    outcome = _worker(mode, spec)
                    outcome["requests"] = [
                        e
                        for e in emu.control.journal()
                        if "/data/foundation/import" in e["path"] or "/data/foundation/catalog/batches" in e["path"]
                    ]
                    outcome["bytes"] = actual
                    runs[mode].append(outcome)
            figures[actual] = runs
            path.unlink()
    _rows(result, figures, reps)
    result.seconds = time.perf_counter() - started
    return result


def _rows(result: BenchResult, figures: dict[int, dict[str, list[dict[str, Any]]]], reps: int) -> None:
    largest = max(figures)
    runs = figures[largest]
    provider_s = summary([r["seconds"] for r in runs["provider"]])
    bare_s = summary([r["seconds"] for r in runs["bare"]])
    throughput = ratio(bare_s["median"], provider_s["median"])  # provider throughput / bare throughput
    gib = largest / (1024 * MIB)
    result.rows.append(
        Row(
            f"Throughput, {gib:.2f} GiB in {runs['provider'][0]['parts']} parts ({reps} reps)",
            f"{largest / MIB / provider_s['median']:.0f} MiB/s ({provider_s['median']:.1f} s)",
            f"{largest / MIB / bare_s['median']:.0f} MiB/s ({bare_s['median']:.1f} s)",
            throughput,
            f">= {THROUGHPUT_TARGET}x of bare",
            None if throughput is None else throughput >= THROUGHPUT_TARGET,
        )
    )
    for size, size_runs in sorted(figures.items()):
        growth = max(r["peak_rss"] - r["rss_start"] for r in size_runs["provider"])
        result.rows.append(
            Row(
                f"Provider process peak RSS growth, {size / MIB:.0f} MiB file",
                fmt_mib(growth),
                f"start {fmt_mib(size_runs['provider'][0]['rss_start'])}",
                None,
                f"<= {fmt_mib(RSS_TARGET)}",
                growth <= RSS_TARGET,
            )
        )
    requests_made = len(runs["provider"][0]["requests"])
    minimum = runs["provider"][0]["parts"] + 2
    result.rows.append(
        Row(
            "Requests per batch (create, PUTs, COMPLETE)",
            str(requests_made),
            f"API minimum {minimum}",
            ratio(requests_made, minimum),
            "1.0x",
            requests_made == minimum,
        )
    )
    for mode in ("provider", "bare"):
        times = ", ".join(f"{r['seconds']:.1f} s" for r in runs[mode])
        result.notes.append(f"{mode}: {times} for {largest / MIB:.0f} MiB ({runs[mode][0]['parts']} parts)")
    result.details["runs"] = {
        str(size): {mode: [{k: v for k, v in r.items() if k != "requests"} for r in rs] for mode, rs in runs.items()}
        for size, runs in figures.items()
    }

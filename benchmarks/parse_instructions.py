"""Parse cost as instruction counts: one cold load + serialise under ``valgrind --tool=callgrind``.

Wall-clock parse ratios are noisy on a loaded machine; the instruction count of the same work is
deterministic (to a fraction of a percent) with ``PYTHONHASHSEED`` fixed. Each file (our example DAG, its
EmptyOperator floor, the HttpOperator peer) gets one fresh ``python -m benchmarks.parse_instructions FILE``
under callgrind, which does the same untimed set-up as ``benchmarks._parse_worker`` (import Airflow and the
DAG processor, load + serialise the warm-up DAG) with collection off, then runs one ``BundleDagBag`` load of
the file and its serialisation inside ``sys.call_tracing`` -- the C function callgrind's
``--toggle-collect`` switches collection on for -- so only that region is counted.
"""

from __future__ import annotations

import gc
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import BASELINE_DAGS, BENCH_DIR, EXAMPLE_DAGS, REPO, Row, python

FILES = {
    "ours": EXAMPLE_DAGS / "hubspot_onboarding.py",
    "floor": BASELINE_DAGS / "empty_hubspot_onboarding.py",
    "http": BENCH_DIR / "peers" / "http_operator_onboarding.py",
}
TARGETS = {"floor": 1.10, "http": 1.00}  # ours <= 1.10x the EmptyOperator floor, <= 1.00x the HttpOperator peer
LABELS = {"floor": "EmptyOperator floor", "http": "HttpOperator peer"}
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def valgrind() -> str | None:
    return shutil.which("valgrind")


def count(file: Path, env: dict[str, str]) -> int:
    """Instructions (callgrind ``Ir``) of one cold load + serialise of ``file``."""
    with tempfile.TemporaryDirectory(prefix="aep-callgrind-") as tmp:
        proc = subprocess.run(
            [
                valgrind() or "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}",
                "--collect-atstart=no",
                "--toggle-collect=sys_call_tracing",
                python(),
                "-m",
                "benchmarks.parse_instructions",
                str(file),
            ],
            cwd=REPO,
            env={**env, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            timeout=1800,
        )
    found = _COLLECTED.findall(proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"callgrind run failed for {file.name} ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return int(found[-1])


def rows(env: dict[str, str]) -> tuple[list[Row], dict[str, int], list[str]]:
    """The two ratio rows (ours vs the floor, ours vs the HttpOperator peer), the raw counts, and notes."""
    files = {label: path for label, path in FILES.items() if path.exists()}
    notes = [
        f"callgrind: `{path.relative_to(REPO)}` does not exist; not counted."
        for label, path in FILES.items()
        if label not in files
    ]
    counts: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=len(files) or 1) as pool:  # one process each; counts do not interfere
        futures = {label: pool.submit(count, path, env) for label, path in files.items()}
        for label, future in futures.items():
            try:
                counts[label] = future.result()
            except Exception as exc:  # e.g. the HttpOperator peer without apache-airflow-providers-http
                notes.append(f"callgrind run of `{files[label].name}` failed: {str(exc).splitlines()[0][:200]}")
    out = []
    for against in ("floor", "http"):
        if against not in counts or "ours" not in counts:
            out.append(
                Row(
                    metric=f"parse, load + serialise, instructions (callgrind): ours vs {LABELS[against]}",
                    value="not measured (see notes)",
                    target=f"<= {TARGETS[against]:.2f}x",
                )
            )
            continue
        r = counts["ours"] / counts[against]
        out.append(
            Row(
                metric=f"parse, load + serialise, instructions (callgrind): ours vs {LABELS[against]}",
                value=f"{counts['ours'] / 1e6:.1f} M",
                baseline=f"{counts[against] / 1e6:.1f} M",
                ratio=r,
                target=f"<= {TARGETS[against]:.2f}x",
                met=r <= TARGETS[against],
            )
        )
    return out, counts, notes


def _region(path: Path) -> None:
    from benchmarks import _parse_worker as worker

    bag = worker._load(path)
    if bag.import_errors:
        raise SystemExit(f"{path}: {bag.import_errors}")
    worker._serialize(bag)


def main(argv: list[str]) -> None:
    import logging

    import airflow.dag_processing.processor  # what the processor has loaded before forking
    import airflow.sdk  # noqa: F401
    from airflow.providers.standard.operators.empty import EmptyOperator  # noqa: F401

    from benchmarks import _parse_worker as worker

    logging.disable(logging.INFO)
    warm = worker._load(worker.WARMUP)
    worker._serialize(warm)
    if warm.import_errors:
        raise SystemExit(f"warm-up DAG failed: {warm.import_errors}")
    # As the DAG processor does before it forks a parser: without it, a full collection of everything the
    # set-up allocated may land inside the counted region (or not), millions of instructions either way.
    gc.freeze()
    sys.call_tracing(_region, (Path(argv[0]).resolve(),))  # callgrind collects inside this call only


if __name__ == "__main__":
    main(sys.argv[1:])

"""``python -m benchmarks``: run the benchmarks, print the table, write ``docs/benchmarks.md``.

Options: ``--smoke`` (tiny sizes, for the test suite; writes nothing unless ``--output`` is given),
``--only parse,calls,triggers,pagination,onboarding,peers,batch,query``, ``--output PATH`` (markdown),
``--json PATH`` (raw results; default ``benchmarks/results/latest.json``, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, BenchResult, machine_info

ORDER = ("parse", "calls", "triggers", "pagination", "onboarding", "peers", "batch", "query")

FULL: dict[str, dict[str, Any]] = {
    "parse": {"reps": 20, "import_reps": 7, "first_parse_reps": 15},
    "calls": {},
    # 10,000 waits at the onboarding DAG's default poll interval (60 s): 167 polls/s, runs lasting 1-3 minutes
    "triggers": {
        "n": 10_000,
        "poll_interval": 60.0,
        "min_duration": 600.0,
        "max_duration": 1800.0,
        "speed": 10.0,
        "tracemalloc_pass": False,
    },
    "pagination": {"n": 10_000, "page_size": 100, "reps": 25},
    "peers": {"reps": 12},
    "onboarding": {"sizes": (20, 200)},
    # 1 GiB and 256 MiB JSON-lines files in 256 MB parts (issue 21's figures).
    "batch": {},
    # a 100,000-row SELECT; 1,000 query waits polling every 10 s (3x the operator's default rate) for 60 s
    "query": {},
}
SMOKE: dict[str, dict[str, Any]] = {
    # Both example DAGs: a baseline that no longer mirrors its example is regenerated (and checked) here too.
    "parse": {
        "reps": 1,
        "import_reps": 1,
        "files": ("hubspot_onboarding.py", "hubspot_connection.py"),
        "warmup": False,
        "instructions": False,  # three callgrind runs take minutes
        "first_parse_reps": 1,
    },
    "calls": {"poll_interval": 0.2, "run_start_delay": 0.2, "run_duration": 0.2},
    "triggers": {
        "n": 10,
        "poll_interval": 0.2,
        "min_duration": 0.5,
        "max_duration": 1.5,
        "batches": 3,
        "speed": 3.0,
        "tracemalloc_pass": False,
    },
    "pagination": {"n": 300, "page_size": 50, "reps": 2},
    # Parse rows only (ours, both peers, the floor): each peer DAG run takes 20-60 s.
    "peers": {"reps": 1, "dag_runs": False},
    "onboarding": {"sizes": (1, 2)},
    "batch": {"sizes": (3 * 1024 * 1024, 1024 * 1024), "reps": 1, "chunk_size": 1024 * 1024},
    "query": {
        "rows": 500,
        "rounds": 2,
        "reps": 1,
        "connect_reps": 1,
        "n": 10,
        "poll_interval": 0.5,
        "window": 1.5,
        "release_timeout": 30.0,
        "memory_rounds": 1,
    },
}


def _runner(key: str):
    if key == "parse":
        from benchmarks.parse_cost import run
    elif key == "calls":
        from benchmarks.calls import run
    elif key == "triggers":
        from benchmarks.deferred_waits import run
    elif key == "peers":
        from benchmarks.peers_compare import run
    elif key == "onboarding":
        from benchmarks.onboarding_scale import run
    elif key == "batch":
        from benchmarks.batch_ingestion import run
    elif key == "query":
        from benchmarks.query_service import run
    else:
        from benchmarks.pagination import run
    return run


def run_all(keys: list[str], sizes: dict[str, dict[str, Any]]) -> list[BenchResult]:
    from benchmarks.emulator_support import emulator_available

    missing_emulator = emulator_available()
    results = []
    for key in keys:
        print(f"[bench] {key} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        if key != "parse" and missing_emulator:
            results.append(BenchResult(key, key, skipped=missing_emulator))
            continue
        try:
            result = _runner(key)(**sizes[key])
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            result = BenchResult(key, key, skipped=f"failed: {type(exc).__name__}: {str(exc)[:300]}")
        print(f"[bench] {key} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (well-formedness only)")
    parser.add_argument("--only", default=",".join(ORDER), help="comma-separated subset of " + ", ".join(ORDER))
    parser.add_argument("--output", type=Path, default=None, help="markdown report (default docs/benchmarks.md)")
    parser.add_argument("--json", type=Path, default=None, help="raw results as JSON")
    args = parser.parse_args(argv)

    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(ORDER))
    if unknown:
        parser.error(f"unknown benchmarks: {unknown}")
    output, json_path = args.output, args.json
    if not args.smoke:
        output = output or REPO / "docs" / "benchmarks.md"
        json_path = json_path or REPO / "benchmarks" / "results" / "latest.json"

    from benchmarks.report import console_table, markdown

    started = time.perf_counter()
    machine = machine_info()
    results = run_all([k for k in ORDER if k in keys], SMOKE if args.smoke else FULL)
    machine["Total time"] = f"{time.perf_counter() - started:.0f} s"
    command = "python -m benchmarks" + (" --smoke" if args.smoke else "")
    if keys != list(ORDER):
        command += f" --only {args.only}"

    print(console_table(results))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown(results, machine, command=command, smoke=args.smoke))
        print(f"\nwrote {output}", file=sys.stderr)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": machine, "smoke": args.smoke, "results": [r.to_dict() for r in results]}
        json_path.write_text(json.dumps(payload, indent=1, default=str))
        print(f"wrote {json_path}", file=sys.stderr)
    failed = [r.key for r in results if r.skipped and r.skipped.startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""(a) Parse cost as the DAG processor pays it: the first parse in a freshly forked parser process.

Airflow 3's DAG processor forks one process per file to parse; in it, nothing of the DAG-parsing code has
run yet and the file's provider modules are not imported. Each sample is a fresh
``python -m benchmarks._first_parse_worker FILE``: it does, untimed, what the ``airflow dag-processor``
process has done before it forks a parser (providers configuration, the command's modules with the manager
and the processor, the in-process execution API, ``_pre_import_airflow_modules(FILE)``, ``gc.freeze()``),
forks, and times in the child the steps of ``processor._parse_file``: stability check, ``BundleDagBag``
load, ``_serialize_dags`` (``DagSerialization.to_dict``), the result and its msgpack frame. "Load +
serialise" below is the sum of the four. The same steps then run a second time in that child (provider
imported, Airflow's code paths warm). Unlike ``benchmarks._parse_worker`` there is no warm-up DAG: the
manager never parses a DAG, so each parser starts with Airflow's parsing and serialisation code cold.

Four variants are interleaved in shuffled order, ``reps`` fresh processes each: the example, its
EmptyOperator baseline (``benchmarks/baseline_dags/empty_<example>``), and each of the two with every module
its first parse imports (as seen in an untimed probe sample) imported in the child before the timed parse.
The last pair splits a first parse into its imports (timed apart, in the same forked child) and the rest
(Airflow's and the operators' code running for the first time in the process). Ratios are median / median
against the baseline of the same run; CPU time (``time.process_time`` of the parser process) is reported
too, as it moves less than wall time when the machine is loaded. Bytecode caches are used as on a
deployment that installed the provider: the probe samples write them (``bench_env`` drops
``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import EXAMPLE_DAGS, BenchResult, Row, fmt_spread_ms, ratio, run_worker, summary

FILES = ("hubspot_onboarding.py",)
STEPS = ("check_s", "load_s", "serialize_s", "result_s")


def _sample(file: Path, env: dict[str, str], preimport: list[str] | None = None) -> dict[str, Any]:
    args = [str(file)] + (["--preimport", ",".join(preimport)] if preimport else [])
    sample = run_worker(
        "benchmarks._first_parse_worker", *args, env=env, timeout=300, what=f"first-parse worker for {file.name}"
    )
    if sample["first"]["errors"]:
        raise RuntimeError(f"{file.name} failed to parse: {sample['first']['errors']}")
    return sample


def _total(sample: dict[str, Any], run: str) -> float:
    return sum(sample[run][step] for step in STEPS)


def _fmt_cpu(stats: dict[str, float]) -> str:
    return fmt_spread_ms(stats) + " CPU"


def _imported_by_parse(sample: dict[str, Any]) -> list[str]:
    """Modules a sample's first parse imported, without the DAG file's own module."""
    return [m for m in sample["new_modules"] if not m.startswith("unusual_prefix_")]


def measure(
    pairs: list[tuple[Path, Path]], env: dict[str, str], reps: int, rng: random.Random
) -> tuple[list[Row], list[str], dict[str, Any]]:
    """Rows, notes and raw figures for each (example, baseline) pair."""
    rows: list[Row] = []
    notes: list[str] = []
    details: dict[str, Any] = {"reps": reps, "files": {}}
    for example, baseline in pairs:
        # Untimed, one per file: writes .pyc files, warms the page cache, and tells which modules a parse imports.
        probes = {"example": _sample(example, env), "baseline": _sample(baseline, env)}
        imports = {key: _imported_by_parse(probe) for key, probe in probes.items()}
        variants = {
            "example": (example, None),
            "baseline": (baseline, None),
            "example_imported": (example, imports["example"]),
            "baseline_imported": (baseline, imports["baseline"]),
        }
        samples: dict[str, list[dict[str, Any]]] = {key: [] for key in variants}
        for _ in range(reps):
            for key in rng.sample(list(variants), len(variants)):
                file, preimport = variants[key]
                samples[key].append(_sample(file, env, preimport))

        ex, base = samples["example"], samples["baseline"]
        figures: dict[str, Any] = {}
        first = lambda s: _total(s, "first")  # noqa: E731
        specs = (
            ("first", "first load + serialise", first, "example", "baseline", fmt_spread_ms),
            (
                "first_cpu",
                "first load + serialise, CPU time",
                lambda s: s["first"]["cpu_s"],
                "example",
                "baseline",
                _fmt_cpu,
            ),
            (
                "second",
                "second load + serialise (same process)",
                lambda s: _total(s, "second"),
                "example",
                "baseline",
                fmt_spread_ms,
            ),
            (
                "first_imported",
                "first load + serialise, CPU time, its imports done before (both files)",
                lambda s: s["first"]["cpu_s"],
                "example_imported",
                "baseline_imported",
                _fmt_cpu,
            ),
            (
                "imports",
                "CPU time of the imports of its first parse, done in the parser",
                lambda s: s["preimport_cpu_s"],
                "example_imported",
                "baseline_imported",
                _fmt_cpu,
            ),
        )
        for key, label, value, ex_key, base_key, fmt in specs:
            ex_t, base_t = [value(s) for s in samples[ex_key]], [value(s) for s in samples[base_key]]
            ex_s, base_s = summary(ex_t), summary(base_t)
            r = ratio(ex_s["median"], base_s["median"])
            rows.append(
                Row(metric=f"forked parser, `{example.name}`, {label}", value=fmt(ex_s), baseline=fmt(base_s), ratio=r)
            )
            figures[key] = {
                "example": ex_s,
                "baseline": base_s,
                "paired_ratio": summary([a / b for a, b in zip(ex_t, base_t, strict=True)]),
                "delta_ms": (ex_s["median"] - base_s["median"]) * 1000,
            }
        figures["imports_wall"] = {
            key: summary([s["preimport_s"] for s in samples[f"{key}_imported"]]) for key in ("example", "baseline")
        }
        figures["steps"] = {  # median ms of each step of processor._parse_file, first and second pass
            label: {
                run: {step: summary([s[run][step] for s in group])["median"] * 1000 for step in STEPS}
                for run in ("first", "second")
            }
            for label, group in (("example", ex), ("baseline", base))
        }
        figures["provider_modules"] = probes["example"]["provider_modules"]
        figures["modules_not_in_baseline"] = [m for m in imports["example"] if m not in set(imports["baseline"])]
        figures["third_party_new"] = {key: probe["third_party_new"] for key, probe in probes.items()}
        figures["rusage_first"] = {
            label: group[0]["first"]["rusage"] for label, group in (("example", ex), ("baseline", base))
        }
        details["files"][example.name] = figures

        steps = figures["steps"]
        step_text = "; ".join(
            f"{label} " + ", ".join(f"{step[:-2]} {ms:.1f}" for step, ms in steps[label]["first"].items())
            for label in ("example", "baseline")
        )
        cpu = figures["imports"]
        provider = figures["provider_modules"]
        others = [m for m in figures["modules_not_in_baseline"] if not m.startswith("airflow_provider_aep")]
        extra = sorted(set(probes["example"]["third_party_new"]) - set(probes["baseline"]["third_party_new"]))
        notes.append(
            f"First parse of `{example.name}` in a forked parser vs its EmptyOperator baseline (medians, ms, wall): "
            f"{step_text}. Its first parse imports {len(imports['example'])} modules (baseline "
            f"{len(imports['baseline'])}; imported in the parser before the parse they take "
            f"{cpu['example']['median'] * 1000:.1f} ms vs {cpu['baseline']['median'] * 1000:.1f} ms CPU, "
            f"{cpu['delta_ms']:+.1f} ms): "
            f"{len(provider)} of the provider's and {len(others)} other modules the baseline's parse does not "
            "import"
            + (f" ({', '.join(f'`{m}`' for m in others)})" if others else "")
            + "; packages outside Airflow and the provider that its parse imports and the baseline's does not: "
            + (", ".join(f"`{m}`" for m in extra) or "none")
            + "."
        )
    return rows, notes, details


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.first_parse [--reps N]``: these rows alone (the full set runs in ``parse``)."""
    from benchmarks.common import bench_env, make_airflow_home
    from benchmarks.parse_cost import ensure_baseline
    from benchmarks.report import console_table

    parser = argparse.ArgumentParser(prog="python -m benchmarks.first_parse", description=main.__doc__)
    parser.add_argument("--reps", type=int, default=9, help="fresh processes per variant (default 9)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    env = bench_env(make_airflow_home("first-parse"))
    pairs = [(EXAMPLE_DAGS / name, ensure_baseline(EXAMPLE_DAGS / name, env)[0]) for name in FILES]
    rows, notes, details = measure(pairs, env, args.reps, random.Random(args.seed))
    result = BenchResult("parse", "(a) first parse in a forked DAG-processor child", rows, notes, details)
    result.seconds = time.perf_counter() - started
    print(console_table([result]))
    for note in notes:
        print(f"\n* {note}")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

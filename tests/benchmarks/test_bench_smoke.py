"""Smoke run of ``python -m benchmarks --smoke``: every benchmark, tiny sizes, well-formed results only.

Benchmarks are not tests: nothing here looks at a time, a ratio's size or whether a target was met. The
run happens in a child process (as ``make bench`` does) and writes its report to a temporary directory.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEYS = ["parse", "calls", "triggers", "pagination", "onboarding", "peers", "batch", "query"]
MACHINE_KEYS = {"Date (UTC)", "CPU", "Cores", "Memory", "Python", "Airflow"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    md, raw = out / "benchmarks.md", out / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--output", str(md), "--json", str(raw)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a time assertion (two small dag.test() onboardings run too)
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Benchmark" in proc.stdout and "Ratio" in proc.stdout  # the console table
    return json.loads(raw.read_text()), md.read_text()


def test_every_benchmark_ran_and_produced_rows(smoke):
    payload, _ = smoke
    assert payload["smoke"] is True
    assert [r["key"] for r in payload["results"]] == KEYS
    for result in payload["results"]:
        assert result["skipped"] is None, (result["key"], result["skipped"])
        assert result["rows"], result["key"]
        assert result["title"] and result["seconds"] >= 0


def test_rows_are_well_formed(smoke):
    payload, _ = smoke
    for result in payload["results"]:
        for row in result["rows"]:
            assert isinstance(row["metric"], str) and row["metric"], row
            assert isinstance(row["value"], str) and row["value"], row
            assert row["met"] in (None, True, False), row
            if row["ratio"] is not None:
                assert isinstance(row["ratio"], float) and math.isfinite(row["ratio"]) and row["ratio"] >= 0, row


def test_details_carry_the_raw_figures(smoke):
    details = {r["key"]: r["details"] for r in smoke[0]["results"]}
    parse = details["parse"]
    for figures in parse["files"].values():
        for key in ("load", "load_serialize", "warm_load"):
            stats = figures[key]["example"]
            assert stats["p10"] <= stats["median"] <= stats["p90"]
    assert parse["import"]["on_top_of_sdk"]["median"] > 0
    first = parse["first_parse"]["files"]["hubspot_onboarding.py"]  # one fresh forked parser per variant
    for key in ("first", "first_cpu", "second", "first_imported", "imports"):
        for side in ("example", "baseline"):
            assert first[key][side]["median"] > 0, (key, side)
    assert first["provider_modules"] and first["steps"]["example"]["first"]["load_s"] > 0
    calls = details["calls"]
    assert calls["runs"] and all(run["tasks"] for run in calls["runs"])
    assert isinstance(calls["tokens"], int)
    waits = details["triggers"]
    assert set(waits["measured"]) >= {"deferred", "poke"}
    assert waits["one_process"]["rss"] > 0
    pages = details["pagination"]
    assert set(pages["peaks_bytes"]) == {"generator", "generator_big_page", "list", "bare"}
    scale = details["onboarding"]
    assert [m["tables"] for m in scale["measured"]] == list(scale["sizes"])
    for m in scale["measured"]:
        assert m["requests"] > 0 and m["minimum"] > 0 and m["per_table"]["provider_cpu"] >= 0
    peers = details["peers"]  # the smoke run parses both peer DAG files (their DAG runs are left to make bench)
    assert set(peers["parse"]["stats"]) == {"ours", "http", "aepp", "floor"}
    assert all(n > 0 for n in peers["parse"]["tasks"].values())
    query = details["query"]  # a SELECT through the hook and bare psycopg, then deferred query waits
    for figures in query["select"]["rounds"]:
        assert figures["shape"]["hook"] == figures["shape"]["bare"]
        assert len(figures["select"]["hook"]) == len(figures["select"]["bare"]) > 0
    assert {how: [m["rows"] for m in runs] for how, runs in query["select"]["memory"].items()} == {
        "iter": [query["rows"]],
        "get": [query["rows"]],
    }
    assert query["waits"]["outcomes"] == {"success": query["n"]}
    assert query["waits"]["schedule"]["made"] > 0


def test_markdown_report_has_machine_info_and_the_table(smoke):
    payload, text = smoke
    assert text.startswith("# Benchmarks")
    assert "Smoke run" in text
    for key in MACHINE_KEYS:
        assert f"| {key} |" in text
    assert "| Benchmark | Metric | Measured | Baseline | Ratio | Target | Met |" in text
    for result in payload["results"]:
        for row in result["rows"]:
            assert row["metric"].replace("|", "\\|") in text

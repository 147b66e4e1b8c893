"""(a) Parse cost: example DAG files vs the same DAG shape built from ``EmptyOperator``; provider import cost.

Method: every sample is a **fresh subprocess** (``benchmarks._parse_worker``) that first does, untimed, what
the DAG processor has done before it forks a parser (import Airflow and the processor, parse a warm-up DAG),
then times one ``BundleDagBag`` load of the file under test and its serialisation. So the provider's modules
are cold in every sample, exactly as on a real processor (which pre-imports only ``airflow.*`` modules), and
nothing a previous sample imported can leak into the next. A second parse of the same file in the same
process gives the "warm" figure (task construction only). Example and baseline samples are interleaved in a
shuffled order so that machine noise hits both alike; the ratio is median/median, with the p10/p90 of the
per-pair ratios as its spread.

Baseline DAG files live in ``benchmarks/baseline_dags/`` and are regenerated from the example DAG's shape
(task ids + upstream edges, every task an ``EmptyOperator``) whenever the example changes.

First parse as the DAG processor pays it (``benchmarks/first_parse.py``): the same pairs, each sample a
parser process forked the way Airflow 3's processor forks it, without the warm-up DAG (the processor's
manager never parses one), so Airflow's parsing and serialisation code is cold too.

Import cost: ``python -X importtime`` of ``import airflow.sdk`` followed by the provider package and every
module under ``operators/`` and ``sensors/``; the figure is the sum of the cumulative times of the provider
modules that were imported directly by non-provider code (so nothing is counted twice, and third-party
modules a provider module pulls in are included).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks import first_parse
from benchmarks.common import (
    BASELINE_DAGS,
    EXAMPLE_DAGS,
    REPO,
    BenchResult,
    Row,
    bench_env,
    fmt_spread_ms,
    make_airflow_home,
    python,
    ratio,
    run_worker,
    summary,
)

EXAMPLES = ("hubspot_onboarding.py", "hubspot_connection.py")
PARSE_TARGET = 1.05
IMPORT_TARGET_MS = 10.0
HEAVY = (
    "requests",
    "httpx",
    "aep_emulator",
    "airflow_provider_aep.client.platform",
    "airflow_provider_aep.client.flow_service",
    "airflow_provider_aep.client.schema_registry",
    "airflow_provider_aep.client.catalog",
    "airflow_provider_aep.client.data_prep",
)


# ---------------------------------------------------------------------------------------------------- workers
def _run_worker(mode: str, file: Path, env: dict[str, str]) -> dict[str, Any]:
    return run_worker(
        "benchmarks._parse_worker", mode, str(file), env=env, timeout=300, what=f"parse worker for {file.name}"
    )


# ---------------------------------------------------------------------------------------------------- baselines
def baseline_path(example: str) -> Path:
    return BASELINE_DAGS / f"empty_{example}"


def _topological(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {t["id"]: t for t in tasks}
    done: dict[str, dict[str, Any]] = {}

    def visit(task: dict[str, Any]) -> None:
        if task["id"] in done:
            return
        for up in task["upstream"]:
            visit(by_id[up])
        done[task["id"]] = task

    for task in tasks:
        visit(task)
    return list(done.values())


def py_literal(value: Any) -> str:
    """A JSON-like value as Python source with double-quoted strings (what ``ruff format`` keeps)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} in a baseline DAG")


def _param(spec: dict[str, Any]) -> str:
    args = [py_literal(spec["value"])]
    if spec.get("description"):
        args.append(f"description={py_literal(spec['description'])}")
    schema = spec.get("schema") or {}
    if all(str(k).isidentifier() for k in schema):
        args.extend(f"{k}={py_literal(v)}" for k, v in schema.items())
    elif schema:
        args.append(f"**{py_literal(schema)}")
    return f"Param({', '.join(args)})"


def _group_roots_and_leaves(tasks: list[dict[str, Any]], group_id: str) -> tuple[set[str], set[str]]:
    """Tasks of a group with no upstream / no downstream inside it (what Airflow links a group's edges to)."""
    members = {t["id"] for t in tasks if t.get("group") == group_id}
    roots = {t["id"] for t in tasks if t["id"] in members and not members & set(t["upstream"])}
    inner_upstreams = {up for t in tasks if t["id"] in members for up in t["upstream"] if up in members}
    return roots, members - inner_upstreams


def _task_line(task: dict[str, Any], names: dict[str, str], indent: str) -> str:
    """``tN = EmptyOperator(...)`` (a mapped task expands over its upstream's output); ids are group-relative."""
    own_id = task["id"].removeprefix(f"{task['group']}.") if task.get("group") else task["id"]
    name, task_id = names[task["id"]], json.dumps(own_id)
    if task.get("mapped"):
        source = f"{names[task['expand_from']]}.output" if task.get("expand_from") else '["a", "b"]'
        return f"{indent}{name} = EmptyOperator.partial(task_id={task_id}).expand(doc={source})"
    return f"{indent}{name} = EmptyOperator(task_id={task_id})"


def render_baseline(example: str, shape: dict[str, Any]) -> str:
    """Same task ids, edges, mapping, task groups and DAG params; a mapped task expands over its upstream's
    output, a mapped task group over its source task's output (as ``@task_group(...).expand(...)``).

    DAG-level ``params`` are kept because Airflow deep-copies and validates them per task when building and
    serialising the DAG: that cost belongs to the DAG's shape, not to the provider's operators.
    """
    uses_params = any(dag.get("params") for dag in shape.values())
    uses_groups = any(dag.get("groups") for dag in shape.values())
    imports = ["DAG"] + (["Param"] if uses_params else []) + (["task_group"] if uses_groups else [])
    lines = [
        f'"""Parse-cost baseline for ``dags_examples/{example}``: the same DAG shape (task ids, edges,',
        "dynamic task mapping, task groups) and DAG params, every task an ``EmptyOperator``. Generated by",
        "``benchmarks/parse_cost.py``; do not edit by hand.",
        '"""',
        "",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        f"from airflow.sdk import {', '.join(imports)}",
        "",
    ]
    for dag_id, dag in shape.items():
        tasks = _topological(dag["tasks"])
        groups = dag.get("groups") or {}
        wrapper = _wrapper_group(groups)
        if wrapper is not None:  # e.g. AEPOnboardingTaskGroup(prefix_group_id=False) around everything
            tasks = [{**t, "group": None if t.get("group") == wrapper else t.get("group")} for t in tasks]
            groups = {
                gid: {**g, "parent": None if g.get("parent") == wrapper else g.get("parent")}
                for gid, g in groups.items()
                if gid != wrapper
            }
        for group_id, group in groups.items():
            if group.get("parent") is not None:
                raise RuntimeError(f"nested task group {group_id} in {example}: not reproduced by the generator")
            if group.get("mapped") and "*" in (group.get("expand") or {}):
                raise RuntimeError(f"task group {group_id} in {example} uses expand_kwargs(): not reproduced")
        names = {t["id"]: f"t{i}" for i, t in enumerate(tasks)}
        group_of = {t["id"]: t.get("group") for t in tasks}
        lines += ["with DAG(", f"    dag_id={json.dumps('empty_' + dag_id)},"]
        lines += ["    schedule=None,", "    catchup=False,"]
        if dag.get("params"):
            lines.append("    params={")
            lines += [f"        {json.dumps(k)}: {_param(p)}," for k, p in dag["params"].items()]
            lines.append("    },")
        lines.append("):")

        # Edges Airflow adds itself: a mapped group's expand source -> its roots; group >> task -> leaves -> task.
        implied: set[tuple[str, str]] = set()
        for group_id, group in groups.items():
            roots, leaves = _group_roots_and_leaves(tasks, group_id)
            sources = {src for src in (group.get("expand") or {}).values() if src}
            implied |= {(src, root) for src in {*sources, *group.get("upstream", [])} for root in roots}
            implied |= {(leaf, down) for down in group.get("downstream", []) for leaf in leaves}
        edges = [
            (up, task["id"])
            for task in tasks
            for up in task["upstream"]
            if up != task.get("expand_from") and (up, task["id"]) not in implied
        ]

        for task in tasks:  # tasks outside any group first (edges into a group are set inside its function)
            if task.get("group") is None:
                lines.append(_task_line(task, names, "    "))
        for index, (group_id, group) in enumerate(groups.items()):
            function = f"group{index}"
            lines += ["", f"    @task_group(group_id={json.dumps(group_id)})"]
            expand = group.get("expand") or {}
            lines.append(f"    def {function}({', '.join(expand)}) -> None:")
            lines += [_task_line(t, names, "        ") for t in tasks if t.get("group") == group_id]
            lines += [
                f"        {names[up]} >> {names[down]}"
                for up, down in edges
                if group_id in (group_of[up], group_of[down])
            ]
            lines.append("")
            if group.get("mapped"):
                args = ", ".join(
                    f"{arg}={names[src]}.output" if src else f'{arg}=["a", "b"]' for arg, src in expand.items()
                )
                lines.append(f"    g{index} = {function}.expand({args})")
            else:
                lines.append(f"    g{index} = {function}()")
            sources = {src for src in expand.values() if src}
            lines += [f"    {names[up]} >> g{index}" for up in group.get("upstream", []) if up not in sources]
            lines += [f"    g{index} >> {names[down]}" for down in group.get("downstream", [])]
        outer = [(up, down) for up, down in edges if group_of[up] is None and group_of[down] is None]
        lines += [f"    {names[up]} >> {names[down]}" for up, down in outer]
        lines.append("")
        if wrapper is not None:
            body_start = lines.index("):") + 1  # the end of ``with DAG(...)`` (one DAG per example file)
            body = lines[body_start:]
            lines = [
                *lines[:body_start],
                f"    with TaskGroup(group_id={json.dumps(wrapper)}, prefix_group_id=False):",
                *[("    " + line) if line else line for line in body],
            ]
    if any(_wrapper_group(dag.get("groups") or {}) for dag in shape.values()):
        lines = [
            line.replace(
                f"from airflow.sdk import {', '.join(imports)}",
                f"from airflow.sdk import {', '.join([*imports, 'TaskGroup'])}",
            )
            for line in lines
        ]
    return "\n".join(lines).rstrip() + "\n"


def _wrapper_group(groups: dict[str, Any]) -> str | None:
    """A plain (not mapped, not prefixing) top-level group that holds every other group: rendered as a
    ``with TaskGroup(..., prefix_group_id=False)`` block around the DAG's body."""
    tops = [gid for gid, g in groups.items() if g.get("parent") is None]
    if len(tops) != 1:
        return None
    top = groups[tops[0]]
    nested_ok = all(g.get("parent") in (None, tops[0]) for g in groups.values())
    if top.get("mapped") or top.get("prefix_group_id", True) or not nested_ok:
        return None
    return tops[0]


def _ruff_format(path: Path) -> None:
    """Best effort: keep generated files as ``make lint`` wants them (ruff is a dev dependency)."""
    ruff = Path(python()).with_name("ruff")
    if ruff.exists():
        subprocess.run([str(ruff), "format", "--quiet", str(path)], cwd=REPO, check=False, timeout=60)


def _strip_prefix(shape: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("empty_"): v for k, v in shape.items()}


def ensure_baseline(example: Path, env: dict[str, str]) -> tuple[Path, int, bool]:
    """Make ``baseline_dags/empty_<example>`` match the example's shape; returns (path, tasks, regenerated)."""
    shape = _run_worker("shape", example, env)
    target = baseline_path(example.name)
    regenerated = False
    if not target.exists() or _strip_prefix(_run_worker("shape", target, env)) != shape:
        target.write_text(render_baseline(example.name, shape))
        _ruff_format(target)
        regenerated = True
        if _strip_prefix(_run_worker("shape", target, env)) != shape:
            raise RuntimeError(f"generated baseline {target} does not reproduce the shape of {example}")
    return target, sum(len(d["tasks"]) for d in shape.values()), regenerated


# ---------------------------------------------------------------------------------------------------- import cost
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    """Entries of ``-X importtime`` output with their parent (the output is a post-order tree walk)."""
    entries = []
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            entries.append(
                {"self_us": int(m[1]), "cum_us": int(m[2]), "depth": len(m[3]) // 2, "name": m[4], "parent": None}
            )
    for i, entry in enumerate(entries):
        for later in entries[i + 1 :]:
            if later["depth"] < entry["depth"]:
                entry["parent"] = later["name"]
                break
    return entries


def _provider_modules() -> list[str]:
    pkg = REPO / "airflow_provider_aep"
    mods = ["airflow_provider_aep"]
    for sub in ("operators", "sensors"):
        for file in sorted((pkg / sub).glob("*.py")):
            mods.append(f"airflow_provider_aep.{sub}" + ("" if file.stem == "__init__" else f".{file.stem}"))
    return mods


def import_cost_sample(env: dict[str, str], preload: str = "airflow.sdk") -> dict[str, Any]:
    """One ``-X importtime`` run: ``import <preload>``, then the provider's DAG-facing modules."""
    modules = _provider_modules()
    # gc.freeze() as the DAG processor does before it forks a parser: otherwise a full collection over the
    # preload's objects lands in whichever provider module happens to allocate when the threshold is reached.
    code = f"import {preload}\nimport gc\ngc.freeze()\n" + "".join(f"import {m}\n" for m in modules)
    proc = subprocess.run(
        [python(), "-X", "importtime", "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import-time probe failed:\n{proc.stderr[-3000:]}")
    entries = parse_importtime(proc.stderr)
    # The preload's own (top-level) entry closes its subtree: everything listed after it came on top.
    cut = max(i for i, e in enumerate(entries) if e["name"] == preload and e["depth"] == 0)

    def is_provider(name: str | None) -> bool:
        return bool(name) and name.split(".")[0] == "airflow_provider_aep"

    # Setuptools' editable-install finder is imported by a .pth file at start-up: an artifact of `pip -e`.
    roots = [
        (i, e)
        for i, e in enumerate(entries)
        if is_provider(e["name"]) and not is_provider(e["parent"]) and not e["name"].startswith("__editable__")
    ]
    after = [e for i, e in roots if i > cut]
    during = [e for i, e in roots if i < cut]
    on_top = entries[cut + 1 :]
    third_party = sorted({e["name"] for e in on_top if not is_provider(e["name"]) and is_provider(e["parent"])})
    provider_self = sorted(((e["self_us"], e["name"]) for e in on_top if is_provider(e["name"])), reverse=True)
    return {
        "after_ms": sum(e["cum_us"] for e in after) / 1000,
        "during_ms": sum(e["cum_us"] for e in during) / 1000,
        "during_modules": [e["name"] for e in during],
        "third_party_on_top": third_party,
        "top_self_us": provider_self[:6],
        "modules": modules,
    }


# ---------------------------------------------------------------------------------------------------- callgrind
def _instruction_rows(result: BenchResult, details: dict[str, Any], env: dict[str, str], enabled: bool) -> None:
    """Instruction counts (deterministic, unlike wall-clock ratios) of one cold load + serialise of our DAG,
    its EmptyOperator floor and the HttpOperator peer; see ``benchmarks/parse_instructions.py``."""
    from benchmarks import parse_instructions

    if not enabled:  # --smoke: three callgrind runs take minutes
        result.notes.append("Instruction counts (callgrind) not measured in this run (`--smoke`).")
        return
    if parse_instructions.valgrind() is None:
        result.notes.append(
            "Instruction counts (callgrind) skipped: `valgrind` is not on PATH (e.g. `apt-get install valgrind`)."
        )
        return
    rows, counts, notes = parse_instructions.rows(env)
    result.rows.extend(rows)
    result.notes.extend(notes)
    details["instructions"] = counts
    if counts:
        result.notes.append(
            "Instruction counts (callgrind `Ir`, one cold load + serialise each, `PYTHONHASHSEED=0`, collection "
            "toggled around the load + serialise only): "
            + ", ".join(f"{label} {n / 1e6:.1f} M" for label, n in counts.items())
            + "."
        )


# ---------------------------------------------------------------------------------------------------- driver
def run(
    reps: int = 20,
    import_reps: int = 7,
    seed: int = 7,
    files: tuple[str, ...] = EXAMPLES,
    warmup: bool = True,
    instructions: bool = True,
    first_parse_reps: int = 15,
    first_parse_files: tuple[str, ...] = first_parse.FILES,
) -> BenchResult:
    started = time.perf_counter()
    result = BenchResult("parse", "(a) DAG parse cost and provider import cost")
    home = make_airflow_home("parse")
    env = bench_env(home)
    rng = random.Random(seed)

    examples = [EXAMPLE_DAGS / name for name in files if (EXAMPLE_DAGS / name).exists()]
    for name in files:
        if not (EXAMPLE_DAGS / name).exists():
            result.notes.append(f"`dags_examples/{name}` does not exist (yet); not measured.")
    pairs = []
    for example in examples:
        baseline, n_tasks, regenerated = ensure_baseline(example, env)
        pairs.append((example, baseline, n_tasks))
        if regenerated:
            result.notes.append(f"Regenerated `benchmarks/baseline_dags/{baseline.name}` from the example's shape.")

    for example, baseline, _ in pairs if warmup else ():  # untimed: compile .pyc files, warm the page cache
        _run_worker("parse", example, env)
        _run_worker("parse", baseline, env)

    samples: dict[str, list[dict[str, Any]]] = {p.name: [] for pair in pairs for p in pair[:2]}
    for _ in range(reps):
        order = [(example, baseline) for example, baseline, _ in pairs]
        rng.shuffle(order)
        for example, baseline in order:
            for file in rng.sample([example, baseline], 2):
                sample = _run_worker("parse", file, env)
                if sample["errors"]:
                    raise RuntimeError(f"{file.name} failed to parse: {sample['errors']}")
                samples[file.name].append(sample)

    details: dict[str, Any] = {"reps": reps, "files": {}}
    for example, baseline, n_tasks in pairs:
        ex, base = samples[example.name], samples[baseline.name]
        for label, key, keys in (
            ("DagBag load", "load", ("load_s",)),
            ("load + serialise", "load_serialize", ("load_s", "serialize_s")),
            ("warm re-parse (load)", "warm_load", ("warm_load_s",)),
        ):
            ex_t = [sum(s[k] for k in keys) for s in ex]
            base_t = [sum(s[k] for k in keys) for s in base]
            ex_s, base_s = summary(ex_t), summary(base_t)
            paired = summary([a / b for a, b in zip(ex_t, base_t, strict=True)])
            r = ratio(ex_s["median"], base_s["median"])
            cold = key != "warm_load"
            result.rows.append(
                Row(
                    metric=f"parse `{example.name}` ({n_tasks} tasks), {label}",
                    value=fmt_spread_ms(ex_s),
                    baseline=fmt_spread_ms(base_s),
                    ratio=r,
                    target=f"<= {PARSE_TARGET:.2f}x" if cold else "",
                    met=(r is not None and r <= PARSE_TARGET) if cold else None,
                )
            )
            details["files"].setdefault(example.name, {})[key] = {
                "example": ex_s,
                "baseline": base_s,
                "paired_ratio": paired,
                "delta_ms": (ex_s["median"] - base_s["median"]) * 1000,
            }
        figures = details["files"][example.name]
        cold, warm = figures["load"]["delta_ms"], figures["warm_load"]["delta_ms"]
        serial = figures["load_serialize"]["delta_ms"] - cold
        result.notes.append(
            f"`{example.name}` vs its baseline (medians): cold load +{cold:.1f} ms, of which about "
            f"{cold - warm:.1f} ms is first-time module import / code paths and {warm:.1f} ms building the tasks "
            f"(warm re-parse); serialisation adds {serial:+.1f} ms. Airflow deep-copies the DAG params "
            f"{ex[0]['param_copies']} times while building it (baseline: {base[0]['param_copies']}): once per "
            "wrapped `__init__` in each operator's class hierarchy."
        )
        details["files"][example.name]["provider_modules_imported"] = ex[0]["provider_modules"]
        details["files"][example.name]["heavy_modules_imported"] = ex[0]["watched_new"]
        heavy = [m for m in ex[0]["watched_new"] if m in HEAVY]
        if heavy:
            result.notes.append(f"Parsing `{example.name}` imports {', '.join(heavy)} at module level.")

    first = [(example, baseline) for example, baseline, _ in pairs if example.name in first_parse_files]
    if first and first_parse_reps > 0:
        rows, notes, details["first_parse"] = first_parse.measure(first, env, first_parse_reps, rng)
        result.rows.extend(rows)
        result.notes.extend(notes)

    _instruction_rows(result, details, env, instructions)

    probes: dict[str, list[dict[str, Any]]] = {"airflow.sdk": [], "airflow.dag_processing.processor": []}
    for _ in range(import_reps):
        for preload in rng.sample(list(probes), len(probes)):
            probes[preload].append(import_cost_sample(env, preload))
    sdk, proc = probes["airflow.sdk"], probes["airflow.dag_processing.processor"]
    after_sdk = summary([s["after_ms"] / 1000 for s in sdk])
    after_proc = summary([s["after_ms"] / 1000 for s in proc])
    during = summary([s["during_ms"] / 1000 for s in sdk])
    result.rows.append(
        Row(
            metric="provider import on top of `import airflow.sdk` (`-X importtime`: package, operators, sensors)",
            value=fmt_spread_ms(after_sdk),
            target=f"<= {IMPORT_TARGET_MS:.0f} ms",
            met=after_sdk["median"] * 1000 <= IMPORT_TARGET_MS,
        )
    )
    result.rows.append(
        Row(
            metric="same, on top of what the DAG processor has loaded (`airflow.dag_processing.processor`)",
            value=fmt_spread_ms(after_proc),
            target=f"<= {IMPORT_TARGET_MS:.0f} ms",
            met=after_proc["median"] * 1000 <= IMPORT_TARGET_MS,
        )
    )
    result.rows.append(
        Row(
            metric="provider modules every Airflow process imports at start-up (`get_provider_info` chain)",
            value=fmt_spread_ms(during),
        )
    )
    details["import"] = {
        "on_top_of_sdk": after_sdk,
        "on_top_of_processor": after_proc,
        "at_startup": during,
        "at_startup_modules": sdk[-1]["during_modules"],
        "modules": sdk[-1]["modules"],
        "third_party_on_top_of_sdk": sdk[-1]["third_party_on_top"],
        "third_party_on_top_of_processor": proc[-1]["third_party_on_top"],
        "top_self_us": sdk[-1]["top_self_us"],
    }
    top = ", ".join(f"`{name}` {us / 1000:.1f} ms" for us, name in sdk[-1]["top_self_us"][:4])
    result.notes.append(f"Most expensive provider modules (self time, one `-X importtime` sample): {top}.")
    for label, sample in (("`airflow.sdk`", sdk[-1]), ("the DAG processor", proc[-1])):
        heavy = [m for m in sample["third_party_on_top"] if m.split(".")[0] in ("requests", "httpx", "urllib3")]
        others = ", ".join(f"`{m}`" for m in sample["third_party_on_top"]) or "none"
        result.notes.append(
            f"Non-provider modules first imported by provider modules on top of {label}: {others}"
            + (f" (HTTP stack: {', '.join(heavy)})." if heavy else ".")
        )
    result.details = details
    result.seconds = time.perf_counter() - started
    return result

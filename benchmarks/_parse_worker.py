"""Child process for the parse benchmark: one cold parse of one DAG file, reported as JSON on stdout.

``python -m benchmarks._parse_worker parse FILE`` does what Airflow's DAG processor child does for a file,
after the same untimed set-up: Airflow, the DAG processor and ``EmptyOperator`` are imported and a warm-up DAG
(``baseline_dags/warmup.py``) is parsed and serialised, so DagBag/serialisation code paths are warm. The file
under test is then loaded with ``BundleDagBag`` (timed: ``load_s``) and serialised (``serialize_s``).
Provider modules are *not* pre-imported: the processor only pre-imports ``airflow.*`` modules, so a DAG
file pays its provider's import cost on every parse. The same file is then parsed a second time in the same
process (``warm_load_s``), which isolates task construction from module import.

``python -m benchmarks._parse_worker shape FILE`` prints the task ids, upstream edges and mapping of each
DAG, its task groups (mapped or not, what a mapped group expands over, group-level edges) and the DAG-level
params (with their JSON schemas).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

WARMUP = Path(__file__).resolve().parent / "baseline_dags" / "warmup.py"
#: Modules a DAG file should not load at parse time (HTTP stacks, the emulator, the per-service clients).
WATCHED = (
    "requests",
    "httpx",
    "tenacity",
    "aep_emulator",
    "airflow_provider_aep.client.platform",
    "airflow_provider_aep.client.flow_service",
    "airflow_provider_aep.client.schema_registry",
    "airflow_provider_aep.client.catalog",
    "airflow_provider_aep.client.data_prep",
)


def _load(path: Path):
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(path), bundle_path=path.parent, bundle_name="bench", load_op_links=False)


def _serialize(bag) -> int:
    from airflow.serialization.serialized_objects import DagSerialization

    size = 0
    for dag in bag.dags.values():
        size += len(json.dumps(DagSerialization.to_dict(dag), default=str))
    return size


def _count_param_copies(path: Path) -> int | None:
    """How often building the DAG deep-copies the DAG's params (Airflow does it in every wrapped ``__init__``
    of an operator's class hierarchy). Untimed, diagnostic only; None if Airflow's internals differ."""
    import airflow.sdk.bases.operator as operator_module

    original = getattr(operator_module, "_get_parent_defaults", None)
    if original is None:
        return None
    count = 0

    def counting(*args, **kwargs):
        nonlocal count
        count += 1
        return original(*args, **kwargs)

    operator_module._get_parent_defaults = counting
    try:
        _load(path)
    finally:
        operator_module._get_parent_defaults = original
    return count


def parse(path: Path) -> dict:
    import airflow.dag_processing.processor  # what the processor has loaded before forking
    import airflow.sdk  # noqa: F401
    from airflow.providers.standard.operators.empty import EmptyOperator  # noqa: F401

    warm = _load(WARMUP)
    _serialize(warm)
    if warm.import_errors:
        raise SystemExit(f"warm-up DAG failed: {warm.import_errors}")
    before = set(sys.modules)

    t0 = time.perf_counter()
    bag = _load(path)
    t1 = time.perf_counter()
    serialized_bytes = _serialize(bag)
    t2 = time.perf_counter()
    new = sorted(set(sys.modules) - before)

    # Second parse of the same file in the same process: provider modules are now imported (as if the
    # processor pre-imported them), so this isolates the cost of building the DAG's tasks.
    t3 = time.perf_counter()
    again = _load(path)
    t4 = time.perf_counter()
    _serialize(again)
    t5 = time.perf_counter()
    copies = _count_param_copies(path)
    return {
        "file": path.name,
        "load_s": t1 - t0,
        "serialize_s": t2 - t1,
        "warm_load_s": t4 - t3,
        "warm_serialize_s": t5 - t4,
        "param_copies": copies,
        "dags": sorted(bag.dags),
        "tasks": sum(len(d.tasks) for d in bag.dags.values()),
        "serialized_bytes": serialized_bytes,
        "errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
        "new_modules": len(new),
        "provider_modules": [m for m in new if m.startswith("airflow_provider_aep")],
        "watched_loaded": {w: w in sys.modules for w in WATCHED},
        "watched_new": [w for w in WATCHED if w in new],
    }


def _group_shape(group) -> dict:
    """A task group's id, parent, mapping (expand argument -> source task) and group-level edges."""
    from airflow.sdk.definitions.xcom_arg import XComArg

    expand_input = getattr(group, "_expand_input", None)
    expand: dict[str, str | None] | None = None
    if expand_input is not None:
        values = getattr(expand_input, "value", None)
        if not isinstance(values, dict):  # expand_kwargs(): not reproduced by the baseline generator
            expand = {"*": None}
        else:
            expand = {}
            for name, value in values.items():
                refs = sorted(op.task_id for op, _ in XComArg.iter_xcom_references(value))
                expand[name] = refs[0] if refs else None
    parent = group.parent_group
    return {
        "parent": parent.group_id if parent is not None else None,
        "prefix_group_id": bool(group.prefix_group_id),
        "mapped": expand is not None,
        "expand": expand,
        "upstream": sorted(group.upstream_task_ids),
        "downstream": sorted(group.downstream_task_ids),
    }


def shape(path: Path) -> dict:
    bag = _load(path)
    if bag.import_errors:
        raise SystemExit(f"{path}: {bag.import_errors}")
    out = {}
    for dag_id, dag in sorted(bag.dags.items()):
        tasks = []
        groups: dict[str, dict] = {}
        for t in sorted(dag.tasks, key=lambda t: t.task_id):
            mapped = hasattr(t, "iter_mapped_dependencies")
            sources = sorted(u.task_id for u in t.iter_mapped_dependencies()) if mapped else []
            group = t.task_group if t.task_group is not None and t.task_group.group_id else None
            tasks.append(
                {
                    "id": t.task_id,
                    "upstream": sorted(t.upstream_task_ids),
                    "mapped": mapped,
                    "expand_from": sources[0] if sources else None,
                    "group": group.group_id if group is not None else None,
                }
            )
            if group is not None and group.group_id not in groups:
                groups[group.group_id] = _group_shape(group)
        params = {}
        for key in dag.params:
            param = dag.params.get_param(key)
            params[key] = {
                "value": param.value if param.has_value else None,
                "description": param.description,
                "schema": dict(param.schema),
            }
        out[dag_id] = {"tasks": tasks, "groups": groups, "params": params}
    return out


def main(argv: list[str]) -> None:
    mode, file = argv[0], Path(argv[1]).resolve()
    result = parse(file) if mode == "parse" else shape(file)
    sys.stdout.write("\n@@RESULT@@" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

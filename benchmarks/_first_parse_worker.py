"""Child process for the first-parse benchmark: one DAG file parsed as Airflow 3's DAG processor parses it.

``python -m benchmarks._first_parse_worker FILE`` reproduces, untimed, what the ``airflow dag-processor``
process has done before it forks the parser of a file, then forks and times the parse in the child:

* the manager's set-up: ``ProvidersManager().initialize_providers_configuration()`` (the CLI command's
  ``@providers_configuration_loaded``, which imports each provider's ``get_provider_info`` chain), the
  ``dag_processor_command`` module (it imports ``DagFileProcessorManager``, the job runner and
  ``airflow.dag_processing.processor``) and the in-process execution API the manager builds
  (``_make_execution_api``: FastAPI, cadwyn, ...);
* ``DagFileProcessorProcess.start``'s ``_pre_import_airflow_modules(file)``: every ``airflow.*`` module the
  file imports (the baseline's ``airflow.providers.standard.operators.empty``, both files' ``airflow.sdk``;
  never the provider's ``airflow_provider_aep``);
* ``gc.freeze()`` (the manager's ``before_run``), then ``os.fork()`` as ``WatchedSubprocess.start`` does.

In the child, after what ``_fork_main`` does (signals reset, structlog configured to write JSON to a log
channel -- here ``/dev/null`` -- and ORM access blocked) and what ``_parse_file_entrypoint`` does (client
context, task logger), the steps of ``processor._parse_file`` are timed one by one: the DAG-file stability
check, the ``BundleDagBag`` load, ``_serialize_dags`` (``DagSerialization.to_dict`` + ``LazyDeserializedDAG``),
the ``DagFileParsingResult`` and its msgpack frame (what ``comms_decoder.send`` writes). Nothing of
Airflow's DAG-parsing code has run before in that process: no warm-up DAG, unlike ``_parse_worker``, because
the manager never parses a DAG itself and each parser process is forked from it afresh. The same steps are
then run a second time in the same child (the provider now imported, Airflow's code paths warm). The child
reports JSON through a pipe (wall and CPU time per pass, getrusage deltas, the modules the first pass
imported); the parent prints it after the result marker.

``--preimport a,b`` imports modules in the child before the timed parse (timed apart: ``preimport_s``),
which splits a first parse into its imports and the rest (``benchmarks/first_parse.py`` passes every module
a probe parse imported). Diagnostics: ``--profile OUT``
writes a cProfile dump of the first parse; under ``python -X importtime`` the child prints
``IMPORTTIME_MARKER`` to stderr first, so the import lines after it are the parse's own.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

#: Printed to stderr by the child under ``python -X importtime``: the import lines after it are the parse's.
IMPORTTIME_MARKER = "@@FIRST_PARSE_IMPORTS@@"


def _manager_setup(path: Path):
    """What the ``airflow dag-processor`` process has done before it forks the parser of ``path``."""
    import structlog
    from airflow.providers_manager import ProvidersManager

    ProvidersManager().initialize_providers_configuration()
    import airflow.cli.commands.dag_processor_command  # noqa: F401  (manager, job runner, processor)
    from airflow.dag_processing import manager, processor

    manager._make_execution_api()  # built when DagFileProcessorManager is constructed
    log = structlog.get_logger(logger_name="bench")
    processor._pre_import_airflow_modules(os.fspath(path), log)
    return processor


def _timed_parse(processor, path: Path, log) -> dict:
    """The steps of ``processor._parse_file`` (no callbacks), each timed; then the frame ``send`` writes."""
    from airflow.sdk.execution_time.comms import _RequestFrame
    from airflow.utils.dag_version_inflation_checker import check_dag_file_stability

    msg = processor.DagFileParseRequest(file=os.fspath(path), bundle_path=path.parent, bundle_name="bench")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0, t0 = time.process_time(), time.perf_counter()
    stability = check_dag_file_stability(os.fspath(msg.file))
    t1 = time.perf_counter()
    bag = processor.BundleDagBag(
        dag_folder=msg.file, bundle_path=msg.bundle_path, bundle_name=msg.bundle_name, load_op_links=False
    )
    t2 = time.perf_counter()
    serialized, errors = processor._serialize_dags(bag, log)
    bag.import_errors.update(errors)
    t3 = time.perf_counter()
    result = processor.DagFileParsingResult(
        fileloc=msg.file,
        serialized_dags=serialized,
        import_errors=bag.import_errors,
        warnings=stability.get_formatted_warnings(bag.dag_ids),
    )
    frame = _RequestFrame(id=0, body=result.model_dump(), context_carrier=None).as_bytes()
    t4, c4 = time.perf_counter(), time.process_time()
    r4 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        # blocking waits / preemptions / page faults during the parse (diagnostics of wall vs CPU time)
        "rusage": {
            k: getattr(r4, k) - getattr(r0, k)
            for k in ("ru_nvcsw", "ru_nivcsw", "ru_minflt", "ru_majflt", "ru_inblock")
        },
        "wall_s": t4 - t0,
        "cpu_s": c4 - c0,
        "check_s": t1 - t0,
        "load_s": t2 - t1,
        "serialize_s": t3 - t2,
        "result_s": t4 - t3,
        "frame_bytes": len(frame),
        "dags": sorted(bag.dags),
        "tasks": sum(len(d.tasks) for d in bag.dags.values()),
        "errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
    }


def _child(processor, path: Path, out_fd: int, profile: str | None, preimport: list[str]) -> None:
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        _configure_logs_over_json_channel,
        _reset_signals,
        block_orm_access,
    )

    _reset_signals()
    _configure_logs_over_json_channel(os.open(os.devnull, os.O_WRONLY))
    block_orm_access()
    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "client"
    log = structlog.get_logger(logger_name="task")

    c0, t0 = time.process_time(), time.perf_counter()
    for module in preimport:  # the "imports done before" variants: the parse without its imports
        importlib.import_module(module)
    preimport_s, preimport_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    before = set(sys.modules)
    if "importtime" in sys._xoptions:  # ``python -X importtime``: where the parser's own imports start on stderr
        print(IMPORTTIME_MARKER, file=sys.stderr, flush=True)
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        first = profiler.runcall(_timed_parse, processor, path, log)
        profiler.dump_stats(profile)
    else:
        first = _timed_parse(processor, path, log)
    new = sorted(set(sys.modules) - before)
    second = _timed_parse(processor, path, log)
    report = {
        "file": path.name,
        "preimport": preimport,
        "preimport_s": preimport_s,
        "preimport_cpu_s": preimport_cpu_s,
        "first": first,
        "second": second,
        "new_modules": new,
        "provider_modules": [m for m in new if m.split(".")[0] == "airflow_provider_aep"],
        # top-level packages other than Airflow's and the provider's (e.g. an HTTP stack) the first pass imported
        "third_party_new": sorted(
            {m.split(".")[0] for m in new if not m.startswith("unusual_prefix_")}  # the DAG file's own module
            - {"airflow", "airflow_provider_aep"}
        ),
    }
    with os.fdopen(out_fd, "w") as out:
        json.dump(report, out)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._first_parse_worker")
    parser.add_argument("file", type=Path)
    parser.add_argument("--profile", help="diagnostics: write a cProfile dump of the first parse here")
    parser.add_argument("--preimport", default="", help="modules the child imports (timed apart) before the parse")
    args = parser.parse_args(argv)
    path, profile = args.file.resolve(), args.profile
    preimport = [m for m in args.preimport.split(",") if m]
    processor = _manager_setup(path)
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # DagFileProcessorManager.before_run: "To prevent COW in forked process parsing dag file"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_fd)
            _child(processor, path, write_fd, profile, preimport)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        raise SystemExit(f"parser child for {path.name} failed (status {status})")
    sys.stdout.write("\n@@RESULT@@" + data + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

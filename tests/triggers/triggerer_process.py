"""Airflow's triggerer, minus its metadata DB, as a process of its own: ``python -m tests.triggers.triggerer_process
--emulator URL --log-file PATH`` runs :class:`~tests.triggers.token_echo.TokenEchoTrigger` and prints one JSON line.

This process is the supervisor (``TriggerRunnerSupervisor``, which writes each trigger's log file and takes the
runner's ``MaskSecret`` messages); the trigger runner is its forked child, which runs the trigger in its event
loop, as in ``airflow triggerer``. The test hands the supervisor the trigger instead of a DB row. It is a fresh
process rather than a fork of pytest: a fork inherits the thread pools earlier tests used (asgiref's among
them) without their threads, and the trigger would wait on them forever.

The JSON line says whether this process's secrets masker, the supervisor's, masks every IMS token the emulator
issued (the tokens themselves are not printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.triggers.token_echo import LEAK, TokenEchoTrigger

FS = "/data/foundation/flowservice"
TRIGGER_ID = 1
LEAK_PREFIX = LEAK.split("%s")[0]


def issued_tokens(control: Any) -> set[str]:
    entries = control.journal(path=FS + "/.*", include_secrets=True)  # the raw tokens, to look for them
    headers = [e["headers"].get("authorization", "") for e in entries]
    return {h[7:].strip() for h in headers if h.lower().startswith("bearer ")}


def run_in_triggerer(trigger: Any, log_file: Path, *, timeout: float) -> None:
    """Run ``trigger`` until it has sent its event and its log file holds the leaked line (the event and the log
    come over different sockets, so either can arrive first)."""
    from airflow.executors import workloads
    from airflow.jobs.triggerer_job_runner import TriggerLoggingFactory, TriggerRunnerSupervisor
    from airflow.models.trigger import Trigger

    classpath, kwargs = trigger.serialize()
    job = SimpleNamespace(id=1, hostname="test-triggerer")  # the supervisor needs a job id, not its DB row
    supervisor = TriggerRunnerSupervisor.start(job=job, capacity=1)
    try:
        supervisor.logger_cache[TRIGGER_ID] = TriggerLoggingFactory(log_path=str(log_file), ti=None)
        supervisor.creating_triggers.append(
            workloads.RunTrigger(
                id=TRIGGER_ID, classpath=classpath, encrypted_kwargs=Trigger.encrypt_kwargs(kwargs), ti=None
            )
        )
        deadline = time.monotonic() + timeout
        while not (supervisor.events and log_file.exists() and LEAK_PREFIX in log_file.read_text(errors="replace")):
            if supervisor.failed_triggers:
                raise RuntimeError(f"the trigger failed: {supervisor.failed_triggers}")
            if not supervisor.is_alive():
                raise RuntimeError("the trigger runner process died")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no event and log line after {timeout} s")
            supervisor._service_subprocess(1.0)
    finally:
        supervisor.kill(escalation_delay=10, force=True)


def main(argv: list[str] | None = None) -> int:
    from aep_emulator import EmulatorControl
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--log-file", required=True, type=Path)
    parser.add_argument("--conn-id", default="aep_default")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    run_in_triggerer(TokenEchoTrigger(args.conn_id), args.log_file, timeout=args.timeout)
    tokens = issued_tokens(EmulatorControl(args.emulator))
    masked = [_secrets_masker().redact(f"token {t}") == "token ***" for t in tokens]
    print(json.dumps({"tokens": len(tokens), "supervisor_masks": masked}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An IMS token a trigger learns is masked in the triggerer's logs, on Airflow 3.1 (the provider's own
``amask_secret``, ``airflow_provider_aep._compat``) and on 3.2+ (Airflow's).

The triggerer is Airflow's own pair of processes, the supervisor that writes each trigger's log file and the
trigger runner it forks (``tests.triggers.triggerer_process``); only the metadata DB is left out. The trigger
(``tests.triggers.token_echo``) reads its connection, talks to the emulator through the provider's async
client and then writes its token to its log. On 3.1 the runner sends its log lines unmasked and the supervisor
masks them, so the token is masked there only if the supervisor was told about it.

The 3.1 fallback itself: when the supervisor cannot be told about a secret, one warning says so, without the
secret; the secret stays masked in the process's own logs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_aep import _compat
from tests.airflow_compat import secrets_masker
from tests.conftest import REPO, aep_conn_json
from tests.triggers.token_echo import LEAK
from tests.triggers.triggerer_process import LEAK_PREFIX, issued_tokens

CONN_ID = "aep_triggerer_masking"


def test_a_token_a_trigger_learns_is_masked_in_its_triggerer_log(aep_emulator, tmp_path):
    log_file = tmp_path / "trigger.log"
    env = {**os.environ, f"AIRFLOW_CONN_{CONN_ID.upper()}": aep_conn_json(aep_emulator.url)}
    args = ["--emulator", aep_emulator.url, "--log-file", str(log_file), "--conn-id", CONN_ID]
    done = subprocess.run(
        [sys.executable, "-m", "tests.triggers.triggerer_process", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    (token,) = issued_tokens(aep_emulator.control)
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    leaked = [line for line in lines if str(line.get("event", "")).startswith(LEAK_PREFIX)]
    assert [line["event"] for line in leaked] == [LEAK % "***"], lines
    assert token not in log_file.read_text() and token not in done.stdout + done.stderr
    # The supervisor was told too, so the lines it logs itself mask the token as well.
    assert report == {"tokens": 1, "supervisor_masks": [True]}


# ---------------------------------------------------------------------- the 3.1 fallback on its own
class Comms:
    """The supervisor end of ``SUPERVISOR_COMMS`` as the fallback sees it: ``asend`` one message."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[Any] = []

    async def asend(self, msg: Any) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(msg)


@pytest.fixture
def supervised(monkeypatch):
    """Installs a ``SUPERVISOR_COMMS``; the once-per-process warning starts unsaid."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(_compat, "_warned_unregistered", [])

    def install(comms: Comms | None) -> None:
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)

    return install


async def test_the_fallback_tells_the_supervisor(supervised, caplog):
    comms = Comms()
    supervised(comms)
    await _compat.amask_secret_without_sdk("fallback-secret-told-1", "token")
    assert [(m.value, m.name) for m in comms.sent] == [("fallback-secret-told-1", "token")]
    assert secrets_masker().redact("x fallback-secret-told-1") == "x ***"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_secret_the_supervisor_was_not_told_is_warned_about_once_without_the_secret(supervised, caplog):
    secrets = ["fallback-secret-lost-1", "fallback-secret-lost-2"]
    supervised(Comms(BrokenPipeError(f"could not send {secrets[0]}")))  # error texts may quote the message
    caplog.set_level(logging.WARNING, logger=_compat.__name__)
    for secret in secrets:
        await _compat.amask_secret_without_sdk(secret)
    warnings = [r for r in caplog.records if r.name == _compat.__name__ and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "BrokenPipeError" in message and warnings[0].exc_info is None
    assert not any(secret in message for secret in secrets)
    for secret in secrets:  # still masked in this process
        assert secrets_masker().redact(f"x {secret}") == "x ***"


async def test_outside_a_supervised_process_nothing_is_sent_and_nothing_warned(supervised, caplog):
    supervised(None)
    await _compat.amask_secret_without_sdk("fallback-secret-alone-1")
    assert secrets_masker().redact("x fallback-secret-alone-1") == "x ***"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

"""Fixtures for the reliability suite (``-m reliability``; ``make fault-suite`` runs it with 200 trials)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aep_conn_json
from tests.reliability.artifacts import REPO, WRITTEN
from tests.reliability.concurrent import CONCURRENT_CONN_ID, CONCURRENT_READ_TIMEOUT
from tests.reliability.plan import READ_TIMEOUT

# The onboarding DAG reads its poke interval when parsed (by the session DagBag of the dag.test trials).
os.environ.setdefault("AEP_ONBOARDING_POKE_INTERVAL", "0.2")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def fault_emulator(aep_emulator, connections, monkeypatch):
    """The reset emulator with ``aep_default`` pointing at it, read timeout 0.5 s (faults use 1 s latency), and
    ``aep_concurrent`` (the concurrent trials'), read timeout 2 s: a create the emulator holds until the other
    runs' arrive never times out on a busy machine."""
    connections(aep_emulator.url, read_timeout=READ_TIMEOUT, connect_timeout=0.5)
    conn = aep_conn_json(aep_emulator.url, read_timeout=CONCURRENT_READ_TIMEOUT, connect_timeout=0.5)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONCURRENT_CONN_ID.upper()}", conn)
    return aep_emulator


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured figures even under ``-q`` (they are what docs/reliability.md quotes)."""
    for path, headline in WRITTEN:
        terminalreporter.write_sep("-", f"reliability figures: {path.relative_to(REPO)}")
        terminalreporter.write_line(headline)

"""pytest fixtures: one emulator per session, reset before every test.

Enable with ``pytest_plugins = ["aep_emulator.pytest_plugin"]`` in a root conftest.
Override ``aep_emulator_config`` (session scope) to start the server with other settings, or call
``aep_emulator.control.configure(...)`` inside a test (undone by the next reset). ``aep_landed_records``
reads what emulated runs wrote into a Catalog dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from .core.config import EmulatorConfig
from .server import ThreadedEmulator, run_emulator


@pytest.fixture(scope="session")
def aep_emulator_config() -> EmulatorConfig:
    """Configuration of the session's emulator server."""
    return EmulatorConfig()


@pytest.fixture(scope="session")
def aep_emulator_server(aep_emulator_config: EmulatorConfig) -> Iterator[ThreadedEmulator]:
    """The session-wide emulator (not reset; prefer ``aep_emulator``)."""
    with run_emulator(aep_emulator_config) as emulator:
        yield emulator


@pytest.fixture
def aep_emulator(aep_emulator_server: ThreadedEmulator) -> Iterator[ThreadedEmulator]:
    """The session emulator, reset to a clean state for this test."""
    aep_emulator_server.control.reset()
    yield aep_emulator_server


class LandedRecords(Protocol):
    def __call__(
        self, dataset_id: str, *, batch_id: str | None = None, org: str | None = None, sandbox: str | None = "prod"
    ) -> list[dict[str, Any]]: ...


@pytest.fixture
def aep_landed_records(aep_emulator: ThreadedEmulator) -> LandedRecords:
    """``aep_landed_records(dataset_id, batch_id=None, org=None, sandbox="prod")``: what emulated runs landed.

    Runs finish on the emulator clock, so advance it (``aep_emulator.control.advance_clock``) or wait for the
    run to be terminal before asserting.
    """
    return aep_emulator.control.landed_records

"""Fixtures for the emulator tests: the session emulator (reset per test) and authenticated clients.

``aep_emulator`` comes from ``aep_emulator.pytest_plugin`` (registered by the root conftest).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aep_emulator.testing import ORG, FlowClient, fetch_token


@pytest.fixture
def emu(aep_emulator):
    """The shared emulator, freshly reset."""
    return aep_emulator


@pytest.fixture
def fs(emu) -> FlowClient:
    """A Flow Service client holding a token from the emulator's IMS."""
    return FlowClient(emu.url, fetch_token(emu.url))


@pytest.fixture
def flow_client(emu) -> Callable[..., FlowClient]:
    """Build more clients (other sandboxes or orgs) sharing one token."""
    token = fetch_token(emu.url)

    def make(sandbox: str = "prod", org: str = ORG) -> FlowClient:
        return FlowClient(emu.url, token, sandbox=sandbox, org=org)

    return make

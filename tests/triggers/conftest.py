"""Reuses the operator tests' fixtures: task context, stubbed AEP, the emulator and a ready-made pipeline."""

from tests.operators.conftest import (  # noqa: F401
    aep_http,
    base_connection_id,
    context,
    emulator,
    explored,
    pipeline,
    target_side,
)

"""Reuses the operator tests' fixtures: task context, stubbed AEP, the emulator and a ready-made pipeline."""

from tests.operators.conftest import aep_http, context, emulator, pipeline  # noqa: F401

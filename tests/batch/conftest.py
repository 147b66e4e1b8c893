"""Batch-ingestion test fixtures: a dataset in the emulator, the operator's task context with a task state store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operators.conftest import RecordingTI


class StateStore:
    """Airflow 3.3's ``task_state_store`` accessor, in memory (kept across the tries of one test)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class TryTI(RecordingTI):
    task_id = "ingest"
    map_index = -1

    def __init__(self, try_number: int = 1) -> None:
        super().__init__()
        self.try_number = try_number


@pytest.fixture
def store() -> StateStore:
    return StateStore()


@pytest.fixture
def task_context(store):
    """``task_context(try_number=1)``: a context whose tries share one task state store."""

    def make(try_number: int = 1) -> dict[str, Any]:
        return {"ti": TryTI(try_number), "task_state_store": store}

    return make


@pytest.fixture
def batch_target(aep_emulator, connections):
    """The emulator with ``aep_default`` pointing at it, batches processed at once, and a Profile dataset."""
    from aep_emulator.testing import ServiceClient, fetch_token, make_dataset

    connections(aep_emulator.url)
    aep_emulator.control.configure(batch_processing_delay=0)
    client = ServiceClient(aep_emulator.url, fetch_token(aep_emulator.url))
    dataset_id, _ = make_dataset(client, name="batch tests")
    return aep_emulator, dataset_id


def records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"_id": f"r{n:05d}", "personalEmail": {"address": f"p{n}@example.com"}} for n in range(start, start + count)
    ]


def write_lines(path, items: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return str(path)

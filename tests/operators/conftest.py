"""Shared operator-test fixtures: a minimal task context that records XCom pushes."""

from __future__ import annotations

from typing import Any

import pytest


class RecordingTI:
    """Stands in for the RuntimeTaskInstance: operators only push XComs to it."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def context() -> dict[str, Any]:
    """``context["ti"].xcoms`` holds what the operator pushed (besides its return value)."""
    return {"ti": RecordingTI()}

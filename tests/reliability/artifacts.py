"""Where the reliability figures go: JSON under ``test-artifacts/reliability/`` (git-ignored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "reliability"
WRITTEN: list[tuple[Path, str]] = []


def write_artifact(name: str, data: Any, *, headline: str | None = None) -> Path:
    """Write ``data`` as JSON under test-artifacts/reliability/; ``headline`` is echoed at the end of the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    if headline is not None:
        WRITTEN.append((path, headline))
    return path

"""How AEP answers are read: dotted paths into a resource and the spellings of a run's status.

Both :mod:`~airflow_provider_aep.client.models` (imported on every DAG parse) and
:mod:`~airflow_provider_aep.client._records` (its dataclasses, imported on first use) need these. They live
in a module that imports nothing of the project, so the dataclasses never import the module that re-exports
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

RunPhase = Literal["running", "success", "failed"]

# Documented and spec'd status values, compared after lower-casing and dropping '_' and '-'.
_RUNNING = {"scheduled", "queued", "inprogress", "pending", "started", "running"}
_SUCCESS = {"success", "succeeded", "completed", "partialsuccess"}
_FAILED = {"failed", "failure", "partialfailure", "cancelled", "canceled", "error", "aborted"}


def normalize_status(value: str) -> str:
    return value.lower().replace("_", "").replace("-", "").replace(" ", "")


def run_phase(status: str) -> RunPhase:
    """Map any documented run status spelling to a phase; unknown values are an error, not 'running'."""
    key = normalize_status(status)
    if key in _RUNNING:
        return "running"
    if key in _SUCCESS:
        return "success"
    if key in _FAILED:
        return "failed"
    raise ValueError(f"unknown run status {status!r}")


def dig(item: Any, path: str) -> Any:
    """Value at a dotted path (``connectionSpec.id``) or None."""
    for part in path.split("."):
        if not isinstance(item, Mapping):
            return None
        item = item.get(part)
    return item


__all__ = ["RunPhase", "dig", "normalize_status", "run_phase"]

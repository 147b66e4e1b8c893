"""Emulated ingestion: a consumer of the service backends (Flow Service runs and sources, Data Prep mappings,
Catalog datasets and batches, Schema Registry schemas) that no service imports.

The app sets :data:`PIPELINE` as ``state.ingestion``; a run that finishes hands its data to it. The control plane
reads what landed through :data:`ENDPOINTS`.
"""

from __future__ import annotations

from typing import Any

from ..core.state import EmulatorState, Store
from .control import ENDPOINTS
from .ingest import Outcome, ingest
from .plan import Plan, plan

__all__ = ["ENDPOINTS", "PIPELINE", "Outcome", "Pipeline", "Plan"]


class Pipeline:
    """:class:`~aep_emulator.core.state.Ingestion` for Flow Service runs."""

    def plan(self, store: Store, run: dict[str, Any]) -> Plan | None:
        return plan(store, run)

    def ingest(
        self, state: EmulatorState, store: Store, run: dict[str, Any], plan: Any, batch_id: str, forced: int
    ) -> Outcome:
        return ingest(state, store, run, plan, batch_id, forced)


PIPELINE = Pipeline()

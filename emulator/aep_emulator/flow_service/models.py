"""Flow Service's state: per sandbox the connections, flows and runs plus the scheduler's working sets, and the
run outcomes and changed sample rows the control plane sets for every sandbox.

Resources are the JSON documents the API answers (with ``_``-prefixed bookkeeping keys) kept in the sandbox's
named collections, so the control plane and the other services read them like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.state import EmulatorState, Named, Store


class FlowServiceBackend:
    """Flow Service in one org's sandbox (``store.backend(FlowServiceBackend)``)."""

    COLLECTIONS = ("connections", "sourceConnections", "targetConnections", "flows", "runs")
    connections = Named("connections")
    source_connections = Named("sourceConnections")
    target_connections = Named("targetConnections")
    flows = Named("flows")
    runs = Named("runs")

    def __init__(self, store: Store) -> None:
        self.store = store
        #: Flows that may still produce scheduled runs (enabled, schedule not exhausted).
        self.scheduled_flows: set[str] = set()
        #: Runs that have not reached a terminal status yet.
        self.active_runs: set[str] = set()


def backend(store: Store) -> FlowServiceBackend:
    return store.backend(FlowServiceBackend)


@dataclass
class RunControls:
    """What the control plane decided for runs in every sandbox (``state.backend(RunControls)``, reset clears it)."""

    state: EmulatorState
    #: Outcome and failed-record count of new runs of every flow, unless a flow has its own.
    default: tuple[str, int] | None = None
    by_flow: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: Sample rows changed through the control plane: (source key, table) -> {row index: epoch ms}.
    row_changes: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)

    def outcome_for(self, flow_id: str) -> tuple[str, int]:
        """Outcome and failed-record count a new run of ``flow_id`` gets."""
        if flow_id in self.by_flow:
            return self.by_flow[flow_id]
        if self.default is not None:
            return self.default
        return self.state.config.run_outcome, self.state.config.failed_records


def controls(state: EmulatorState) -> RunControls:
    return state.backend(RunControls)

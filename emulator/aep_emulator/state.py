"""In-memory state: tokens, per-(org, sandbox) resource stores, journal, counters and forced run outcomes.

Every mutation happens under ``EmulatorState.lock`` (an ``RLock``): the HTTP app holds it for the whole
handling of a request and the control plane takes it too, so concurrent requests never lose writes.
Collections keep insertion order plus a parallel list of sequence numbers, which makes default-order
pagination a ``bisect`` instead of a scan or a sort.
"""

from __future__ import annotations

import bisect
import itertools
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .config import EmulatorConfig
from .faults import FaultRegistry

FLOW_COLLECTIONS = ("connections", "sourceConnections", "targetConnections", "flows", "runs")
SCHEMA_REGISTRY_COLLECTIONS = ("schemas", "fieldgroups", "descriptors")
CATALOG_COLLECTIONS = ("dataSets", "batches")
DATA_PREP_COLLECTIONS = ("mappingSets",)
COLLECTIONS = FLOW_COLLECTIONS + SCHEMA_REGISTRY_COLLECTIONS + CATALOG_COLLECTIONS + DATA_PREP_COLLECTIONS


class Collection:
    """Resources of one kind in one sandbox, in creation order."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}
        self._seqs: list[int] = []
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, resource_id: str) -> dict[str, Any] | None:
        return self._by_id.get(resource_id)

    def add(self, resource: dict[str, Any]) -> None:
        seq = resource["_seq"]
        if self._seqs and seq < self._seqs[-1]:
            raise ValueError("sequence numbers must grow")
        self._by_id[resource["id"]] = resource
        self._seqs.append(seq)
        self._ids.append(resource["id"])

    def remove(self, resource_id: str) -> dict[str, Any] | None:
        resource = self._by_id.pop(resource_id, None)
        if resource is not None:
            index = bisect.bisect_left(self._seqs, resource["_seq"])
            del self._seqs[index]
            del self._ids[index]
        return resource

    def after(self, seq: int) -> Iterator[dict[str, Any]]:
        """Resources created after ``seq``, oldest first."""
        start = bisect.bisect_right(self._seqs, seq)
        for index in range(start, len(self._ids)):
            yield self._by_id[self._ids[index]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._by_id.values()))


class Store:
    """All resources of one organisation's sandbox."""

    def __init__(self, org: str, sandbox: str) -> None:
        self.org = org
        self.sandbox = sandbox
        self.sandbox_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aep-emulator:{org}:{sandbox}"))
        self.collections = {name: Collection() for name in COLLECTIONS}
        #: Flows that may still produce scheduled runs (enabled, schedule not exhausted).
        self.scheduled_flows: set[str] = set()
        #: Runs that have not reached a terminal status yet.
        self.active_runs: set[str] = set()
        #: Records that emulated ingestion landed: dataset id -> batch id -> records (Catalog batches hold counts).
        self.landed: dict[str, dict[str, list[dict[str, Any]]]] = {}
        # -- Schema Registry (EMULATOR-XDM) ------------------------------------------------------------
        #: Tenant classes and data types (keyed by ``$id``, like ``schemas``/``fieldgroups``); not listed in
        #: ``COLLECTIONS`` because the contract fixes that list, so ``stats()`` does not count them.
        self.xdm_classes = Collection()
        self.xdm_datatypes = Collection()
        #: Custom identity namespaces by code (``schema_registry.add_identity_namespace``).
        self.identity_namespaces: dict[str, dict[str, Any]] = {}

    def __getitem__(self, name: str) -> Collection:
        return self.collections[name]


@dataclass
class Token:
    """An issued IMS access token, bound to the client id that requested it."""

    value: str
    client_id: str
    scope: str
    expires_at: float
    #: 1 for the first token issued since the last reset, 2 for the next... (the journal shows it, not the value).
    serial: int = 0


class EmulatorState:
    """Everything one emulator instance remembers."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.lock = threading.RLock()
        self.base_config = config
        self.config = config
        self.clock = Clock()
        self.faults = FaultRegistry()
        self.journal: deque[dict[str, Any]] = deque(maxlen=config.journal_limit)
        self.tokens: dict[str, Token] = {}
        self.stores: dict[tuple[str, str], Store] = {}
        self.counters: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.outcome_default: tuple[str, int] | None = None
        self.outcome_by_flow: dict[str, tuple[str, int]] = {}
        #: Sample rows changed through the control plane: (source key, table) -> {row index: epoch ms}.
        self.row_changes: dict[tuple[str, str], dict[int, int]] = {}
        self._seq = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything and restore the configuration the server was started with."""
        with self.lock:
            self.config = self.base_config
            self.clock.reset()
            self.faults.clear()
            self.journal = deque(maxlen=self.config.journal_limit)
            self.tokens.clear()
            self.stores.clear()
            self.counters.clear()
            self.responses.clear()
            self.faults_injected.clear()
            self.outcome_default = None
            self.outcome_by_flow.clear()
            self.row_changes.clear()

    def configure(self, changes: dict[str, Any]) -> EmulatorConfig:
        """Change settings until the next reset (used by tests sharing one server)."""
        with self.lock:
            self.config = self.config.updated(changes)
            if self.journal.maxlen != self.config.journal_limit:
                self.journal = deque(self.journal, maxlen=self.config.journal_limit)
            return self.config

    def next_seq(self) -> int:
        return next(self._seq)

    def store(self, org: str, sandbox: str) -> Store:
        key = (org, sandbox)
        store = self.stores.get(key)
        if store is None:
            store = self.stores[key] = Store(org, sandbox)
        return store

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(self, client_id: str, scope: str) -> Token:
        with self.lock:
            token = Token(
                value=secrets.token_urlsafe(48),
                client_id=client_id,
                scope=scope,
                expires_at=self.clock.now() + self.config.token_lifetime,
                serial=self.counters["tokens_issued"] + 1,
            )
            self.tokens[token.value] = token
            self.counters["tokens_issued"] += 1
            return token

    def valid_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token

    def expire_tokens(self) -> int:
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = float("-inf")
            return len(self.tokens)

    # -- runs ------------------------------------------------------------------------------------
    def outcome_for(self, flow_id: str) -> tuple[str, int]:
        """Outcome and failed-record count a new run of ``flow_id`` gets."""
        if flow_id in self.outcome_by_flow:
            return self.outcome_by_flow[flow_id]
        if self.outcome_default is not None:
            return self.outcome_default
        return self.config.run_outcome, self.config.failed_records

    # -- journal / stats -------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.journal.append(entry)
            self.counters["requests"] += 1
            self.responses[str(entry["status"])] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            resources: Counter[str] = Counter()
            for store in self.stores.values():
                for name, collection in store.collections.items():
                    resources[name] += len(collection)
            return {
                "tokens_issued": self.counters["tokens_issued"],
                "requests": self.counters["requests"],
                "responses": dict(self.responses),
                "faults_injected": dict(self.faults_injected),
                "resources": {name: resources[name] for name in COLLECTIONS},
                "stores": len(self.stores),
            }

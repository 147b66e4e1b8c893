"""In-memory state: the resource stores of every (org, sandbox), the journal, counters, tokens and service backends.

Every mutation happens under ``EmulatorState.lock`` (an ``RLock``): the HTTP app holds it for the whole
handling of a request and the control plane takes it too, so concurrent requests never lose writes.
Collections keep insertion order plus a parallel list of sequence numbers, which makes default-order
pagination a ``bisect`` instead of a scan or a sort.

Services keep their typed state in *backends*: ``store.backend(CatalogBackend)`` is the Catalog of one sandbox,
``state.backend(Kind)`` a service's state shared by every sandbox; both are made on first use and forgotten by
:meth:`EmulatorState.reset`.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from .clock import Clock
from .config import EmulatorConfig
from .faults import FaultRegistry
from .journal import Journal
from .tokens import Token, TokenStore

B = TypeVar("B")


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


class Named:
    """A backend's attribute that is one of its sandbox's named collections: ``flows = Named("flows")`` reads
    ``self.store["flows"]`` (the backend keeps its :class:`Store` as ``store``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, backend: Any, owner: type | None = None) -> Collection:
        return backend.store[self.name]


class Store:
    """All resources of one organisation's sandbox: named collections (the JSON documents the services answer)
    and the typed backends services build over them."""

    def __init__(self, org: str, sandbox: str, collections: Iterable[str] = ()) -> None:
        self.org = org
        self.sandbox = sandbox
        self.sandbox_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aep-emulator:{org}:{sandbox}"))
        self.collections = {name: Collection() for name in collections}
        self._backends: dict[Any, Any] = {}

    def __getitem__(self, name: str) -> Collection:
        return self.collections[name]

    def backend(self, factory: Callable[[Store], B]) -> B:
        """The backend ``factory(self)`` of this sandbox, made on first use."""
        found = self._backends.get(factory)
        if found is None:
            found = self._backends[factory] = factory(self)
        return found


class IngestionResult(Protocol):
    """What a finished run reports from :class:`Ingestion` (counts, the batch, errors by code)."""

    batch_id: str
    input_count: int
    landed: list[dict[str, Any]]
    status: str
    input_bytes: int
    output_bytes: int

    @property
    def failed_count(self) -> int: ...

    def promotion_errors(self) -> list[dict[str, Any]]: ...


class Ingestion(Protocol):
    """The cross-service pipeline a run hands its data to (``aep_emulator.ingestion``, set up by the app)."""

    def plan(self, store: Store, run: dict[str, Any]) -> Any: ...

    def ingest(
        self, state: EmulatorState, store: Store, run: dict[str, Any], plan: Any, batch_id: str, forced: int
    ) -> IngestionResult: ...


Refresher = Callable[["EmulatorState", Store], None]


class EmulatorState:
    """Everything one emulator instance remembers.

    ``collections`` names the resource collections of every sandbox (the app passes those of its services);
    ``refreshers`` bring a sandbox up to the emulator clock before it is read (Flow Service runs), and
    ``ingestion`` is what a finished run lands its data through; the app sets both.
    """

    def __init__(self, config: EmulatorConfig, collections: Sequence[str] = ()) -> None:
        self.lock = threading.RLock()
        self.base_config = config
        self.config = config
        self.collections = tuple(collections)
        self.clock = Clock()
        self.faults = FaultRegistry()
        self.journal = Journal(config.journal_limit)
        self.tokens = TokenStore(self.clock)
        self.stores: dict[tuple[str, str], Store] = {}
        self.faults_injected: Counter[str] = Counter()
        self.refreshers: list[Refresher] = []
        self.ingestion: Ingestion | None = None
        #: Secret parameter names of a connection spec (``spec_id, auth spec name``), for masking.
        self.secret_names: Callable[[Any, Any], set[str]] = lambda spec_id, spec_name: set()
        self._backends: dict[Any, Any] = {}
        self._seq = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything and restore the configuration the server was started with."""
        with self.lock:
            self.close()
            self.config = self.base_config
            self.clock.reset()
            self.faults.clear()
            self.journal = Journal(self.config.journal_limit)
            self.tokens.clear()
            self.stores.clear()
            self.faults_injected.clear()
            self._backends.clear()

    def close(self) -> None:
        """Release what backends hold outside memory (a backend's ``close()``: spooled upload files)."""
        with self.lock:
            for found in self._backends.values():
                close = getattr(found, "close", None)
                if callable(close):
                    close()

    def configure(self, changes: dict[str, Any]) -> EmulatorConfig:
        """Change settings until the next reset (used by tests sharing one server)."""
        with self.lock:
            self.config = self.config.updated(changes)
            self.journal.resize(self.config.journal_limit)
            return self.config

    def next_seq(self) -> int:
        return next(self._seq)

    def store(self, org: str, sandbox: str) -> Store:
        key = (org, sandbox)
        store = self.stores.get(key)
        if store is None:
            store = self.stores[key] = Store(org, sandbox, self.collections)
        return store

    def backend(self, factory: Callable[[EmulatorState], B]) -> B:
        """A service's state shared by every sandbox (``factory(self)``, made on first use, gone on reset)."""
        found = self._backends.get(factory)
        if found is None:
            found = self._backends[factory] = factory(self)
        return found

    def refresh(self, store: Store) -> None:
        """Bring one sandbox up to the emulator clock (scheduled runs, finished runs and what they wrote)."""
        for refresher in self.refreshers:
            refresher(self, store)

    def refresh_all(self) -> None:
        for store in list(self.stores.values()):
            self.refresh(store)

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(self, client_id: str, scope: str) -> Token:
        with self.lock:
            return self.tokens.issue(client_id, scope, self.config.token_lifetime)

    def valid_token(self, value: str) -> Token | None:
        return self.tokens.valid(value)

    def expire_tokens(self) -> int:
        with self.lock:
            return self.tokens.expire_all()

    # -- journal / stats -------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.journal.record(entry)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            resources: Counter[str] = Counter()
            for store in self.stores.values():
                for name, collection in store.collections.items():
                    resources[name] += len(collection)
            return {
                "tokens_issued": self.tokens.issued,
                "requests": self.journal.requests,
                "responses": dict(self.journal.responses),
                "faults_injected": dict(self.faults_injected),
                "resources": {name: resources[name] for name in self.collections},
                "stores": len(self.stores),
            }

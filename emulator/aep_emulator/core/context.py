"""The context every Platform handler gets: who called, in which org and sandbox, under which request id."""

from __future__ import annotations

from dataclasses import dataclass

from .state import EmulatorState, Store


@dataclass
class Ctx:
    """The authenticated caller and the sandbox its request addresses."""

    state: EmulatorState
    store: Store
    client_id: str
    request_id: str

    @property
    def now_ms(self) -> int:
        return self.state.clock.now_ms()

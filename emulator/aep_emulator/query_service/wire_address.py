"""Where the PostgreSQL endpoint of an emulator listens (set when it starts, read by ``/connection_parameters``)."""

from __future__ import annotations

import weakref

from ..core.state import EmulatorState

#: Emulator state -> ``(host, port)`` of its running PostgreSQL endpoint.
_ADDRESSES: weakref.WeakKeyDictionary[EmulatorState, tuple[str, int]] = weakref.WeakKeyDictionary()
#: What ``/connection_parameters`` answers when no endpoint runs (an app served without its lifespan).
NOT_RUNNING = ("127.0.0.1", 0)


def set_address(state: EmulatorState, address: tuple[str, int] | None) -> None:
    if address is None:
        _ADDRESSES.pop(state, None)
    else:
        _ADDRESSES[state] = address


def address_of(state: EmulatorState) -> tuple[str, int]:
    return _ADDRESSES.get(state, NOT_RUNNING)

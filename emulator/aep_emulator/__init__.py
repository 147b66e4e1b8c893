"""Local emulator of Adobe IMS and AEP (Flow Service, Schema Registry, Catalog, Data Prep), for tests and demos.

Importing this package is cheap: names are resolved lazily so that uvicorn and the app are only
imported when an emulator is actually started.

    from aep_emulator import EmulatorConfig, run_emulator

    with run_emulator(EmulatorConfig(run_duration=1.0)) as emu:
        emu.url          # http://127.0.0.1:PORT (IMS and Flow Service)
        emu.control      # EmulatorControl: reset, journal, faults, clock, outcomes, state, stats
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import EmulatorApp, create_app
    from .core.config import EmulatorConfig
    from .core.control import EmulatorControl, EmulatorControlError
    from .flow_service.sources import EmulatedSource, register_source, unregister_source
    from .server import (
        EmulatorHandle,
        SubprocessEmulator,
        ThreadedEmulator,
        run_emulator,
        run_emulator_subprocess,
    )

_EXPORTS = {
    "EmulatorConfig": "core.config",
    "EmulatorControl": "core.control",
    "EmulatorControlError": "core.control",
    "EmulatorHandle": "server",
    "ThreadedEmulator": "server",
    "SubprocessEmulator": "server",
    "run_emulator": "server",
    "run_emulator_subprocess": "server",
    "EmulatorApp": "app",
    "create_app": "app",
    "EmulatedSource": "flow_service.sources",
    "register_source": "flow_service.sources",
    "unregister_source": "flow_service.sources",
}

__all__ = [
    "EmulatedSource",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorHandle",
    "SubprocessEmulator",
    "ThreadedEmulator",
    "create_app",
    "register_source",
    "run_emulator",
    "run_emulator_subprocess",
    "unregister_source",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

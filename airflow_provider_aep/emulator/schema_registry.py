"""The Schema Registry (``/data/foundation/schemaregistry``). Filled in by the EMULATOR-XDM work."""

from __future__ import annotations

from collections.abc import Callable

from .errors import ApiError, xdm_error
from .messages import Response

PREFIX = "/data/foundation/schemaregistry"
Handler = Callable[..., Response]


def routes() -> list[tuple[str, dict[str, Handler]]]:
    return []


def method_not_allowed(method: str, path: str) -> ApiError:
    return xdm_error("XDM-1001-405", "Method not allowed", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return xdm_error("XDM-1000-404", "Resource not found", f"No endpoint {path}.")

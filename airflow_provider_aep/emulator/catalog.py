"""Catalog Service (``/data/foundation/catalog``). Filled in by the EMULATOR-CATALOG work."""

from __future__ import annotations

from collections.abc import Callable

from .errors import ApiError, platform_error
from .messages import Response

PREFIX = "/data/foundation/catalog"
Handler = Callable[..., Response]


def routes() -> list[tuple[str, dict[str, Handler]]]:
    return []


def method_not_allowed(method: str, path: str) -> ApiError:
    return platform_error(405, "MethodNotAllowedError", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"No endpoint {path}.")

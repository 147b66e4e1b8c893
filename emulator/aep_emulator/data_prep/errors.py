"""Data Prep's errors: the generic Platform shape, since Data Prep documents no error bodies of its own."""

from __future__ import annotations

from typing import Any

from ..core.errors import ApiError, platform_error


def bad_request(detail: str, **extra: Any) -> ApiError:
    return platform_error(400, "BadRequestError", detail, **extra)


def method_not_allowed(method: str, path: str) -> ApiError:
    return platform_error(405, "MethodNotAllowedError", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"No endpoint {path}.")


def not_found(mapping_id: str, version: int | None = None) -> ApiError:
    which = f" with version {version}" if version is not None else ""
    return platform_error(404, "NotFoundError", f"The mapping set '{mapping_id}'{which} was not found.")

"""Catalog's errors: the generic Platform shape (``{"type", "status", "title", "detail"}``), since Catalog documents
no error bodies of its own."""

from __future__ import annotations

from ..core.errors import ApiError, platform_error


def bad_request(detail: str) -> ApiError:
    return platform_error(400, "BadRequestError", detail)


def method_not_allowed(method: str, path: str) -> ApiError:
    return platform_error(405, "MethodNotAllowedError", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"No endpoint {path}.")


def not_found(kind: str, object_id: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"The {kind} with id '{object_id}' was not found.")

"""Catalog's errors: the generic Platform shape (``{"type", "status", "title", "detail"}``), since Catalog documents
no error bodies of its own."""

from __future__ import annotations

from ..core.errors import ApiError, platform_error
from ..core.errors import platform_bad_request as bad_request
from ..core.errors import platform_method_not_allowed as method_not_allowed
from ..core.errors import platform_unknown_endpoint as unknown_endpoint

__all__ = ["bad_request", "method_not_allowed", "not_found", "unknown_endpoint"]


def not_found(kind: str, object_id: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"The {kind} with id '{object_id}' was not found.")

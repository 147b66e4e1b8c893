"""Data Prep's errors: the generic Platform shape, since Data Prep documents no error bodies of its own."""

from __future__ import annotations

from ..core.errors import ApiError, platform_error
from ..core.errors import platform_bad_request as bad_request
from ..core.errors import platform_method_not_allowed as method_not_allowed
from ..core.errors import platform_unknown_endpoint as unknown_endpoint

__all__ = ["bad_request", "method_not_allowed", "not_found", "unknown_endpoint"]


def not_found(mapping_id: str, version: int | None = None) -> ApiError:
    which = f" with version {version}" if version is not None else ""
    return platform_error(404, "NotFoundError", f"The mapping set '{mapping_id}'{which} was not found.")

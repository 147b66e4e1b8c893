"""The registry's error documents: ``XDM-<code>-<status>`` with ``report.sub-errors`` for validation details."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..core.errors import ApiError, xdm_error
from .kinds import QUERY_ERROR, Kind

__all__ = ["ApiError", "error", "invalid", "missing", "not_found", "sub_error", "wrong_type"]

_JSON_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "dict": "object",
    "list": "array",
    "bool": "boolean",
}


def error(code: str, title: str, detail: str, sub_errors: list[dict[str, Any]] | None = None) -> ApiError:
    """A Schema Registry error with the ``report.timestamp`` the real ones carry (request id added by the app)."""
    err = xdm_error(code, title, detail, sub_errors=sub_errors)
    err.body["report"]["timestamp"] = time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime())
    return err


def not_found(kind: Kind, resource_id: str) -> ApiError:
    return error(
        kind.not_found,
        "Resource not found",
        f"The requested {kind.label} resource {resource_id} with version 1 is not found.",
    )


def sub_error(path: str, kind: str, arguments: Sequence[Any], message: str) -> dict[str, Any]:
    """One ``report.sub-errors`` entry, shaped like the registry's JSON-validation details."""
    return {"path": path, "type": kind, "arguments": list(arguments), "message": message}


def missing(path: str, name: str) -> dict[str, Any]:
    return sub_error(path, "required", [name], f"{path}.{name}: is missing but it is required")


def wrong_type(path: str, expected: str, value: Any) -> dict[str, Any]:
    found = "null" if value is None else type(value).__name__
    name = _JSON_NAMES.get(found, found)
    return sub_error(path, "type", [name, expected], f"{path}: {name} found, {expected} expected")


def invalid(sub_errors: list[dict[str, Any]]) -> ApiError:
    """``XDM-4000-400``: the body breaks the resource's JSON rules; details in ``report.sub-errors``."""
    first = sub_errors[0]["message"] if sub_errors else "invalid request"
    more = f" (and {len(sub_errors) - 1} more)" if len(sub_errors) > 1 else ""
    return error(
        "XDM-4000-400", "Validation error", f"An error occurred validating the request: {first}{more}", sub_errors
    )


def method_not_allowed(method: str, path: str) -> ApiError:
    return error("XDM-1001-405", "Method not allowed", f"Method {method} is not supported on {path}.")


def unknown_endpoint(path: str) -> ApiError:
    return error("XDM-1000-404", "Resource not found", f"No endpoint {path}.")


def query_error(message: str) -> ApiError:
    return error(QUERY_ERROR, "Invalid query parameter", message)

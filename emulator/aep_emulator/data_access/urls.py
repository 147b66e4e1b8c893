"""The Data Access API's URL table (``/data/foundation/export``)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.errors import platform_method_not_allowed as method_not_allowed
from ..core.errors import platform_unknown_endpoint as unknown_endpoint
from ..core.routing import route
from . import handlers
from .responses import PREFIX

__all__ = ["PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    return [
        route("/batches/{batch_id}/files", GET=handlers.list_batch_files),
        route("/batches/{batch_id}/failed", GET=handlers.failed),
        route("/batches/{batch_id}/meta", GET=handlers.meta),
        route("/files/{file_id}", GET=handlers.get_file, HEAD=handlers.get_file),
    ]

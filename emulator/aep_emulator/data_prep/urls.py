"""Data Prep's URL table (``/data/foundation/conversion``): mapping sets, their preview and validation, and the
expression language."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.routing import route
from . import handlers as h
from .errors import method_not_allowed, unknown_endpoint
from .models import PREFIX

__all__ = ["PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    mapping_set = "/mappingSets/{mapping_id}"
    return [
        route("/mappingSets", GET=h.list_mapping_sets, POST=h.create_mapping_set),
        route("/mappingSets/validate", POST=h.validate_mapping_set),
        route("/mappingSets/preview", POST=h.preview_mapping_set),
        route(mapping_set, GET=h.get_mapping_set, PUT=h.put_mapping_set),
        route(mapping_set + "/mappings", GET=h.list_mappings),
        route(mapping_set + "/mappings/{item_id}", GET=h.get_mapping),
        route("/languages/el/validate", POST=h.validate_expression),
        route("/languages/el/functions", GET=h.list_functions),
    ]

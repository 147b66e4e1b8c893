"""Query Service's URL table (``/data/foundation/query``): queries, templates, schedules and runs, and the
PostgreSQL connection parameters."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.errors import ApiError
from ..core.routing import route
from . import queries, schedules, templates
from .models import PREFIX, message

__all__ = ["PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]


def unknown_endpoint(path: str) -> ApiError:
    return ApiError(404, message(404, f"No endpoint {path}"))


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, message(405, f"Method {method} is not supported on {path}"))


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    return [
        route("/connection_parameters", GET=queries.connection_parameters),
        route("/queries", GET=queries.list_queries, POST=queries.create_query),
        route("/queries/{query_id}", GET=queries.get_query, PATCH=queries.patch_query),
        route("/query-templates", GET=templates.list_templates, POST=templates.create_template),
        route("/query-templates/count", GET=templates.count_templates),
        route(
            "/query-templates/{template_id}",
            GET=templates.get_template,
            PUT=templates.put_template,
            DELETE=templates.delete_template,
        ),
        route("/schedules", GET=schedules.list_schedules, POST=schedules.create_schedule),
        route(
            "/schedules/{schedule_id}",
            GET=schedules.get_schedule,
            PATCH=schedules.patch_schedule,
            DELETE=schedules.delete_schedule,
        ),
        route("/schedules/{schedule_id}/runs", GET=schedules.list_runs, POST=schedules.trigger_run),
        route("/schedules/{schedule_id}/runs/{run_id}", GET=schedules.get_run, PATCH=schedules.patch_run),
    ]

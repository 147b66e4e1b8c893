"""Flow Service's URL table (``/data/foundation/flowservice``): connections, specs, flows and runs."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.context import Ctx
from ..core.errors import ApiError, flow_error
from ..core.messages import Request, Response
from ..core.routing import Handler, route
from . import connections, flows, runs
from .resources import SERVICE_PREFIX

PREFIX = SERVICE_PREFIX
_ID = "{resource_id}"


def _data(collection: str, handler: Handler) -> Handler:
    """Bind a shared source/target connection handler to its collection."""

    def bound(req: Request, ctx: Ctx, **params: str) -> Response:
        return handler(req, ctx, collection, **params)

    return bound


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    table: list[BaseRoute] = [
        route("/connections", GET=connections.list_connections, POST=connections.create_connection),
        route(
            f"/connections/{_ID}",
            GET=connections.get_connection,
            PATCH=connections.patch_connection,
            DELETE=connections.delete_connection,
        ),
        route(f"/connections/{_ID}/test", GET=connections.test_connection),
        route(f"/connections/{_ID}/explore", GET=connections.explore_connection),
        route("/connectionSpecs", GET=connections.list_connection_specs),
        route("/connectionSpecs/{spec_id}", GET=connections.get_connection_spec),
        route("/flowSpecs", GET=flows.list_flow_specs),
        route("/flowSpecs/{spec_id}", GET=flows.get_flow_spec),
        route("/flows", GET=flows.list_flows, POST=flows.create_flow),
        route(f"/flows/{_ID}", GET=flows.get_flow, PATCH=flows.patch_flow, DELETE=flows.delete_flow),
        route(f"/flows/{_ID}/action", POST=flows.flow_action),
        route("/runs", GET=runs.list_runs, POST=runs.create_run),
        route(f"/runs/{_ID}", GET=runs.get_run),
    ]
    for collection, create in (
        ("sourceConnections", connections.create_source_connection),
        ("targetConnections", connections.create_target_connection),
    ):
        table.append(route(f"/{collection}", GET=_data(collection, connections.list_data_connections), POST=create))
        table.append(
            route(
                f"/{collection}/{_ID}",
                GET=_data(collection, connections.get_data_connection),
                PATCH=_data(collection, connections.patch_data_connection),
                DELETE=_data(collection, connections.delete_data_connection),
            )
        )
    return table


def method_not_allowed(method: str, path: str) -> ApiError:
    return flow_error("1100-405", f"Method {method} is not supported on {path}.", title="Method not allowed")


def unknown_endpoint(path: str) -> ApiError:
    return flow_error("1101-404", f"The requested resource is not found. Error from flow provider: no endpoint {path}.")

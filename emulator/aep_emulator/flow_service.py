"""The Flow Service (``/data/foundation/flowservice``): connections, specs, flows and runs.

The handlers live in ``connections``, ``flows`` and ``runs``; this module only routes to them.
"""

from __future__ import annotations

from collections.abc import Callable

from . import connections, flows, runs
from .errors import ApiError, flow_error
from .messages import Request, Response
from .resources import SERVICE_PREFIX, Ctx

PREFIX = SERVICE_PREFIX
Handler = Callable[..., Response]

_ID = r"(?P<resource_id>[^/]+)"


def _data(collection: str, handler: Callable[..., Response]) -> Handler:
    """Bind a shared source/target connection handler to its collection."""

    def bound(req: Request, ctx: Ctx, **params: str) -> Response:
        return handler(req, ctx, collection, **params)

    return bound


def routes() -> list[tuple[str, dict[str, Handler]]]:
    """Path patterns (relative to ``PREFIX``) and their handlers by method."""
    table: list[tuple[str, dict[str, Handler]]] = [
        (
            "/connections",
            {"GET": connections.list_connections, "POST": connections.create_connection},
        ),
        (
            f"/connections/{_ID}",
            {
                "GET": connections.get_connection,
                "PATCH": connections.patch_connection,
                "DELETE": connections.delete_connection,
            },
        ),
        (f"/connections/{_ID}/test", {"GET": connections.test_connection}),
        (f"/connections/{_ID}/explore", {"GET": connections.explore_connection}),
        ("/connectionSpecs", {"GET": connections.list_connection_specs}),
        ("/connectionSpecs/(?P<spec_id>[^/]+)", {"GET": connections.get_connection_spec}),
        ("/flowSpecs", {"GET": flows.list_flow_specs}),
        ("/flowSpecs/(?P<spec_id>[^/]+)", {"GET": flows.get_flow_spec}),
        ("/flows", {"GET": flows.list_flows, "POST": flows.create_flow}),
        (f"/flows/{_ID}", {"GET": flows.get_flow, "PATCH": flows.patch_flow, "DELETE": flows.delete_flow}),
        (f"/flows/{_ID}/action", {"POST": flows.flow_action}),
        ("/runs", {"GET": runs.list_runs, "POST": runs.create_run}),
        (f"/runs/{_ID}", {"GET": runs.get_run}),
    ]
    for collection, create in (
        ("sourceConnections", connections.create_source_connection),
        ("targetConnections", connections.create_target_connection),
    ):
        table.append(
            (
                f"/{collection}",
                {"GET": _data(collection, connections.list_data_connections), "POST": create},
            )
        )
        table.append(
            (
                f"/{collection}/{_ID}",
                {
                    "GET": _data(collection, connections.get_data_connection),
                    "PATCH": _data(collection, connections.patch_data_connection),
                    "DELETE": _data(collection, connections.delete_data_connection),
                },
            )
        )
    return table


def method_not_allowed(method: str, path: str) -> ApiError:
    return flow_error("1100-405", f"Method {method} is not supported on {path}.", title="Method not allowed")


def unknown_endpoint(path: str) -> ApiError:
    return flow_error("1101-404", f"The requested resource is not found. Error from flow provider: no endpoint {path}.")

"""The registry's URL table (Starlette routes relative to :data:`PREFIX`) and its 404/405 errors.

Ids may contain ``/`` (a ``$id`` arrives URL-decoded), hence the ``path`` convertor; the app strips a trailing
``/`` before routing, which aepp sends (``/tenant/schemas/``, ``/stats/``).
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute

from ..core.routing import route
from . import responses as r
from .kinds import PREFIX
from .model import RegistryState
from .xdm_errors import method_not_allowed, unknown_endpoint

__all__ = ["COLLECTIONS", "PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]

#: The store collections this service owns (the app's ``/stats`` counts them).
COLLECTIONS = RegistryState.COLLECTIONS


class _Words(Convertor[str]):
    """A path segment that is one of a few words (``regex`` set by subclasses)."""

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _Container(_Words):
    regex = "global|tenant"


class _Kind(_Words):
    regex = "schemas|fieldgroups|mixins|classes|datatypes"


register_url_convertor("xdm_container", _Container())
register_url_convertor("xdm_kind", _Kind())


def routes() -> list[BaseRoute]:
    container, kind, rid = "{container:xdm_container}", "{kind:xdm_kind}", "{resource_id:path}"
    return [
        route("/stats", GET=r.stats),
        route("/global/behaviors", GET=r.list_behaviours),
        route(f"/global/behaviors/{rid}", GET=r.get_behaviour),
        route("/tenant/unions", GET=r.list_unions),
        route(f"/tenant/unions/{rid}", GET=r.get_union),
        route(f"/{container}/descriptors", GET=r.list_descriptors, POST=r.create_descriptor),
        route(
            f"/{container}/descriptors/{rid}",
            GET=r.get_descriptor,
            PUT=r.replace_descriptor,
            DELETE=r.delete_descriptor,
        ),
        route(f"/{container}/{kind}", GET=r.list_resources, POST=r.create_resource),
        route(
            f"/{container}/{kind}/{rid}",
            GET=r.get_resource,
            PUT=r.replace_resource,
            PATCH=r.patch_resource,
            DELETE=r.delete_resource,
        ),
    ]

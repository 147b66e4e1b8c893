"""The Schema Registry (``/data/foundation/schemaregistry``): schemas, field groups, classes, data types,
descriptors, unions and ``/stats``, as Adobe's Swagger spec and XDM API guides describe them.

What the real registry enforces and clients trip over is enforced here too (target-side notes §1, §9.3):
the ``Accept`` matrix (:mod:`.formats`), ids and versions (:mod:`.backend`), write bodies (:mod:`.validate`),
descriptors (:mod:`.descriptors`), list queries (:mod:`.listing`) and the Profile union rules. Codes the docs do
not assign are the emulator's own and listed in the emulator README.

Layout: :mod:`.model` (the registry's state in one org/sandbox, read side) and :mod:`.backend` (writes),
:mod:`.responses` (request handlers), :mod:`.urls` (the URL table), :mod:`.resolve` (``xed-full`` resolution and
rendering), :mod:`.record_schema` (a schema as JSON Schema for records), :mod:`.standard` (Adobe's standard
resources in the ``global`` container).

Other services use :func:`tenant_id`, :func:`find_schema`, :func:`resolve_schema`, :func:`render` and
:func:`record_json_schema`.
"""

from __future__ import annotations

from ..core.errors import ApiError
from .kinds import PREFIX
from .model import Registry, add_identity_namespace, tenant_id
from .record_schema import record_json_schema, record_validator, schema_to_json_schema
from .resolve import find_schema, render, resolve, resolve_schema
from .urls import method_not_allowed, routes, unknown_endpoint

__all__ = [
    "PREFIX",
    "ApiError",
    "Registry",
    "add_identity_namespace",
    "find_schema",
    "method_not_allowed",
    "record_json_schema",
    "record_validator",
    "render",
    "resolve",
    "resolve_schema",
    "routes",
    "schema_to_json_schema",
    "tenant_id",
    "unknown_endpoint",
]

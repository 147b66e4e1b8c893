"""The resource pages of every service (served by the control plane under ``/__emulator/ui``, rendered by
:mod:`.core.pages`), and the Schema Registry's schema page, which also lists the Catalog datasets built on it."""

from __future__ import annotations

import re

from . import schema_registry
from .catalog import pages as catalog_pages
from .core.messages import Request
from .core.pages import INDEX_LIMIT, Page, PageRoute, Pages, href
from .core.state import Store
from .flow_service import pages as flow_service_pages


def _schema(store: Store, resource_id: str, req: Request) -> Page | None:
    stored = schema_registry.find_schema(store, resource_id)
    if stored is None:
        return None
    doc = schema_registry.render(store, stored, "xed")
    tags = doc.get("meta:immutableTags") or []
    state = f"version {doc.get('version', '?')}" + (", enabled for Profile" if "union" in tags else "")
    page = Page("XDM schema", str(doc.get("title", "")), str(doc.get("$id", resource_id)), state, store, doc)
    page.details.append(("Alt id", str(doc.get("meta:altId", ""))))
    for dataset in store["dataSets"]:
        if (dataset.get("schemaRef") or {}).get("id") in (doc.get("$id"), doc.get("meta:altId")):
            page.related.append((f"Dataset {dataset.get('name')}", href(store, "dataset", dataset["id"])))
    return page


def _schema_index(store: Store) -> list[tuple[str, str]]:
    newest = list(store["schemas"])[-INDEX_LIMIT:][::-1]
    return [(f"schema: {s.get('title')} ({s['$id']})", href(store, "schema", s["$id"])) for s in newest]


PAGES = Pages(
    routes=(
        *flow_service_pages.ROUTES,
        *catalog_pages.ROUTES,
        PageRoute(re.compile(r"/schema"), "XDM schema", _schema, search=True),
    ),
    index=(flow_service_pages.index, catalog_pages.index, _schema_index),
    tenant_of=schema_registry.tenant_id,
)

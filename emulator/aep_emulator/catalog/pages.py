"""Catalog's resource page: a dataset (its last batch, its schema)."""

from __future__ import annotations

import re

from .. import schema_registry
from ..core.messages import Request
from ..core.pages import Page, PageRoute, href, index_links
from ..core.state import Store
from .datasets import dataset_view
from .models import find_dataset


def _dataset(store: Store, resource_id: str, req: Request) -> Page | None:
    resource = find_dataset(store, resource_id)
    if resource is None:
        return None
    doc = {"id": resource_id, **dataset_view(resource)}
    state = f"last batch {doc['lastBatchStatus']}" if doc.get("lastBatchStatus") else "no batch yet"
    page = Page("Dataset", str(doc.get("name", "")), resource_id, state, store, doc)
    schema_id = (doc.get("schemaRef") or {}).get("id")
    if isinstance(schema_id, str) and schema_registry.find_schema(store, schema_id) is not None:
        page.related.append((f"Schema {schema_id}", href(store, "schema", schema_id)))
    return page


def index(store: Store) -> list[tuple[str, str]]:
    return index_links(store, "dataSets", "dataset")


ROUTES = (PageRoute(re.compile(r"/dataset/browse/(?P<resource_id>[^/]+)"), "dataset", _dataset),)

"""Catalog Service's URL table (``/data/foundation/catalog``): datasets and batches."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.routing import route
from . import batches, datasets
from .errors import method_not_allowed, unknown_endpoint
from .models import PREFIX

__all__ = ["PREFIX", "method_not_allowed", "routes", "unknown_endpoint"]


def routes() -> list[BaseRoute]:
    """Routes relative to ``PREFIX``."""
    return [
        route("/dataSets", GET=datasets.list_datasets, POST=datasets.create_dataset),
        route(
            "/dataSets/{dataset_id}",
            GET=datasets.get_dataset,
            PUT=datasets.put_dataset,
            PATCH=datasets.patch_dataset,
            DELETE=datasets.delete_dataset,
        ),
        route("/batches", GET=batches.list_batches),
        route("/batches/{batch_id}", GET=batches.get_batch),
    ]

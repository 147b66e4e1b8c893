"""Batch Ingestion API client (``/data/foundation/import``): batches, file uploads, the large-file calls.

A batch is created (``POST /batches``, status ``loading``), its files are PUT (each at most 256 MB; a PUT to the
same path replaces the file, so an upload is safe to re-send), large files go up in ranges (INITIALIZE, PATCH with
``Content-Range``, COMPLETE), and ``POST /batches/{id}?action=COMPLETE`` (documented safe to retry) hands it to
AEP. Status, metrics and errors are read from Catalog (:mod:`.catalog`), where the batch is the same object.

A batch create is not idempotent: the client chooses an ``externalId`` so that a create whose answer was lost
is found in Catalog (``GET /batches?externalId=``) before it is sent again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from airflow_provider_aep.client.catalog import CatalogClient, keyed_objects
from airflow_provider_aep.client.models import CreatedResource
from airflow_provider_aep.client.service import ServiceClient, by_age

log = logging.getLogger("airflow_provider_aep.client")

IMPORT_PATH = "/data/foundation/import"
OCTET_STREAM = "application/octet-stream"
BatchAction = Literal["COMPLETE", "ABORT", "FAIL", "REVERT"]
_RANGE = re.compile(r"bytes[ =]?(\d+)-(\d+)")


def batch_status(batch: Mapping[str, Any]) -> str:
    """The batch's status, lower-case (Catalog answers lower case; older examples capitalise)."""
    return str(batch.get("status") or "").lower()


def received_bytes(range_header: str | None) -> int:
    """Bytes of a large file AEP holds, from the ``Range`` header of ``HEAD .../files/{path}`` (0 if none)."""
    match = _RANGE.search(range_header or "")
    return int(match.group(2)) + 1 if match else 0


class BatchIngestionClient(ServiceClient):
    """Batch Ingestion (``/data/foundation/import``) for one org and sandbox; batch reads go through Catalog."""

    base_path: ClassVar[str] = IMPORT_PATH

    @cached_property
    def catalog(self) -> CatalogClient:
        """Catalog over the same Platform client: where a batch's status, metrics and errors are read."""
        return CatalogClient(self.platform)

    # ------------------------------------------------------------------ batches
    def find_batch(self, external_id: str, dataset_id: str) -> dict[str, Any] | None:
        """The oldest batch of ``dataset_id`` with ``externalId`` (Catalog's filter), or None."""
        params = {"externalId": external_id, "dataSet": dataset_id, "orderBy": "asc:created", "limit": 10}
        resp = self.catalog.request("GET", "/batches", params=params)
        found = [
            item
            for item in keyed_objects(self.json(resp), url=resp.url)
            if item.get("externalId") == external_id
            and any(o.get("id") == dataset_id for o in item.get("relatedObjects") or [] if isinstance(o, Mapping))
        ]
        return by_age(found, "created")[0] if found else None

    def create_batch(self, body: Mapping[str, Any], *, lookup_first: bool = True) -> CreatedResource:
        """``POST /batches`` once; after an ambiguous failure the ``externalId`` is looked up before a re-send.

        ``body`` must carry ``datasetId`` and ``externalId``; an existing batch with that ``externalId`` is
        returned as reused (``created=False``) and no batch is made. ``lookup_first=False`` skips the lookup
        before the first POST, for a caller that knows no earlier attempt can have made it (a task's first try).
        """
        dataset_id, external_id = str(body["datasetId"]), str(body["externalId"])

        def lookup() -> CreatedResource | None:
            found = self.find_batch(external_id, dataset_id)
            return CreatedResource.from_resource(found, created=False) if found else None

        existing = lookup() if lookup_first else None
        if existing is not None:
            return existing

        def post() -> CreatedResource:
            resp = self.request("POST", "/batches", json_body=dict(body), retry=False)
            made = CreatedResource.from_body(self.json(resp), method="POST", url=resp.url, status=resp.status_code)
            return CreatedResource(id=made.id, created=True)

        return self.platform.create_reconciled(post, lookup, what="batch")

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """The batch as Catalog shows it (status, metrics, errors), with ``"id"``."""
        return self.catalog.get_batch(batch_id)

    def signal(self, batch_id: str, action: BatchAction) -> None:
        """``POST /batches/{id}?action=...``: COMPLETE is documented safe to re-send, so it is retried; ABORT
        and REVERT are too (a replay of either finds the batch already aborted/reverted and changes nothing)."""
        self.request("POST", f"/batches/{batch_id}", params={"action": action}, idempotent=action != "FAIL")

    def complete_batch(self, batch_id: str) -> None:
        self.signal(batch_id, "COMPLETE")

    def abort_batch(self, batch_id: str) -> None:
        self.signal(batch_id, "ABORT")

    def revert_batch(self, batch_id: str) -> None:
        self.signal(batch_id, "REVERT")

    # ------------------------------------------------------------------ files
    def file_path(self, batch_id: str, dataset_id: str, name: str) -> str:
        # "/" stays: the path's folders are kept by AEP (partitions); everything else is escaped.
        return f"/batches/{batch_id}/datasets/{dataset_id}/files/{quote(name, safe='/')}"

    def upload_file(self, batch_id: str, dataset_id: str, name: str, content: Callable[[], Any]) -> None:
        """PUT one file (at most 256 MB) streamed from ``content()``; re-sent on transient errors (a PUT replaces)."""
        self.request("PUT", self.file_path(batch_id, dataset_id, name), content=content, content_type=OCTET_STREAM)

    def initialize_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        """Start a large file (``?action=INITIALIZE``); starting it again only starts it over."""
        path = self.file_path(batch_id, dataset_id, name)
        self.request("POST", path, params={"action": "INITIALIZE"}, idempotent=True)

    def upload_file_range(
        self, batch_id: str, dataset_id: str, name: str, start: int, length: int, content: Callable[[], Any]
    ) -> None:
        """PATCH bytes ``start`` .. ``start + length - 1`` of a large file (the same range again replaces it)."""
        end = start + length - 1
        self.request(
            "PATCH",
            self.file_path(batch_id, dataset_id, name),
            content=content,
            content_type=OCTET_STREAM,
            headers={"Content-Range": f"bytes {start}-{end}"},
            idempotent=True,
        )

    def file_received(self, batch_id: str, dataset_id: str, name: str) -> int:
        """Bytes of a large file AEP holds so far (``HEAD`` and its ``Range`` header)."""
        resp = self.request("HEAD", self.file_path(batch_id, dataset_id, name))
        return received_bytes(resp.headers.get("Range"))

    def complete_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        """Stitch a large file's ranges (``?action=COMPLETE``); AEP checks for gaps and overlaps here."""
        path = self.file_path(batch_id, dataset_id, name)
        self.request("POST", path, params={"action": "COMPLETE"}, idempotent=True)


__all__ = [
    "BatchIngestionClient",
    "batch_status",
    "received_bytes",
]

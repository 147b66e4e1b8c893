"""Catalog's state in one org's sandbox: datasets, the batches emulated runs write, and the records that landed.

Datasets and batches are the JSON documents Catalog answers (with ``_``-prefixed bookkeeping keys) in the sandbox's
named collections; the landed records are what a batch wrote (Catalog itself only holds their counts).
Other services use :func:`find_dataset` and :func:`add_batch` (runs), :func:`open_batch`, :func:`touch_batch` and
:func:`finish_batch` (the Batch Ingestion API).
"""

from __future__ import annotations

import copy
from typing import Any

from ..core.state import Named, Store

PREFIX = "/data/foundation/catalog"
#: What every Catalog object carries and Catalog itself sets: its version, when and by whom it was made and changed.
AUDIT_FIELDS = frozenset({"version", "created", "updated", "createdClient", "createdUser", "updatedUser"})
BATCH_STATUSES = (
    "processing", "success", "failure", "queued", "retrying", "stalled", "aborted", "abandoned", "inactive",
    "failed", "loading", "loaded", "staged", "active", "staging", "deleted",
)  # fmt: skip


class CatalogBackend:
    """Catalog in one org's sandbox (``store.backend(CatalogBackend)``)."""

    COLLECTIONS = ("dataSets", "batches")
    datasets = Named("dataSets")
    batches = Named("batches")

    def __init__(self, store: Store) -> None:
        self.store = store
        #: Records emulated ingestion landed: dataset id -> batch id -> records.
        self.landed: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def landed_records(self, dataset_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Records that landed in a dataset (all batches in order, or one batch)."""
        batches = self.landed.get(dataset_id, {})
        if batch_id is not None:
            return copy.deepcopy(batches.get(batch_id, []))
        return [copy.deepcopy(record) for records in batches.values() for record in records]

    def failed_records(self, dataset_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Rejected rows (``{row, source, errors[{code, message, ...}], batch}``) of a dataset's batches."""
        out: list[dict[str, Any]] = []
        for batch in self.batches:
            related = {o.get("id") for o in batch.get("relatedObjects") or [] if o.get("type") == "dataSet"}
            if dataset_id in related and (batch_id is None or batch["id"] == batch_id):
                out.extend({**copy.deepcopy(f), "batch": batch["id"]} for f in batch.get("_failed_records", []))
        return out


def backend(store: Store) -> CatalogBackend:
    return store.backend(CatalogBackend)


def find_dataset(store: Store, dataset_id: str) -> dict[str, Any] | None:
    """The stored dataset (with ``id``), or ``None``."""
    return store["dataSets"].get(dataset_id)


def add_batch(
    store: Store,
    *,
    batch_id: str,
    dataset_id: str,
    status: str,
    records: int,
    failed: int,
    errors: list[dict[str, Any]],
    created_ms: int,
    updated_ms: int,
    seq: int,
    client_id: str = "acp_foundation_connectors",
    input_bytes: int = 0,
) -> dict[str, Any]:
    """Store a batch shaped like the spec's ``batchResponse`` (as the error-diagnostics guide shows it).

    ``records`` is the number of records that landed, ``failed`` the number rejected. The dataset's
    ``lastBatchId``/``lastBatchStatus``/``lastSuccessfulBatch``/``lastFailedBatch`` follow.
    """
    if status not in BATCH_STATUSES:
        raise ValueError(f"unknown batch status {status!r}")
    batch: dict[str, Any] = {
        "id": batch_id,
        "imsOrg": store.org,
        "status": status,
        "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
        "externalId": batch_id,
        "inputFormat": {"format": "parquet"},
        "started": created_ms,
        "completed": updated_ms,
        "metrics": {
            "inputByteSize": input_bytes,
            "inputFileCount": 1,
            "inputRecordCount": records + failed,
            "outputRecordCount": records,
            "recordCount": records,
            "failedRecordCount": failed,
        },
        "recordCount": records,
        "failedRecordCount": failed,
        "size": input_bytes,
        "errors": copy.deepcopy(errors),
        "created": created_ms,
        "updated": updated_ms,
        "createdClient": client_id,
        "createdUser": f"{client_id}@AdobeID",
        "updatedUser": f"{client_id}@AdobeID",
        "version": "1.0.0",
        "tags": {},
        "_seq": seq,
    }
    if not errors:
        del batch["errors"]
    store["batches"].add(batch)
    dataset = find_dataset(store, dataset_id)
    if dataset is not None:
        dataset["lastBatchId"] = batch_id
        dataset["lastBatchStatus"] = status
        dataset["lastSuccessfulBatch" if status == "success" else "lastFailedBatch"] = batch_id
    return batch


def open_batch(
    store: Store,
    *,
    batch_id: str,
    dataset_id: str,
    created_ms: int,
    seq: int,
    client_id: str,
    input_format: dict[str, Any],
    external_id: str | None = None,
    tags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a batch in ``loading``, as the Batch Ingestion API creates it (``POST /import/batches``).

    The dataset's ``lastBatch*`` fields follow only when the batch ends (:func:`finish_batch`).
    """
    batch: dict[str, Any] = {
        "id": batch_id,
        "imsOrg": store.org,
        "status": "loading",
        "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
        "externalId": external_id or batch_id,
        "inputFormat": copy.deepcopy(input_format),
        "created": created_ms,
        "updated": created_ms,
        "createdClient": client_id,
        "createdUser": f"{client_id}@AdobeID",
        "updatedUser": f"{client_id}@AdobeID",
        "version": "1.0.0",
        "tags": copy.deepcopy(tags or {}),
        "_seq": seq,
    }
    store["batches"].add(batch)
    return batch


def touch_batch(batch: dict[str, Any], now_ms: int, status: str | None = None) -> None:
    """Record a change of a batch: ``updated`` and a patch-level ``version`` bump (and a new ``status``)."""
    if status is not None:
        if status not in BATCH_STATUSES:
            raise ValueError(f"unknown batch status {status!r}")
        batch["status"] = status
    batch["updated"] = now_ms
    major, minor, patch = [*str(batch.get("version") or "1.0.0").split("."), "0", "0"][:3]
    batch["version"] = f"{major}.{minor}.{int(patch) + 1 if patch.isdigit() else 1}"


def finish_batch(store: Store, batch: dict[str, Any], status: str, now_ms: int) -> None:
    """End a batch (``success``, ``failed``, ``aborted``...): ``completed`` is set and the dataset's
    ``lastBatchId``/``lastBatchStatus``/``lastSuccessfulBatch``/``lastFailedBatch`` follow."""
    touch_batch(batch, now_ms, status)
    batch["completed"] = now_ms
    dataset_id = next((o["id"] for o in batch.get("relatedObjects") or [] if o.get("type") == "dataSet"), None)
    dataset = find_dataset(store, dataset_id) if dataset_id else None
    if dataset is not None:
        dataset["lastBatchId"] = batch["id"]
        dataset["lastBatchStatus"] = status
        if status in ("success", "failed"):
            dataset["lastSuccessfulBatch" if status == "success" else "lastFailedBatch"] = batch["id"]

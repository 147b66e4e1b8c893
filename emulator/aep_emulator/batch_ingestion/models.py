"""Batch Ingestion state: the batch is Catalog's document (``store["batches"]``) plus ``_``-prefixed bookkeeping.

Bookkeeping keys on a batch document (never shown by Catalog or the import API):

* ``_files``: ``{filePath: {"key", "size", "created"}}``, the uploaded files (spool keys), in upload order;
* ``_large``: ``{filePath: {"parts": [[first, last, key]], "total"}}``, large files between INITIALIZE and COMPLETE;
* ``_due``: emulator time (ms) at which a ``staging`` batch is processed;
* ``_outputs``: the files processing wrote (failed records, row errors), ``{name: {"key", "size", "count"}}``;
* ``_file_records``: records read per input file; ``_failed_records``: rejected rows for the control plane.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import ApiError, platform_error
from ..core.state import Store

PREFIX = "/data/foundation/import"
FORMATS = ("json", "csv", "parquet")
#: The Crockford base32 alphabet of ULIDs (batch ids look like ``01EQ1C48TR4GD4FE7NH2522TCQ``).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Statuses from which COMPLETE answers 200 again without changing anything (the documented retry safety).
COMPLETED = ("loaded", "staging", "staged", "processing", "success", "active", "failed", "failure", "inactive")
#: Largest part one PATCH may carry (spec: "The accepted range of content bytes is 0 - 512000000").
PART_LIMIT = 512_000_000


class BatchIngestionBackend:
    """Batch Ingestion in one sandbox: the batches waiting for processing (``store.backend(...)``).

    :param store: the sandbox.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: set[str] = set()


def backend(store: Store) -> BatchIngestionBackend:
    return store.backend(BatchIngestionBackend)


def new_batch_id(now_ms: int) -> str:
    """A 26-character ULID: 48 bits of milliseconds, then 80 random bits, in Crockford base32."""
    value = (now_ms & (2**48 - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def bad_request(detail: str) -> ApiError:
    return platform_error(400, "BadRequestError", detail)


def not_found(kind: str, object_id: str) -> ApiError:
    return platform_error(404, "NotFoundError", f"The {kind} with id '{object_id}' was not found.")


def find_batch(store: Store, batch_id: str) -> dict[str, Any]:
    batch = store["batches"].get(batch_id)
    if batch is None:
        raise not_found("batch", batch_id)
    return batch


def dataset_of(batch: dict[str, Any]) -> str:
    return next(o["id"] for o in batch["relatedObjects"] if o.get("type") == "dataSet")

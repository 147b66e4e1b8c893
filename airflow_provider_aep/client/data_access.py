"""Data Access API client (``/data/foundation/export``): a batch's files, failed records and row errors.

Adobe documents Data Access as limited egress (60-second answers, 100 entries a page) for particular synchronous
uses, with dataset export destinations for bulk export; so this client reads what a batch wrote and why records
failed, and offers no bulk download. Listings page by ``start``/``limit`` and follow ``_links.next``; failed
records and row errors come as JSON lines, parsed line by line (a sample stops at the records it needs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any, ClassVar

from airflow_provider_aep.client.errors import AEPNotFoundError
from airflow_provider_aep.client.service import ServiceClient

log = logging.getLogger("airflow_provider_aep.client")

EXPORT_PATH = "/data/foundation/export"
PAGE_LIMIT = 100
"""Data Access's largest page."""
MARKERS = frozenset({"_SUCCESS"})


class DataAccessClient(ServiceClient):
    """Data Access (``/data/foundation/export``) for one org and sandbox."""

    base_path: ClassVar[str] = EXPORT_PATH

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every entry of a ``{"data": [...], "_links": {"next": ...}}`` listing, page by page."""
        next_path: str | None = path
        params: dict[str, Any] | None = {"start": 0, "limit": PAGE_LIMIT}
        while next_path:
            resp = self.request("GET", next_path, params=params)
            body = self.json(resp) or {}
            entries = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
            yield from (dict(e) for e in entries)
            link = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not entries or not isinstance(link, str):
                return
            next_path, params = link, None

    def batch_files(self, batch_id: str) -> list[dict[str, Any]]:
        """The dataset files a batch wrote (``dataSetFileId``, ``isValid``, ...)."""
        return list(self._pages(f"/batches/{batch_id}/files"))

    def failed_files(self, batch_id: str) -> list[dict[str, Any]]:
        """The files of failed records of a batch (without the ``_SUCCESS`` marker); none when nothing failed."""
        try:
            return [e for e in self._pages(f"/batches/{batch_id}/failed") if e.get("name") not in MARKERS]
        except AEPNotFoundError:
            return []

    def iter_failed_records(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """Each failed record of a batch (with its ``_validationErrors`` / ``_errors``), streamed line by line."""
        for entry in self.failed_files(batch_id):
            yield from self._json_lines(f"/batches/{batch_id}/failed", {"path": entry["name"]})

    def failed_records(self, batch_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """At most ``limit`` failed records of a batch (a sample for logs and XCom)."""
        return list(islice(self.iter_failed_records(batch_id), limit))

    def _json_lines(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        resp = self.request("GET", path, params=dict(params), headers={"Accept": "application/json"})
        for line in resp.iter_lines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                log.warning("Skipping a line of %s that is not JSON", path)
                continue
            if isinstance(item, dict):
                yield item


__all__ = ["DataAccessClient"]

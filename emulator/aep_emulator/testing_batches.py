"""A small Batch Ingestion / Data Access client for tests (real HTTP through ``requests``).

Usage::

    batches = BatchClient(emu.url, fetch_token(emu.url))
    batch_id = batches.create(dataset_id, {"format": "json"})
    batches.upload(batch_id, dataset_id, "people.json", b'{"a": 1}\\n')
    batches.complete(batch_id)
    emu.control.advance_clock(batches.delay(emu))     # the batch is processed when next read
    assert batches.status(batch_id) == "success"
"""

from __future__ import annotations

from typing import Any

import requests

from .testing import ORG, ServiceClient

IMPORT = "/data/foundation/import"
EXPORT = "/data/foundation/export"
CATALOG = "/data/foundation/catalog"
OCTETS = {"Content-Type": "application/octet-stream"}


class BatchClient(ServiceClient):
    """Calls to ``/data/foundation/import`` (``export`` and ``catalog`` through :meth:`service`).

    :param url: the emulator's base URL; ``token``, ``sandbox``, ``org`` as for :class:`ServiceClient`.
    """

    base = IMPORT

    def __init__(self, url: str, token: str, sandbox: str = "prod", org: str = ORG) -> None:
        super().__init__(url, token, sandbox, org)

    def create(self, dataset_id: str, input_format: dict[str, Any] | None = None, **extra: Any) -> str:
        """``POST /batches``; returns the new batch id (asserting 201)."""
        body = {"datasetId": dataset_id, "inputFormat": input_format or {"format": "json"}, **extra}
        response = self.post("/batches", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def file_url(self, batch_id: str, dataset_id: str, path: str) -> str:
        return f"/batches/{batch_id}/datasets/{dataset_id}/files/{path}"

    def upload(self, batch_id: str, dataset_id: str, path: str, data: bytes) -> requests.Response:
        """Small-file ``PUT`` of raw bytes."""
        return self.put(self.file_url(batch_id, dataset_id, path), data=data, headers=OCTETS)

    def action(self, batch_id: str, action: str) -> requests.Response:
        return self.post(f"/batches/{batch_id}", params={"action": action})

    def complete(self, batch_id: str) -> requests.Response:
        response = self.action(batch_id, "COMPLETE")
        assert response.status_code == 200, response.text
        return response

    def batch(self, batch_id: str) -> dict[str, Any]:
        """The batch as Catalog answers it (``GET /catalog/batches/{id}``, unwrapped)."""
        response = self.service(CATALOG).get(f"/batches/{batch_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()[batch_id])

    def status(self, batch_id: str) -> str:
        return str(self.batch(batch_id)["status"])

    def export(self, path: str, **kwargs: Any) -> requests.Response:
        """A Data Access call (``/data/foundation/export{path}``)."""
        return self.service(EXPORT).get(path, **kwargs)

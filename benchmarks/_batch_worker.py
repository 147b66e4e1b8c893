"""Child process of the batch benchmark: one upload of one file into a new batch, in a fresh process.

``python -m benchmarks._batch_worker MODE SPEC_JSON`` (``url``, ``token``, ``dataset_id``, ``path``,
``chunk_size``, ``external_id``). Modes:

* ``provider``: the provider's path, :class:`~airflow_provider_aep.client.batch_upload.BatchUpload` over the
  Batch Ingestion client (plan the parts, create the batch, PUT every part streamed, COMPLETE), what
  ``IngestFilesOperator.execute`` runs before it waits;
* ``bare``: the least a client can do with ``requests``: POST the batch, PUT the same byte ranges streamed
  from the file over one session, POST COMPLETE.

It prints JSON: seconds, bytes, the RSS when the upload started and the process's peak RSS after it.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import requests


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Range:
    """``length`` bytes of a file from ``offset``, read by ``requests`` block by block."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close(), which requests does not call
        self.file.seek(offset)
        self.left = length
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


def _parts(spec: dict[str, Any]) -> list[Any]:
    import os

    from airflow_provider_aep.client.batch_files import Source, plan_parts

    path = spec["path"]
    source = Source(path, os.path.getsize(path), lambda: open(path, "rb"))  # noqa: SIM115 - requests reads it
    return [source, plan_parts([source], "json", spec["chunk_size"])]


def provider(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_aep.client.batch_ingestion import BatchIngestionClient
    from airflow_provider_aep.client.batch_upload import BatchUpload, Progress
    from airflow_provider_aep.client.config import AEPSettings

    settings = AEPSettings(
        client_id=spec["client_id"],
        client_secret=spec["client_secret"],
        org_id=spec["org_id"],
        platform_url=spec["url"],
        ims_url=spec["url"],
    )
    client = BatchIngestionClient(settings)
    client.auth.token()  # the token is not part of the upload
    rss, started = _rss(), time.perf_counter()
    source, parts = _parts(spec)
    upload = BatchUpload(
        client, spec["dataset_id"], [source], parts, patch_size=spec["chunk_size"], save=lambda _: None
    )
    body = {"datasetId": spec["dataset_id"], "inputFormat": {"format": "json"}}
    progress, _ = upload.open_batch(Progress(spec["external_id"], "bench"), body, first_attempt=True)
    upload.upload(progress)
    return {"seconds": time.perf_counter() - started, "rss_start": rss, "peak_rss": _peak_rss(), "parts": len(parts)}


def bare(spec: dict[str, Any]) -> dict[str, Any]:
    base = spec["url"] + "/data/foundation/import"
    headers = {
        "Authorization": f"Bearer {spec['token']}",
        "x-api-key": spec["client_id"],
        "x-gw-ims-org-id": spec["org_id"],
        "x-sandbox-name": "prod",
    }
    session = requests.Session()
    rss, started = _rss(), time.perf_counter()
    _, parts = _parts(spec)  # the same byte ranges (planning is cheap: it seeks, it does not read the file)
    body = {"datasetId": spec["dataset_id"], "inputFormat": {"format": "json"}, "externalId": spec["external_id"]}
    resp = session.post(f"{base}/batches", json=body, headers=headers, timeout=600)
    resp.raise_for_status()
    batch_id = resp.json()["id"]
    for part in parts:
        url = f"{base}/batches/{batch_id}/datasets/{spec['dataset_id']}/files/{part.name}"
        data = _Range(spec["path"], part.offset, part.length)
        try:
            put = session.put(
                url, data=data, headers={**headers, "Content-Type": "application/octet-stream"}, timeout=600
            )
        finally:
            data.file.close()
        put.raise_for_status()
    session.post(f"{base}/batches/{batch_id}", params={"action": "COMPLETE"}, headers=headers, timeout=600)
    return {"seconds": time.perf_counter() - started, "rss_start": rss, "peak_rss": _peak_rss(), "parts": len(parts)}


def main() -> None:
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    result = provider(spec) if mode == "provider" else bare(spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Data Access handlers: a batch's files (``/batches/{id}/files``, ``/files/{dataSetFileId}``), its failed records
(``/batches/{id}/failed``) and diagnostics (``/batches/{id}/meta?path=input_files|row_errors``).

A batch's files are its uploads, listed once the batch is completed (Catalog creates the DataSetFile entries at
COMPLETE); each gets the id ``<uuid of the batch>-<n>``, shaped like the docs' ``8dcedb36-...-1``. Lengths,
sizes, record counts and times are strings, as the docs show them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..batch_ingestion.models import dataset_of, find_batch
from ..batch_ingestion.spool import Spool
from ..core.context import Ctx
from ..core.messages import Request, Response
from .responses import file_bytes, link, not_found, paged

#: Batches whose uploads are not (or no longer) dataset files.
NO_FILES = ("loading", "aborted")
ROW_ERROR_FILES = {"parsing": "parsing_errors_0.json", "conversion": "conversion_errors_0.json"}
INPUT_FILES = "fileMetaData1.json"


def _base(batch_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aep-emulator:batch:{batch_id}"))


def _batch(ctx: Ctx, batch_id: str) -> dict[str, Any]:
    ctx.state.refresh(ctx.store)
    return find_batch(ctx.store, batch_id)


def _files(batch: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(dataSetFileId, name, upload)`` of a batch's dataset files."""
    if batch["status"] in NO_FILES:
        return []
    base = _base(batch["id"])
    return [(f"{base}-{n}", name, item) for n, (name, item) in enumerate(batch.get("_files", {}).items(), start=1)]


def list_batch_files(req: Request, ctx: Ctx, batch_id: str) -> Response:
    """``GET /batches/{batchId}/files?start=&limit=``: the batch's dataset files, paged."""
    batch = _batch(ctx, batch_id)
    counts = batch.get("_file_records", {})
    items = [
        {
            "dataSetFileId": file_id,
            "dataSetViewId": dataset_of(batch),
            "version": "1.0.0",
            "created": str(item["created"]),
            "updated": str(batch["updated"]),
            "records": str(counts.get(name, 0)),
            "size": str(item["size"]),
            "isValid": batch["status"] in ("success", "active"),
            "_links": {"self": {"href": link(req, f"/files/{file_id}")}},
        }
        for file_id, name, item in _files(batch)
    ]
    return paged(req, f"/batches/{batch_id}/files", items)


def _resolve(ctx: Ctx, file_id: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    ctx.state.refresh(ctx.store)
    base, _, _number = file_id.rpartition("-")
    for batch in ctx.store["batches"]:
        if _base(batch["id"]) == base:
            for found_id, name, item in _files(batch):
                if found_id == file_id:
                    return batch, name, item
    raise not_found(f"The dataSetFile with id '{file_id}' was not found.")


def get_file(req: Request, ctx: Ctx, file_id: str) -> Response:
    """``GET|HEAD /files/{dataSetFileId}``: its entries, or with ``?path=NAME`` the file's bytes."""
    _, name, item = _resolve(ctx, file_id)
    path = req.param("path")
    if path is None and req.method != "HEAD":
        entry = {
            "name": name,
            "length": str(item["size"]),
            "_links": {"self": {"href": link(req, f"/files/{file_id}", path=name)}},
        }
        return paged(req, f"/files/{file_id}", [entry])
    if path != name:
        raise not_found(f"The file '{path}' is not part of the dataSetFile '{file_id}'.")
    return file_bytes(req, ctx.state.backend(Spool), item["key"], item["size"], name)


def _failed_name(batch: dict[str, Any]) -> str:
    return f"part-00000-{_base(batch['id'])}-c000.json"


def failed(req: Request, ctx: Ctx, batch_id: str) -> Response:
    """``GET /batches/{batchId}/failed``: ``_SUCCESS`` plus the part file of rejected rows; ``?path=`` downloads."""
    batch = _batch(ctx, batch_id)
    outputs = batch.get("_outputs")
    if outputs is None:
        raise not_found(f"The batch '{batch_id}' has not been processed: it has no failed records yet.")
    parts = {_failed_name(batch): outputs["failed"]} if "failed" in outputs else {}
    path = req.param("path")
    if path is None:
        names = [("_SUCCESS", 0), *((name, out["size"]) for name, out in parts.items())]
        items = [
            {
                "name": name,
                "length": str(size),
                "_links": {"self": {"href": link(req, f"/batches/{batch_id}/failed", path=name)}},
            }
            for name, size in names
        ]
        return paged(req, f"/batches/{batch_id}/failed", items)
    if path == "_SUCCESS":
        return Response(200, "", media_type="application/octet-stream")
    if path not in parts:
        raise not_found(f"The batch '{batch_id}' has no failed-records file '{path}'.")
    return file_bytes(req, ctx.state.backend(Spool), parts[path]["key"], parts[path]["size"], path)


def meta(req: Request, ctx: Ctx, batch_id: str) -> Response:
    """``GET /batches/{batchId}/meta?path=input_files|row_errors[/FILE]``: the batch's diagnostic files."""
    batch = _batch(ctx, batch_id)
    path = (req.param("path") or "").strip("/")
    outputs = batch.get("_outputs") or {}
    row_errors = {ROW_ERROR_FILES[k]: v for k, v in outputs.items() if k in ROW_ERROR_FILES}
    here = f"/batches/{batch_id}/meta"

    def entries(folder: str, sizes: dict[str, int]) -> Response:
        items = [
            {"name": name, "length": str(size), "_links": {"self": {"href": link(req, here, path=f"{folder}/{name}")}}}
            for name, size in sizes.items()
        ]
        return paged(req, here, items)

    inputs = "".join(json.dumps({"path": name}) + "\n" for name in batch.get("_files", {}))
    if path == "input_files":
        return entries("input_files", {INPUT_FILES: len(inputs.encode())} if inputs else {})
    if path == f"input_files/{INPUT_FILES}" and inputs:
        return Response(200, inputs, media_type="application/json")
    if path == "row_errors":
        return entries("row_errors", {name: out["size"] for name, out in row_errors.items()})
    folder, _, name = path.partition("/")
    if folder == "row_errors" and name in row_errors:
        out = row_errors[name]
        return file_bytes(req, ctx.state.backend(Spool), out["key"], out["size"], name)
    raise not_found(f"The batch '{batch_id}' has no diagnostic file or folder '{path}'.")

"""File uploads of a ``loading`` batch: small files (``PUT``) and large files in parts (``POST ?action=INITIALIZE``,
``PATCH`` with ``Content-Range``, ``HEAD``, ``POST ?action=COMPLETE``), all under
``/batches/{batchId}/datasets/{datasetId}/files/{filePath}`` where ``filePath`` may contain ``/``.

Bytes go to the state's :class:`~.spool.Spool` at once and the request drops them (``req.spooled``), so neither
memory nor the journal keeps them. Range checks of large files run at their COMPLETE, as Adobe's troubleshooting
guide says ("range validations are done at the time of file completion").
"""

from __future__ import annotations

import re
from typing import Any

from ..catalog.models import find_dataset, touch_batch
from ..core.context import Ctx
from ..core.errors import ApiError, platform_error
from ..core.messages import Request, Response
from .models import PART_LIMIT, bad_request, dataset_of, find_batch, not_found
from .spool import Spool

_CONTENT_RANGE = re.compile(r"bytes[ =](\d+)-(\d+)(?:/(\d+|\*))?")
_TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def _batch(ctx: Ctx, batch_id: str, dataset_id: str, *, loading: bool = True) -> dict[str, Any]:
    ctx.state.refresh(ctx.store)
    batch = find_batch(ctx.store, batch_id)
    if find_dataset(ctx.store, dataset_id) is None:
        raise not_found("dataset", dataset_id)
    if dataset_of(batch) != dataset_id:
        raise bad_request(f"The batch '{batch_id}' writes to the dataset '{dataset_of(batch)}', not '{dataset_id}'.")
    if loading and batch["status"] != "loading":
        raise bad_request(
            f"The batch '{batch_id}' is '{batch['status']}': files can only be uploaded while it is loading."
        )
    return batch


def _check_media(req: Request) -> None:
    """Uploads are raw bytes (``application/octet-stream``); the docs warn against multipart (``curl -F``)."""
    kind = req.content_type
    if not kind or kind in _TEXT_TYPES or kind.startswith("text/"):
        raise ApiError(
            415,
            platform_error(
                415,
                "UnsupportedMediaTypeError",
                f"Upload file bytes with 'Content-Type: application/octet-stream', not {kind or 'no Content-Type'}.",
            ).body,
        )


def _check_guardrails(ctx: Ctx, batch: dict[str, Any], path: str, size: int) -> None:
    config = ctx.state.config
    names = set(batch["_files"]) | set(batch["_large"])
    if path not in names and len(names) >= config.batch_max_files:
        raise bad_request(
            f"The batch already holds {len(names)} files: a batch may hold at most {config.batch_max_files} files."
        )
    total = size + sum(item["size"] for name, item in batch["_files"].items() if name != path)
    total += sum(last - first + 1 for large in batch["_large"].values() for first, last, _ in large["parts"])
    if total > config.batch_size_limit:
        raise bad_request(
            f"The batch would hold {total} bytes: a batch may hold at most {config.batch_size_limit} bytes."
        )


def _store(ctx: Ctx, batch: dict[str, Any], path: str, key: str, size: int) -> None:
    spool = ctx.state.backend(Spool)
    old = batch["_files"].get(path)
    if old is not None:
        spool.remove(old["key"])  # a second PUT of the same path replaces the file
    batch["_files"][path] = {"key": key, "size": size, "created": ctx.now_ms}
    touch_batch(batch, ctx.now_ms)


def _spool(ctx: Ctx, req: Request) -> tuple[str, int]:
    """Write the body to the spool once and drop it from the request (the journal then shows its size)."""
    size = len(req.body)
    key = ctx.state.backend(Spool).write(req.body)
    req.spooled, req.body = size, b""
    return key, size


def put_file(req: Request, ctx: Ctx, batch_id: str, dataset_id: str, file_path: str) -> Response:
    """Small-file upload: 200 (a second PUT replaces the file)."""
    batch = _batch(ctx, batch_id, dataset_id)
    _check_media(req)
    limit = ctx.state.config.batch_file_limit
    if len(req.body) > limit:
        raise ApiError(
            413,
            platform_error(
                413,
                "PayloadTooLargeError",
                f"The file '{file_path}' has {len(req.body)} bytes: small-file uploads "
                f"accept at most {limit} bytes; use the large file upload (INITIALIZE, PATCH, COMPLETE).",
            ).body,
        )
    _check_guardrails(ctx, batch, file_path, len(req.body))
    key, size = _spool(ctx, req)
    _store(ctx, batch, file_path, key, size)
    return Response(200)


def _ranges(parts: list[list[Any]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last, _ in sorted(parts, key=lambda p: (p[0], p[1])):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _range_header(ranges: list[tuple[int, int]]) -> dict[str, str]:
    return {"Range": "bytes=" + ",".join(f"{a}-{b}" for a, b in ranges)} if ranges else {}


def patch_file(req: Request, ctx: Ctx, batch_id: str, dataset_id: str, file_path: str) -> Response:
    """One part of a large file (``Content-Range: bytes a-b`` or ``bytes a-b/total``, inclusive) -> 200."""
    batch = _batch(ctx, batch_id, dataset_id)
    large = batch["_large"].get(file_path)
    if large is None:
        raise bad_request(f"The large file '{file_path}' was not initialized: POST ...?action=INITIALIZE first.")
    _check_media(req)
    raw = req.headers.get("content-range", "").strip()
    match = _CONTENT_RANGE.fullmatch(raw)
    if match is None:
        raise bad_request(
            f"The header 'Content-Range' must be 'bytes FIRST-LAST' or 'bytes FIRST-LAST/TOTAL', got {raw!r}."
        )
    first, last = int(match.group(1)), int(match.group(2))
    if last < first or len(req.body) != last - first + 1:
        raise bad_request(
            f"The header 'Content-Range: {raw}' announces {last - first + 1} bytes but the body has {len(req.body)}."
        )
    if len(req.body) > PART_LIMIT:
        raise ApiError(
            413, platform_error(413, "PayloadTooLargeError", f"A part may hold at most {PART_LIMIT} bytes.").body
        )
    _check_guardrails(ctx, batch, file_path, len(req.body))
    if match.group(3) and match.group(3) != "*":
        large["total"] = int(match.group(3))
    key, _ = _spool(ctx, req)
    large["parts"].append([first, last, key])
    touch_batch(batch, ctx.now_ms)
    received = sum(b - a + 1 for a, b in _ranges(large["parts"]))
    return Response(200, {"name": file_path, "sizeInBytes": received}, _range_header(_ranges(large["parts"])))


def head_file(req: Request, ctx: Ctx, batch_id: str, dataset_id: str, file_path: str) -> Response:
    """200 with ``Range``: the bytes received so far (``bytes=0-1023``)."""
    batch = _batch(ctx, batch_id, dataset_id, loading=False)
    large = batch["_large"].get(file_path)
    if large is not None:
        return Response(200, None, _range_header(_ranges(large["parts"])))
    item = batch["_files"].get(file_path)
    if item is None:
        raise not_found("file", file_path)
    return Response(200, None, _range_header([(0, item["size"] - 1)] if item["size"] else []))


def file_action(req: Request, ctx: Ctx, batch_id: str, dataset_id: str, file_path: str) -> Response:
    """``?action=INITIALIZE`` (201) or ``?action=COMPLETE`` (200, ``File``) of a large file."""
    batch = _batch(ctx, batch_id, dataset_id)
    action = (req.param("action") or "").upper()
    if action == "INITIALIZE":
        _check_guardrails(ctx, batch, file_path, 0)
        _discard_parts(ctx, batch, file_path)
        batch["_large"][file_path] = {"parts": [], "total": None}
        touch_batch(batch, ctx.now_ms)
        return Response(201)
    if action == "COMPLETE":
        large = batch["_large"].get(file_path)
        if large is None:
            raise bad_request(f"The large file '{file_path}' was not initialized: POST ...?action=INITIALIZE first.")
        _check_coverage(file_path, large)
        ordered = sorted(large["parts"], key=lambda p: p[0])
        spool = ctx.state.backend(Spool)
        key, size = spool.stitch(p[2] for p in ordered)
        _discard_parts(ctx, batch, file_path)
        _store(ctx, batch, file_path, key, size)
        return Response(200, {"name": file_path, "sizeInBytes": size})
    given = req.param("action")
    raise bad_request(f"The query parameter 'action' must be INITIALIZE or COMPLETE, got {given!r}.")


def _check_coverage(file_path: str, large: dict[str, Any]) -> None:
    """Parts must cover ``0..total-1`` exactly once: overlaps and gaps are a 400 at COMPLETE."""
    if not large["parts"]:
        raise bad_request(f"The large file '{file_path}' has no parts: PATCH its bytes before COMPLETE.")
    expected = 0
    for first, last, _ in sorted(large["parts"], key=lambda p: (p[0], p[1])):
        if first < expected:
            raise bad_request(f"The parts of '{file_path}' overlap: bytes {first}-{last} were already received.")
        if first > expected:
            raise bad_request(f"The parts of '{file_path}' are missing bytes {expected}-{first - 1}.")
        expected = last + 1
    total = large.get("total")
    if total is not None and expected != total:
        raise bad_request(f"The parts of '{file_path}' are missing bytes {expected}-{total - 1} (total {total}).")


def _discard_parts(ctx: Ctx, batch: dict[str, Any], file_path: str) -> None:
    large = batch["_large"].pop(file_path, None)
    if large is not None:
        spool = ctx.state.backend(Spool)
        for _, _, key in large["parts"]:
            spool.remove(key)

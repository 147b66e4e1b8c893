"""``POST /batches`` (create) and ``POST /batches/{batchId}?action=COMPLETE|ABORT|FAIL|REVERT``.

A batch is created ``loading``; COMPLETE moves it to ``staging`` and schedules its processing
``batch_processing_delay`` seconds later on the emulator clock (:mod:`.processing`, run when the sandbox is read);
ABORT works only while ``loading``, REVERT only on ``success``/``active`` batches (their landed records go).
"""

from __future__ import annotations

import copy
from typing import Any

from ..catalog.batches import batch_view
from ..catalog.models import backend as catalog
from ..catalog.models import find_dataset, finish_batch, open_batch, touch_batch
from ..core.context import Ctx
from ..core.messages import Request, Response
from .models import COMPLETED, FORMATS, backend, bad_request, dataset_of, find_batch, new_batch_id
from .spool import Spool

#: CSV options a batch's ``inputFormat`` may carry (Catalog shows them; the preview call takes them too).
CSV_OPTIONS = ("delimiter", "quote", "escape", "charset", "header", "nullMarker")


def _input_format(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {"format": "json"}  # overview.md creates batches with a datasetId only
    if not isinstance(raw, dict):
        raise bad_request('The field \'inputFormat\' must be an object such as {"format": "json"}.')
    fmt = raw.get("format", "json")
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise bad_request(f"The field 'inputFormat.format' must be one of JSON, Parquet or CSV, got {fmt!r}.")
    out: dict[str, Any] = {"format": fmt.lower()}
    if "isMultiLineJson" in raw:
        if not isinstance(raw["isMultiLineJson"], bool):
            raise bad_request("The field 'inputFormat.isMultiLineJson' must be a boolean.")
        out["isMultiLineJson"] = raw["isMultiLineJson"]
    for name in CSV_OPTIONS:
        if name in raw:
            value = raw[name]
            wanted = bool if name == "header" else str
            if not isinstance(value, wanted) or (name in ("delimiter", "quote", "escape") and len(str(value)) != 1):
                kind = (
                    "a boolean"
                    if wanted is bool
                    else "a string"
                    if name in ("charset", "nullMarker")
                    else "one character"
                )
                raise bad_request(f"The field 'inputFormat.{name}' must be {kind}.")
            out[name] = value
    return out


def _threshold(body: dict[str, Any]) -> float | None:
    names = [n for n in ("partialIngestionPercent", "partialIngestionPercentage") if n in body]
    if not names:
        return None
    value = body[names[0]]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise bad_request(f"The field '{names[0]}' must be a number between 0 and 100.")
    return value


def _tags(body: dict[str, Any], diagnostics: bool, threshold: float | None) -> dict[str, Any]:
    raw = body.get("tags", {})
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise bad_request('The field \'tags\' must be an object of arrays, such as {"key": ["v1", "v2"]}.')
    tags = copy.deepcopy(raw)
    if diagnostics:
        tags["acp_enableErrorDiagnostics"] = True
    if threshold is not None:
        tags["acp_partialIngestionPercent"] = threshold
    return tags


def _replay(ctx: Ctx, raw: Any, dataset_id: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("The field 'replay' must be an object with 'predecessors' and 'reason'.")
    ids = raw.get("predecessors", [])
    external = raw.get("predecessorsByExternalId", [])
    if not isinstance(ids, list) or not isinstance(external, list) or not (ids or external):
        raise bad_request("The field 'replay.predecessors' must be a non-empty array of batch ids.")
    predecessors = [str(i).removeprefix("$") for i in ids]
    for wanted in (str(e).removeprefix("$") for e in external):
        match = next((b["id"] for b in ctx.store["batches"] if b.get("externalId") == wanted), None)
        if match is None:
            raise bad_request(f"No batch has the externalId '{wanted}' named in 'replay.predecessorsByExternalId'.")
        predecessors.append(match)
    for batch_id in predecessors:
        batch = ctx.store["batches"].get(batch_id)
        if batch is None:
            raise bad_request(f"The batch '{batch_id}' named in 'replay.predecessors' does not exist.")
        if dataset_of(batch) != dataset_id:
            raise bad_request(f"The batch '{batch_id}' named in 'replay.predecessors' belongs to another dataset.")
    return {"predecessors": predecessors, "reason": str(raw.get("reason", "replace"))}


def create_batch(req: Request, ctx: Ctx) -> Response:
    """``POST /batches`` -> 201 with the flat batch object (``loading``)."""
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object with 'datasetId' and 'inputFormat'.")
    dataset_id = body.get("datasetId")
    if not isinstance(dataset_id, str) or not dataset_id:
        raise bad_request("The field 'datasetId' is required: the id of the dataset the batch writes to.")
    if find_dataset(ctx.store, dataset_id) is None:
        raise bad_request(f"The dataset '{dataset_id}' named in 'datasetId' does not exist.")
    input_format = _input_format(body.get("inputFormat"))
    threshold = _threshold(body)
    diagnostics = body.get("enableErrorDiagnostics", False)
    if not isinstance(diagnostics, bool):
        raise bad_request("The field 'enableErrorDiagnostics' must be a boolean.")
    external_id = body.get("externalId")
    if external_id is not None and (not isinstance(external_id, str) or not external_id):
        raise bad_request("The field 'externalId' must be a non-empty string.")
    # Partial ingestion turns error diagnostics on (partial.md).
    tags = _tags(body, diagnostics or threshold is not None, threshold)
    replay = _replay(ctx, body.get("replay"), dataset_id)
    now = ctx.now_ms
    batch = open_batch(
        ctx.store,
        batch_id=new_batch_id(now),
        dataset_id=dataset_id,
        created_ms=now,
        seq=ctx.state.next_seq(),
        client_id=ctx.client_id,
        input_format=input_format,
        external_id=external_id,
        tags=tags,
    )
    if replay is not None:
        batch["replay"] = replay
    batch["_files"], batch["_large"] = {}, {}
    batch["_threshold"] = threshold
    batch["_diagnostics"] = diagnostics or threshold is not None
    return Response(201, batch_view(batch))


def batch_action(req: Request, ctx: Ctx, batch_id: str) -> Response:
    """``POST /batches/{batchId}?action=...`` -> 200 with the batch."""
    ctx.state.refresh(ctx.store)
    batch = find_batch(ctx.store, batch_id)
    action = (req.param("action") or "").upper()
    status = batch["status"]
    now = ctx.now_ms
    if action == "COMPLETE":
        if status == "loading":
            if batch["_large"]:
                pending = ", ".join(sorted(batch["_large"]))
                raise bad_request(f"The large files {pending} were initialized but never completed.")
            touch_batch(batch, now, "staging")
            batch["started"] = now
            batch["_due"] = now + int(ctx.state.config.batch_processing_delay * 1000)
            backend(ctx.store).pending.add(batch_id)
        elif status not in COMPLETED:
            raise bad_request(f"The batch '{batch_id}' is '{status}' and cannot be completed.")
    elif action == "ABORT":
        if status != "loading":
            raise bad_request(f"The batch '{batch_id}' is '{status}': only a loading batch can be aborted.")
        finish_batch(ctx.store, batch, "aborted", now)
        drop_files(ctx, batch)
    elif action == "FAIL":
        if status not in ("loading", "staging"):
            raise bad_request(f"The batch '{batch_id}' is '{status}': only a loading or staging batch can fail.")
        backend(ctx.store).pending.discard(batch_id)
        finish_batch(ctx.store, batch, "failed", now)
    elif action == "REVERT":
        if status not in ("success", "active"):
            raise bad_request(f"The batch '{batch_id}' is '{status}': only a successful batch can be reverted.")
        revert(ctx.store, batch, now)
    else:
        given = req.param("action")
        raise bad_request(f"The query parameter 'action' must be COMPLETE, ABORT, FAIL or REVERT, got {given!r}.")
    return Response(200, batch_view(batch))


def revert(store: Any, batch: dict[str, Any], now: int) -> None:
    """Mark a successful batch ``inactive`` and remove what it landed from its dataset."""
    touch_batch(batch, now, "inactive")
    catalog(store).landed.get(dataset_of(batch), {}).pop(batch["id"], None)


def drop_files(ctx: Ctx, batch: dict[str, Any]) -> None:
    """Delete an aborted batch's spooled uploads and parts."""
    spool = ctx.state.backend(Spool)
    for item in batch["_files"].values():
        spool.remove(item["key"])
    for large in batch["_large"].values():
        for _, _, key in large["parts"]:
            spool.remove(key)
    batch["_files"], batch["_large"] = {}, {}

"""Processing a completed batch when its sandbox is read after ``_due`` on the emulator clock.

Every spooled file is read record by record (:mod:`.readers`), converted to the dataset schema's types, checked
(``ingestion.records`` for required fields and the primary identity, ``INGEST-1555-400``; the schema as JSON
Schema for the rest), and good records land in ``CatalogBackend.landed[dataset][batch]``. Rejected rows are
written to spooled JSON Lines files for the Data Access API (``/failed``, ``/meta?path=row_errors``).

Outcome (partial.md, error-diagnostics.md): an empty file (``106``) or an unreadable CSV header (``118``) fails
the batch; with rejected rows the batch fails unless partial ingestion is on and their share stays within the
threshold (then ``success`` with ``INGEST-1212-400``); a failed batch lands nothing. Without error diagnostics
the row errors are summed up as ``INGEST-1211-400``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import IO, Any

from jsonschema import Draft7Validator

from ..catalog.models import backend as catalog
from ..catalog.models import find_dataset, finish_batch
from ..core.errors import ApiError
from ..core.state import EmulatorState, Store
from ..ingestion.ingest import _ranges
from ..ingestion.records import ERROR_TITLES, REQUIRED_ERROR, primary_identity_paths, validate_record
from ..schema_registry.record_schema import record_json_schema
from .batches import revert
from .models import backend, dataset_of
from .readers import FileError, Row, coerce, rows
from .spool import Spool

CORRUPT_ERROR = "INGEST-1401-400"
EMPTY_FILE = "106"
NO_DIAGNOSTICS = "INGEST-1211-400"
SUMMARY = "INGEST-1212-400"
DESCRIPTIONS = {
    CORRUPT_ERROR: "The row has corrupted data and cannot be read or parsed. Fix the corrupted data and try again.",
    REQUIRED_ERROR: ERROR_TITLES[REQUIRED_ERROR],
    EMPTY_FILE: "Dataset file is empty. Please upload file with data.",
}
#: Rejected rows kept on the batch for the control plane's ``failed_records`` (the files hold all of them).
KEPT_FAILURES = 1000


def refresh(state: EmulatorState, store: Store) -> None:
    """Process the ``staging`` batches of a sandbox whose time has come (oldest first)."""
    pending = backend(store).pending
    if not pending:
        return
    now = state.clock.now_ms()
    batches = [store["batches"].get(batch_id) for batch_id in list(pending)]
    for batch in sorted((b for b in batches if b is not None), key=lambda b: b["_seq"]):
        if batch["status"] != "staging":
            pending.discard(batch["id"])
        elif now >= batch["_due"]:
            pending.discard(batch["id"])
            process(state, store, batch, batch["_due"])
    pending.intersection_update(batch_id for batch_id in list(pending) if store["batches"].get(batch_id) is not None)


class _Sink:
    """The rejected rows of a batch: spooled JSON Lines files, counts and row numbers by code."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.files: dict[str, tuple[str, IO[bytes]]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.rows: dict[str, list[int]] = defaultdict(list)
        self.first: dict[str, str] = {}
        self.kept: list[dict[str, Any]] = []
        self.total = 0

    def write(self, name: str, line: dict[str, Any]) -> None:
        if name not in self.files:
            self.files[name] = self.spool.writer()
        self.files[name][1].write(json.dumps(line, separators=(",", ":")).encode() + b"\n")

    def reject(self, number: int, code: str, message: str, source: Any) -> None:
        self.total += 1
        self.counts[code] += 1
        self.rows[code].append(number)
        self.first.setdefault(code, message)
        if len(self.kept) < KEPT_FAILURES:
            self.kept.append({"row": number, "source": source, "errors": [{"code": code, "message": message}]})

    def close(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, (key, handle) in self.files.items():
            handle.close()
            out[name] = {"key": key, "size": self.spool.size(key)}
        return out


def _check(row: Row, number: int, path: str, sink: _Sink, checks: tuple[Any, ...]) -> dict[str, Any] | None:
    """A good record, or ``None`` after recording why the row was rejected."""
    schema, validator, identities, text = checks
    if row.record is None:
        sink.reject(number, CORRUPT_ERROR, DESCRIPTIONS[CORRUPT_ERROR], row.corrupt)
        message = "Row is corrupted and cannot be read, please fix and resend."
        line = {"_corrupt_record": row.corrupt, "_errors": [{"code": "1401", "message": message}]}
        sink.write("parsing", {**line, "_filename": "parsing_errors_0.json"})
        sink.write("failed", line)
        return None
    record = coerce(row.record, schema, text=text)
    missing = validate_record(record, schema, identities)
    if missing:
        sink.reject(number, REQUIRED_ERROR, missing[0].message, record)
        errors = [{"code": "1555", "message": e.message} for e in missing]
        sink.write("failed", {**record, "_errors": errors})
        sink.write("conversion", {**record, "_errors": errors, "_filename": "conversion_errors_0.json"})
        return None
    problems = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if problems:
        sink.reject(number, CORRUPT_ERROR, f"The row does not conform to the schema: {problems[0].message}", record)
        sink.write("failed", {**record, "_validationErrors": [_validation_error(e) for e in problems]})
        return None
    return record


def _validation_error(error: Any) -> dict[str, Any]:
    """A ``jsonschema`` error in the failed-records shape of retrieve-failed-batches.md."""
    return {
        "causingExceptions": [],
        "keyword": error.validator,
        "message": error.message,
        "pointerToViolation": "#/" + "/".join(str(p) for p in error.absolute_path),
        "schemaLocation": "#/" + "/".join(str(p) for p in error.absolute_schema_path),
    }


def process(state: EmulatorState, store: Store, batch: dict[str, Any], now: int) -> None:
    """Read, check and land a batch's files; set its metrics, errors and final status."""
    spool = state.backend(Spool)
    dataset_id = dataset_of(batch)
    dataset = find_dataset(store, dataset_id)
    sink = _Sink(spool)
    file_errors: list[dict[str, Any]] = []
    landed: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    number = 0
    try:
        if dataset is None:
            raise FileError("INGEST-1404-400", f"The dataset '{dataset_id}' no longer exists.")
        schema_id = dataset["schemaRef"]["id"]
        schema = record_json_schema(store, schema_id, primary_identity=False)
        identities = primary_identity_paths(store, {"$id": schema_id})
        checks = (schema, Draft7Validator(schema), identities, batch["inputFormat"]["format"] == "csv")
        for path, item in batch["_files"].items():
            counts[path] = 0
            if item["size"] == 0:
                file_errors.append({"code": EMPTY_FILE, "description": DESCRIPTIONS[EMPTY_FILE], "rows": []})
                continue
            try:
                for row in rows(spool.path(item["key"]), batch["inputFormat"]):
                    number += 1
                    counts[path] += 1
                    record = _check(row, number, path, sink, checks)
                    if record is not None:
                        landed.append(record)
            except FileError as exc:
                file_errors.append({"code": exc.code, "description": f"{exc.message} ({path})", "rows": []})
    except FileError as exc:
        file_errors.append({"code": exc.code, "description": exc.message, "rows": []})
    except ApiError as exc:  # the dataset's schema is gone
        file_errors.append({"code": "INGEST-1404-400", "description": f"The dataset's schema cannot be read: {exc}"})
    finally:
        batch["_outputs"] = sink.close()
    _finish(store, batch, now, sink, file_errors, landed, number, counts)


def _finish(
    store: Store,
    batch: dict[str, Any],
    now: int,
    sink: _Sink,
    file_errors: list[dict[str, Any]],
    landed: list[dict[str, Any]],
    read: int,
    counts: dict[str, int],
) -> None:
    diagnostics, threshold = batch["_diagnostics"], batch["_threshold"]
    failed = sink.total
    too_many = failed > 0 and (threshold is None or failed * 100 / max(read, 1) > threshold)
    status = "failed" if file_errors or too_many else "success"
    output = len(landed) if status == "success" else 0
    errors = list(file_errors)
    if failed and status == "success":
        summary = f"Encountered {failed} errors in the data. Successfully ingested {output} rows."
        errors.append({"code": SUMMARY, "description": summary + " Review the associated diagnostic files."})
    if failed and not diagnostics:
        message = f"Encountered {failed} errors in the data. Please resend the data with error diagnostics enabled."
        errors.append({"code": NO_DIAGNOSTICS, "description": message})
    elif failed:
        for code in sorted(sink.counts):
            entry = {"code": code, "description": sink.first[code], "rows": _ranges(sink.rows[code])}
            errors.append({**entry, "recordCount": sink.counts[code]})
    size = sum(item["size"] for item in batch["_files"].values())
    batch["metrics"] = {
        "inputByteSize": size,
        "inputFileCount": len(batch["_files"]),
        "inputRecordCount": read,
        "outputRecordCount": output,
        "failedRecordCount": read - output,
    }
    batch.update(recordCount=output, failedRecordCount=read - output, size=size)
    if errors:
        batch["errors"] = errors
    batch["_file_records"] = counts
    batch["_failed_records"] = sink.kept
    finish_batch(store, batch, status, now)
    if status == "success":
        catalog(store).landed.setdefault(dataset_of(batch), {})[batch["id"]] = landed
        replay = batch.get("replay") or {}
        if replay.get("reason") == "replace":
            for predecessor in replay.get("predecessors", []):
                old = store["batches"].get(predecessor)
                if old is not None and old["status"] in ("success", "active"):
                    revert(store, old, now)

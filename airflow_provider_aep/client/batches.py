"""A Catalog batch read as a summary (status, counts, error codes) and the verdict on it, shared by the batch
operator, sensor and trigger (no HTTP here).

Catalog's metrics differ by source and batch age (notes: ``inputRecordCount``/``outputRecordCount``/
``failedRecordCount`` on new batches, ``recordCount`` or ``recordsWritten`` on others), so they are read as an
open map with fallbacks. Statuses are compared lower-case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from airflow_provider_aep.client.models import FailedRecordsPolicy

BatchPhase = Literal["running", "success", "failed"]
SUCCEEDED_STATUSES = frozenset({"success", "active"})
FAILED_STATUSES = frozenset({"failed", "failure", "aborted", "abandoned", "inactive", "deleted", "stalled"})
TERMINAL_STATUSES = SUCCEEDED_STATUSES | FAILED_STATUSES


def _count(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def batch_summary(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe summary of a Catalog batch that tasks return, log and put in asset events."""
    metrics = batch.get("metrics") if isinstance(batch.get("metrics"), Mapping) else {}
    assert isinstance(metrics, Mapping)
    records = _count(metrics.get("outputRecordCount"), batch.get("recordCount"), metrics.get("recordsWritten"))
    failed = _count(metrics.get("failedRecordCount"), batch.get("failedRecordCount"), metrics.get("recordsFailed"))
    errors = [e for e in batch.get("errors") or [] if isinstance(e, Mapping)]
    datasets = [o.get("id") for o in batch.get("relatedObjects") or [] if isinstance(o, Mapping)]
    started, completed = batch.get("started"), batch.get("completed")
    duration = (completed - started) / 1000 if isinstance(started, int) and isinstance(completed, int) else None
    return {
        "id": str(batch.get("id") or ""),
        "status": str(batch.get("status") or "").lower(),
        "external_id": batch.get("externalId"),
        "dataset_id": datasets[0] if datasets else None,
        "input_records": _count(metrics.get("inputRecordCount")),
        "records": records,
        "failed_records": failed or 0,
        "input_files": _count(metrics.get("inputFileCount")),
        "bytes": _count(metrics.get("inputByteSize"), batch.get("size")),
        "duration_seconds": duration,
        "error_codes": sorted({str(e["code"]) for e in errors if e.get("code")}),
        "errors": [
            {"code": e.get("code"), "description": e.get("description"), "records": e.get("recordCount")}
            for e in errors
        ],
        "created": batch.get("created"),
    }


def describe_errors(summary: Mapping[str, Any], limit: int = 5) -> str:
    errors = summary.get("errors") or []
    if not errors:
        return "no errors reported"
    text = "; ".join(f"{e.get('code')}: {e.get('description')}" for e in errors[:limit])
    return text + (f" (+{len(errors) - limit} more)" if len(errors) > limit else "")


def batch_verdict(summary: Mapping[str, Any], failed_records_policy: FailedRecordsPolicy) -> tuple[BatchPhase, str]:
    """``(phase, message)`` of a batch summary, after applying the policy to a success with failed records."""
    batch_id, status = summary["id"], summary["status"]
    if status not in TERMINAL_STATUSES:
        return "running", f"batch {batch_id} is {status}"
    if status in FAILED_STATUSES:
        return "failed", f"batch {batch_id} ended {status}: {describe_errors(summary)}"
    records, failed = summary.get("records"), summary.get("failed_records") or 0
    landed = f"{records if records is not None else '?'} records ingested"
    if failed and failed_records_policy == "fail":
        return "failed", (
            f"batch {batch_id} ended {status} but {failed} records failed (failed_records_policy='fail'): "
            f"{describe_errors(summary)}"
        )
    if failed:
        return "success", f"batch {batch_id} ended {status}, {landed}, {failed} records failed"
    return "success", f"batch {batch_id} ended {status}, {landed}"


__all__ = [
    "FAILED_STATUSES",
    "SUCCEEDED_STATUSES",
    "TERMINAL_STATUSES",
    "BatchPhase",
    "batch_summary",
    "batch_verdict",
    "describe_errors",
]

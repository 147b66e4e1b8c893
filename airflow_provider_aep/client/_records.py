"""The dataclasses of ``client.models`` (``CreatedResource``, ``FlowRun``), in a module of their own.

``client.models`` is imported on every DAG parse (the operators use its constants and ``dig``), and building
a frozen dataclass compiles its generated methods: for these two, a third of the provider's import cost in a
DAG processor (callgrind). ``client.models`` exports both names, importing this module on first use, so
``from airflow_provider_aep.client.models import FlowRun`` is the import to write. This module reads answers
with :mod:`._vocabulary`, never with ``client.models``, which imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_aep.client._vocabulary import RunPhase, dig, run_phase
from airflow_provider_aep.client.errors import AEPResponseError


@dataclass(frozen=True)
class CreatedResource:
    """Id and etag of a resource; ``created`` is False when an existing one was reused."""

    id: str
    etag: str | None = None
    created: bool = True
    resource: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The resource as listed, when it was found by a lookup (saves a GET for callers that inspect it)."""

    @classmethod
    def from_body(cls, body: Any, *, method: str, url: str, status: int) -> CreatedResource:
        """Accept ``{"id","etag"}``, ``{"items":[{"id","etag"}]}`` or a full resource object."""
        item = body
        if isinstance(body, Mapping) and isinstance(body.get("items"), list) and "id" not in body:
            item = body["items"][0] if body["items"] else None
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
            raise AEPResponseError("no 'id' in the create response", method=method, url=url, status=status)
        etag = item.get("etag")
        return cls(id=item["id"], etag=etag if isinstance(etag, str) else None)

    @classmethod
    def from_resource(cls, item: Mapping[str, Any], *, created: bool) -> CreatedResource:
        return cls(id=str(item["id"]), etag=item.get("etag"), created=created, resource=item)


def _int(value: Any) -> int | None:
    """An integer metric, or None for anything else (AEP omits metrics a run does not have yet)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _batches(activities: Any) -> dict[str, list[str]]:
    """``{target connection id: [batch id, ...]}`` from the activities' ``targetInfo`` (promotion activity)."""
    found: dict[str, list[str]] = {}
    for activity in activities if isinstance(activities, list) else []:
        targets = activity.get("targetInfo") if isinstance(activity, Mapping) else None
        for target in targets if isinstance(targets, list) else []:
            reference = target.get("reference") if isinstance(target, Mapping) else None
            if not isinstance(reference, Mapping) or str(reference.get("type", "")).lower() != "batch":
                continue
            ids = found.setdefault(str(target.get("id") or ""), [])
            for batch in reference.get("ids") or []:
                if isinstance(batch, str) and batch and batch not in ids:
                    ids.append(batch)
    return found


@dataclass(frozen=True)
class FlowRun:
    """The parts of a run that decide what a sensor does, plus a JSON-safe summary."""

    id: str
    flow_id: str | None
    status: str
    phase: RunPhase
    input_records: int | None = None
    output_records: int | None = None
    failed_records: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    started_at: int | None = None
    completed_at: int | None = None
    created_at: int | None = None
    """Epoch milliseconds; how a flow-id wait tells this DAG run's ingestion from an older one."""
    params: dict[str, Any] = field(default_factory=dict)
    """The run's window and delta column (``windowStartTime``, ...), empty for a scheduled run."""
    sample_errors_url: str | None = None
    """Where AEP keeps sample rows that failed (the promotion activity's manifest), if any failed."""
    input_bytes: int | None = None
    output_bytes: int | None = None
    """``metrics.sizeSummary``: bytes read from the source and written to the datasets."""
    duration_ms: int | None = None
    """``completedAtUTC - startedAtUTC`` (milliseconds), once the run has both."""
    batch_id: str | None = None
    """The first batch the run wrote (``activities[].targetInfo[].reference`` of type ``Batch``)."""
    batches: dict[str, list[str]] = field(default_factory=dict)
    """Target connection id -> the batch ids the run wrote through it (one per dataset for a source flow)."""

    @classmethod
    def from_api(cls, item: Mapping[str, Any], *, url: str = "") -> FlowRun:
        if not isinstance(item, Mapping) or not item.get("id"):
            raise AEPResponseError("run without an 'id'", method="GET", url=url, status=200)
        status = dig(item, "metrics.statusSummary.status") or item.get("state") or item.get("status")
        if not isinstance(status, str) or not status:
            raise AEPResponseError(f"run {item['id']} has no status", method="GET", url=url, status=200)
        try:
            phase = run_phase(status)
        except ValueError as err:
            raise AEPResponseError(f"run {item['id']}: {err}", method="GET", url=url, status=200) from None
        records = dig(item, "metrics.recordSummary") or {}
        errors: list[dict[str, str]] = []
        sources: list[Any] = [dig(item, "metrics.statusSummary.errors") or [], item.get("errors") or []]
        sample_errors = None
        for activity in item.get("activities") or []:
            # Record-level causes (MAPPER-/INGEST- codes) sit in the activity's status extensions.
            extensions = dig(activity, "statusSummary.extensions") or {}
            if isinstance(extensions, Mapping):
                sources.append(extensions.get("errors") or [])
                sample_errors = sample_errors or dig(extensions, "manifest.sampleErrors")
        for source in sources:
            for entry in source if isinstance(source, list) else []:
                if isinstance(entry, Mapping):
                    error = {"code": str(entry.get("code", "")), "message": str(entry.get("message", ""))}
                    if error not in errors:
                        errors.append(error)
        started_at = _int(dig(item, "metrics.durationSummary.startedAtUTC"))
        completed_at = _int(dig(item, "metrics.durationSummary.completedAtUTC"))
        batches = _batches(item.get("activities"))
        return cls(
            id=str(item["id"]),
            flow_id=item.get("flowId"),
            status=status,
            phase=phase,
            input_records=records.get("inputRecordCount"),
            output_records=records.get("outputRecordCount"),
            failed_records=int(records.get("failedRecordCount") or 0),
            errors=errors,
            started_at=started_at,
            completed_at=completed_at,
            created_at=item.get("createdAt") if isinstance(item.get("createdAt"), int) else None,
            params=dict(item["params"]) if isinstance(item.get("params"), Mapping) else {},
            sample_errors_url=sample_errors if isinstance(sample_errors, str) else None,
            input_bytes=_int(dig(item, "metrics.sizeSummary.inputBytes")),
            output_bytes=_int(dig(item, "metrics.sizeSummary.outputBytes")),
            duration_ms=completed_at - started_at if started_at is not None and completed_at is not None else None,
            batch_id=next((ids[0] for ids in batches.values() if ids), None),
            batches=batches,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe_errors(self) -> str:
        return "; ".join(f"{e['code']}: {e['message']}" for e in self.errors) or "no error details"

"""What a run reports as it goes: status, metrics and activities for its phase (scheduled, in progress, terminal).

A finished run of a dataset-backed flow ingests for real through ``state.ingestion`` (set up by the app, see
:mod:`aep_emulator.ingestion`) and reports its real counts and errors; any other run reports deterministic random
metrics seeded by its id.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from ..core.state import EmulatorState, Store

TERMINAL = ("success", "failed")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass
class _Promotion:
    """What a finished run's promotion activity reports: its status, batch, record counts, bytes and files."""

    status: str
    batch_id: str
    input_count: int
    output_count: int
    failed_count: int
    input_bytes: int
    output_bytes: int
    output_files: int


def _simulated_errors(failed: int) -> list[dict[str, Any]]:
    return [
        {"code": "INGEST-1212-400", "message": "Encountered invalid rows in the source data."},
        {"code": "MAPPER-3700-400", "recordCount": failed, "message": "Mapper Transform Error"},
    ]


def _batch_id(rng: random.Random) -> str:
    return "01" + "".join(rng.choice(_CROCKFORD) for _ in range(24))


def _copy_activity(run: dict[str, Any], status: str, rng: random.Random, records: int, size: int) -> dict:
    duration: dict[str, Any] = {"startedAtUTC": run["_start"]}
    if status in TERMINAL:
        duration["completedAtUTC"] = run["_end"] - 1000 if run["_end"] - run["_start"] > 1000 else run["_end"]
    if run["_window"]:
        duration["extensions"] = {"windowStart": run["_window"][0], "windowEnd": run["_window"][1]}
    activity: dict[str, Any] = {
        "id": "copyActivity",
        "updatedAtUTC": run["updatedAt"],
        "durationSummary": duration,
        "sizeSummary": {"inputBytes": size, "outputBytes": size},
        "recordSummary": {"inputRecordCount": records, "outputRecordCount": records},
        "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
        "statusSummary": {
            "status": status,
            "extensions": {"type": "one-time" if run["_trigger"] == "onDemand" else "incremental"},
        },
        "sourceInfo": [
            {
                "id": source_id,
                "type": "SourceConnection",
                "reference": {"type": "AdfRunId", "ids": [str(uuid.UUID(int=rng.getrandbits(128), version=4))]},
            }
            for source_id in run["_sources"]
        ],
    }
    if status == "failed":
        activity["statusSummary"]["errors"] = [_copy_error()]
    return activity


def _copy_error() -> dict[str, str]:
    return {"code": "CONNECTOR-2001-500", "message": "Error occurred at copy activity."}


def render(run: dict[str, Any], phase: str, state: EmulatorState | None = None, store: Store | None = None) -> None:
    """Fill the status-dependent fields of ``run`` for ``phase`` (ingesting for real when it can)."""
    rng = random.Random(run["id"])
    records = rng.randint(100, 5000)
    size = records * rng.randint(120, 400)
    outcome, failed = run["_outcome"], run["_failed"]
    wanted = phase == "inProgress" or (phase == "terminal" and outcome != "failed")
    ingestion = state.ingestion if state is not None else None
    plan = ingestion.plan(store, run) if wanted and ingestion is not None and store is not None else None
    if plan is not None:
        records = run.get("_rows", records)
        size = records * 180
    if phase == "scheduled":
        run.update(state="scheduled", updatedAt=run["createdAt"], activities=[])
        run["metrics"] = {"statusSummary": {"status": "scheduled"}}
        return
    if phase == "inProgress":
        run.update(state="inProgress", updatedAt=run["_start"])
        run["metrics"] = {
            "durationSummary": {"startedAtUTC": run["_start"]},
            "statusSummary": {"status": "inProgress"},
        }
        run["activities"] = [_copy_activity(run, "inProgress", rng, records, size)]
        return
    run["updatedAt"] = run["_end"]
    if outcome == "failed":
        run["state"] = "failed"
        run["metrics"] = {
            "durationSummary": {"startedAtUTC": run["_start"], "completedAtUTC": run["_end"]},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": failed},
            "fileSummary": {"inputFileCount": 0, "outputFileCount": 0, "activityRefs": ["copyActivity"]},
            "statusSummary": {"status": "failed", "errors": [_copy_error()], "activityRefs": ["copyActivity"]},
        }
        run["activities"] = [_copy_activity(run, "failed", rng, 0, 0)]
        return
    failed = max(failed, 1) if outcome == "partial" else 0
    batch = _batch_id(rng)
    if plan is not None and ingestion is not None and state is not None and store is not None:
        result = ingestion.ingest(state, store, run, plan, batch, failed)
        # The run fails when no record landed although some were read (or the flow's partial-ingestion threshold
        # was exceeded); a forced ``partial`` outcome stays a success.
        status = "failed" if result.status == "failed" and outcome != "partial" else "success"
        landed = len(result.landed)
        promotion = _Promotion(
            status,
            result.batch_id,
            result.input_count,
            landed,
            result.failed_count,
            result.input_bytes,
            result.output_bytes,
            output_files=1 if landed else 0,
        )
        _render_promoted(run, promotion, rng, result.promotion_errors())
        return
    failed = min(failed, records)
    promotion = _Promotion("success", batch, records, records - failed, failed, size, int(size * 0.7), output_files=1)
    _render_promoted(run, promotion, rng, _simulated_errors(failed))


def _render_promoted(run: dict[str, Any], p: _Promotion, rng: random.Random, details: list[dict[str, Any]]) -> None:
    """Terminal metrics and activities of a run that got as far as promotion; ``details`` are the error codes its
    promotion reports when records failed."""
    status_summary: dict[str, Any] = {"status": p.status, "activityRefs": ["promotionActivity"]}
    record_summary = {
        "inputRecordCount": p.input_count,
        "outputRecordCount": p.output_count,
        "failedRecordCount": p.failed_count,
    }
    size_summary = {"inputBytes": p.input_bytes, "outputBytes": p.output_bytes}
    promotion: dict[str, Any] = {
        "id": "promotionActivity",
        "updatedAtUTC": run["_end"],
        "durationSummary": {"startedAtUTC": run["_end"] - 1000, "completedAtUTC": run["_end"]},
        "sizeSummary": dict(size_summary),
        "recordSummary": dict(record_summary),
        "fileSummary": {"inputFileCount": 1, "outputFileCount": p.output_files},
        "statusSummary": {"status": p.status},
        "targetInfo": [
            {"id": target_id, "type": "TargetConnection", "reference": {"type": "Batch", "ids": [p.batch_id]}}
            for target_id in run["_targets"]
        ],
    }
    if p.failed_count:
        error = {"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}
        status_summary["errors"] = [error]
        base = f"https://platform.adobe.io/data/foundation/export/batches/{p.batch_id}/meta?path="
        promotion["statusSummary"].update(
            errors=[error],
            extensions={
                "manifest": {"failedRecords": base + "row_errors", "sampleErrors": base + "row_error_samples.json"},
                "errors": details,
            },
        )
    run["state"] = p.status
    run["metrics"] = {
        "durationSummary": {"startedAtUTC": run["_start"], "completedAtUTC": run["_end"]},
        "sizeSummary": size_summary,
        "recordSummary": record_summary,
        "fileSummary": {"inputFileCount": 1, "outputFileCount": p.output_files, "activityRefs": ["promotionActivity"]},
        "statusSummary": status_summary,
    }
    run["activities"] = [_copy_activity(run, "success", rng, p.input_count, p.input_bytes), promotion]

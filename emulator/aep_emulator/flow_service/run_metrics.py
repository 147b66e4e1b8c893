"""What a run reports as it goes: status, metrics and activities for its phase (scheduled, in progress, terminal).

A finished run of a dataset-backed flow ingests for real through ``state.ingestion`` (set up by the app, see
:mod:`aep_emulator.ingestion`) and reports its real counts and errors; any other run reports deterministic random
metrics seeded by its id.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from ..core.state import EmulatorState, IngestionResult, Store

TERMINAL = ("success", "failed")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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
    if plan is not None and ingestion is not None and state is not None and store is not None:
        batch = _batch_id(rng)
        result = ingestion.ingest(state, store, run, plan, batch, failed)
        _render_ingested(run, result, rng, forced_partial=outcome == "partial")
        return
    failed = min(failed, records)
    output_bytes = int(size * 0.7)
    status_summary: dict[str, Any] = {"status": "success", "activityRefs": ["promotionActivity"]}
    batch = _batch_id(rng)
    promotion: dict[str, Any] = {
        "id": "promotionActivity",
        "updatedAtUTC": run["_end"],
        "durationSummary": {"startedAtUTC": run["_end"] - 1000, "completedAtUTC": run["_end"]},
        "sizeSummary": {"inputBytes": size, "outputBytes": output_bytes},
        "recordSummary": {
            "inputRecordCount": records,
            "outputRecordCount": records - failed,
            "failedRecordCount": failed,
        },
        "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
        "statusSummary": {"status": "success"},
        "targetInfo": [
            {"id": target_id, "type": "TargetConnection", "reference": {"type": "Batch", "ids": [batch]}}
            for target_id in run["_targets"]
        ],
    }
    if failed:
        error = {"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}
        status_summary["errors"] = [error]
        base = f"https://platform.adobe.io/data/foundation/export/batches/{batch}/meta?path="
        promotion["statusSummary"].update(
            errors=[error],
            extensions={
                "manifest": {"failedRecords": base + "row_errors", "sampleErrors": base + "row_error_samples.json"},
                "errors": [
                    {"code": "INGEST-1212-400", "message": "Encountered invalid rows in the source data."},
                    {"code": "MAPPER-3700-400", "recordCount": failed, "message": "Mapper Transform Error"},
                ],
            },
        )
    run["state"] = "success"
    run["metrics"] = {
        "durationSummary": {"startedAtUTC": run["_start"], "completedAtUTC": run["_end"]},
        "sizeSummary": {"inputBytes": size, "outputBytes": output_bytes},
        "recordSummary": {
            "inputRecordCount": records,
            "outputRecordCount": records - failed,
            "failedRecordCount": failed,
        },
        "fileSummary": {"inputFileCount": 1, "outputFileCount": 1, "activityRefs": ["promotionActivity"]},
        "statusSummary": status_summary,
    }
    run["activities"] = [_copy_activity(run, "success", rng, records, size), promotion]


def _render_ingested(run: dict[str, Any], result: IngestionResult, rng: random.Random, forced_partial: bool) -> None:
    """Terminal metrics from an ingestion result: real counts, failed records and their error codes.

    The run fails when no record landed although some were read (or the flow's partial-ingestion threshold
    was exceeded); a forced ``partial`` outcome stays a success.
    """
    records, landed, failed = result.input_count, len(result.landed), result.failed_count
    status = "failed" if result.status == "failed" and not forced_partial else "success"
    status_summary: dict[str, Any] = {"status": status, "activityRefs": ["promotionActivity"]}
    record_summary = {"inputRecordCount": records, "outputRecordCount": landed, "failedRecordCount": failed}
    promotion: dict[str, Any] = {
        "id": "promotionActivity",
        "updatedAtUTC": run["_end"],
        "durationSummary": {"startedAtUTC": run["_end"] - 1000, "completedAtUTC": run["_end"]},
        "sizeSummary": {"inputBytes": result.input_bytes, "outputBytes": result.output_bytes},
        "recordSummary": dict(record_summary),
        "fileSummary": {"inputFileCount": 1, "outputFileCount": 1 if landed else 0},
        "statusSummary": {"status": status},
        "targetInfo": [
            {"id": target_id, "type": "TargetConnection", "reference": {"type": "Batch", "ids": [result.batch_id]}}
            for target_id in run["_targets"]
        ],
    }
    if failed:
        error = {"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}
        status_summary["errors"] = [error]
        base = f"https://platform.adobe.io/data/foundation/export/batches/{result.batch_id}/meta?path="
        promotion["statusSummary"].update(
            errors=[error],
            extensions={
                "manifest": {"failedRecords": base + "row_errors", "sampleErrors": base + "row_error_samples.json"},
                "errors": result.promotion_errors(),
            },
        )
    run["state"] = status
    run["metrics"] = {
        "durationSummary": {"startedAtUTC": run["_start"], "completedAtUTC": run["_end"]},
        "sizeSummary": {"inputBytes": result.input_bytes, "outputBytes": result.output_bytes},
        "recordSummary": record_summary,
        "fileSummary": {
            "inputFileCount": 1,
            "outputFileCount": 1 if landed else 0,
            "activityRefs": ["promotionActivity"],
        },
        "statusSummary": status_summary,
    }
    run["activities"] = [_copy_activity(run, "success", rng, records, result.input_bytes), promotion]

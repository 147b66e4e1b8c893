"""run_verdict: the one rule the sensor and the trigger share for terminal states and failed records."""

from __future__ import annotations

import pytest

from airflow_provider_aep.client.models import FlowRun, newest_run, run_verdict


def run(status: str, *, failed: int = 0, errors=()) -> FlowRun:
    return FlowRun.from_api(
        {
            "id": "run-1",
            "flowId": "flow-1",
            "metrics": {
                "statusSummary": {"status": status, "errors": list(errors)},
                "recordSummary": {"inputRecordCount": 5, "outputRecordCount": 5 - failed, "failedRecordCount": failed},
            },
        }
    )


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("scheduled", "running"),
        ("QUEUED", "running"),
        ("inProgress", "running"),
        ("IN_PROGRESS", "running"),
        ("success", "success"),
        ("SUCCESS", "success"),
        ("partialSuccess", "success"),
        ("PARTIAL_SUCCESS", "success"),
        ("completed", "success"),
        ("Failed", "failed"),
        ("PARTIAL_FAILURE", "failed"),
    ],
)
def test_statuses_are_compared_case_insensitively(status, phase):
    assert run_verdict(run(status))[0] == phase


def test_failed_message_lists_codes():
    phase, message = run_verdict(run("failed", errors=[{"code": "INGEST-1212-400", "message": "bad row"}]))
    assert phase == "failed" and "INGEST-1212-400: bad row" in message


@pytest.mark.parametrize(("policy", "phase"), [("ignore", "success"), ("warn", "success"), ("fail", "failed")])
def test_failed_records_policy(policy, phase):
    verdict, message = run_verdict(run("success", failed=2), policy)
    assert verdict == phase and "2 records failed" in message


def test_newest_run_does_not_trust_the_server_order():
    items = [{"id": "a", "createdAt": 3, "state": "success"}, {"id": "b", "createdAt": 9, "state": "inProgress"}]
    assert newest_run({"items": items}, url="/runs").id == "b"
    assert newest_run({"items": []}, url="/runs") is None

"""AEPFlowRunSensor: poke mode, deferral to AEPFlowRunTrigger, execute_complete, failed-records policy."""

from __future__ import annotations

import asyncio
import time
from unittest import mock

import pytest
import responses
from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep.exceptions import AEPFlowRunFailedError, AEPInvalidArgumentError
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor
from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger
from tests.airflow_compat import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from tests.operators.conftest import FS

ERRORS = [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}]


def run_doc(status: str, *, failed: int = 0, errors=(), run_id: str = "run-1", flow_id: str = "flow-1") -> dict:
    return {
        "id": run_id,
        "flowId": flow_id,
        "createdAt": 1,
        "metrics": {
            "statusSummary": {"status": status, "errors": list(errors)},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 10 - failed, "failedRecordCount": failed},
        },
    }


def sensor(**kwargs) -> AEPFlowRunSensor:
    if "flow_id" not in kwargs:
        kwargs.setdefault("run_id", "run-1")
    kwargs.setdefault("poke_interval", 0)
    kwargs.setdefault("deferrable", False)
    return AEPFlowRunSensor(task_id="wait", **kwargs)


def stub_run(http, *docs: dict) -> None:
    for doc in docs:
        http.add(responses.GET, FS + "/runs/run-1", json={"items": [doc]})


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"run_id": None, "flow_id": None}, "run_id"), ({"failed_records_policy": "loud"}, "failed_records_policy")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        sensor(**kwargs)
    assert err.value.argument == argument


def test_templated_fields_and_default_deferrable():
    assert set(AEPFlowRunSensor.template_fields) == {"flow_id", "run_id", "not_before"}
    assert AEPFlowRunSensor(task_id="w", run_id="r").deferrable is False  # [operators] default_deferrable


# --------------------------------------------------------------------------- poke
def test_poke_running_then_done(aep_http, context):
    stub_run(aep_http, run_doc("inProgress"), run_doc("Success"))
    op = sensor()
    assert op.poke(context) is False
    done = op.poke(context)
    assert done.is_done and done.xcom_value["status"] == "Success" and done.xcom_value["output_records"] == 10
    assert context["ti"].xcoms["aep_flow_run"] == {
        "org_id": "0123456789ABCDEF01234567@AdobeOrg",
        "sandbox": "prod",
        "id": "run-1",
        "flow_id": "flow-1",
    }


def test_poke_failed_run_raises_with_the_error_codes(aep_http, context):
    stub_run(aep_http, run_doc("FAILED", errors=ERRORS))
    with pytest.raises(AEPFlowRunFailedError, match="CONNECTOR-2001-500: Error occurred at promotion") as err:
        sensor().poke(context)
    assert err.value.run["id"] == "run-1"


def test_partial_ingestion_warns_by_default(aep_http, context):
    stub_run(aep_http, run_doc("success", failed=3))
    op = sensor()
    with mock.patch.object(type(op), "log", new_callable=mock.PropertyMock) as log:
        assert op.poke(context).xcom_value["failed_records"] == 3
    log.return_value.warning.assert_called_once()
    assert "3 records failed" in log.return_value.warning.call_args.args[1]


def test_partial_ingestion_fails_with_policy_fail(aep_http, context):
    stub_run(aep_http, run_doc("success", failed=3, errors=[{"code": "MAPPER-3700-400", "message": "Mapper"}]))
    with pytest.raises(AEPFlowRunFailedError, match=r"3 records failed.*MAPPER-3700-400"):
        sensor(failed_records_policy="fail").poke(context)


def test_flow_without_runs_keeps_waiting(aep_http, context):
    aep_http.add(responses.GET, FS + "/runs", json={"items": [], "_links": {}})
    assert sensor(flow_id="flow-1").poke(context) is False


def test_run_of_another_flow_is_rejected(aep_http, context):
    stub_run(aep_http, run_doc("success", flow_id="flow-9"))
    with pytest.raises(AEPInvalidArgumentError, match="flow-9"):
        sensor(run_id="run-1", flow_id="flow-1").poke(context)


def test_rendered_empty_ids_fail_before_any_request(aep_http, context):
    op = sensor(run_id="{{ ti.xcom_pull('run') }}")
    op.run_id = ""
    with pytest.raises(AEPInvalidArgumentError, match="rendered empty"):
        op.poke(context)
    assert not aep_http.calls


def test_poke_mode_execute_returns_the_summary(aep_http, context):
    stub_run(aep_http, run_doc("scheduled"), run_doc("inProgress"), run_doc("success"))
    assert sensor().execute(context)["status"] == "success"


def test_poke_mode_timeout(aep_http, context):
    stub_run(aep_http, run_doc("inProgress"))
    with pytest.raises(AirflowSensorTimeout):
        sensor(timeout=0).execute(context)


# --------------------------------------------------------------------------- deferral
def test_deferrable_checks_once_then_defers_with_json_safe_kwargs(aep_http, context):
    stub_run(aep_http, run_doc("inProgress"))
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(
            deferrable=True,
            run_id="run-1",
            flow_id="flow-1",
            poke_interval=30,
            timeout=600,
            failed_records_policy="fail",
        ).execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, AEPFlowRunTrigger)
    assert deferred.value.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    assert kwargs["deadline"] == pytest.approx(before + 600, abs=5)
    assert {k: v for k, v in kwargs.items() if k != "deadline"} == {
        "aep_conn_id": "aep_default",
        "flow_id": "flow-1",
        "run_id": "run-1",
        "poll_interval": 30.0,
        "failed_records_policy": "fail",
        "not_before": None,  # a run id names its run: no age bound needed
    }


def test_deferrable_does_not_defer_a_run_that_already_ended(aep_http, context):
    stub_run(aep_http, run_doc("success"))
    assert sensor(deferrable=True).execute(context)["id"] == "run-1"


def test_deferrable_soft_fail_skips_a_failed_run(aep_http, context):
    stub_run(aep_http, run_doc("failed", errors=ERRORS))
    with pytest.raises(AirflowSkipException):
        sensor(deferrable=True, soft_fail=True).execute(context)


def event(status: str, run: dict | None, message: str = "msg") -> dict:
    return {"status": status, "run": run, "message": message}


SUMMARY = {"id": "run-1", "flow_id": "flow-1", "status": "success", "failed_records": 0}


def test_execute_complete_success(aep_http, context):
    assert sensor().execute_complete(context, event("success", SUMMARY)) == SUMMARY
    assert context["ti"].xcoms["aep_flow_run"]["id"] == "run-1"


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        (
            event("failed", {**SUMMARY, "status": "failed"}, "run run-1 ended failed: X-1-500: boom"),
            AEPFlowRunFailedError,
            "X-1-500",
        ),
        (event("timeout", None, "Timed out waiting"), AirflowSensorTimeout, "Timed out"),
        (event("error", None, "AEPAuthError: HTTP 403"), AirflowException, "HTTP 403"),
        (None, AirflowException, "no usable event"),
        ({"unexpected": 1}, AirflowException, "no usable event"),
    ],
)
def test_execute_complete_failures(aep_http, context, payload, error, match):
    with pytest.raises(error, match=match):
        sensor().execute_complete(context, payload)


# --------------------------------------------------------------------------- against the emulator
@pytest.fixture
def started_run(emulator, context, pipeline) -> tuple[str, str]:
    """A fresh on-demand run (the flow's own scheduled run has finished)."""
    from airflow_provider_aep.operators.runs import TriggerFlowRunOperator

    emulator.control.advance_clock(60)
    # the flow's own run copied every row; changed rows give this incremental run records to land (and fail)
    emulator.control.touch_rows("Hubspot.Contacts", 5)
    return pipeline["flow"], TriggerFlowRunOperator(task_id="t", flow_id=pipeline["flow"]).execute(context)


def test_emulator_poke_follows_the_clock(emulator, context, started_run):
    flow_id, run_id = started_run
    op = sensor(run_id=run_id, flow_id=flow_id)
    assert op.poke(context) is False
    emulator.control.advance_clock(60)
    done = op.poke(context)
    assert done.xcom_value["id"] == run_id and done.xcom_value["phase"] == "success"


def test_emulator_latest_run_by_flow_id(emulator, context, started_run):
    flow_id, run_id = started_run
    emulator.control.advance_clock(60)
    assert sensor(flow_id=flow_id).execute(context)["id"] == run_id


def test_flow_id_mode_ignores_a_run_older_than_the_dag_run(aep_http, context):
    """Before: yesterday's finished run satisfied today's DAG run at once."""
    from datetime import datetime, timezone

    old = {**run_doc("success"), "createdAt": 1_700_000_000_000}
    aep_http.add(responses.GET, FS + "/runs", json={"items": [old], "_links": {}})
    context["data_interval_start"] = datetime.fromtimestamp(1_700_000_100, tz=timezone.utc)
    assert sensor(flow_id="flow-1").poke(context) is False
    newer = {**run_doc("success", run_id="run-2"), "createdAt": 1_700_000_200_000}
    aep_http.replace(responses.GET, FS + "/runs", json={"items": [newer], "_links": {}})
    assert sensor(flow_id="flow-1").poke(context).xcom_value["id"] == "run-2"


def test_flow_id_mode_not_before_can_be_given_and_is_passed_to_the_trigger(aep_http, context):
    aep_http.add(responses.GET, FS + "/runs", json={"items": [run_doc("success")], "_links": {}})
    with pytest.raises(TaskDeferred) as deferred:
        sensor(flow_id="flow-1", not_before=1_700_000_000, deferrable=True).execute(context)
    assert deferred.value.trigger.serialize()[1]["not_before"] == 1_700_000_000.0


def test_not_before_rejects_garbage(aep_http, context):
    with pytest.raises(AEPInvalidArgumentError, match="'not_before'"):
        sensor(flow_id="flow-1", not_before="yesterday").poke(context)


def test_emulator_partial_run_with_policy_fail(emulator, context, started_run):
    _, run_id = started_run
    emulator.control.set_run_outcome(outcome="partial", run_id=run_id, failed_records=3)
    emulator.control.advance_clock(60)
    with pytest.raises(AEPFlowRunFailedError, match="3 records failed"):
        sensor(run_id=run_id, failed_records_policy="fail").execute(context)
    assert sensor(run_id=run_id, failed_records_policy="ignore").execute(context)["failed_records"] == 3


def test_emulator_deferred_round_trip(emulator, context, pipeline):
    from airflow_provider_aep.operators.runs import TriggerFlowRunOperator

    emulator.control.configure(run_start_delay=0.2, run_duration=0.2)
    emulator.control.advance_clock(60)
    run_id = TriggerFlowRunOperator(task_id="t", flow_id=pipeline["flow"]).execute(context)
    op = sensor(run_id=run_id, deferrable=True, poke_interval=0.05, timeout=30)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)  # the run is still scheduled for 0.2 s
    payload = asyncio.run(anext(deferred.value.trigger.run())).payload
    result = op.execute_complete(context, payload)
    assert result["id"] == run_id and result["phase"] == "success"

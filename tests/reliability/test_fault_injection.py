"""Fault injection: the onboarding pipeline under random mixes of 5xx, 429, timeouts, drops and half-done creates.

``AEP_FAULT_TRIALS`` trials (20 in the normal suite, 200 with ``make fault-suite``), seed ``AEP_FAULT_SEED``.
Each trial must end green or with a clear, typed failure, and leave exactly one resource per natural key
(0 duplicates, 0 orphans), also after a failed run is cleared and re-run. The figures are written to
``test-artifacts/reliability/fault-injection-<N>-trials.json`` and printed; docs/reliability.md quotes them.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.reliability.artifacts import write_artifact
from tests.reliability.pipeline import run_onboarding
from tests.reliability.trials import FS, plan_trial, resource_audit, run_trial, summarize

TRIALS = int(os.environ.get("AEP_FAULT_TRIALS", "20"))
SEED = int(os.environ.get("AEP_FAULT_SEED", "20261128"))


def test_randomized_fault_trials(fault_emulator):
    started = time.monotonic()
    outcomes = [run_trial(fault_emulator, plan_trial(SEED, i)) for i in range(TRIALS)]
    summary = summarize(outcomes, seed=SEED, seconds=time.monotonic() - started)
    short = {k: v for k, v in summary.items() if k not in ("failures", "problems")}
    write_artifact(f"fault-injection-{TRIALS}-trials.json", summary, headline=json.dumps(short, indent=2))

    assert summary["problems"] == [], json.dumps(summary["problems"], indent=2)
    assert summary["outcomes"]["failed_unclearly"] == 0
    assert summary["outcomes"]["green"] + summary["outcomes"]["failed_clearly"] == TRIALS
    assert summary["outcomes"]["green_after_clearing_the_failed_run"] == TRIALS - summary["outcomes"]["green"]
    assert (summary["duplicates"], summary["orphans"], summary["missing"]) == (0, 0, 0)
    assert summary["faults_injected_total"] >= TRIALS  # every trial really met at least one fault


def test_trial_plans_are_reproducible_and_cover_every_kind():
    assert plan_trial(SEED, 7) == plan_trial(SEED, 7)
    kinds = {f.kind for i in range(200) for f in plan_trial(SEED, i).faults}
    assert kinds == {
        "http_5xx",
        "http_429",
        "read_timeout",
        "drop",
        "commit_then_fail",
        "commit_then_drop",
        "slow_commit",
        "http_401",
        "persistent_5xx",
    }


# --------------------------------------------------------------------------- the reconciliation window, pinned
def _connections(emulator) -> list[dict]:
    return emulator.control.state()["connections"]


def _land(emulator, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(emulator.control.journal(method="POST", path=f"{FS}/connections")) < count:
        assert time.monotonic() < deadline, "the delayed create never reached the emulator"
        time.sleep(0.05)


def test_a_create_committed_after_the_client_gave_up_is_found_not_resent(fault_emulator):
    """The POST is processed 1.2 s late (read timeout 0.5 s): the lookups within the window find it."""
    fault_emulator.control.configure(run_start_delay=0.0, run_duration=0.0)
    fault_emulator.control.add_fault("POST", f"{FS}/connections", action="delay", latency=1.2)
    result = run_onboarding(connection_name="slow create", tables=["Hubspot.Contacts"])
    assert result.ok, result.failure
    _land(fault_emulator, 1)
    assert [c["id"] for c in _connections(fault_emulator)] == [result.base_connection_id]
    assert len(fault_emulator.control.journal(method="POST", path=f"{FS}/connections")) == 1


def test_a_create_committed_later_than_the_window_is_the_documented_limit(fault_emulator, caplog):
    """Processed 2.5 s late: after the read timeout (0.5 s) plus two read timeouts of lookups the provider
    sends the create again, and the late original lands as a second connection. The next run's lookup
    sees both, warns, and keeps using the oldest (the one the pipeline's ids refer to)."""
    fault_emulator.control.configure(run_start_delay=0.0, run_duration=0.0)
    fault_emulator.control.add_fault("POST", f"{FS}/connections", action="delay", latency=2.5)
    first = run_onboarding(connection_name="very slow create", tables=["Hubspot.Contacts"])
    assert first.ok, first.failure
    _land(fault_emulator, 2)
    made = sorted(_connections(fault_emulator), key=lambda c: c["createdAt"])
    assert len(made) == 2 and made[0]["id"] == first.base_connection_id
    again = run_onboarding(connection_name="very slow create", tables=["Hubspot.Contacts"])
    assert again.ok and again.base_connection_id == first.base_connection_id
    assert "2 connections match" in caplog.text
    audit = resource_audit(fault_emulator.control.state(), again, ["Hubspot.Contacts"])
    assert (audit["duplicates"], audit["orphans"]) == (1, 1)


# --------------------------------------------------------------------------- a few trials through dag.test()
DAG_ID = "aep_hubspot_onboarding"
DAG_TEST_TRIALS = int(os.environ.get("AEP_FAULT_DAG_TEST_TRIALS", "3"))
DAG_TEST_RETRIES = 3


@pytest.fixture
def onboarding_with_retries(airflow_db):
    """A private copy of the example DAG with ``retries=3`` and no retry delay on every task.

    Parsed from the DAG file into its own DagBag: running ``dag.test(run_conf=...)`` in-process leaves the
    conf's values in the DAG object's params, so the session DagBag's copy must not be used here.
    """
    from datetime import timedelta

    from airflow.dag_processing.dagbag import DagBag

    path = os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "hubspot_onboarding.py")
    bag = DagBag(dag_folder=path)
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(DAG_ID)
    for task in dag.tasks:
        task.retries, task.retry_delay = DAG_TEST_RETRIES, timedelta(0)
    return dag


def _pipeline_result_from_xcoms(dag_run, tables):
    from tests.conftest import xcoms_of
    from tests.reliability.pipeline import PipelineResult

    def value(raw):
        return json.loads(raw) if isinstance(raw, str) and raw.startswith('"') else raw

    xcoms = {k: value(v) for k, v in xcoms_of(dag_run).items() if k[2] == "return_value"}
    paths = value(xcoms.get(("explore_tables", -1, "return_value"))) or []
    paths = json.loads(paths) if isinstance(paths, str) else paths
    by_index = {task: {} for task in ("create_source_connection", "create_dataflow")}
    for (task, index, _), v in xcoms.items():
        if task in by_index:
            by_index[task][index] = v
    return PipelineResult(
        base_connection_id=xcoms.get(("create_base_connection", -1, "return_value")),
        tables=list(paths),
        source_connection_ids={paths[i]: v for i, v in by_index["create_source_connection"].items()},
        target_connection_id=xcoms.get(("create_target_connection", -1, "return_value")),
        flow_ids={str(i): v for i, v in by_index["create_dataflow"].items()},
    )


def test_fault_trials_through_dag_test_with_task_retries(onboarding_with_retries, fault_emulator):
    """dag.test() in 3.3 honours ``retries``: a task that fails a try goes up_for_retry and runs again.

    Each trial gets its random fault mix (without the persistent kind) plus two 401s on ``GET /flowSpecs``:
    the client refreshes its token once, the second 401 fails the ``create_dataflow`` try, so that task always
    needs Airflow's retry. Everything runs for real: task runner, XComs, the deferred sensor's trigger
    (inline), the default retry policy (1-2 s back-offs).
    """
    from airflow.utils.state import DagRunState

    from airflow_provider_aep.client.auth import TOKENS
    from tests.reliability.trials import PlannedFault, TrialPlan, wait_until_landed

    figures = {"trials": 0, "green": 0, "task_retries": 0, "faults_injected_by_kind": {}, "duplicates": 0, "orphans": 0}
    control = fault_emulator.control
    for i in range(DAG_TEST_TRIALS):
        random_plan = plan_trial(SEED + 10_000, i)
        faults = [f for f in random_plan.faults if f.kind != "persistent_5xx"]
        faults.append(PlannedFault("http_401", "GET", f"{FS}/flowSpecs", {"count": 2, "status": 401}))
        plan = TrialPlan(index=i, seed=random_plan.seed, tables=random_plan.tables, faults=faults)
        control.reset()
        control.configure(run_start_delay=0.2, run_duration=0.2)  # the sensor defers; its trigger polls
        TOKENS.clear()
        for fault in plan.faults:
            fault.id = control.add_fault(method=fault.method, path=fault.path, **fault.rule)

        dag_run = onboarding_with_retries.test(
            run_conf={"connection_name": plan.connection_name, "tables": plan.tables}
        )
        wait_until_landed(control, plan.faults)
        tis = dag_run.get_task_instances()
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in tis}
        tries = {(ti.task_id, ti.map_index): ti.try_number for ti in tis}
        assert dag_run.state == DagRunState.SUCCESS, (plan, states, tries)
        assert max(n for (task, _), n in tries.items() if task == "create_dataflow") == 2, tries

        result = _pipeline_result_from_xcoms(dag_run, plan.tables)
        assert sorted(result.tables) == sorted(plan.tables)
        audit = resource_audit(control.state(), result, plan.tables)
        assert (audit["duplicates"], audit["orphans"], audit["missing"]) == (0, 0, 0), (plan, audit)
        kinds = {f.id: f.kind for f in plan.faults}
        for entry in control.journal():
            if entry["fault"]:
                kind = kinds[entry["fault"]]
                figures["faults_injected_by_kind"][kind] = figures["faults_injected_by_kind"].get(kind, 0) + 1
        figures["trials"] += 1
        figures["green"] += 1
        figures["task_retries"] += sum(max(0, n - 1) for n in tries.values())
    write_artifact("fault-injection-dag-test.json", figures, headline=json.dumps(figures))

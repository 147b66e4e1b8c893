"""Fault injection: the onboarding pipeline under random mixes of 5xx, 429, timeouts, drops and half-done creates.

The pipeline is the whole onboarding, source and target side (field group, schema, dataset, mapping set,
source and target connection, dataflow, run), and the faults hit every service it calls: Flow Service,
Schema Registry, Catalog, Data Prep and IMS.

``AEP_FAULT_TRIALS`` trials (20 in the normal suite, 200 with ``make fault-suite``), seed ``AEP_FAULT_SEED``.
Each trial must end green or with a clear, typed failure, and leave exactly one resource per natural key
(0 duplicates, 0 orphans, every link between them right), also after a failed run is cleared and re-run. The
figures are written to ``test-artifacts/reliability/fault-injection-<N>-trials.json`` and printed;
docs/reliability.md quotes them.

Some trials tear down (the task group's teardown tasks, owner semantics) and some run 2-3 DAG runs at once,
their creates held by the emulator until all are in flight (``tests/reliability/concurrent.py``). Every trial must
also end with 0 duplicates left, 0 orphans, 0 owned resources left after a teardown (nothing kept uses) and no
teardown deleting what another run made (``audit.resource_audit`` defines each); their figures are under
``ownership_and_concurrency``.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from airflow_provider_aep.client.errors import AEPServerError
from tests.reliability.artifacts import write_artifact
from tests.reliability.audit import resource_audit
from tests.reliability.pipeline import run_onboarding
from tests.reliability.plan import CATALOG, CONVERSION, FS, SR, plan_trial
from tests.reliability.trials import run_trial, summarize

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
    assert (summary["duplicates_before_recovery"], summary["inconsistent"], summary["false_mismatches"]) == (0, 0, 0)
    assert summary["faults_injected_total"] >= TRIALS  # every trial really met at least one fault
    owned = summary["ownership_and_concurrency"]
    assert (owned["duplicates_left"], owned["orphans"], owned["owned_left_after_teardown"]) == (0, 0, 0)
    assert owned["deleted_by_a_teardown_not_its_own"] == 0
    assert owned["trials_with_teardown"] and owned["concurrent_trials"], "the trials cover neither"


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
        "commit_later",
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


def test_a_create_committed_later_than_the_window_is_removed_by_the_next_lookup(fault_emulator, caplog):
    """Processed 2.5 s late: after the read timeout (0.5 s) plus two read timeouts of lookups the provider
    sends the create again, and the late original lands as a second connection. The next run's lookup
    sees both, warns, keeps using the oldest (the one the pipeline's ids refer to) and deletes the late one:
    it carries the same owner line (the same task of the same DAG run made both), so nobody uses it."""
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
    assert [c["id"] for c in _connections(fault_emulator)] == [first.base_connection_id]
    audit = resource_audit(fault_emulator.control.state(), again, ["Hubspot.Contacts"])
    assert (audit["duplicates"], audit["orphans"]) == (0, 0)


def test_trial_plans_aim_half_done_creates_at_every_service():
    """Over the 200 plans of ``make fault-suite``, commit_then_fail and commit_then_drop hit every target-side
    create (field group, schema, dataset, mapping set)."""
    aimed = {
        (f.kind, f.path)
        for i in range(200)
        for f in plan_trial(SEED, i).faults
        if f.kind in ("commit_then_fail", "commit_then_drop")
    }
    for path in TARGET_CREATES.values():
        assert {("commit_then_fail", path), ("commit_then_drop", path)} <= aimed, path


# --------------------------------------------------------------------------- the target side's creates, pinned
TARGET_CREATES = {
    "fieldgroups": f"{SR}/tenant/fieldgroups",
    "schemas": f"{SR}/tenant/schemas",
    "dataSets": f"{CATALOG}/dataSets",
    "mappingSets": f"{CONVERSION}/mappingSets",
}
HALF_DONE = {
    "commit_then_drop": {"action": "commit_then_drop"},
    "commit_then_fail_502": {"action": "commit_then_fail", "status": 502},
    "commit_then_fail_504": {"action": "commit_then_fail", "status": 504},
    "slow_commit": {"action": "delay", "latency": 1.2},
}


@pytest.mark.parametrize("fault", list(HALF_DONE), ids=list(HALF_DONE))
@pytest.mark.parametrize("collection", list(TARGET_CREATES), ids=list(TARGET_CREATES))
def test_a_half_done_target_side_create_is_found_not_resent(fault_emulator, collection, fault):
    """Committed, then the answer is lost (dropped, 5xx, or too late): one POST, one resource, all linked."""
    control = fault_emulator.control
    control.configure(run_start_delay=0.0, run_duration=0.0)
    path = TARGET_CREATES[collection]
    control.add_fault("POST", path, **HALF_DONE[fault])
    tables = ["Hubspot.Contacts"]
    result = run_onboarding(connection_name="half done", tables=tables)
    assert result.ok, result.failure
    _land_posts(fault_emulator, path, 1)
    assert len(control.journal(method="POST", path=path)) == 1, "the create was sent again"
    assert len(control.state()[collection]) == 1
    audit = resource_audit(control.state(), result, tables, "half done")
    assert (audit["duplicates"], audit["orphans"], audit["missing"], audit["inconsistent"]) == (0, 0, 0, 0), audit
    assert result.task_retries == 0  # the client reconciled it within the try


# The list a create's natural-key lookup reads, per collection.
LOOKUPS = {
    "connections": f"{FS}/connections",
    "sourceConnections": f"{FS}/sourceConnections",
    "targetConnections": f"{FS}/targetConnections",
    "flows": f"{FS}/flows",
    "fieldgroups": f"{SR}/tenant/fieldgroups",
    "schemas": f"{SR}/tenant/schemas",
    "dataSets": f"{CATALOG}/dataSets",
    "mappingSets": f"{CONVERSION}/mappingSets",
}
CREATE_PATHS = {**{c: f"{FS}/{c}" for c in ("connections", "sourceConnections", "targetConnections", "flows")}}
CREATE_PATHS.update(TARGET_CREATES)


def _when_taken(control, rule_id: str, then) -> threading.Thread:
    """Call ``then()`` as soon as the emulator has taken fault ``rule_id`` (a count-1 rule leaves the list)."""

    def watch() -> None:
        deadline = time.monotonic() + 20
        while any(r["id"] == rule_id for r in control.faults()):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("collection", list(LOOKUPS), ids=list(LOOKUPS))
def test_a_create_committed_by_a_try_that_then_failed_for_good_is_reused_after_clearing(fault_emulator, collection):
    """The create is committed but its answer is lost, and from then on every lookup of that kind fails (503), so
    the task fails for good without knowing the id. Clearing the DAG run must find and reuse that resource
    (created=False on the reuse path, which verifies it), not make a second one.

    The lookup fault is added only once the emulator holds the POST (0.4 s, then commit and drop), so the
    lookups *before* the create still pass.
    """
    control = fault_emulator.control
    control.configure(run_start_delay=0.0, run_duration=0.0)
    tables = ["Hubspot.Contacts"]
    post = control.add_fault("POST", CREATE_PATHS[collection], action="commit_then_drop", latency=0.4)
    watcher = _when_taken(control, post, lambda: control.add_fault("GET", LOOKUPS[collection], status=503, count=200))
    failed = run_onboarding(connection_name="committed then failed", tables=tables, retries=1)
    watcher.join(5)
    assert not failed.ok, "the lookup fault did not bite"
    assert isinstance(failed.failure.error, AEPServerError) and "HTTP 503" in str(failed.failure.error)
    assert len(control.state()[collection]) == 1
    unreferenced = resource_audit(control.state(), failed, tables, "committed then failed")
    # The committed resource, whose id the pipeline never learnt (and a new dataflow's own first run).
    assert (unreferenced["duplicates"], unreferenced["orphans"]) == (0, 2 if collection == "flows" else 1)

    control.clear_faults()
    cleared = run_onboarding(connection_name="committed then failed", tables=tables, retries=1)
    assert cleared.ok, cleared.failure
    audit = resource_audit(control.state(), cleared, tables, "committed then failed")
    assert (audit["duplicates"], audit["orphans"], audit["missing"], audit["inconsistent"]) == (0, 0, 0, 0), audit
    assert len(control.journal(method="POST", path=CREATE_PATHS[collection])) == 1
    assert control.journal(method="PATCH") == []  # the reused resource already was what the task asks for
    runs = [r for r in control.state()["runs"] if r["flowId"] == cleared.flow_ids[tables[0]]]
    # A dataflow whose create the failed run never saw answered: the cleared run does not know it made it
    # (created=False), so it starts a run of its own next to the flow's first one (see docs/reliability.md).
    assert len(runs) == (2 if collection == "flows" else 1)


@pytest.mark.parametrize("collection", list(TARGET_CREATES), ids=list(TARGET_CREATES))
def test_a_target_side_create_committed_later_than_the_window(fault_emulator, collection):
    """Processed 2.5 s late, after the reconciliation window (0.5 s + 2 x 0.5 s): the create is sent again.

    The Schema Registry refuses the late original (titles are unique, ``XDM-1521-400``), so nothing is
    duplicated. Catalog and Data Prep have no unique field: the late original lands as a second dataset or
    mapping set. It is the newer one, so the pipeline's id is the oldest, which the next run's lookup keeps
    using; that lookup deletes the late dataset (same owner line as the one in use), while a late mapping set
    stays (Data Prep has no delete), referenced by nobody.
    """
    control = fault_emulator.control
    control.configure(run_start_delay=0.0, run_duration=0.0)
    path = TARGET_CREATES[collection]
    control.add_fault("POST", path, action="delay", latency=2.5)
    tables = ["Hubspot.Contacts"]
    first = run_onboarding(connection_name="very slow create", tables=tables)
    assert first.ok, first.failure
    posts = _land_posts(fault_emulator, path, 2)
    made = control.state()[collection]
    unique_titles = collection in ("fieldgroups", "schemas")
    assert len(made) == (1 if unique_titles else 2)
    if unique_titles:
        assert sorted(p["status"] for p in posts) == [201, 400]  # the late original met the title
    again = run_onboarding(connection_name="very slow create", tables=tables)
    assert again.ok, again.failure
    assert again.dataset_ids == first.dataset_ids and again.mapping_set_ids == first.mapping_set_ids
    audit = resource_audit(control.state(), again, tables, "very slow create")
    assert audit["inconsistent"] == 0, audit
    if collection == "mappingSets":  # the late one is a mapping-set loser nobody references: counted apart
        assert (audit["duplicates"], audit["orphans"], audit["mapping_set_losers"]) == (0, 0, 1)
    else:
        assert (audit["duplicates"], audit["orphans"]) == (0, 0)
        assert len(control.state()[collection]) == 1


def _land_posts(emulator, path: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while len(posts := emulator.control.journal(method="POST", path=path)) < count:
        assert time.monotonic() < deadline, "the delayed create never reached the emulator"
        time.sleep(0.05)
    return posts


# --------------------------------------------------------------------------- a few trials through dag.test()
DAG_ID = "aep_hubspot_onboarding"
GROUP = "onboard_table"
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


def _pipeline_result_from_xcoms(dag_run):
    """What the DAG run's XComs say it made, in the shape the pipeline reports (per table path)."""
    from tests.conftest import xcoms_of
    from tests.reliability.pipeline import PipelineResult

    def value(raw):
        return json.loads(raw) if isinstance(raw, str) and raw[:1] in ('"', "[") else raw

    xcoms = {k: value(v) for k, v in xcoms_of(dag_run).items() if k[2] == "return_value"}
    paths = list(xcoms.get(("explore_tables", -1, "return_value")) or [])
    result = PipelineResult(base_connection_id=xcoms.get(("create_base_connection", -1, "return_value")), tables=paths)
    fields = {
        "create_field_group": result.field_group_ids,
        "create_schema": result.schema_ids,
        "create_dataset": result.dataset_ids,
        "create_mapping_set": result.mapping_set_ids,
        "create_source_connection": result.source_connection_ids,
        "create_target_connection": result.target_connection_ids,
        "create_dataflow": result.flow_ids,
        "trigger_run": result.run_ids,
    }
    for (task, index, _), v in xcoms.items():
        name = task.removeprefix(f"{GROUP}.")
        if name in fields and 0 <= index < len(paths):
            fields[name][paths[index]] = v
    return result


def test_fault_trials_through_dag_test_with_task_retries(onboarding_with_retries, fault_emulator):
    """dag.test() in 3.3 honours ``retries``: a task that fails a try goes up_for_retry and runs again.

    Each trial gets its random fault mix (without the persistent kind) plus two 401s on ``GET /flowSpecs``:
    the client refreshes its token once, the second 401 fails the try of ``create_base_connection`` (which
    finds the flow spec once per DAG run, before its create, for every table's dataflow), so that task
    always needs Airflow's retry. Everything runs for real: task runner, XComs, the deferred sensor's trigger
    (inline), the default retry policy (1-2 s back-offs).
    """
    from airflow.utils.state import DagRunState

    from airflow_provider_aep.client.auth import TOKENS
    from airflow_provider_aep.client.schema_registry import TENANTS
    from tests.reliability.plan import PlannedFault, TrialPlan, service_of
    from tests.reliability.trials import wait_until_landed

    figures = {"trials": 0, "green": 0, "task_retries": 0, "faults_injected_by_kind": {}, "duplicates": 0, "orphans": 0}
    figures["faults_injected_by_service"] = {}
    control = fault_emulator.control
    for i in range(DAG_TEST_TRIALS):
        random_plan = plan_trial(SEED + 10_000, i)
        faults = [f for f in random_plan.faults if f.kind != "persistent_5xx"]
        faults.append(PlannedFault("http_401", "GET", f"{FS}/flowSpecs", {"count": 2, "status": 401}))
        plan = TrialPlan(index=i, seed=random_plan.seed, tables=random_plan.tables, faults=faults)
        control.reset()
        control.configure(run_start_delay=0.2, run_duration=0.2)  # the sensor defers; its trigger polls
        TOKENS.clear()
        TENANTS.clear()
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
        assert tries[("create_base_connection", -1)] == 2, tries

        result = _pipeline_result_from_xcoms(dag_run)
        assert sorted(result.tables) == sorted(plan.tables)
        audit = resource_audit(control.state(), result, plan.tables, plan.connection_name)
        problems = (audit["duplicates"], audit["orphans"], audit["missing"], audit["inconsistent"])
        assert problems == (0, 0, 0, 0), (plan, audit)
        kinds = {f.id: f.kind for f in plan.faults}
        for entry in control.journal():
            if entry["fault"]:
                kind = kinds[entry["fault"]]
                figures["faults_injected_by_kind"][kind] = figures["faults_injected_by_kind"].get(kind, 0) + 1
                service = service_of(entry["path"])
                by_service = figures["faults_injected_by_service"]
                by_service[service] = by_service.get(service, 0) + 1
        figures["trials"] += 1
        figures["green"] += 1
        figures["task_retries"] += sum(max(0, n - 1) for n in tries.values())
    write_artifact("fault-injection-dag-test.json", figures, headline=json.dumps(figures))

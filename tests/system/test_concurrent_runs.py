"""Concurrent DAG runs of one onboarding converge on one resource per natural key, and the teardown of one of
them removes only what it owns and nothing another run's resources use (issue 20, deliverable 2).

On the shared real Airflow (scheduler + LocalExecutor, ``[core] parallelism`` 8), ``N_RUNS`` DAG runs of
``dags_examples/hubspot_onboarding.py`` onboard the same table under the same connection name at once, so all of
them look up, create and converge on the same natural keys. One of them (``T``) has ``teardown`` and
``teardown_data`` on; the other three (``K``, kept) have them off.

Nothing depends on timing: the emulator decides every overlap and every winner (``tests/system/races.py``).

* Every create of the onboarding is raced by all ``N_RUNS`` DAG runs: two ``hold`` faults per collection, one
  for the group of runs that reaches it first and one for the rest, keep every POST waiting until all of them
  are in flight. So every run looked the key up before anyone committed it, and every run POSTs it: four
  committed resources per key (or one plus three title clashes, in the Schema Registry), which convergence
  must bring back to one.
* Which group's create commits first (the oldest, which every run then agrees on) is chosen per collection
  (``PLAN``), so the teardown run owns some resources and the kept runs own others, always the same ones:
  the teardown run's dataflow and target connection (nothing kept uses them: deleted), its schema, field group
  and base connection (a kept dataset and a kept source connection use them: left, and the test says why), and
  the kept runs' dataset and source connection (never the teardown run's to delete).
* The AEP run lasts an emulator hour, so every DAG run's sensor defers on it, and only once all of them have
  deferred (every create and run trigger of every DAG run is done) does the test advance the emulator clock,
  with the polls of all sensors but one held until that one has succeeded: it adds the new dataset's first asset
  event alone, away from an Airflow race (docs/assets.md). The teardown's first DELETE is held until every
  sensor has succeeded.
  The teardown therefore starts after every other DAG run has stopped linking or reading what it may delete,
  and no AEP run is in progress when it looks.

Checked: every DAG run succeeds and all of them return the same id for every create; before the teardown there
is exactly one resource per natural key (mapping sets: exactly one referenced by the dataflow; Data Prep has no
DELETE, so the losers stay, unreferenced, and are counted); afterwards no key has two resources, nothing a kept
resource references was deleted, every resource left that the teardown run owned is used by a kept resource,
and everything it owned that nothing kept uses is gone. Figures: ``test-artifacts/reliability/concurrent-runs.json``.

Only one DAG run tears down, on purpose: with two, a resource owned by one teardown run and used by a resource
owned by the other is left behind when the first one's teardown looks before the second has deleted the user
(AEP refuses, the task leaves it, and nobody comes back for it). Which one looks first is a matter of timing.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.reliability.artifacts import write_artifact
from tests.system.races import (
    CREATE_PATHS,
    KEEP,
    TEARDOWN,
    Race,
    RaceStep,
    Snapshot,
    natural_key,
)

pytestmark = pytest.mark.system

DAG_ID = "aep_hubspot_onboarding"
N_RUNS = 4  # one teardown run and N_RUNS - 1 kept runs
TABLES = ["Hubspot.Contacts"]
CONNECTION_NAME = "HubSpot concurrent runs"
TIMEOUT = 600.0  # an upper bound for a stuck run to fail the test, never a wait the test relies on
# An AEP run stays in progress this long on the emulator clock: only the test's clock advance ends it.
RUN_DURATION = 3600.0
SENSOR = "onboard_table.wait_for_run"
RUN_PATH = "/data/foundation/flowservice/runs/[^/]+"  # what the sensors' triggers poll
FLOW_PATH = "/data/foundation/flowservice/flows/[^/]+"

# Per collection, in the order the test resolves the races: which group reaches the create first (the winner of
# the create before it, which the test lets go first and waits for there), which group's create commits first
# and wins, and the next held creates the winner must be waiting in before the losers are let go. The dataflow's
# other inputs (source connection, mapping set) are resolved before the target connection, so that the group
# first at the dataflow is the target connection's winner. At most eight tasks wait in holds at once (the four
# runs' field group and source connection creates, later their dataset and mapping set creates): the eight
# worker slots, and nothing else has to run to get there.
PLAN = (
    RaceStep("connections", first=TEARDOWN, winner=TEARDOWN, then=("fieldgroups", "sourceConnections")),
    RaceStep("sourceConnections", first=TEARDOWN, winner=KEEP),
    RaceStep("fieldgroups", first=TEARDOWN, winner=TEARDOWN, then=("schemas",)),
    RaceStep("schemas", first=TEARDOWN, winner=TEARDOWN, then=("dataSets", "mappingSets")),
    RaceStep("mappingSets", first=TEARDOWN, winner=KEEP),
    RaceStep("dataSets", first=TEARDOWN, winner=KEEP, then=("targetConnections",)),
    RaceStep("targetConnections", first=KEEP, winner=TEARDOWN, then=("flows",)),
    RaceStep("flows", first=TEARDOWN, winner=TEARDOWN),
)
# What that plan must leave after the teardown: the teardown run's dataflow goes, then its target connection,
# which only that dataflow used. Everything else stays: the kept runs' own, and the teardown run's base
# connection, schema and field group, which the kept source connection and dataset use.
DELETED = {"flows", "targetConnections"}
TEARDOWN_TASKS = {
    "onboard_table.delete_dataflow": True,
    "onboard_table.delete_target_connection": True,
    "onboard_table.delete_source_connection": False,  # a kept run's
    "onboard_table.delete_dataset": False,  # a kept run's
    "onboard_table.delete_schema": False,  # used by the kept dataset (XDM-1541-400)
    "onboard_table.delete_field_group": False,  # used by the schema the kept dataset uses (XDM-1541-400)
    # Used by the kept source connection. AEP refuses a base connection's delete only while a dataflow uses it
    # (1418-400), so with the teardown run's dataflow gone nothing stops it unless the operator checks the
    # source connections made on it itself, as DeleteDatasetOperator checks target connections.
    "delete_base_connection": False,
}
CREATE_TASKS = {
    "connections": "create_base_connection",
    "fieldgroups": "onboard_table.create_field_group",
    "schemas": "onboard_table.create_schema",
    "dataSets": "onboard_table.create_dataset",
    "mappingSets": "onboard_table.create_mapping_set",
    "sourceConnections": "onboard_table.create_source_connection",
    "targetConnections": "onboard_table.create_target_connection",
    "flows": "onboard_table.create_dataflow",
}


def map_index(task_id: str) -> int:
    return 0 if task_id.startswith("onboard_table.") else -1


def wait_for_sensors(airflow_api, runs: dict[str, str], count: int) -> None:
    """Poll Airflow's API until the sensors of ``count`` DAG runs, whichever they are, have succeeded."""
    deadline = time.monotonic() + TIMEOUT
    while (
        done := sum(
            ti["task_id"] == SENSOR and ti["state"] == "success"
            for run_id in runs
            for ti in airflow_api.task_instances(DAG_ID, run_id)
        )
    ) < count:
        assert time.monotonic() < deadline, f"{done} DAG run sensor(s) succeeded in {TIMEOUT}s, not {count}"
        time.sleep(0.5)


def test_concurrent_dag_runs_converge_and_a_teardown_keeps_what_others_use(airflow_server, airflow_api, fresh_emulator):
    assert int(airflow_server.env["AIRFLOW__CORE__PARALLELISM"]) >= 8, "PLAN holds up to eight tasks at once"
    control = fresh_emulator.control
    started = time.monotonic()
    control.configure(run_start_delay=0.0, run_duration=RUN_DURATION)
    race = Race(control, PLAN, sizes={TEARDOWN: 1, KEEP: N_RUNS - 1})
    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)
    tag = uuid.uuid4().hex[:8]
    runs: dict[str, str] = {}  # run id -> group

    def trigger(group: str, index: int) -> None:
        on = group == TEARDOWN
        conf = {"connection_name": CONNECTION_NAME, "tables": TABLES, "teardown": on, "teardown_data": on}
        run_id = airflow_api.trigger(DAG_ID, conf, run_id=f"concurrent_{group}{index}_{tag}")
        runs[run_id] = group

    def no_run_failed() -> None:
        states = {r: airflow_api.dag_run(DAG_ID, r)["state"] for r in runs}
        assert "failed" not in states.values(), f"a DAG run failed during the races: {states}"

    try:
        # The teardown run reaches the base connection's create first: it is the only run until it waits in it.
        trigger(TEARDOWN, 0)
        race.wait_arrived("connections", TEARDOWN, also=no_run_failed)
        for index in range(1, N_RUNS):
            trigger(KEEP, index)
        race.run(also=no_run_failed)

        for run_id in runs:
            airflow_api.wait_for_tasks(DAG_ID, run_id, SENSOR, "deferred", count=len(TABLES), timeout=TIMEOUT)
        gate = Snapshot(control.state())
        gate_journal = control.journal()
        returned = {  # what each DAG run's creates returned (XCom), read before the teardown
            run_id: {c: airflow_api.xcom(DAG_ID, run_id, t, map_index=map_index(t)) for c, t in CREATE_TASKS.items()}
            for run_id in runs
        }
        # Airflow 3.3.2 fails one of two task instances that add the first event of one new asset through an
        # alias at the same moment (docs/assets.md); that race is Airflow's, not this test's subject, and the
        # four sensors would otherwise end within a second. So the polls of all triggers but one are held (a
        # held trigger sends no other poll), the clock ends the AEP run, the one left lands the dataset's first
        # event, and only then do the others see the run end. The teardown's first delete waits until every
        # sensor has read the flow it announces the dataset of, whichever DAG run's sensor went first.
        polls = control.add_fault("GET", RUN_PATH, count=N_RUNS - 1, action="hold")
        control.wait_held(polls, N_RUNS - 1, timeout=TIMEOUT)
        teardown_starts = control.add_fault("DELETE", FLOW_PATH, count=1, action="hold")
        control.advance_clock(RUN_DURATION + 60)
        wait_for_sensors(airflow_api, runs, 1)
        control.release(polls)
        wait_for_sensors(airflow_api, runs, N_RUNS)
        control.release(teardown_starts)
        finished = {r: airflow_api.wait_for_run(DAG_ID, r, timeout=TIMEOUT) for r in runs}
    except BaseException:
        # Runs left behind would keep worker slots of the shared Airflow busy (retries against an emptied
        # emulator) while the next tests run.
        for run_id in runs:
            if airflow_api.dag_run(DAG_ID, run_id)["state"] not in ("success", "failed"):
                airflow_api.patch(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", {"state": "failed"})
        raise
    end = Snapshot(control.state())
    elapsed = time.monotonic() - started

    # -- what the runs made, kept and deleted (figures first, so a failure still leaves them) ---------------------
    states = {
        r: {(t["task_id"], t["map_index"]): t["state"] for t in airflow_api.task_instances(DAG_ID, r)} for r in runs
    }
    teardown_run = next(r for r, g in runs.items() if g == TEARDOWN)
    owned_by_teardown = {node for node in gate.resources if gate.owner_run(node) == teardown_run}
    kept_roots = {node for node in end.resources if node[0] != "mappingSets" and node not in owned_by_teardown}
    used_by_kept = end.closure(kept_roots)  # {resource: the kept resource that uses it}
    left_owned = owned_by_teardown & set(end.resources)
    gone = owned_by_teardown - set(end.resources)
    why_left = {
        f"{c} {natural_key(c, end.resources[(c, i)])!r}": end.why_used((c, i), used_by_kept, runs)
        for c, i in sorted(left_owned)
    }
    results = {t: airflow_api.xcom(DAG_ID, teardown_run, t, map_index=map_index(t)) for t in TEARDOWN_TASKS}
    figures = {
        "dag_runs": len(runs),
        "teardown_runs": 1,
        "tables": len(TABLES),
        "parallelism": int(airflow_server.env["AIRFLOW__CORE__PARALLELISM"]),
        "per_key": race.figures(gate_journal),
        "resources_per_key_before_teardown": {c: dict(gate.per_key(c)) for c in CREATE_PATHS},
        "unreferenced_mapping_sets": N_RUNS - 1,
        "duplicates_left": sum(n - 1 for c in CREATE_PATHS if c != "mappingSets" for n in end.per_key(c).values()),
        "owned_by_teardown_run": sorted(c for c, _ in owned_by_teardown),
        "deleted_by_teardown": sorted(c for c, _ in gone),
        "left_by_teardown_and_why": why_left,
        "teardown_task_results": results,
        "longest_hold_seconds": round(race.longest_hold(gate_journal), 1),
        "seconds": round(elapsed, 1),
    }
    write_artifact("concurrent-runs.json", figures)
    print(f"\nconcurrent DAG runs: {json.dumps(figures, indent=1)}")
    # -- every DAG run succeeded, and they all agree on every resource ------------------------------------------
    assert {r: f["state"] for r, f in finished.items()} == dict.fromkeys(runs, "success"), "\n".join(
        airflow_api.failure_report(DAG_ID, r) for r, f in finished.items() if f["state"] != "success"
    )
    assert all(ids == returned[teardown_run] for ids in returned.values()), returned
    winners = returned[teardown_run]

    # -- the races were real: every run POSTed every create, all four in flight before any commit -----------------
    posts = race.posts(gate_journal)
    assert {c: len(p) for c, p in posts.items()} == dict.fromkeys(CREATE_PATHS, N_RUNS), race.figures(gate_journal)
    committed = {c: sum(200 <= e["status"] < 300 for e in p) for c, p in posts.items()}
    title_clashes = {c: sum(e["status"] == 400 for e in p) for c, p in posts.items()}
    assert committed == {c: 1 if c in ("schemas", "fieldgroups") else N_RUNS for c in CREATE_PATHS}, posts
    assert title_clashes == {c: N_RUNS - 1 if c in ("schemas", "fieldgroups") else 0 for c in CREATE_PATHS}

    # -- before the teardown: exactly one resource per natural key, the planned group's ---------------------------
    for collection in CREATE_PATHS:
        if collection == "mappingSets":
            continue
        assert set(gate.per_key(collection).values()) == {1}, (collection, gate.per_key(collection))
        assert gate.ids(collection) == {winners[collection]}, collection
    for step in PLAN:
        if step.collection != "mappingSets":  # Data Prep keeps no owner line (see the report of issue 20)
            owner = gate.owner_run((step.collection, winners[step.collection]))
            assert runs.get(owner or "") == step.winner, (step.collection, owner)
    (flow,) = (gate.resources[("flows", i)] for i in gate.ids("flows"))
    referenced_mapping = {ref for c, ref in gate.uses(("flows", flow["id"])) if c == "mappingSets"}
    assert referenced_mapping == {winners["mappingSets"]}
    assert gate.per_key("mappingSets") == {f"{CONNECTION_NAME}: {TABLES[0]} mapping": N_RUNS}  # losers stay
    converge_deletes = race.deletes(gate_journal)
    assert converge_deletes == {
        c: 0 if c in ("schemas", "fieldgroups", "mappingSets") else N_RUNS - 1 for c in CREATE_PATHS
    }

    # -- after the teardown ------------------------------------------------------------------------------------
    # no key has two resources (mapping sets aside: they cannot be deleted)
    assert all(n == 1 for c in CREATE_PATHS if c != "mappingSets" for n in end.per_key(c).values())
    # nothing another run's resources use was deleted: every reference of a resource left resolves
    dangling = [
        f"{end.describe(n, runs)} uses {gate.describe(used, runs)}, which is gone"
        for n in end.resources
        if n[0] != "mappingSets"
        for used in end.uses(n)
        if used not in end.resources
    ]
    assert not dangling, dangling
    # the kept runs' resources are all there
    assert {n for n in gate.resources if n[0] != "mappingSets" and n not in owned_by_teardown} <= set(end.resources)
    # every resource left that the teardown run owned is used by a kept resource, and the rest of it is gone
    assert left_owned <= set(used_by_kept), [end.describe(n, runs) for n in left_owned - set(used_by_kept)]
    assert not {n for n in gone if n in gate.closure(kept_roots)}, "deleted what a kept resource used"
    assert {c for c, _ in gone} == DELETED, sorted(gone)
    assert end.ids("mappingSets") == gate.ids("mappingSets")
    assert results == TEARDOWN_TASKS, results
    for run_id, group in runs.items():
        if group == KEEP:
            skipped = {t: states[run_id][(t, map_index(t))] for t in TEARDOWN_TASKS}
            assert set(skipped.values()) == {"skipped"}, skipped

    assert figures["duplicates_left"] == 0  # the figure the docs quote

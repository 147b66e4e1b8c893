"""Ownership and concurrency over real HTTP against the emulator.

* Every create records its DAG run on the resource (``airflow_provider_aep.ownership``); a teardown deletes what
  its DAG run made, whichever try made it, and leaves what another run made or what is still in use.
* DAG runs that create the same natural key at the same moment converge on one resource: the emulator holds
  their POSTs until all are in flight, so the race is real, not a matter of timing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_aep.client.errors import AEPError
from airflow_provider_aep.client.http import RetryPolicy
from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
from airflow_provider_aep.operators.catalog import CreateDatasetOperator, DeleteDatasetOperator
from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator, DeleteConnectionOperator
from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
from airflow_provider_aep.operators.target_connections import (
    CreateTargetConnectionOperator,
    DeleteTargetConnectionOperator,
)
from airflow_provider_aep.ownership import owner_of

from .conftest import RecordingTI

CATALOG = "/data/foundation/catalog/dataSets"
CONNECTIONS = "/data/foundation/flowservice/connections"
MAPPING_SETS = "/data/foundation/conversion/mappingSets"
HUBSPOT_SPEC = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"


def run_context(run_id: str) -> dict[str, Any]:
    ti = RecordingTI()
    ti.run_id = run_id
    return {"ti": ti}


def race(emulator, path: str, make, runs: int = 3) -> list[str]:
    """``make().execute(...)`` in ``runs`` DAG runs at once, their creates held by the emulator until all
    ``runs`` POSTs are in flight together, then let through."""
    fault = emulator.control.add_fault("POST", path, action="hold", count=runs)
    contexts = [run_context(f"manual__racer_{n}") for n in range(runs)]
    with ThreadPoolExecutor(runs) as pool:
        futures = [pool.submit(make().execute, context) for context in contexts]
        assert emulator.control.wait_held(fault, runs) == runs
        emulator.control.release(fault)
        return [future.result(timeout=120) for future in futures]


def test_racing_base_connections_converge_on_the_oldest(emulator):
    ids = race(emulator, CONNECTIONS, lambda: CreateHubSpotConnectionOperator(task_id="base", name="raced"))
    left = emulator.control.state()["connections"]
    assert len(set(ids)) == 1 and [c["id"] for c in left] == ids[:1]
    # every racer created one; the two that lost deleted their own
    assert len(emulator.control.journal(method="POST", path=CONNECTIONS)) == 3
    assert len(emulator.control.journal(method="DELETE", path=CONNECTIONS + "/.*")) == 2


def test_racing_datasets_converge_on_the_oldest(emulator, target_side):
    def make() -> CreateDatasetOperator:
        return CreateDatasetOperator(task_id="dataset", name="raced dataset", schema_id=target_side["schema"])

    ids = race(emulator, CATALOG, make)
    named = [d for d in emulator.control.state()["dataSets"] if d["name"] == "raced dataset"]
    assert len(set(ids)) == 1 and [d["id"] for d in named] == ids[:1]


def test_racing_mapping_sets_agree_on_one_although_data_prep_cannot_delete_the_others(emulator, target_side, explored):
    def make() -> CreateMappingSetOperator:
        return CreateMappingSetOperator(
            task_id="mapping", schema_id=target_side["schema"], table=explored, name="raced mapping"
        )

    ids = race(emulator, MAPPING_SETS, make)
    named = sorted(
        (m for m in emulator.control.state()["mappingSets"] if m["name"] == "raced mapping"),
        key=lambda m: m["createdDate"],
    )
    assert len(set(ids)) == 1 and ids[0] == named[0]["id"]  # all agree on the oldest
    assert len(named) == 3  # Data Prep has no DELETE: the losers stay, referenced by nobody


def test_a_retry_that_reuses_what_its_failed_try_created_still_tears_it_down(emulator, target_side):
    """The create is committed but its answer lost and the try fails (a client without retries, as after a
    killed worker); the retry finds the dataset and reports it reused, yet the teardown deletes it: the
    dataset itself says this DAG run made it."""
    context = run_context("manual__lost_answer")
    emulator.control.add_fault("POST", CATALOG, action="commit_then_drop")

    def create() -> CreateDatasetOperator:
        return CreateDatasetOperator(task_id="create_dataset", name="lost answer", schema_id=target_side["schema"])

    first_try = create()
    first_try.__dict__["hook"] = AEPFlowServiceHook(retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AEPError):
        first_try.execute(context)
    retry = create()
    dataset_id = retry.execute(context)
    assert context["ti"].xcoms["created"] is False  # the retry did not make it...
    (made,) = [d for d in emulator.control.state()["dataSets"] if d["name"] == "lost answer"]
    owner = owner_of(made)
    assert owner is not None and (owner.run_id, owner.task_id) == ("manual__lost_answer", "create_dataset")
    # ...but it is this DAG run's, so its teardown deletes it, and another run's teardown would not
    assert (
        DeleteDatasetOperator(task_id="delete_dataset", dataset_id=dataset_id).execute(
            run_context("manual__someone_else")
        )
        is False
    )
    assert DeleteDatasetOperator(task_id="delete_dataset", dataset_id=dataset_id).execute(context) is True
    assert not [d for d in emulator.control.state()["dataSets"] if d["name"] == "lost answer"]


def test_teardown_leaves_its_dataset_while_a_target_connection_writes_to_it(emulator, target_side, capfd):
    context = run_context("manual__owner")
    dataset_id = CreateDatasetOperator(task_id="d", name="in use", schema_id=target_side["schema"]).execute(context)
    other = run_context("manual__other")
    target = CreateTargetConnectionOperator(
        task_id="t", dataset_id=dataset_id, schema_id=target_side["schema"]
    ).execute(other)
    assert DeleteDatasetOperator(task_id="dd", dataset_id=dataset_id).execute(context) is False
    logged = capfd.readouterr()
    assert f"still used by target connections {target}" in logged.out + logged.err
    assert any(d["id"] == dataset_id for d in emulator.control.state()["dataSets"])


def test_a_resource_made_outside_airflow_is_never_torn_down(emulator, context):
    """A connection made with a plain HTTP client (no owner line) is left unless the task says otherwise."""
    from aep_emulator.testing import HUBSPOT_AUTH, ServiceClient, fetch_token

    from tests.conftest import ORG_ID

    flow_service = ServiceClient(
        emulator.url, fetch_token(emulator.url), org=ORG_ID, base="/data/foundation/flowservice"
    )
    body = {"name": "made by hand", "auth": HUBSPOT_AUTH, "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"}}
    made = flow_service.post("/connections", json=body)
    assert made.status_code in (200, 201), made.text
    connection_id = made.json()["id"]
    assert DeleteConnectionOperator(task_id="d", base_connection_id=connection_id).execute(context) is False
    assert (
        DeleteConnectionOperator(task_id="d", base_connection_id=connection_id, owned_only=False).execute(context)
        is True
    )


@pytest.mark.parametrize("collection", ["dataSets", "connections"])
def test_a_duplicate_committed_after_its_retry_is_deleted_by_the_next_lookup(emulator, target_side, collection):
    """A create answered 504 is committed by AEP only later, after the retry already made the resource again:
    two resources with the same key and the same owner line. Nobody uses the late one (every run takes the
    oldest), so the next lookup of that key, here the next DAG run's, deletes it."""
    path = CATALOG if collection == "dataSets" else CONNECTIONS

    def create() -> Any:
        if collection == "dataSets":
            return CreateDatasetOperator(task_id="create", name="late commit", schema_id=target_side["schema"])
        return CreateHubSpotConnectionOperator(task_id="create", name="late commit")

    def named() -> list[dict[str, Any]]:
        return [r for r in emulator.control.state()[collection] if r["name"] == "late commit"]

    emulator.control.add_fault("POST", path, action="commit_later", commit_after=60)
    context = run_context("manual__late_commit")
    first_try = create()
    first_try.__dict__["hook"] = AEPFlowServiceHook(retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AEPError):
        first_try.execute(context)
    kept = create().execute(context)  # the retry: nothing there yet, so it creates
    emulator.control.advance_clock(120)  # AEP commits the first POST now
    assert sorted(r["id"] for r in named()) != [kept] and len(named()) == 2
    assert create().execute(run_context("manual__next_day")) == kept
    assert [r["id"] for r in named()] == [kept]


def test_a_teardown_hands_what_another_run_still_uses_to_that_runs_teardown(emulator, target_side):
    """Run A made the dataset and run B, which reused it, made the target connection writing to it. A's teardown
    leaves the dataset and marks it released; B's teardown, once its target connection is gone, deletes it. A
    run of another DAG never takes it over."""
    run_a, run_b = run_context("manual__a"), run_context("manual__b")
    other_dag = run_context("manual__c")
    other_dag["ti"].dag_id = "another_dag"
    dataset_id = CreateDatasetOperator(task_id="d", name="handed over", schema_id=target_side["schema"]).execute(run_a)
    target = CreateTargetConnectionOperator(task_id="t", dataset_id=dataset_id, schema_id=target_side["schema"])
    target_id = target.execute(run_b)

    assert DeleteDatasetOperator(task_id="dd", dataset_id=dataset_id).execute(run_a) is False
    (dataset,) = [d for d in emulator.control.state()["dataSets"] if d["id"] == dataset_id]
    owner = owner_of(dataset)
    assert owner is not None and owner.run_id == "manual__a" and owner.released
    assert DeleteDatasetOperator(task_id="dd", dataset_id=dataset_id).execute(other_dag) is False

    assert DeleteTargetConnectionOperator(task_id="dt", target_connection_id=target_id).execute(run_b) is True
    assert DeleteDatasetOperator(task_id="dd", dataset_id=dataset_id).execute(run_b) is True
    assert not [d for d in emulator.control.state()["dataSets"] if d["id"] == dataset_id]

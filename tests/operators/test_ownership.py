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
from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator
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
    from tests.conftest import ORG_ID
    from tests.emulator.helpers import HUBSPOT_AUTH, ServiceClient, fetch_token

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

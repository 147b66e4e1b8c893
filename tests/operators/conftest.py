"""Shared operator-test fixtures: a minimal task context that records XCom pushes."""

from __future__ import annotations

from typing import Any

import pytest
import responses


class RecordingTI:
    """Stands in for the RuntimeTaskInstance: operators only push XComs to it."""

    dag_id = "operator_tests"
    run_id = "manual__operator_tests"

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def context() -> dict[str, Any]:
    """``context["ti"].xcoms`` holds what the operator pushed (besides its return value)."""
    return {"ti": RecordingTI()}


@pytest.fixture
def other_run_context() -> dict[str, Any]:
    """The context of a task of another DAG run of the same DAG."""
    ti = RecordingTI()
    ti.run_id = "manual__another_run"
    return {"ti": ti}


# --------------------------------------------------------------------------- stubbed AEP and the emulator
PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"


def owned(task_id: str, description: str | None = None) -> str:
    """The ``description`` a create operator sends from the ``context`` fixture's DAG run."""
    from airflow_provider_aep.ownership import Owner

    return Owner(dag_id=RecordingTI.dag_id, run_id=RecordingTI.run_id, task_id=task_id).mark(description)


def stub_owned(http, collection: str, resource_id: str, *, run_id: str = RecordingTI.run_id) -> None:
    """``GET {FS}/{collection}/{id}`` answers a resource whose owner line names ``run_id`` of the test DAG
    (by default the ``context`` fixture's run, so its teardown may delete it)."""
    from airflow_provider_aep.ownership import Owner

    owner = Owner(dag_id=RecordingTI.dag_id, run_id=run_id, task_id="create")
    http.add(
        responses.GET,
        f"{FS}/{collection}/{resource_id}",
        json={"items": [{"id": resource_id, "etag": '"e1"', "description": owner.mark("made by a test")}]},
    )


def stub_gone(http, collection: str, resource_id: str) -> None:
    """``GET {FS}/{collection}/{id}`` answers 404."""
    http.add(responses.GET, f"{FS}/{collection}/{resource_id}", status=404, json={"title": "Resource not found"})


IMS_HOST = "https://ims-na1.adobelogin.com"
IMS = IMS_HOST + "/ims/token/v3"
IMS_TOKEN = "ims-token-SECRET-0001"


@pytest.fixture
def aep_http(connections, monkeypatch):
    """``responses`` mock of AEP with IMS answering; ``aep_default``/``hubspot_default`` point at Adobe hosts.

    Retry back-off does not really sleep here (tenacity sleeps through ``time.sleep``), so a test that
    hits a retry path, or forgot a stub, fails fast instead of waiting for the back-off.
    """
    import responses
    import tenacity.nap

    monkeypatch.setattr(tenacity.nap.time, "sleep", lambda seconds: None)
    connections(PLATFORM, ims_url=IMS_HOST)
    from tests.conftest import assert_stubs_fired

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        ims = mock.add(
            responses.POST, IMS, json={"access_token": IMS_TOKEN, "token_type": "bearer", "expires_in": 86399}
        )
        yield mock
        assert_stubs_fired(mock, shared=[ims])


def sent_bodies(http, method: str, path: str) -> list[Any]:
    """JSON bodies of the stubbed Flow Service requests ``method path`` (path without query)."""
    import json

    url = FS + path
    return [
        json.loads(c.request.body) if c.request.body else None
        for c in http.calls
        if c.request.method == method and c.request.url.split("?")[0] == url
    ]


@pytest.fixture
def emulator(aep_emulator, connections):
    """The (reset) AEP emulator with ``aep_default``/``hubspot_default`` pointing at it."""
    connections(aep_emulator.url)
    return aep_emulator


DATASET_ID = "5ed5639d798a22191b6987b2"
SCHEMA_ID = "https://ns.adobe.com/tenant/schemas/0123456789abcdef"
TABLE = "Hubspot.Contacts"


@pytest.fixture
def base_connection_id(emulator, context) -> str:
    from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

    return CreateHubSpotConnectionOperator(task_id="base", name="hubspot").execute(context)


@pytest.fixture
def explored(base_connection_id, context) -> dict[str, Any]:
    """``Hubspot.Contacts`` as ``ExploreConnectionOperator(object_type="table")`` returns it."""
    from airflow_provider_aep.operators.explore import ExploreConnectionOperator

    return ExploreConnectionOperator(
        task_id="explore", base_connection_id=base_connection_id, object_type="table", table=TABLE
    ).execute(context)


@pytest.fixture
def target_side(explored, context) -> dict[str, str]:
    """Field group, schema, dataset and mapping set for ``Hubspot.Contacts``, made by the operators."""
    from airflow_provider_aep.operators.catalog import CreateDatasetOperator
    from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
    from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator

    ids = {"field_group": CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)}
    ids["schema"] = CreateSchemaOperator(
        task_id="schema", title="HubSpot Contacts", field_group_ids=ids["field_group"]
    ).execute(context)
    ids["dataset"] = CreateDatasetOperator(task_id="ds", name="HubSpot Contacts", schema_id=ids["schema"]).execute(
        context
    )
    ids["mapping"] = CreateMappingSetOperator(task_id="map", schema_id=ids["schema"], table=explored).execute(context)
    return ids


@pytest.fixture
def pipeline(base_connection_id, target_side, context) -> dict[str, str]:
    """Base, source (Hubspot.Contacts) and target connections plus a ``once`` dataflow with its mapping set."""
    from airflow_provider_aep.operators.flows import CreateDataflowOperator
    from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
    from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator

    ids = {"base": base_connection_id, **target_side}
    ids["source"] = CreateSourceConnectionOperator(
        task_id="source", base_connection_id=ids["base"], table_path=TABLE
    ).execute(context)
    ids["target"] = CreateTargetConnectionOperator(
        task_id="target", dataset_id=target_side["dataset"], schema_id=target_side["schema"]
    ).execute(context)
    ids["flow"] = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=ids["source"],
        target_connection_id=ids["target"],
        delta_column="Updated_At",
        mapping_id=target_side["mapping"],
    ).execute(context)
    return ids

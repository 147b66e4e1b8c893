"""Shared operator-test fixtures: a minimal task context that records XCom pushes."""

from __future__ import annotations

from typing import Any

import pytest


class RecordingTI:
    """Stands in for the RuntimeTaskInstance: operators only push XComs to it."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def context() -> dict[str, Any]:
    """``context["ti"].xcoms`` holds what the operator pushed (besides its return value)."""
    return {"ti": RecordingTI()}


# --------------------------------------------------------------------------- stubbed AEP and the emulator
PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
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
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, IMS, json={"access_token": IMS_TOKEN, "token_type": "bearer", "expires_in": 86399})
        yield mock


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


@pytest.fixture
def pipeline(emulator, context) -> dict[str, str]:
    """Base, source (Hubspot.Contacts) and target connections plus a ``once`` dataflow, made in the emulator."""
    from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator
    from airflow_provider_aep.operators.flows import CreateDataflowOperator
    from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator
    from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator

    ids = {"base": CreateHubSpotConnectionOperator(task_id="base", name="hubspot").execute(context)}
    ids["source"] = CreateSourceConnectionOperator(
        task_id="source", base_connection_id=ids["base"], table_path="Hubspot.Contacts"
    ).execute(context)
    ids["target"] = CreateTargetConnectionOperator(
        task_id="target", dataset_id=DATASET_ID, schema_id=SCHEMA_ID
    ).execute(context)
    ids["flow"] = CreateDataflowOperator(
        task_id="flow",
        source_connection_ids=ids["source"],
        target_connection_id=ids["target"],
        delta_column="Updated_At",
    ).execute(context)
    return ids

"""CreateTargetConnectionOperator / DeleteTargetConnectionOperator, stubbed and against the emulator."""

from __future__ import annotations

import pytest
import responses

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.target_connections import (
    DEFAULT_SCHEMA_VERSION,
    CreateTargetConnectionOperator,
    DeleteTargetConnectionOperator,
)

from .conftest import DATASET_ID, FS, SCHEMA_ID, owned, sent_bodies, stub_owned

DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


def create(**kwargs) -> CreateTargetConnectionOperator:
    kwargs.setdefault("dataset_id", DATASET_ID)
    kwargs.setdefault("schema_id", SCHEMA_ID)
    return CreateTargetConnectionOperator(task_id="target", **kwargs)


@pytest.fixture
def no_targets(aep_http):
    aep_http.add(responses.GET, FS + "/targetConnections", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/targetConnections", json={"id": "tgt-1", "etag": '"e"'}, status=201)
    return aep_http


def test_body_is_the_documented_data_lake_target(no_targets, context):
    assert create().execute(context) == "tgt-1"
    assert sent_bodies(no_targets, "POST", "/targetConnections") == [
        {
            "name": f"Data Lake dataset {DATASET_ID}",
            "data": {"schema": {"id": SCHEMA_ID, "version": DEFAULT_SCHEMA_VERSION}},
            "params": {"dataSetId": DATASET_ID},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
            "description": owned("target"),
        }
    ]
    assert DEFAULT_SCHEMA_VERSION == "application/vnd.adobe.xed-full+json;version=1"


def test_catalog_reference_format_and_options(no_targets, context):
    create(
        dataset_id=f"@/dataSets/{DATASET_ID}",
        data_format="parquet_xdm",
        schema_version="application/vnd.adobe.xed-full+json;version=1.0",
        name="hubspot dataset",
        description="d",
    ).execute(context)
    body = sent_bodies(no_targets, "POST", "/targetConnections")[0]
    assert body["params"] == {"dataSetId": DATASET_ID}
    assert body["data"]["format"] == "parquet_xdm"
    assert body["data"]["schema"]["version"].endswith("version=1.0")
    assert (body["name"], body["description"]) == ("hubspot dataset", owned("target", "d"))


def existing_target(**changes) -> dict:
    return {
        "id": "tgt-old",
        "name": "contacts target",
        "connectionSpec": {"id": DATA_LAKE},
        "data": {"schema": {"id": SCHEMA_ID, "version": DEFAULT_SCHEMA_VERSION}},
        "params": {"dataSetId": DATASET_ID},
        **changes,
    }


def test_reuses_a_target_with_the_same_name(aep_http, context):
    aep_http.add(responses.GET, FS + "/targetConnections", json={"items": [existing_target()], "_links": {}})
    assert create(name="contacts target").execute(context) == "tgt-old"
    assert not sent_bodies(aep_http, "POST", "/targetConnections")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"params": {"dataSetId": "ffffffffffffffffffffffff"}}, "params.dataSetId"),
        ({"data": {"schema": {"id": "https://ns.adobe.com/tenant/schemas/other"}}}, "data.schema.id"),
    ],
)
def test_a_same_named_target_for_another_dataset_or_schema_is_not_reused(aep_http, context, changes, field):
    """Before: two target connections of one name and different datasets returned one id."""
    from airflow_provider_aep.exceptions import AEPResourceMismatchError

    aep_http.add(responses.GET, FS + "/targetConnections", json={"items": [existing_target(**changes)], "_links": {}})
    with pytest.raises(AEPResourceMismatchError, match=f"target connection 'contacts target' exists with {field}"):
        create(name="contacts target").execute(context)


@pytest.mark.parametrize(
    ("kwargs", "argument", "hint"),
    [
        ({"dataset_id": "5ed5639d"}, "dataset_id", "24 hex"),
        ({"dataset_id": "zzz5639d798a22191b6987b2"}, "dataset_id", "24 hex"),
        ({"dataset_id": 123}, "dataset_id", "string"),
        ({"schema_id": "_tenant.schemas.abc"}, "schema_id", "meta:altId"),
        ({"schema_id": "http://ns.adobe.com/x"}, "schema_id", "https://ns.adobe.com"),
        ({"if_exists": "replace"}, "if_exists", "reuse"),
        ({"data_format": ""}, "data_format", "non-empty"),
    ],
)
def test_invalid_ids_fail_at_parse_time(kwargs, argument, hint):
    with pytest.raises(AEPInvalidArgumentError, match=hint) as err:
        create(**kwargs)
    assert err.value.argument == argument


def test_templated_ids_are_checked_after_rendering_before_any_request(aep_http, context):
    op = create(dataset_id="{{ params.dataset_id }}", schema_id="{{ params.schema_id }}")
    op.dataset_id = "not-a-dataset"
    with pytest.raises(AEPInvalidArgumentError, match="dataset_id"):
        op.execute(context)
    assert not aep_http.calls


def test_delete(aep_http, context):
    stub_owned(aep_http, "targetConnections", "tgt-1")
    aep_http.add(responses.DELETE, FS + "/targetConnections/tgt-1", status=204)
    assert DeleteTargetConnectionOperator(task_id="d", target_connection_id="tgt-1").execute(context) is True


# --------------------------------------------------------------------------- against the emulator
def test_emulator_create_is_idempotent_and_delete_twice(emulator, target_side, context):
    ids = {"dataset_id": target_side["dataset"], "schema_id": target_side["schema"]}
    first = create(**ids).execute(context)
    assert create(**ids).execute(context) == first
    targets = emulator.control.state()["targetConnections"]
    assert [t["id"] for t in targets] == [first]
    assert targets[0]["params"] == {"dataSetId": target_side["dataset"]}
    assert targets[0]["data"]["schema"]["id"] == target_side["schema"]
    op = DeleteTargetConnectionOperator(task_id="d", target_connection_id=first)
    assert (op.execute(context), op.execute(context)) == (True, False)


def test_emulator_refuses_a_target_for_a_dataset_that_does_not_exist(emulator, context):
    from airflow_provider_aep.client.errors import AEPBadRequestError

    with pytest.raises(AEPBadRequestError, match="dataSetId"):
        create().execute(context)

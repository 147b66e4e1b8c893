"""Dataset operators, over real HTTP against the emulator's Catalog."""

from __future__ import annotations

import pytest

from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.operators.catalog import CreateDatasetOperator, DeleteDatasetOperator
from airflow_provider_aep.operators.schema_registry import CreateSchemaOperator


@pytest.fixture
def schemas(emulator, context) -> tuple[str, str]:
    first = CreateSchemaOperator(task_id="s1", title="Contacts").execute(context)
    second = CreateSchemaOperator(task_id="s2", title="Companies").execute(context)
    return first, second


def datasets(emulator) -> list[dict]:
    return emulator.control.state()["dataSets"]


def test_dataset_is_created_with_the_prefix_stripped_then_reused(emulator, schemas, context):
    dataset_id = CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(context)
    assert len(dataset_id) == 24 and not dataset_id.startswith("@")
    assert context["ti"].xcoms["created"] is True
    assert context["ti"].xcoms["aep_dataset"]["id"] == dataset_id
    again = CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(context)
    assert again == dataset_id and context["ti"].xcoms["created"] is False
    assert len(datasets(emulator)) == 1
    posts = [e for e in emulator.control.journal(method="POST") if e["path"].endswith("/dataSets")]
    assert len(posts) == 1 and posts[0]["query"].get("requestDataSource") == ["true"]


def test_dataset_of_the_same_name_for_another_schema_is_not_reused(emulator, schemas, context):
    CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(context)
    with pytest.raises(AEPResourceMismatchError, match=r"dataset 'HubSpot Contacts' exists with schemaRef.id"):
        CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[1]).execute(context)
    assert len(datasets(emulator)) == 1


def test_bad_schema_id_fails_when_the_dag_is_parsed():
    with pytest.raises(AEPInvalidArgumentError, match="'schema_id'"):
        CreateDatasetOperator(task_id="d", name="x", schema_id="_tenant.schemas.abc")


def test_delete_dataset_and_already_gone(emulator, schemas, context):
    dataset_id = CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(context)
    assert DeleteDatasetOperator(task_id="x", dataset_id=dataset_id).execute(context) is True
    assert datasets(emulator) == []
    assert DeleteDatasetOperator(task_id="x", dataset_id=dataset_id).execute(context) is False


def test_delete_dataset_leaves_one_another_dag_run_created(emulator, schemas, context, other_run_context):
    dataset_id = CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(context)
    # the other DAG run reuses it, and its teardown leaves it
    assert (
        CreateDatasetOperator(task_id="d", name="HubSpot Contacts", schema_id=schemas[0]).execute(other_run_context)
        == dataset_id
    )
    assert DeleteDatasetOperator(task_id="x", dataset_id=dataset_id).execute(other_run_context) is False
    assert len(datasets(emulator)) == 1
    # ...and an explicit clean-up, or the DAG run that created it, deletes it
    assert DeleteDatasetOperator(task_id="x", dataset_id=dataset_id).execute(context) is True
    assert datasets(emulator) == []

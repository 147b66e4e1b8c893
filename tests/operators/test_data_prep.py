"""Mapping set operator, over real HTTP against the emulator's Data Prep."""

from __future__ import annotations

import pytest

from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator
from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator


@pytest.fixture
def schema(explored, context) -> str:
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    return CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=group_id).execute(context)


def mapping_sets(emulator) -> list[dict]:
    return emulator.control.state()["mappingSets"]


def test_mapping_set_maps_every_column_is_validated_first_then_reused(emulator, explored, schema, context):
    mapping_id = CreateMappingSetOperator(task_id="m", schema_id=schema, table=explored, name="contacts").execute(
        context
    )
    assert context["ti"].xcoms["version"] == 0 and context["ti"].xcoms["created"] is True
    paths = [e["path"] for e in emulator.control.journal(method="POST") if "/mappingSets" in e["path"]]
    assert paths == ["/data/foundation/conversion/mappingSets/validate", "/data/foundation/conversion/mappingSets"]
    [stored] = mapping_sets(emulator)
    assert stored["id"] == mapping_id
    assert {m["source"] for m in stored["mappings"]} == {c["name"] for c in explored["columns"]}
    again = CreateMappingSetOperator(task_id="m", schema_id=schema, table=explored, name="contacts").execute(context)
    assert again == mapping_id and context["ti"].xcoms["created"] is False
    assert len(mapping_sets(emulator)) == 1


def test_overrides_calculated_fields_and_constants_reach_the_mapping_set(emulator, explored, schema, context):
    CreateMappingSetOperator(
        task_id="m",
        schema_id=schema,
        table=explored,
        name="contacts",
        mapping_overrides={"Portal_Id": None},
    ).execute(context)
    [stored] = mapping_sets(emulator)
    assert "Portal_Id" not in {m["source"] for m in stored["mappings"]}


def test_a_reused_mapping_set_with_other_mappings_fails_naming_the_destination(emulator, explored, schema, context):
    CreateMappingSetOperator(task_id="m", schema_id=schema, table=explored, name="contacts").execute(context)
    with pytest.raises(AEPResourceMismatchError, match=r"mapping set 'contacts' exists with mapping to _\w+\.hubspot"):
        CreateMappingSetOperator(
            task_id="m", schema_id=schema, table=explored, name="contacts", mapping_overrides={"Vid": None}
        ).execute(context)


def test_a_mapping_to_a_field_the_schema_lacks_fails_before_anything_is_created(emulator, explored, schema, context):
    with pytest.raises(AEPInvalidArgumentError, match=r"'mapping_overrides' gives mappings Data Prep rejects"):
        CreateMappingSetOperator(
            task_id="m", schema_id=schema, table=explored, mapping_overrides={"Vid": "person.nothing.here"}
        ).execute(context)
    assert mapping_sets(emulator) == []


def test_bad_override_names_the_argument_before_any_request(emulator, explored, schema, context):
    emulator.control.clear_journal()
    with pytest.raises(AEPInvalidArgumentError, match=r"'mapping_overrides'.*does not have"):
        CreateMappingSetOperator(
            task_id="m", schema_id=schema, table=explored, mapping_overrides={"Nope": "a.b"}
        ).execute(context)
    assert not [e for e in emulator.control.journal() if "/conversion/" in e["path"]]

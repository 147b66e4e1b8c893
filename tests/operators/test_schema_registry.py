"""Field group and schema operators, over real HTTP against the emulator's Schema Registry."""

from __future__ import annotations

import pytest

from airflow_provider_aep.client import xdm
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.operators.schema_registry import (
    CreateFieldGroupOperator,
    CreateSchemaOperator,
    DeleteFieldGroupOperator,
    DeleteSchemaOperator,
)

from .conftest import TABLE


def registry(emulator, kind: str) -> list[dict]:
    return emulator.control.state()[kind]


def posts(emulator, path_end: str) -> list[dict]:
    return [e for e in emulator.control.journal(method="POST") if e["path"].endswith(path_end)]


def test_field_group_holds_every_explored_column_under_the_tenant(emulator, explored, context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    assert group_id.startswith("https://ns.adobe.com/") and "/mixins/" in group_id
    paths = context["ti"].xcoms["field_paths"]
    assert set(paths) == {c["name"] for c in explored["columns"]}
    tenant = paths["Vid"].split(".")[0]
    assert tenant.startswith("_") and all(p.startswith(f"{tenant}.hubspot.contacts.") for p in paths.values())
    assert context["ti"].xcoms["created"] is True
    [stored] = registry(emulator, "fieldgroups")
    assert stored["title"] == f"{TABLE} fields"
    assert stored["meta:intendedToExtend"] == [xdm.PROFILE_CLASS_ID]


def test_field_group_is_reused_and_extended_with_missing_fields(emulator, explored, context):
    fewer = {**explored, "columns": explored["columns"][:3]}
    first = CreateFieldGroupOperator(task_id="fg", table=fewer).execute(context)
    again = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    assert again == first and context["ti"].xcoms["created"] is False
    assert len(posts(emulator, "/tenant/fieldgroups")) == 1
    patches = [e for e in emulator.control.journal(method="PATCH") if "/fieldgroups/" in e["path"]]
    assert len(patches) == 1 and len(patches[0]["body"]) == len(explored["columns"]) - 3
    CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)  # now complete: no PATCH
    assert len([e for e in emulator.control.journal(method="PATCH") if "/fieldgroups/" in e["path"]]) == 1


def test_field_group_with_a_field_of_another_type_is_not_reused(emulator, explored, context):
    CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    retyped = [dict(c, type="string", xdm={"type": "string"}) if c["name"] == "Vid" else c for c in explored["columns"]]
    with pytest.raises(
        AEPResourceMismatchError, match=r"field group 'Hubspot.Contacts fields' exists with field types"
    ):
        CreateFieldGroupOperator(task_id="fg", table={**explored, "columns": retyped}).execute(context)


def test_field_group_for_another_class_is_not_reused(emulator, explored, context):
    CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    with pytest.raises(AEPResourceMismatchError, match="meta:intendedToExtend"):
        CreateFieldGroupOperator(task_id="fg", table=explored, class_id=xdm.EXPERIENCE_EVENT_CLASS_ID).execute(context)


def test_field_group_refuses_a_table_argument_that_is_not_an_explore_result(context):
    with pytest.raises(AEPInvalidArgumentError, match="'table'"):
        CreateFieldGroupOperator(task_id="fg", table="Hubspot.Contacts").execute(context)


def test_schema_with_field_group_is_created_then_reused(emulator, explored, context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    schema_id = CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=[group_id]).execute(context)
    [stored] = registry(emulator, "schemas")
    assert stored["$id"] == schema_id and stored["meta:class"] == xdm.PROFILE_CLASS_ID
    assert {"$ref": group_id} in [{"$ref": item["$ref"]} for item in stored["allOf"]]
    assert CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=group_id).execute(context) == schema_id
    assert len(posts(emulator, "/tenant/schemas")) == 1 and context["ti"].xcoms["created"] is False
    assert context["ti"].xcoms["aep_schema"]["id"].startswith("https%3A%2F%2Fns.adobe.com")


def test_reused_schema_gets_a_missing_field_group(emulator, explored, context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    schema_id = CreateSchemaOperator(task_id="s", title="Contacts").execute(context)
    assert CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=[group_id]).execute(context) == schema_id
    [stored] = registry(emulator, "schemas")
    assert group_id in [item["$ref"] for item in stored["allOf"]]


def test_schema_of_another_class_is_not_reused(emulator, context):
    CreateSchemaOperator(task_id="s", title="Contacts").execute(context)
    with pytest.raises(AEPResourceMismatchError, match=r"schema 'Contacts' exists with meta:class"):
        CreateSchemaOperator(task_id="s", title="Contacts", class_id=xdm.EXPERIENCE_EVENT_CLASS_ID).execute(context)


def test_identity_descriptor_and_profile(emulator, explored, context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    email = context["ti"].xcoms["field_paths"]["Properties_Email_Value"]
    identity = {"path": "_{TENANT_ID}." + email.split(".", 1)[1], "namespace": "Email", "primary": True}
    schema_id = CreateSchemaOperator(
        task_id="s", title="Contacts", field_group_ids=group_id, identity=identity, enable_profile=True
    ).execute(context)
    [descriptor] = registry(emulator, "descriptors")
    assert descriptor["xdm:sourceSchema"] == schema_id
    assert descriptor["xdm:sourceProperty"] == "/" + email.replace(".", "/")
    assert descriptor["xdm:namespace"] == "Email" and descriptor["xdm:isPrimary"] is True
    [stored] = registry(emulator, "schemas")
    assert "union" in stored["meta:immutableTags"]
    # Re-running changes nothing; another namespace for the same field is a mismatch, not a silent PUT.
    CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=group_id, identity=identity).execute(context)
    assert len(registry(emulator, "descriptors")) == 1
    with pytest.raises(AEPResourceMismatchError, match="identity namespace"):
        CreateSchemaOperator(
            task_id="s", title="Contacts", field_group_ids=group_id, identity={**identity, "namespace": "Phone"}
        ).execute(context)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"enable_profile": True}, "enable_profile"),
        ({"identity": {"path": "a.b", "namespace": "Email", "primary": True, "x": 1}}, "identity"),
        ({"identity": {"path": "a.b", "namespace": "Email", "primary": "yes"}}, "identity.primary"),
        ({"class_id": "_xdm.context.profile"}, "class_id"),
    ],
)
def test_schema_arguments_fail_when_the_dag_is_parsed(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError, match=f"'{argument}'"):
        CreateSchemaOperator(task_id="s", title="Contacts", **kwargs)


def test_deletes_remove_schema_and_field_group_and_accept_already_gone(emulator, explored, context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    schema_id = CreateSchemaOperator(task_id="s", title="Contacts", field_group_ids=group_id).execute(context)
    assert DeleteSchemaOperator(task_id="ds", schema_id=schema_id).execute(context) is True
    assert DeleteFieldGroupOperator(task_id="dfg", field_group_id=group_id).execute(context) is True
    assert registry(emulator, "schemas") == [] and registry(emulator, "fieldgroups") == []
    assert DeleteSchemaOperator(task_id="ds", schema_id=schema_id).execute(context) is False


def test_delete_leaves_what_this_run_did_not_create(emulator, explored, context, other_run_context):
    group_id = CreateFieldGroupOperator(task_id="fg", table=explored).execute(context)
    assert DeleteFieldGroupOperator(task_id="dfg", field_group_id=group_id).execute(other_run_context) is False
    assert len(registry(emulator, "fieldgroups")) == 1
    assert (
        DeleteFieldGroupOperator(task_id="dfg", field_group_id=group_id, owned_only=False).execute(other_run_context)
        is True
    )

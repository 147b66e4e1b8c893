"""The explore-columns-to-XDM builder: types, names, field groups, extension patches and mappings."""

from __future__ import annotations

import pytest
from aep_emulator.flow_service.sources import hubspot

from airflow_provider_aep.client import xdm


def columns(*specs: tuple[str, dict]) -> list[dict]:
    return [{"name": name, **spec} for name, spec in specs]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (
            {"type": "string", "meta:xdmType": "date-time", "xdm": {"type": "string", "format": "date-time"}},
            "date-time",
        ),
        ({"type": "string", "xdm": {"type": "string", "format": "date"}}, "date"),
        ({"type": "integer", "xdm": {"type": "integer"}}, "int"),
        ({"type": "long", "xdm": {"type": "integer"}}, "long"),
        ({"type": "double", "xdm": {"type": "number"}}, "number"),
        ({"type": "boolean", "xdm": {"type": "boolean"}}, "boolean"),
        ({"type": "string", "meta": {"originalType": "String"}}, "string"),  # the CRM shape: no xdm block
        ({"type": "bigint"}, "long"),
        ({"type": "timestamp"}, "date-time"),
        ({"type": "geography"}, "string"),  # unknown types land as strings
        ({}, "string"),
    ],
)
def test_xdm_type_of(column, expected):
    assert xdm.xdm_type_of(column) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Properties_Firstname_Value", "propertiesFirstnameValue"),
        ("Vid", "vid"),
        ("_hidden", "hidden"),
        ("ID", "id"),
        ("2nd Phone #", "f2ndPhone"),
        ("user-email", "userEmail"),
    ],
)
def test_field_names_are_xdm_safe_camel_case(name, expected):
    assert xdm.field_name(name) == expected


def test_field_name_without_letters_is_refused():
    with pytest.raises(xdm.XDMError, match="columns"):
        xdm.field_name("__")


def test_layout_puts_every_column_under_the_tenant_namespace_and_dedupes_collisions():
    fields = xdm.layout(
        "acme",
        "hubspot",
        "Hubspot.All_Deals",
        columns(("Deal_Id", {"type": "integer"}), ("Deal Id", {"type": "string"}), ("DEAL_ID", {"type": "string"})),
    )
    assert fields.object_path == ("_acme", "hubspot", "allDeals")
    assert fields.paths() == {
        "Deal_Id": "_acme.hubspot.allDeals.dealId",
        "Deal Id": "_acme.hubspot.allDeals.dealId2",
        "DEAL_ID": "_acme.hubspot.allDeals.dealId3",
    }


@pytest.mark.parametrize(
    ("cols", "message"),
    [([], "has no columns"), ([{"type": "string"}], "needs a name"), ([{"name": "a"}, {"name": "a"}], "twice")],
)
def test_layout_refuses_bad_column_sets(cols, message):
    with pytest.raises(xdm.XDMError, match=message):
        xdm.layout("acme", "hubspot", "Hubspot.X", cols)


def test_field_group_body_for_an_explored_hubspot_table():
    cols = hubspot.table_schema("Contacts")["schema"]["columns"]
    fields = xdm.layout("acme", "hubspot", "Hubspot.Contacts", cols)
    body = xdm.field_group_body(fields, title="HubSpot Contacts fields", class_id=xdm.PROFILE_CLASS_ID)
    assert body["meta:intendedToExtend"] == [xdm.PROFILE_CLASS_ID]
    assert body["allOf"] == [{"$ref": "#/definitions/fields"}]
    leaves = body["definitions"]["fields"]["properties"]["_acme"]["properties"]["hubspot"]["properties"]["contacts"]
    props = leaves["properties"]
    assert set(props) == {name for name, _ in fields.fields.values()}
    assert props["addedAt"] == {
        "title": "Added_At",
        "description": "Source column Added_At",
        "type": "string",
        "format": "date-time",
    }
    assert props["vid"]["type"] == "integer" and props["isContact"]["type"] == "boolean"


def test_differences_of_an_identical_group_are_empty():
    fields = xdm.layout("acme", "hubspot", "Hubspot.T", columns(("A", {"type": "string"}), ("B", {"type": "long"})))
    body = xdm.field_group_body(fields, title="t", class_id=xdm.PROFILE_CLASS_ID)
    assert xdm.field_group_differences(body, fields) == ([], [])


def test_differences_add_missing_fields_and_report_type_conflicts():
    old = xdm.layout("acme", "hubspot", "Hubspot.T", columns(("A", {"type": "string"}), ("B", {"type": "string"})))
    group = xdm.field_group_body(old, title="t", class_id=xdm.PROFILE_CLASS_ID)
    new = xdm.layout(
        "acme",
        "hubspot",
        "Hubspot.T",
        columns(("A", {"type": "string"}), ("B", {"type": "long"}), ("C", {"type": "bool"})),
    )
    operations, conflicts = xdm.field_group_differences(group, new)
    assert operations == [
        {
            "op": "add",
            "path": "/definitions/fields/properties/_acme/properties/hubspot/properties/t/properties/c",
            "value": {"title": "C", "description": "Source column C", "type": "boolean"},
        }
    ]
    assert conflicts == ["_acme.hubspot.t.b is string, asked for integer"]


def test_differences_add_a_whole_branch_for_another_table():
    first = xdm.layout("acme", "hubspot", "Hubspot.One", columns(("A", {"type": "string"})))
    group = xdm.field_group_body(first, title="t", class_id=xdm.PROFILE_CLASS_ID)
    second = xdm.layout("acme", "hubspot", "Hubspot.Two", columns(("B", {"type": "string"})))
    operations, conflicts = xdm.field_group_differences(group, second)
    assert conflicts == []
    assert operations == [
        {
            "op": "add",
            "path": "/definitions/fields/properties/_acme/properties/hubspot/properties/two",
            "value": {
                "type": "object",
                "properties": {"b": {"title": "B", "description": "Source column B", "type": "string"}},
            },
        }
    ]


def test_mapping_list_with_overrides_calculated_fields_and_constants():
    fields = xdm.layout(
        "acme",
        "hubspot",
        "Hubspot.Contacts",
        columns(("Vid", {"type": "integer"}), ("Email", {"type": "string"}), ("Secret_Notes", {"type": "string"})),
    )
    mappings = xdm.mapping_list(
        fields,
        overrides={"Email": "personalEmail.address", "Secret_Notes": None},
        calculated={"_acme.hubspot.contacts.emailLower": "lower(Email)"},
        constants={"_acme.hubspot.contacts.source": "hubspot", "_acme.hubspot.contacts.active": True},
    )
    assert mappings == [
        {"sourceType": "ATTRIBUTE", "source": "Vid", "destination": "_acme.hubspot.contacts.vid"},
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
        {"sourceType": "EXPRESSION", "source": "lower(Email)", "destination": "_acme.hubspot.contacts.emailLower"},
        {"sourceType": "STATIC", "source": "hubspot", "destination": "_acme.hubspot.contacts.source"},
        {"sourceType": "STATIC", "source": "true", "destination": "_acme.hubspot.contacts.active"},
    ]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"overrides": {"Nope": "a.b"}}, "mapping_overrides", "does not have"),
        ({"overrides": {"Vid": "not a path"}}, "mapping_overrides", "not a dot path"),
        ({"overrides": {"Vid": None}}, "mapping_overrides", "at least one mapping"),
        ({"calculated": {"a.b": " "}}, "calculated_fields", "expression"),
        ({"constants": {"a.b": None}}, "constants", "string, number or boolean"),
        ({"constants": {"_acme.hubspot.t.vid": 1}}, "mapping_overrides", "two mappings write"),
    ],
)
def test_mapping_list_names_the_argument_at_fault(kwargs, field, message):
    fields = xdm.layout("acme", "hubspot", "Hubspot.T", columns(("Vid", {"type": "integer"})))
    with pytest.raises(xdm.XDMError, match=message) as info:
        xdm.mapping_list(fields, **kwargs)
    assert info.value.field == field


def test_mapping_key_reads_both_body_forms_and_stored_media_types():
    current = {"sourceType": "ATTRIBUTE", "source": "Vid", "destination": "_id"}
    legacy = {"sourceAttribute": "Vid", "destinationXdmPath": "_id"}
    stored = {"sourceType": "text/x.schema-path", "source": "Vid", "destination": "_id"}
    assert xdm.mapping_key(current) == xdm.mapping_key(legacy) == xdm.mapping_key(stored) == ("ATTRIBUTE", "Vid", "_id")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("personalEmail.address", "/personalEmail/address"),
        ("_{TENANT_ID}.hubspot.contacts.email", "/_acme/hubspot/contacts/email"),
        ("/_acme/hubspot/contacts/email", "/_acme/hubspot/contacts/email"),
    ],
)
def test_identity_pointer(path, expected):
    assert xdm.identity_pointer(path, "acme") == expected


def test_identity_pointer_refuses_garbage():
    with pytest.raises(xdm.XDMError, match=r"identity\.path"):
        xdm.identity_pointer("a b", "acme")

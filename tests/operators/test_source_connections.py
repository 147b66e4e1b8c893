"""CreateSourceConnectionOperator / DeleteSourceConnectionOperator, stubbed and against the emulator."""

from __future__ import annotations

import pytest
import responses

from airflow_provider_aep.client.errors import AEPNotFoundError
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.source_connections import (
    CreateSourceConnectionOperator,
    DeleteSourceConnectionOperator,
)

from .conftest import FS, owned, sent_bodies, stub_gone, stub_owned

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
BASE = {"id": "base-1", "name": "hubspot", "connectionSpec": {"id": HUBSPOT, "version": "1.0"}}


def create(**kwargs) -> CreateSourceConnectionOperator:
    kwargs.setdefault("table_path", "Hubspot.Contacts")
    kwargs.setdefault("base_connection_id", "base-1")
    return CreateSourceConnectionOperator(task_id="source", **kwargs)


@pytest.fixture
def base_connection(aep_http):
    aep_http.add(responses.GET, FS + "/connections/base-1", json={"items": [BASE]})
    return aep_http


def test_body_takes_the_connection_spec_from_the_base_connection(base_connection, context):
    base_connection.add(responses.GET, FS + "/sourceConnections", json={"items": [], "_links": {}})
    base_connection.add(responses.POST, FS + "/sourceConnections", json={"id": "src-1", "etag": '"e1"'}, status=201)
    assert create(description="contacts").execute(context) == "src-1"
    assert sent_bodies(base_connection, "POST", "/sourceConnections") == [
        {
            "name": "hubspot: Hubspot.Contacts",  # the base connection's name makes it unique per onboarding
            "baseConnectionId": "base-1",
            "data": {"format": "tabular"},
            "params": {"path": "Hubspot.Contacts"},
            "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
            "description": owned("source", "contacts"),
        }
    ]
    assert context["ti"].xcoms["etag"] == '"e1"'


EXISTING = {
    "id": "src-old",
    "name": "hubspot: Hubspot.Contacts",
    "baseConnectionId": "base-1",
    "data": {"format": "tabular"},
    "params": {"path": "Hubspot.Contacts"},
    "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
}


def test_an_existing_source_connection_with_the_same_name_is_reused(base_connection, context):
    base_connection.add(responses.GET, FS + "/sourceConnections", json={"items": [EXISTING], "_links": {}})
    assert create().execute(context) == "src-old"
    assert not sent_bodies(base_connection, "POST", "/sourceConnections")
    assert context["ti"].xcoms["created"] is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"table_path": "Hubspot.Deals", "name": "hubspot: Hubspot.Contacts"}, "params.path"),
        ({"data_format": "json"}, "data.format"),
    ],
)
def test_a_same_named_source_connection_for_something_else_is_not_reused(base_connection, context, kwargs, field):
    """Before: ``table_path="Hubspot.Deals"`` with the Contacts connection's name returned the Contacts one."""
    from airflow_provider_aep.exceptions import AEPResourceMismatchError

    base_connection.add(responses.GET, FS + "/sourceConnections", json={"items": [EXISTING], "_links": {}})
    with pytest.raises(
        AEPResourceMismatchError, match=f"source connection 'hubspot: Hubspot.Contacts' exists with {field}"
    ):
        create(**kwargs).execute(context)
    assert not sent_bodies(base_connection, "POST", "/sourceConnections")


def test_explicit_name(base_connection, context):
    base_connection.add(responses.GET, FS + "/sourceConnections", json={"items": [], "_links": {}})
    base_connection.add(responses.POST, FS + "/sourceConnections", json={"id": "src-1"}, status=201)
    create(name="contacts").execute(context)
    assert sent_bodies(base_connection, "POST", "/sourceConnections")[0]["name"] == "contacts"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"data_format": "xml"}, "data_format"),
        ({"if_exists": "replace"}, "if_exists"),
        ({"table_path": ""}, "table_path"),
    ],
)
def test_invalid_arguments_fail_at_parse_time(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        create(**kwargs)
    assert err.value.argument == argument


def test_templated_table_path_is_checked_after_rendering_before_any_request(aep_http, context):
    op = create(table_path="{{ params.table }}")
    op.table_path = " "  # what an empty param renders to
    with pytest.raises(AEPInvalidArgumentError, match="table_path"):
        op.execute(context)
    assert not aep_http.calls


def test_missing_base_connection_is_reported(aep_http, context):
    aep_http.add(responses.GET, FS + "/connections/base-1", status=404, json={"title": "Resource not found"})
    with pytest.raises(AEPNotFoundError):
        create().execute(context)


def test_delete_reports_whether_it_deleted(aep_http, context):
    stub_owned(aep_http, "sourceConnections", "src-1")
    aep_http.add(responses.DELETE, FS + "/sourceConnections/src-1", status=204)
    stub_gone(aep_http, "sourceConnections", "gone")
    assert DeleteSourceConnectionOperator(task_id="d", source_connection_id="src-1").execute(context) is True
    assert DeleteSourceConnectionOperator(task_id="d", source_connection_id="gone").execute(context) is False
    with pytest.raises(AEPNotFoundError):
        DeleteSourceConnectionOperator(task_id="d", source_connection_id="gone", missing_ok=False).execute(context)


# --------------------------------------------------------------------------- against the emulator
def test_emulator_one_source_connection_per_table_and_idempotent(emulator, context, pipeline):
    again = create(table_path="Hubspot.Contacts", base_connection_id=pipeline["base"])
    assert again.execute(context) == pipeline["source"]
    other = create(table_path="Hubspot.Companies", base_connection_id=pipeline["base"]).execute(context)
    sources = {s["id"]: s for s in emulator.control.state()["sourceConnections"]}
    assert set(sources) == {pipeline["source"], other}
    assert sources[other]["params"] == {"path": "Hubspot.Companies"}
    assert sources[other]["connectionSpec"]["id"] == HUBSPOT


def test_emulator_delete_twice(emulator, context, pipeline):
    from airflow_provider_aep.operators.flows import DeleteDataflowOperator

    emulator.control.advance_clock(24 * 3600)  # the flow's first run ends
    assert DeleteDataflowOperator(task_id="df", flow_id=pipeline["flow"]).execute(context) is True
    op = DeleteSourceConnectionOperator(task_id="d", source_connection_id=pipeline["source"])
    assert op.execute(context) is True
    assert op.execute(context) is False
    assert emulator.control.state()["sourceConnections"] == []


def test_a_handed_over_base_connection_is_not_read_again(aep_http, context):
    aep_http.add(responses.GET, FS + "/sourceConnections", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/sourceConnections", json={"id": "src-1", "etag": '"e1"'}, status=201)
    assert create(base_connection=BASE).execute(context) == "src-1"
    assert not [c for c in aep_http.calls if "/connections/base-1" in c.request.url]
    [body] = sent_bodies(aep_http, "POST", "/sourceConnections")
    assert (body["name"], body["connectionSpec"]) == ("hubspot: Hubspot.Contacts", BASE["connectionSpec"])
    assert context["ti"].xcoms["connection_spec_id"] == HUBSPOT


def test_a_handed_over_base_connection_of_another_id_is_not_used(base_connection, context):
    base_connection.add(responses.GET, FS + "/sourceConnections", json={"items": [], "_links": {}})
    base_connection.add(responses.POST, FS + "/sourceConnections", json={"id": "src-1", "etag": '"e1"'}, status=201)
    create(base_connection={**BASE, "id": "base-2", "name": "other"}).execute(context)
    assert [c for c in base_connection.calls if "/connections/base-1" in c.request.url]

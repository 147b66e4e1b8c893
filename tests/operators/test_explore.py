"""ExploreConnectionOperator: argument checks, table selection, table schema/preview; stubbed and emulated."""

from __future__ import annotations

import json

import pytest
import responses

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.explore import ExploreConnectionOperator, parse_table_filter

from .conftest import FS

ROOT = [
    {"type": "table", "name": "Hubspot.All_Deals", "path": "Hubspot.All_Deals", "canPreview": True},
    {"type": "table", "name": "Hubspot.Contacts", "path": "Hubspot.Contacts", "canPreview": True},
    {"type": "table", "name": "Hubspot.Companies", "path": "Hubspot.Companies", "canPreview": True},
    {"type": "folder", "name": "Archive", "path": "Archive"},
]
TABLE = {
    "format": "flat",
    "schema": {
        "columns": [
            {"name": "Vid", "type": "integer", "xdm": {"type": "integer"}},
            {"name": "Added_At", "type": "string", "meta:xdmType": "date-time", "xdm": {"type": "string"}},
            {"name": "Updated_At", "type": "string", "xdm": {"type": "string", "format": "date-time"}},
        ]
    },
    "data": [{"Vid": i, "Added_At": "2024-01-01T00:00:00Z", "Updated_At": "2024-01-02T00:00:00Z"} for i in range(8)],
}
EXPLORE = FS + "/connections/base-1/explore"


def explore(**kwargs) -> ExploreConnectionOperator:
    return ExploreConnectionOperator(task_id="explore", base_connection_id="base-1", **kwargs)


def explore_calls(http) -> list:
    return [c for c in http.calls if c.request.url.startswith(EXPLORE)]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"object_type": "file"}, "object_type"),
        ({"object_type": "root", "table": "Hubspot.Contacts"}, "table"),
        ({"object_type": "root", "preview": True}, "preview"),
        ({"object_type": "table", "table": "T", "table_filter": ["x"]}, "table_filter"),
        ({"preview_rows": 0}, "preview_rows"),
        ({"preview_rows": 1000}, "preview_rows"),
        ({"preview_rows": True}, "preview_rows"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        explore(**kwargs)
    assert err.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"object_type": "table"}, "table"),
        ({"table_filter": "re:Hubspot.(Contacts"}, "table_filter"),
        ({"table_filter": [""]}, "table_filter"),
        ({"table_filter": 42}, "table_filter"),
        ({"table_filter": "[oops"}, "table_filter"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(aep_http, context, kwargs, argument):
    op = explore(**kwargs)
    with pytest.raises(AEPInvalidArgumentError) as err:
        op.execute(context)
    assert err.value.argument == argument
    assert not explore_calls(aep_http)


def test_blank_base_connection_id_fails_before_any_request(aep_http, context):
    op = ExploreConnectionOperator(task_id="explore", base_connection_id="  ")
    with pytest.raises(AEPInvalidArgumentError, match="base_connection_id"):
        op.execute(context)
    assert not aep_http.calls


def test_root_lists_tables_and_leaves_out_other_entries(aep_http, context):
    aep_http.add(responses.GET, EXPLORE, json=ROOT)
    tables = explore().execute(context)
    assert [t["path"] for t in tables] == ["Hubspot.All_Deals", "Hubspot.Contacts", "Hubspot.Companies"]
    assert tables[0]["canPreview"] is True
    assert "objectType=root" in explore_calls(aep_http)[0].request.url


@pytest.mark.parametrize(
    ("table_filter", "expected"),
    [
        (["Hubspot.Contacts", "Hubspot.Companies"], ["Hubspot.Contacts", "Hubspot.Companies"]),
        (["hubspot.contacts"], ["Hubspot.Contacts"]),
        ("Hubspot.Co*", ["Hubspot.Contacts", "Hubspot.Companies"]),
        (["re:Hubspot\\.(All_Deals|Companies)"], ["Hubspot.All_Deals", "Hubspot.Companies"]),
        ("['Hubspot.Contacts']", ["Hubspot.Contacts"]),  # a list param rendered by Jinja
        ('["Hubspot.All_Deals"]', ["Hubspot.All_Deals"]),
    ],
)
def test_table_filter_returns_paths_for_mapping(aep_http, context, table_filter, expected):
    aep_http.add(responses.GET, EXPLORE, json=ROOT)
    paths = explore(table_filter=table_filter, return_paths=True).execute(context)
    assert paths == expected
    json.dumps(paths)


@pytest.mark.parametrize("table_filter", ["Hubspot.Nothing*", "re:^Nope$"])
def test_a_filter_matching_no_table_fails_naming_table_filter(aep_http, context, table_filter):
    aep_http.add(responses.GET, EXPLORE, json=ROOT)
    with pytest.raises(
        AEPInvalidArgumentError, match=r"'table_filter' .*matches no table.*available: Hubspot\.All_Deals"
    ):
        explore(table_filter=table_filter, return_paths=True).execute(context)


def test_an_empty_match_is_allowed_when_asked_for(aep_http, context):
    aep_http.add(responses.GET, EXPLORE, json=ROOT)
    assert explore(table_filter="Hubspot.Nothing*", return_paths=True, allow_empty=True).execute(context) == []


def test_a_selected_table_that_does_not_exist_fails_and_lists_the_available_ones(aep_http, context):
    aep_http.add(responses.GET, EXPLORE, json=ROOT)
    with pytest.raises(AEPInvalidArgumentError, match=r"Hubspot\.Contact'.*available: Hubspot\.All_Deals"):
        explore(table_filter=["Hubspot.Contact"]).execute(context)


def test_table_filter_accepts_compiled_regexes():
    import re

    selection = parse_table_filter("t", [re.compile(r"Hubspot\.C.*")])
    assert selection.matches({"name": "Hubspot.Contacts"})
    assert not selection.matches({"name": "Hubspot.All_Deals"})


def test_table_returns_columns_and_delta_column_candidates_without_rows(aep_http, context):
    aep_http.add(responses.GET, EXPLORE, json={k: v for k, v in TABLE.items() if k != "data"})
    result = explore(object_type="table", table="Hubspot.Contacts").execute(context)
    assert [c["name"] for c in result["columns"]] == ["Vid", "Added_At", "Updated_At"]
    assert result["delta_column_candidates"] == ["Added_At", "Updated_At"]
    assert result["format"] == "flat"
    assert "rows" not in result
    url = explore_calls(aep_http)[0].request.url
    assert "objectType=table" in url and "object=Hubspot.Contacts" in url and "preview" not in url


def test_preview_rows_are_bounded(aep_http, context):
    aep_http.add(responses.GET, EXPLORE, json=TABLE)
    result = explore(object_type="table", table="Hubspot.Contacts", preview=True, preview_rows=3).execute(context)
    assert [row["Vid"] for row in result["rows"]] == [0, 1, 2]
    assert "preview=true" in explore_calls(aep_http)[0].request.url


def test_a_table_without_columns_is_a_clear_error(aep_http, context):
    from airflow_provider_aep.client.errors import AEPResponseError

    aep_http.add(responses.GET, EXPLORE, json={"format": "flat"})
    with pytest.raises(AEPResponseError, match=r"schema\.columns"):
        explore(object_type="table", table="Hubspot.Contacts").execute(context)


# --------------------------------------------------------------------------- against the emulator
def test_emulator_root_and_table(emulator, context, pipeline):
    base = pipeline["base"]
    paths = ExploreConnectionOperator(
        task_id="explore",
        base_connection_id=base,
        table_filter=["Hubspot.Contacts", "Hubspot.Comp*"],
        return_paths=True,
    ).execute(context)
    assert paths == ["Hubspot.Companies", "Hubspot.Contacts"]

    table = ExploreConnectionOperator(
        task_id="schema",
        base_connection_id=base,
        object_type="table",
        table="Hubspot.Contacts",
        preview=True,
        preview_rows=2,
    ).execute(context)
    names = [c["name"] for c in table["columns"]]
    assert "Vid" in names and "Updated_At" in table["delta_column_candidates"]
    assert len(table["rows"]) == 2 and set(table["rows"][0]) == set(names)
    json.dumps(table)


def test_emulator_unknown_table_is_an_aep_error(emulator, context, pipeline):
    from airflow_provider_aep.client.errors import AEPAPIError

    op = ExploreConnectionOperator(
        task_id="schema", base_connection_id=pipeline["base"], object_type="table", table="Hubspot.Nope"
    )
    with pytest.raises(AEPAPIError):
        op.execute(context)

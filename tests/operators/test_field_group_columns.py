"""From a file alone to a dataset: ``CreateFieldGroupOperator(columns=...)`` and ``(infer_from=...)``, then the
existing schema and dataset operators, over real HTTP against the emulator; reuse verified, mismatches fail,
bad input fails before any request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_aep.client import xdm
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.operators.catalog import CreateDatasetOperator
from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator

DECLARED = {"email": "string", "address.city": "string", "signup": "date-time", "age": "integer"}


def journal(emulator) -> list[dict]:
    return emulator.control.journal()


def leaves(group: dict, tenant: str, source: str, name: str) -> dict:
    node = group["definitions"]["fields"]["properties"][tenant]["properties"][source]["properties"][name]
    return node["properties"]


def stored_group(emulator, group_id: str) -> dict:
    [group] = [g for g in emulator.control.state()["fieldgroups"] if g["$id"] == group_id]
    return group


def to_dataset(context, group_id: str, name: str) -> tuple[str, str]:
    """The existing operators, from the field group on: schema, then dataset."""
    schema_id = CreateSchemaOperator(task_id="schema", title=name, field_group_ids=group_id).execute(context)
    dataset_id = CreateDatasetOperator(task_id="ds", name=name, schema_id=schema_id).execute(context)
    return schema_id, dataset_id


def test_declared_columns_to_field_group_schema_and_dataset(emulator, context):
    op = CreateFieldGroupOperator(task_id="fg", columns=DECLARED, source="files", object_name="signups")
    group_id = op.execute(context)
    paths = context["ti"].xcoms["field_paths"]
    tenant = paths["email"].split(".")[0]
    assert paths == {
        "email": f"{tenant}.files.signups.email",
        "address.city": f"{tenant}.files.signups.address.city",
        "signup": f"{tenant}.files.signups.signup",
        "age": f"{tenant}.files.signups.age",
    }
    assert context["ti"].xcoms["created"] is True
    group = stored_group(emulator, group_id)
    assert group["title"] == "signups fields" and group["meta:intendedToExtend"] == [xdm.PROFILE_CLASS_ID]
    fields = leaves(group, tenant, "files", "signups")
    assert fields["address"]["properties"]["city"]["type"] == "string"
    assert (fields["signup"]["type"], fields["signup"]["format"]) == ("string", "date-time")
    assert fields["age"]["type"] == "integer"

    schema_id, dataset_id = to_dataset(context, group_id, "Signups")
    [dataset] = [d for d in emulator.control.state()["dataSets"] if d["id"] == dataset_id]
    assert dataset["schemaRef"]["id"] == schema_id

    # The schema, resolved, holds the nested field the declared dotted name made.
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

    resolved = AEPFlowServiceHook().schema_registry.get("schemas", schema_id, full=True)
    ours = resolved["properties"][tenant]["properties"]["files"]["properties"]["signups"]["properties"]
    assert ours["address"]["properties"]["city"]["meta:xdmType"] == "string"
    assert ours["age"]["meta:xdmType"] == "int"

    # A re-run reuses everything; a wider declaration adds its missing fields to the same group.
    again = CreateFieldGroupOperator(
        task_id="fg", columns={**DECLARED, "address.zip": "string"}, source="files", object_name="signups"
    ).execute(context)
    assert again == group_id and context["ti"].xcoms["created"] is False
    assert "zip" in leaves(stored_group(emulator, group_id), tenant, "files", "signups")["address"]["properties"]
    assert to_dataset(context, group_id, "Signups") == (schema_id, dataset_id)


@pytest.mark.parametrize(
    ("retyped", "conflict"),
    [
        ({"age": "string"}, "signups.age is int"),
        ({"address": "string"}, "signups.address is an object, asked for string"),
    ],
)
def test_a_reused_field_group_whose_fields_differ_fails(emulator, context, retyped, conflict):
    CreateFieldGroupOperator(task_id="fg", columns=DECLARED, source="files", object_name="signups").execute(context)
    changed = {k: v for k, v in DECLARED.items() if not (k.startswith("address") and "address" in retyped)}
    changed.update(retyped)
    with pytest.raises(AEPResourceMismatchError, match=r"field group 'signups fields' exists with field types") as err:
        CreateFieldGroupOperator(task_id="fg", columns=changed, source="files", object_name="signups").execute(context)
    assert conflict in str(err.value)
    assert not [e for e in emulator.control.journal(method="PATCH") if "/fieldgroups/" in e["path"]]


def write_samples(tmp_path: Path) -> dict[str, Path]:
    csv_file = tmp_path / "signups.csv"
    csv_file.write_text(
        "email,address.city,signup,age\na@x.io,Paris,2024-05-01T10:00:00Z,31\nb@x.io,Lyon,2024-05-02T09:30:00Z,42\n"
    )
    jsonl = tmp_path / "signups.jsonl"
    rows = [
        {"email": "a@x.io", "address": {"city": "Paris"}, "signup": "2024-05-01T10:00:00Z", "age": 31},
        {"email": "b@x.io", "address": {"city": "Lyon"}, "signup": "2024-05-02T09:30:00Z", "age": 42},
    ]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = {"csv": csv_file, "jsonl": jsonl}
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return found
    table = pa.table(
        {
            "email": pa.array(["a@x.io"]),
            "address": pa.array([{"city": "Paris"}]),
            "signup": pa.array([1_714_557_600_000], pa.timestamp("ms", tz="UTC")),
            "age": pa.array([31], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "signups.parquet")
    found["parquet"] = tmp_path / "signups.parquet"
    return found


@pytest.mark.parametrize("file_format", ["csv", "jsonl", "parquet"])
def test_a_file_sample_to_field_group_schema_and_dataset(emulator, context, tmp_path, file_format):
    files = write_samples(tmp_path)
    if file_format not in files:
        pytest.skip("pyarrow not installed (pip install 'airflow-provider-aep[parquet]')")
    op = CreateFieldGroupOperator(task_id="fg", infer_from=str(files[file_format]), source="files")
    group_id = op.execute(context)
    paths = context["ti"].xcoms["field_paths"]
    tenant = paths["email"].split(".")[0]
    assert set(paths) == set(DECLARED) and paths["address.city"] == f"{tenant}.files.signups.address.city"
    fields = leaves(stored_group(emulator, group_id), tenant, "files", "signups")  # object named after the file
    assert fields["signup"]["format"] == "date-time" and fields["age"]["type"] == "integer"
    assert fields["address"]["properties"]["city"]["type"] == "string"
    schema_id, dataset_id = to_dataset(context, group_id, f"Signups from {file_format}")
    assert schema_id.startswith("https://ns.adobe.com/") and dataset_id

    # The same file again: reused as it is; the same columns declared with another type: refused.
    assert CreateFieldGroupOperator(task_id="fg", infer_from=files[file_format], source="files").execute(context) == (
        group_id
    )
    assert context["ti"].xcoms["created"] is False
    with pytest.raises(AEPResourceMismatchError, match=r"signups.age is int, asked for boolean"):
        CreateFieldGroupOperator(
            task_id="fg", infer_from=files[file_format], columns={"age": "boolean"}, source="files"
        ).execute(context)


def test_bad_input_fails_before_any_request(emulator, context, tmp_path):
    before = len(journal(emulator))
    missing = CreateFieldGroupOperator(task_id="fg", infer_from=str(tmp_path / "nope.csv"), source="files")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'infer_from' .*is not a file that exists"):
        missing.execute(context)
    (tmp_path / "lists.jsonl").write_text(json.dumps({"tags": ["a"], "n": 1}) + "\n")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'infer_from'.*'tags'"):
        CreateFieldGroupOperator(task_id="fg", infer_from=tmp_path / "lists.jsonl", source="files").execute(context)
    # a column declared with a type wins over the sample's: the lists are declared strings
    (tmp_path / "both.csv").write_text("address,n\nParis,1\n")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'columns.address' is a field and also an object"):
        CreateFieldGroupOperator(
            task_id="fg", infer_from=tmp_path / "both.csv", columns={"address.city": "string"}, source="files"
        ).execute(context)
    templated = CreateFieldGroupOperator(task_id="fg", columns="{{ params.columns }}", object_name="x")
    templated.columns = {"age": "years"}  # as rendered
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'columns.age' unknown type 'years'"):
        templated.execute(context)
    assert len(journal(emulator)) == before  # not even the tenant id was asked for


def test_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'columns.age' unknown type 'years'"):
        CreateFieldGroupOperator(task_id="fg", columns={"age": "years"}, object_name="x")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'table' or columns= or infer_from= is required"):
        CreateFieldGroupOperator(task_id="fg")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'table' is given with columns/infer_from"):
        CreateFieldGroupOperator(task_id="fg", table={"path": "T", "columns": []}, columns={"a": "string"})
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'object_name' is required with columns"):
        CreateFieldGroupOperator(task_id="fg", columns={"a": "string"})
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'file_format' must be one of csv, jsonl, parquet"):
        CreateFieldGroupOperator(task_id="fg", infer_from="x.csv", file_format="xlsx")
    with pytest.raises(AEPInvalidArgumentError, match=r"argument 'sample_rows'"):
        CreateFieldGroupOperator(task_id="fg", infer_from="x.csv", sample_rows=0)

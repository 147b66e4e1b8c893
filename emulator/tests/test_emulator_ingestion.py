"""Emulated ingestion: finished runs map, coerce and validate HubSpot sample rows into their Catalog dataset.

Everything is set up over HTTP (schema, dataset, mapping set, connections, flow, run); what landed is read
back through the control plane and the ``aep_landed_records`` pytest helper.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from aep_emulator import EmulatorControlError
from aep_emulator.flow_service.incremental import ISO_SECONDS
from aep_emulator.flow_service.sources import hubspot
from target_helpers import (
    batch_id_of,
    catalog,
    contact_mappings,
    conversion,
    finished_run,
    make_dataset,
    make_flow,
    make_mapping_set,
    make_schema,
    tenant,
)

ROWS = hubspot.preview_rows("Contacts", count=10)


def setup_flow(fs, *, fields=None, mappings=None, required=None, identity=None, options=None, table=None):
    """Schema (custom fields under ``_{TENANT}.hubspot``), dataset, mapping set and flow; returns their ids."""
    schema = make_schema(fs, fields=fields, required=required, identity=identity)
    tenant_id = tenant(fs)
    dataset = make_dataset(fs, schema)
    chosen = mappings(f"_{tenant_id}.hubspot") if callable(mappings) else contact_mappings(tenant_id)
    mapping = make_mapping_set(fs, schema, chosen)
    extra = {"table": table} if table else {}
    flow = make_flow(fs, dataset, schema, mapping, options=options, **extra)
    return {"schema": schema, "dataset": dataset, "mapping": mapping, "flow": flow, "tenant": tenant_id}


def custom(record: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    return record[f"_{tenant_id}"]["hubspot"]


def extension_errors(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["code"]: e for e in run["activities"][1]["statusSummary"]["extensions"]["errors"]}


# -- the happy path ------------------------------------------------------------------------------------
def test_good_records_land_with_real_counts(emu, fs, aep_landed_records):
    ids = setup_flow(fs)
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == run["metrics"]["statusSummary"]["status"] == "success"
    assert "errors" not in run["metrics"]["statusSummary"]
    assert run["metrics"]["recordSummary"] == {"inputRecordCount": 10, "outputRecordCount": 10, "failedRecordCount": 0}
    copy_activity, promotion = run["activities"]
    assert copy_activity["recordSummary"] == {"inputRecordCount": 10, "outputRecordCount": 10}
    assert promotion["recordSummary"]["outputRecordCount"] == 10
    batch_id = batch_id_of(run)
    landed = aep_landed_records(ids["dataset"])
    assert landed == emu.control.landed_records(ids["dataset"], batch_id=batch_id)
    assert len(landed) == 10
    for row, record in zip(ROWS, landed, strict=True):
        assert record == {
            f"_{ids['tenant']}": {
                "hubspot": {
                    "vid": row["Vid"],
                    "email": row["Properties_Email_Value"].lower(),
                    "addedAt": row["Added_At"],
                    "isContact": row["Is_Contact"],
                    "source": "hubspot",
                }
            },
            "person": {
                "name": {"firstName": row["Properties_Firstname_Value"], "lastName": row["Properties_Lastname_Value"]}
            },
        }
    batch = catalog(fs, "GET", f"/batches/{batch_id}").json()[batch_id]
    assert batch["status"] == "success" and batch["metrics"]["outputRecordCount"] == 10
    assert emu.control.failed_records(ids["dataset"]) == []


def test_each_run_is_its_own_batch_and_copies_only_rows_changed_in_its_window(emu, fs):
    ids = setup_flow(fs)
    first, second = finished_run(emu, fs, ids["flow"]), finished_run(emu, fs, ids["flow"])
    assert batch_id_of(first) != batch_id_of(second)
    # the flow's delta column is Updated_At: the first run copies all history, the second only what changed since
    assert second["state"] == "success"
    assert second["metrics"]["recordSummary"] == {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0}
    assert len(emu.control.landed_records(ids["dataset"])) == 10
    assert emu.control.landed_records(ids["dataset"], batch_id=batch_id_of(second)) == []

    touched = emu.control.touch_rows("Hubspot.Contacts", 2)
    assert touched["column"] == "Updated_At" and touched["rows"] == 2
    third = finished_run(emu, fs, ids["flow"])
    landed = emu.control.landed_records(ids["dataset"], batch_id=batch_id_of(third))
    assert [custom(record, ids["tenant"])["vid"] for record in landed] == [row["Vid"] for row in ROWS[:2]]
    assert third["metrics"]["recordSummary"]["outputRecordCount"] == 2
    assert len(emu.control.landed_records(ids["dataset"])) == 12
    assert finished_run(emu, fs, ids["flow"])["metrics"]["recordSummary"]["inputRecordCount"] == 0
    assert emu.control.landed_records(ids["dataset"], batch_id="01NOSUCHBATCH0000000000000") == []


def test_an_explicit_window_copies_the_rows_whose_delta_column_falls_in_it(emu, fs):
    ids = setup_flow(fs)
    stamps = sorted(
        int(dt.datetime.strptime(row["Updated_At"], ISO_SECONDS).replace(tzinfo=dt.timezone.utc).timestamp())
        for row in ROWS
    )
    # (start, end] in epoch seconds: the rows updated after the third-oldest, up to the seventh-oldest
    params = {"windowStartTime": stamps[2], "windowEndTime": stamps[6]}
    created = fs.post("/runs", json={"flowId": ids["flow"], "params": params})
    assert created.status_code == 201, created.text
    emu.control.advance_clock(10)
    run = fs.item(f"/runs/{created.json()['items'][0]['id']}")
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 4


def test_touching_rows_of_an_unknown_table_or_a_bad_count_is_refused(emu):
    with pytest.raises(EmulatorControlError, match=r"no emulated table 'Hubspot\.Nope'"):
        emu.control.touch_rows("Hubspot.Nope")
    with pytest.raises(EmulatorControlError, match="rows must be a positive integer"):
        emu.control.touch_rows("Hubspot.Contacts", 0)
    assert emu.control.touch_rows("Contact", source="salesforce")["value"].endswith(".000+0000")


def test_landed_records_over_http_with_org_and_sandbox(emu, fs, flow_client):
    ids = setup_flow(fs)
    run = finished_run(emu, fs, ids["flow"])
    url = f"{emu.url}/__emulator/datasets/{ids['dataset']}/records"
    everything = requests.get(url, timeout=10).json()
    assert len(everything) == 10
    one_batch = requests.get(url, params={"batch": batch_id_of(run), "sandbox": "prod"}, timeout=10).json()
    assert one_batch == everything
    assert requests.get(url, params={"sandbox": "dev"}, timeout=10).status_code == 404
    assert requests.get(url, params={"org": "OTHER@AdobeOrg"}, timeout=10).status_code == 404
    with pytest.raises(EmulatorControlError):
        emu.control.landed_records("5ed5639d798a22191b6987b2")
    # the same dataset id in another sandbox is another dataset
    dev = flow_client(sandbox="dev")
    dev_ids = setup_flow(dev)
    finished_run(emu, dev, dev_ids["flow"])
    assert len(emu.control.landed_records(dev_ids["dataset"], sandbox="dev")) == 10
    assert len(emu.control.landed_records(dev_ids["dataset"], sandbox=None)) == 10


def test_rows_per_run_is_configurable(emu, fs):
    emu.control.configure(rows_per_run=3)
    ids = setup_flow(fs)
    run = finished_run(emu, fs, ids["flow"])
    assert run["metrics"]["recordSummary"]["inputRecordCount"] == 3
    assert len(emu.control.landed_records(ids["dataset"])) == 3


# -- failed records ------------------------------------------------------------------------------------
def test_non_numeric_string_into_integer_field_fails_every_record(emu, fs):
    """The lead's failed-records policy case: an integer field fed names."""
    fields = {"count": {"type": "integer", "title": "Count", "description": "A number"}}
    ids = setup_flow(
        fs,
        fields=fields,
        mappings=lambda base: [
            {"sourceType": "ATTRIBUTE", "source": "Properties_Firstname_Value", "destination": f"{base}.count"}
        ],
    )
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == run["metrics"]["statusSummary"]["status"] == "failed"
    assert run["metrics"]["recordSummary"] == {"inputRecordCount": 10, "outputRecordCount": 0, "failedRecordCount": 10}
    assert run["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    errors = extension_errors(run)
    assert errors["MAPPER-3700-400"] == {
        "code": "MAPPER-3700-400",
        "recordCount": 10,
        "message": "Mapper Transform Error",
    }
    assert errors["INGEST-1212-400"]["message"].startswith(
        "Encountered 10 errors in the data. Successfully ingested 0 rows."
    )
    assert fs.item(f"/flows/{ids['flow']}")["lastRunDetails"]["state"] == "failed"
    batch_id = batch_id_of(run)
    batch = catalog(fs, "GET", f"/batches/{batch_id}").json()[batch_id]
    assert batch["status"] == "failed" and batch["metrics"]["failedRecordCount"] == 10
    summary, mapper = batch["errors"]
    assert summary["code"] == "INGEST-1212-400"
    assert mapper["code"] == "MAPPER-3700-400" and mapper["recordCount"] == 10 and mapper["rows"] == ["1-10"]
    assert ROWS[0]["Properties_Firstname_Value"] in mapper["description"]
    assert emu.control.landed_records(ids["dataset"]) == []
    failed = emu.control.failed_records(ids["dataset"])
    assert [f["row"] for f in failed] == list(range(1, 11))
    assert failed[0]["source"] == ROWS[0] and failed[0]["batch"] == batch_id
    assert failed[0]["errors"][0]["code"] == "MAPPER-3700-400"
    assert failed[0]["errors"][0]["destination"] == f"_{ids['tenant']}.hubspot.count"


def test_some_records_fail_and_the_run_still_succeeds(emu, fs):
    """A boolean field fed "yes"/"maybe": Data Prep parses "yes", the rest fail."""
    fields = {"flag": {"type": "boolean", "title": "Flag", "description": "b"}}
    ids = setup_flow(
        fs,
        fields=fields,
        mappings=lambda base: [
            {"sourceType": "EXPRESSION", "source": 'iif(Is_Contact, "yes", "maybe")', "destination": f"{base}.flag"}
        ],
    )
    contacts = [i for i, row in enumerate(ROWS, start=1) if row["Is_Contact"]]
    assert 0 < len(contacts) < 10
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "success"
    failed = 10 - len(contacts)
    assert run["metrics"]["recordSummary"] == {
        "inputRecordCount": 10,
        "outputRecordCount": len(contacts),
        "failedRecordCount": failed,
    }
    assert extension_errors(run)["MAPPER-3700-400"]["recordCount"] == failed
    assert [custom(r, ids["tenant"]) for r in emu.control.landed_records(ids["dataset"])] == [{"flag": True}] * len(
        contacts
    )
    assert sorted(f["row"] for f in emu.control.failed_records(ids["dataset"])) == [
        i for i in range(1, 11) if i not in contacts
    ]
    batch = catalog(fs, "GET", f"/batches/{batch_id_of(run)}").json()[batch_id_of(run)]
    assert batch["status"] == "success" and batch["errors"][1]["recordCount"] == failed


def test_required_fields_and_primary_identity_must_be_present(emu, fs):
    fields = {
        "vid": {"type": "integer", "title": "Vid", "description": "id"},
        "email": {"type": "string", "title": "Email", "description": "mail"},
        "phone": {"type": "string", "title": "Phone", "description": "never mapped"},
    }
    only_vid = lambda base: [{"sourceType": "ATTRIBUTE", "source": "Vid", "destination": f"{base}.vid"}]  # noqa: E731
    required = setup_flow(fs, fields=fields, required=["phone"], mappings=only_vid)
    run = finished_run(emu, fs, required["flow"])
    assert run["state"] == "failed" and extension_errors(run)["INGEST-1555-400"]["recordCount"] == 10
    failure = emu.control.failed_records(required["dataset"])[0]["errors"][0]
    assert failure["code"] == "INGEST-1555-400" and "phone" in failure["message"]
    identity = setup_flow(fs, fields=fields, identity="email", mappings=only_vid)
    run = finished_run(emu, fs, identity["flow"])
    assert run["state"] == "failed"
    assert "primary identity" in emu.control.failed_records(identity["dataset"])[0]["errors"][0]["message"]


def test_partial_ingestion_threshold_fails_the_run(emu, fs):
    fields = {"flag": {"type": "boolean", "title": "Flag", "description": "b"}}
    ids = setup_flow(
        fs,
        fields=fields,
        options={"partialIngestionPercent": 5},
        mappings=lambda base: [
            {"sourceType": "EXPRESSION", "source": 'iif(Is_Contact, "on", "maybe")', "destination": f"{base}.flag"}
        ],
    )
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "failed" and run["metrics"]["recordSummary"]["outputRecordCount"] == 0
    assert emu.control.landed_records(ids["dataset"]) == []
    assert catalog(fs, "GET", f"/batches/{batch_id_of(run)}").json()[batch_id_of(run)]["status"] == "failed"


# -- Data Prep coercion and functions --------------------------------------------------------------------
def test_coercion_and_functions(emu, fs):
    fields = {
        "vidText": {"type": "string", "title": "a", "description": "a"},
        "answer": {"type": "integer", "title": "b", "description": "b"},
        "ratio": {"type": "number", "title": "c", "description": "c"},
        "enabled": {"type": "boolean", "title": "d", "description": "d"},
        "day": {"type": "string", "format": "date", "title": "e", "description": "e"},
        "parsed": {"type": "string", "format": "date-time", "title": "f", "description": "f"},
        "label": {"type": "string", "title": "g", "description": "g"},
        "loaded": {"type": "string", "format": "date-time", "title": "h", "description": "h"},
        "token": {"type": "string", "title": "i", "description": "i"},
        "stage": {"type": "string", "enum": ["lead", "customer", "other"], "title": "j", "description": "j"},
    }

    def mappings(base: str) -> list[dict[str, Any]]:
        return [
            {"sourceType": "ATTRIBUTE", "source": "Vid", "destination": f"{base}.vidText"},
            {"sourceType": "STATIC", "source": "42", "destination": f"{base}.answer"},
            {"sourceType": "EXPRESSION", "source": 'to_float("2.5") * 2', "destination": f"{base}.ratio"},
            {"sourceType": "STATIC", "source": "YES", "destination": f"{base}.enabled"},
            {"sourceType": "ATTRIBUTE", "source": "Added_At", "destination": f"{base}.day"},
            {
                "sourceType": "EXPRESSION",
                "source": 'date(substr(Added_At, 0, 10), "yyyy-MM-dd")',
                "destination": f"{base}.parsed",
            },
            {
                "sourceType": "EXPRESSION",
                "source": 'concat(upper(trim(Properties_Lastname_Value)), ", ", Properties_Firstname_Value)',
                "destination": f"{base}.label",
            },
            {"sourceType": "EXPRESSION", "source": "now()", "destination": f"{base}.loaded"},
            {"sourceType": "EXPRESSION", "source": "uuid()", "destination": f"{base}.token"},
            {
                "sourceType": "EXPRESSION",
                "source": 'decode(Properties_Lifecyclestage_Value, "lead", "lead", "customer", "customer", "other")',
                "destination": f"{base}.stage",
            },
        ]

    ids = setup_flow(fs, fields=fields, mappings=mappings)
    run = finished_run(emu, fs, ids["flow"])
    assert run["metrics"]["recordSummary"]["failedRecordCount"] == 0, emu.control.failed_records(ids["dataset"])
    records = [custom(r, ids["tenant"]) for r in emu.control.landed_records(ids["dataset"])]
    for row, record in zip(ROWS, records, strict=True):
        assert record["vidText"] == str(row["Vid"]) and record["answer"] == 42 and record["ratio"] == 5.0
        assert record["enabled"] is True and record["day"] == row["Added_At"][:10]
        assert record["parsed"] == row["Added_At"][:10] + "T00:00:00Z"
        assert record["label"] == f"{row['Properties_Lastname_Value'].upper()}, {row['Properties_Firstname_Value']}"
        assert record["stage"] in ("lead", "customer", "other")
        assert len(record["token"]) == 36
    ended = run["metrics"]["durationSummary"]["completedAtUTC"]  # now() is the emulator clock at the run's end
    moment = dt.datetime.fromtimestamp(ended / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert {r["loaded"] for r in records} == {moment + (f".{ended % 1000:03d}" if ended % 1000 else "") + "Z"}
    assert len({r["token"] for r in records}) == 10


@pytest.mark.parametrize(
    ("definition", "static", "fragment"),
    [
        ({"type": "integer", "minimum": -32768, "maximum": 32768}, "70000", "outside the range"),
        ({"type": "integer"}, "12.5", "int"),
        ({"type": "number"}, "twelve", "number"),
        ({"type": "boolean"}, "maybe", "boolean"),
        ({"type": "string", "format": "date"}, "31st of May", "date"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "abc", "pattern"),
        ({"type": "string", "maxLength": 2}, "abc", "longer"),
    ],
)
def test_conversion_failures(emu, fs, definition, static, fragment):
    fields = {"value": {**definition, "title": "v", "description": "v"}}
    ids = setup_flow(
        fs,
        fields=fields,
        mappings=lambda base: [{"sourceType": "STATIC", "source": static, "destination": f"{base}.value"}],
    )
    emu.control.configure(rows_per_run=2)
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "failed"
    error = emu.control.failed_records(ids["dataset"])[0]["errors"][0]
    assert error["code"] == "MAPPER-3700-400" and fragment in error["message"]


def test_expression_errors_and_unemulated_functions_fail_records(emu, fs):
    fields = {"value": {"type": "integer", "title": "v", "description": "v"}}
    ids = setup_flow(
        fs,
        fields=fields,
        mappings=lambda base: [
            {
                "sourceType": "EXPRESSION",
                "source": "to_integer(Properties_Firstname_Value)",
                "destination": f"{base}.value",
            }
        ],
    )
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "failed"
    assert "to_integer" in emu.control.failed_records(ids["dataset"])[0]["errors"][0]["message"]
    other = setup_flow(
        fs,
        fields={"os": {"type": "string", "title": "o", "description": "o"}},
        mappings=lambda base: [
            {"sourceType": "EXPRESSION", "source": "ua_os_name(Email)", "destination": f"{base}.os"}
        ],
        table="Hubspot.Owners",
    )
    run = finished_run(emu, fs, other["flow"])
    assert "not emulated" in emu.control.failed_records(other["dataset"])[0]["errors"][0]["message"]


def test_mapping_version_of_the_flow_is_used(emu, fs):
    ids = setup_flow(fs)
    body = {
        "outputSchema": {"schemaRef": {"id": ids["schema"]}},
        "mappings": [{"sourceType": "ATTRIBUTE", "source": "Vid", "destination": f"_{ids['tenant']}.hubspot.vid"}],
    }
    assert conversion(fs, "PUT", f"/mappingSets/{ids['mapping']}", json=body).json()["version"] == 1
    run = finished_run(emu, fs, ids["flow"])  # the flow still names mappingVersion 0
    record = emu.control.landed_records(ids["dataset"], batch_id=batch_id_of(run))[0]
    assert set(custom(record, ids["tenant"])) == {"vid", "email", "addedAt", "isContact", "source"}


# -- forced outcomes and runs without a dataset -----------------------------------------------------------
def test_forced_partial_outcome_moves_records_to_failed(emu, fs):
    ids = setup_flow(fs)
    emu.control.set_run_outcome("partial", flow_id=ids["flow"], failed_records=3)
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "success"
    assert run["metrics"]["recordSummary"] == {"inputRecordCount": 10, "outputRecordCount": 7, "failedRecordCount": 3}
    assert set(extension_errors(run)) == {"INGEST-1212-400", "MAPPER-3700-400"}
    assert len(emu.control.landed_records(ids["dataset"])) == 7
    assert [f["row"] for f in emu.control.failed_records(ids["dataset"])] == [8, 9, 10]


def test_forced_failure_lands_nothing_and_creates_no_batch(emu, fs):
    ids = setup_flow(fs)
    emu.control.set_run_outcome("failed", flow_id=ids["flow"])
    run = finished_run(emu, fs, ids["flow"])
    assert run["state"] == "failed"
    assert run["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    assert catalog(fs, "GET", "/batches", params={"dataSet": ids["dataset"]}).json() == {}
    assert emu.control.landed_records(ids["dataset"]) == []


def test_run_of_a_deleted_flow_keeps_random_metrics(emu, fs):
    ids = setup_flow(fs)
    created = fs.post("/runs", json={"flowId": ids["flow"]}).json()["items"][0]["id"]
    assert fs.delete(f"/flows/{ids['flow']}").status_code == 204
    emu.control.advance_clock(10)
    run = fs.item(f"/runs/{created}")
    assert run["state"] == "success" and run["metrics"]["recordSummary"]["inputRecordCount"] >= 100
    assert catalog(fs, "GET", "/batches").json() == {}


def test_state_and_journal_show_no_private_fields(emu, fs):
    ids = setup_flow(
        fs,
        fields={"count": {"type": "integer", "title": "c", "description": "c"}},
        mappings=lambda base: [
            {"sourceType": "ATTRIBUTE", "source": "Properties_Firstname_Value", "destination": f"{base}.count"}
        ],
    )
    finished_run(emu, fs, ids["flow"])
    state = emu.control.state()
    assert [b["status"] for b in state["batches"]] == ["failed"]
    assert all(not key.startswith("_") for b in state["batches"] for key in b)
    assert all(not key.startswith("_") for m in state["mappingSets"] for key in m)
    assert state["dataSets"][0]["id"] == ids["dataset"]
    paths = {entry["path"] for entry in emu.control.journal()}
    assert "/data/foundation/catalog/dataSets" in paths and "/data/foundation/conversion/mappingSets" in paths


def test_rows_per_run_flag_and_validation(emu):
    from aep_emulator.cli import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args(["--rows-per-run", "3"])).rows_per_run == 3
    assert emu.control.config()["rows_per_run"] == 10
    with pytest.raises(EmulatorControlError):
        emu.control.configure(rows_per_run=-1)

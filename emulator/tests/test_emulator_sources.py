"""Table sources as declarations (``emulator/sources.py``): Salesforce end to end, and a test-only third source.

Everything goes over real HTTP: connection specs, base connections (auth validated against the spec's JSON
schema, secrets masked), explore, source connections (``params.tableName`` + ``params.columns`` for
Salesforce), and runs that ingest sample rows through a real schema, dataset and mapping set.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aep_emulator.flow_service import sources, specs
from aep_emulator.flow_service.sources import hubspot, salesforce
from aep_emulator.testing import (
    CRM_TO_AEP,
    HUBSPOT,
    S3,
    FlowClient,
    flow_error_code,
    make_dataset,
    make_mapping_set,
)
from target_helpers import batch_id_of, finished_run, tenant
from target_helpers import make_dataset as make_typed_dataset
from target_helpers import make_mapping_set as make_typed_mapping_set
from target_helpers import make_schema as make_typed_schema

SALESFORCE = specs.SALESFORCE_SPEC_ID
BASIC_AUTH: dict[str, Any] = {
    "specName": "Basic Authentication",
    "params": {
        "environmentUrl": "https://acme-enterprise-3126.my.salesforce.com",
        "username": "acme-salesforce",
        "password": "sf-password-VALUE",
        "securityToken": "sf-token-VALUE",
    },
}
OAUTH: dict[str, Any] = {
    "specName": "OAuth2 Client Credential",
    "params": {
        "environmentUrl": "https://acme-enterprise-3126.my.salesforce.com",
        "clientId": "sf-client",
        "clientSecret": "sf-secret-VALUE",
        "apiVersion": "60.0",
        "includeDeletedObjects": False,
    },
}
SF_SECRETS = ("sf-password-VALUE", "sf-token-VALUE", "sf-secret-VALUE")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SF_ID = re.compile(r"^[0-9A-Za-z]{18}$")


# -- helpers ----------------------------------------------------------------------------------------
def connection(fs: FlowClient, spec_id: str = SALESFORCE, auth: dict[str, Any] | None = None) -> str:
    body = {"name": "salesforce base", "auth": auth or OAUTH, "connectionSpec": {"id": spec_id, "version": "1.0"}}
    return fs.created("/connections", body)["id"]


def explore(fs: FlowClient, conn_id: str, **params: str) -> Any:
    response = fs.get(f"/connections/{conn_id}/explore", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def source_body(base: str, params: dict[str, Any], spec_id: str = SALESFORCE) -> dict[str, Any]:
    return {
        "name": "salesforce source",
        "baseConnectionId": base,
        "data": {"format": "tabular"},
        "params": params,
        "connectionSpec": {"id": spec_id, "version": "1.0"},
    }


def table_params(fs: FlowClient, base: str, table: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """``params`` for a Salesforce source connection: ``tableName`` and the explored columns (or ``only`` those)."""
    columns = explore(fs, base, objectType="table", object=table)["schema"]["columns"]
    if only:
        columns = [c for c in columns if c["name"] in only]
    return {"tableName": table, "columns": columns}


def flow(fs: FlowClient, source: str, target: str, mapping: str, delta: str = "LastModifiedDate") -> str:
    body = {
        "name": "salesforce dataflow",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [
            {"name": "Copy", "params": {"deltaColumn": {"name": delta, "dateFormat": "yyyy-MM-dd HH:mm:ss"}}},
            {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}},
        ],
        "scheduleParams": {"startTime": int(time.time()) + 3600, "frequency": "once"},
    }
    return fs.created("/flows", body)["id"]


# -- connection spec and base connections ----------------------------------------------------------
def test_salesforce_connection_spec(fs):
    spec = fs.item(f"/connectionSpecs/{SALESFORCE}")
    assert (spec["name"], spec["version"], spec["attributes"]["category"]) == ("salesforce", "1.0", "CRM")
    assert not any(key.startswith("_") for key in spec)
    auth = {a["name"]: a["spec"] for a in spec["authSpec"]}
    assert set(auth) == {"Basic Authentication", "OAuth2 Client Credential"}
    basic, oauth = auth["Basic Authentication"], auth["OAuth2 Client Credential"]
    assert basic["required"] == ["environmentUrl", "username", "password", "securityToken"]
    assert {k for k, v in basic["properties"].items() if v.get("format") == "password"} == {"password", "securityToken"}
    assert oauth["required"] == ["environmentUrl", "clientId", "clientSecret", "apiVersion"]
    assert {k for k, v in oauth["properties"].items() if v.get("format") == "password"} == {"clientSecret"}
    assert oauth["properties"]["includeDeletedObjects"] == {
        "type": "boolean",
        "default": False,
        "description": "Whether to include soft-deleted records.",
    }
    assert spec["sourceSpec"]["spec"]["required"] == ["tableName", "columns"]
    crm = fs.item(f"/flowSpecs/{CRM_TO_AEP}")
    assert SALESFORCE in crm["sourceConnectionSpecIds"] and HUBSPOT in crm["sourceConnectionSpecIds"]
    by_name = fs.get("/connectionSpecs", params={"property": 'name=="salesforce"'}).json()["items"]
    assert [s["id"] for s in by_name] == [SALESFORCE]


@pytest.mark.parametrize(
    "auth", [BASIC_AUTH, OAUTH, {**BASIC_AUTH, "params": {**BASIC_AUTH["params"], "apiVersion": "52.0"}}]
)
def test_salesforce_connections_validate_and_mask(emu, fs, auth):
    conn_id = connection(fs, auth=auth)
    stored = fs.item(f"/connections/{conn_id}")
    secrets = {k for k in auth["params"] if k in ("password", "securityToken", "clientSecret")}
    assert stored["auth"]["params"] == {k: ("<redacted>" if k in secrets else v) for k, v in auth["params"].items()}
    state = emu.control.state()
    journal = emu.control.journal()
    for shown in (stored, state, journal):
        assert not [s for s in SF_SECRETS if s in str(shown)]
    create = next(e for e in journal if e["method"] == "POST" and e["path"].endswith("/connections"))
    assert create["body"]["auth"]["params"]["environmentUrl"] == auth["params"]["environmentUrl"]
    raw = emu.control.state(include_secrets=True)["connections"][0]["auth"]
    assert raw == auth


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        (
            {**BASIC_AUTH, "params": {k: v for k, v in BASIC_AUTH["params"].items() if k != "securityToken"}},
            "securityToken",
        ),
        (
            {**BASIC_AUTH, "params": {k: v for k, v in BASIC_AUTH["params"].items() if k != "environmentUrl"}},
            "environmentUrl",
        ),
        ({**OAUTH, "params": {k: v for k, v in OAUTH["params"].items() if k != "apiVersion"}}, "apiVersion"),
        ({**OAUTH, "params": {**OAUTH["params"], "apiVersion": "60"}}, "apiVersion"),
        ({**OAUTH, "params": {**OAUTH["params"], "apiVersion": 60.0}}, "apiVersion"),
        ({**OAUTH, "params": {**OAUTH["params"], "environmentUrl": "acme.my.salesforce.com"}}, "environmentUrl"),
        ({**OAUTH, "params": {**OAUTH["params"], "includeDeletedObjects": "no"}}, "includeDeletedObjects"),
    ],
)
def test_salesforce_auth_params_are_validated(fs, auth, field):
    body = {"name": "bad", "auth": auth, "connectionSpec": {"id": SALESFORCE, "version": "1.0"}}
    response = fs.post("/connections", json=body)
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == "1100-400"
    assert f"auth.params.{field}" in response.json()["report"]["detailed-message"]


def test_unknown_salesforce_auth_spec(fs):
    body = {
        "name": "bad",
        "auth": {**OAUTH, "specName": "OAuth2 JWT Token Credential"},
        "connectionSpec": {"id": SALESFORCE},
    }
    assert flow_error_code(fs.post("/connections", json=body)) == "1415-400"


# -- explore ---------------------------------------------------------------------------------------
def test_salesforce_explore_root_and_tables(fs):
    conn_id = connection(fs)
    root = explore(fs, conn_id, objectType="root")
    assert root == [
        {"type": "table", "name": name, "path": name, "canPreview": True, "canFetchSchema": True}
        for name in ("Account", "Contact", "Lead", "Opportunity")
    ]
    contact = explore(fs, conn_id, objectType="table", object="Contact")
    assert contact["format"] == "flat" and "data" not in contact
    columns = {c["name"]: c for c in contact["schema"]["columns"]}
    assert list(columns) == [name for name, _ in salesforce.TABLES["Contact"]]
    assert columns["FirstName"] == {"name": "FirstName", "type": "string", "meta": {"originalType": "string"}}
    assert (
        columns["Id"]["meta"] == {"originalType": "id"} and columns["AccountId"]["meta"]["originalType"] == "reference"
    )
    assert columns["LastModifiedDate"] == {
        "name": "LastModifiedDate",
        "type": "datetime",
        "meta": {"originalType": "datetime"},
    }
    assert not any("xdm" in c or "meta:xdmType" in c for c in columns.values())
    opportunity = {
        c["name"]: c for c in explore(fs, conn_id, objectType="table", object="Opportunity")["schema"]["columns"]
    }
    assert opportunity["Amount"] == {"name": "Amount", "type": "double", "meta": {"originalType": "currency"}}
    assert opportunity["IsWon"]["type"] == "boolean" and opportunity["CloseDate"]["type"] == "date"
    for table in root:
        names = [c["name"] for c in explore(fs, conn_id, objectType="table", object=table["path"])["schema"]["columns"]]
        assert "LastModifiedDate" in names and names[0] == "Id"


def test_salesforce_preview_rows_are_realistic_and_deterministic(fs):
    conn_id = connection(fs)
    params = {"objectType": "table", "object": "Opportunity", "preview": "true"}
    first, second = explore(fs, conn_id, **params), explore(fs, conn_id, **params)
    assert first == second
    rows = first["data"]
    assert len(rows) == 5
    assert all(list(row) == [c["name"] for c in first["schema"]["columns"]] for row in rows)
    accounts = {row["Id"] for row in salesforce.sample_rows("Account", salesforce.ACCOUNT_POOL)}
    for row in rows:
        assert SF_ID.match(row["Id"]) and row["Id"].startswith("006")
        assert row["AccountId"] in accounts
        assert DATETIME.match(row["CreatedDate"]) and DATETIME.match(row["LastModifiedDate"])
        assert row["CreatedDate"] <= row["LastModifiedDate"]
        assert DATE.match(row["CloseDate"]) and isinstance(row["Amount"], float)
        assert row["IsWon"] is (row["StageName"] == "Closed Won")
    leads = explore(fs, conn_id, objectType="table", object="Lead", preview="true")["data"]
    assert all(row["IsConverted"] is (row["ConvertedDate"] is not None) for row in leads)
    assert {row["Id"][:3] for row in leads} == {"00Q"}


def test_salesforce_ids_carry_their_checksum():
    record = salesforce.record_id("Contact", 3)
    flags = [sum(1 << i for i, ch in enumerate(record[n : n + 5]) if ch.isupper()) for n in (0, 5, 10)]
    assert record[15:] == "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[f] for f in flags)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"objectType": "table", "object": "Hubspot.Contacts"}, 404, "1101-404"),
        ({"objectType": "table", "object": "account"}, 404, "1101-404"),
        ({"objectType": "folder"}, 400, "1100-400"),
        ({"objectType": "table", "object": "Lead", "preview": "maybe"}, 400, "1452-400"),
    ],
)
def test_salesforce_explore_errors(fs, params, status, code):
    response = fs.get(f"/connections/{connection(fs)}/explore", params=params)
    assert response.status_code == status, response.text
    assert flow_error_code(response) == code


# -- source connections ----------------------------------------------------------------------------
def test_salesforce_source_connection_takes_table_name_and_columns(fs):
    base = connection(fs)
    params = table_params(fs, base, "Contact", only=("Id", "FirstName", "LastModifiedDate"))
    source_id = fs.created("/sourceConnections", source_body(base, params))["id"]
    stored = fs.item(f"/sourceConnections/{source_id}")
    assert stored["params"] == params and stored["data"] == {"format": "tabular"}
    assert stored["inheritedAttributes"]["baseConnection"]["connectionSpec"]["id"] == SALESFORCE
    # the documented body form (collect/crm.md) with an ``xdm`` block per column is accepted too
    documented = {"tableName": "Account", "columns": [{"name": "Name", "type": "string", "xdm": {"type": "String"}}]}
    fs.created("/sourceConnections", source_body(base, documented))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tableName": "Accounts", "columns": [{"name": "Id", "type": "string"}]}, "params.tableName"),
        (
            {
                "tableName": "Account",
                "columns": [{"name": "Id", "type": "string"}, {"name": "Email", "type": "string"}],
            },
            "params.columns[1].name",
        ),
        (
            {"tableName": "Account", "columns": [{"name": "Id", "type": "string"}, {"name": "Id", "type": "string"}]},
            "params.columns[1].name",
        ),
        ({"tableName": "Account"}, "params.columns"),
        ({"tableName": "Account", "columns": []}, "params.columns"),
        ({"tableName": "Account", "columns": [{"name": "Id"}]}, "params.columns[0].type"),
        ({"path": "Account", "columns": [{"name": "Id", "type": "string"}]}, "params.tableName"),
    ],
)
def test_salesforce_source_connection_params_are_checked(fs, params, field):
    response = fs.post("/sourceConnections", json=source_body(connection(fs), params))
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == "1100-400"
    assert f"'{field}'" in response.json()["report"]["detailed-message"]


def test_patching_a_salesforce_source_connection_rechecks_its_table(fs):
    base = connection(fs)
    source_id = fs.created("/sourceConnections", source_body(base, table_params(fs, base, "Lead")))["id"]
    etag = fs.item(f"/sourceConnections/{source_id}")["etag"]
    bad = fs.patch(
        f"/sourceConnections/{source_id}", [{"op": "replace", "path": "/params/tableName", "value": "Case"}], etag
    )
    assert bad.status_code == 400 and "'params.tableName'" in bad.json()["report"]["detailed-message"]
    good = fs.patch(f"/sourceConnections/{source_id}", [{"op": "remove", "path": "/params/columns/0"}], etag)
    assert good.status_code == 200, good.text


def test_hubspot_and_salesforce_address_tables_differently(fs):
    sf_base, hs_base = connection(fs), fs.connection()
    hubspot_style = fs.post("/sourceConnections", json=source_body(sf_base, {"path": "Hubspot.Contacts"}))
    assert "params.tableName" in hubspot_style.json()["report"]["detailed-message"]
    salesforce_style = fs.post(
        "/sourceConnections", json=source_body(hs_base, {"tableName": "Contact"}, spec_id=HUBSPOT)
    )
    assert "params.path" in salesforce_style.json()["report"]["detailed-message"]
    mismatch = fs.post("/sourceConnections", json=source_body(hs_base, table_params(fs, sf_base, "Contact")))
    assert "does not match" in mismatch.json()["report"]["detailed-message"]


# -- ingestion -------------------------------------------------------------------------------------
def test_salesforce_contacts_land_through_a_mapping_set(emu, fs, aep_landed_records):
    base = connection(fs)
    source = fs.created("/sourceConnections", source_body(base, table_params(fs, base, "Contact")))["id"]
    dataset_id, schema_id = make_dataset(fs)
    mapping = make_mapping_set(
        fs,
        schema_id,
        [
            ("FirstName", "person.name.firstName"),
            ("LastName", "person.name.lastName"),
            ("Email", "personalEmail.address"),
        ],
    )
    target = fs.target(dataset=(dataset_id, schema_id))
    run = finished_run(emu, fs, flow(fs, source, target, mapping))
    assert run["state"] == "success", run
    assert run["metrics"]["recordSummary"] == {"inputRecordCount": 10, "outputRecordCount": 10, "failedRecordCount": 0}
    expected = [
        {
            "person": {"name": {"firstName": r["FirstName"], "lastName": r["LastName"]}},
            "personalEmail": {"address": r["Email"]},
        }
        for r in salesforce.sample_rows("Contact", 10)
    ]
    assert aep_landed_records(dataset_id) == expected
    assert emu.control.landed_records(dataset_id, batch_id=batch_id_of(run)) == expected


def test_salesforce_typed_columns_are_coerced(emu, fs):
    fields = {
        "opportunityId": {"type": "string", "title": "Id", "description": "Salesforce id"},
        "amount": {"type": "number", "title": "Amount", "description": "Amount"},
        "isWon": {"type": "boolean", "title": "Won", "description": "Won"},
        "closeDate": {"type": "string", "format": "date", "title": "Close", "description": "Close date"},
        "lastModified": {"type": "string", "format": "date-time", "title": "Modified", "description": "Delta"},
    }
    schema = make_typed_schema(fs, fields=fields)
    base_path = f"_{tenant(fs)}.hubspot"
    columns = {"Id": "opportunityId", "Amount": "amount", "IsWon": "isWon", "CloseDate": "closeDate"}
    mappings = [{"sourceType": "ATTRIBUTE", "source": c, "destination": f"{base_path}.{f}"} for c, f in columns.items()]
    mappings.append(
        {"sourceType": "ATTRIBUTE", "source": "LastModifiedDate", "destination": f"{base_path}.lastModified"}
    )
    dataset = make_typed_dataset(fs, schema, name="Salesforce opportunities")
    mapping = make_typed_mapping_set(fs, schema, mappings)
    base = connection(fs)
    source = fs.created("/sourceConnections", source_body(base, table_params(fs, base, "Opportunity")))["id"]
    target = fs.target(dataset=(dataset, schema))
    run = finished_run(emu, fs, flow(fs, source, target, mapping))
    assert run["state"] == "success", run
    landed = [record[f"_{tenant(fs)}"]["hubspot"] for record in emu.control.landed_records(dataset)]
    rows = salesforce.sample_rows("Opportunity", 10)
    assert landed == [
        {
            "opportunityId": r["Id"],
            "amount": r["Amount"],
            "isWon": r["IsWon"],
            "closeDate": r["CloseDate"],
            # Data Prep writes date-times as ISO 8601 in UTC: "2024-03-01T10:15:00.000+0000" -> "2024-03-01T10:15:00Z"
            "lastModified": r["LastModifiedDate"].replace(".000+0000", "Z"),
        }
        for r in rows
    ]


def test_only_the_listed_columns_are_read(emu, fs):
    base = connection(fs)
    params = table_params(fs, base, "Lead", only=("FirstName", "LastName", "LastModifiedDate"))
    source = fs.created("/sourceConnections", source_body(base, params))["id"]
    dataset_id, schema_id = make_dataset(fs)
    mapping = make_mapping_set(
        fs, schema_id, [("FirstName", "person.name.firstName"), ("Email", "personalEmail.address")]
    )
    run = finished_run(emu, fs, flow(fs, source, fs.target(dataset=(dataset_id, schema_id)), mapping))
    assert run["state"] == "success", run
    landed = emu.control.landed_records(dataset_id)
    assert landed == [{"person": {"name": {"firstName": r["FirstName"]}}} for r in salesforce.sample_rows("Lead", 10)]


# -- the registry ----------------------------------------------------------------------------------
def test_builtin_declarations():
    assert sources.for_spec(HUBSPOT) is sources.HUBSPOT and sources.get_source("hubspot") is sources.HUBSPOT
    assert sources.for_spec(SALESFORCE) is sources.SALESFORCE and sources.get_source("salesforce") is sources.SALESFORCE
    assert sources.for_spec(S3) is None and sources.for_spec(specs.DATA_LAKE_SPEC_ID) is None
    assert (sources.HUBSPOT.addressing, sources.SALESFORCE.addressing) == ("path", "tableName")
    assert sources.HUBSPOT.table_schema("Contacts") == hubspot.table_schema("Contacts")
    assert sources.HUBSPOT.sample_rows("Deals", 3) == hubspot.preview_rows("Deals", 3)
    assert not any(key == "_explore" for spec in specs.CONNECTION_SPECS.values() for key in spec)


ACME_ID = "5d1e3ab7-0000-4000-8000-0000000ac3e0"
ACME_AUTH = {"specName": "API Key", "params": {"accountUrl": "https://acme.example.com", "apiCredential": "acme-VALUE"}}


def acme_declaration(style: str) -> sources.EmulatedSource:
    """A test-only source: one declaration, nothing else in the emulator changes."""
    auth_spec = {
        "name": "API Key",
        "spec": {
            "type": "object",
            "properties": {
                "accountUrl": {"type": "string"},
                # a name the secret-looking-name rule does not catch: only ``format: password`` masks it
                "apiCredential": {"type": "string", "format": "password"},
            },
            "required": ["accountUrl", "apiCredential"],
        },
    }
    addressing: sources.Addressing = "path" if style == "xdm" else "tableName"
    kinds = (
        {"id": "id", "name": "str", "email": "str", "ts": "ts"}
        if style == "xdm"
        else {"id": "id", "name": "string", "email": "email", "ts": "datetime"}
    )
    return sources.EmulatedSource(
        key="acme",
        spec=sources.table_source_spec(ACME_ID, "acme-crm", [auth_spec], addressing=addressing, label="Acme CRM"),
        tables={
            "Members": [
                ("MemberId", kinds["id"]),
                ("GivenName", kinds["name"]),
                ("Email", kinds["email"]),
                ("UpdatedAt", kinds["ts"]),
            ],
            "Teams": [("TeamId", kinds["id"]), ("Label", kinds["name"]), ("UpdatedAt", kinds["ts"])],
        },
        addressing=addressing,
        column_style=style,  # type: ignore[arg-type]
        table_prefix="Acme." if style == "xdm" else "",
        delta_column="UpdatedAt",
    )


@pytest.fixture(params=["xdm", "crm"])
def acme(request) -> Iterator[sources.EmulatedSource]:
    declaration = sources.register_source(acme_declaration(request.param))
    yield declaration
    sources.unregister_source(declaration)


def test_a_third_source_needs_only_a_declaration(emu, fs, acme):
    assert ACME_ID in [s["id"] for s in fs.get("/connectionSpecs").json()["items"]]
    assert ACME_ID in fs.item(f"/flowSpecs/{CRM_TO_AEP}")["sourceConnectionSpecIds"]
    # base connection: auth validated against the declared spec, the format: password secret masked
    bad = fs.post(
        "/connections",
        json={"name": "x", "auth": {**ACME_AUTH, "params": {"accountUrl": "u"}}, "connectionSpec": {"id": ACME_ID}},
    )
    assert bad.status_code == 400 and "auth.params.apiCredential" in bad.json()["report"]["detailed-message"]
    base = connection(fs, ACME_ID, ACME_AUTH)
    assert fs.item(f"/connections/{base}")["auth"]["params"]["apiCredential"] == "<redacted>"
    assert "acme-VALUE" not in str(emu.control.journal()) and "acme-VALUE" not in str(emu.control.state())
    # explore
    members_path = f"{acme.table_prefix}Members"
    root = explore(fs, base, objectType="root")
    assert [t["path"] for t in root] == [members_path, f"{acme.table_prefix}Teams"]
    table = explore(fs, base, objectType="table", object=members_path, preview="true")
    assert [c["name"] for c in table["schema"]["columns"]] == ["MemberId", "GivenName", "Email", "UpdatedAt"]
    assert ("xdm" in table["schema"]["columns"][0]) is (acme.column_style == "xdm")
    assert table["data"] == acme.sample_rows("Members") and len(table["data"]) == 5
    assert [r["UpdatedAt"] for r in table["data"]] == sorted(r["UpdatedAt"] for r in table["data"])
    # source connection, addressed the way the declaration says
    if acme.addressing == "path":
        params: dict[str, Any] = {"path": members_path}
    else:
        params = {"tableName": members_path, "columns": table["schema"]["columns"]}
    wrong = {**params, acme.addressing: f"{acme.table_prefix}Nope"}
    assert fs.post("/sourceConnections", json=source_body(base, wrong, ACME_ID)).status_code == 400
    source = fs.created("/sourceConnections", source_body(base, params, ACME_ID))["id"]
    # ingestion through a real schema, dataset and mapping set
    dataset_id, schema_id = make_dataset(fs)
    mapping = make_mapping_set(fs, schema_id, [("GivenName", "person.name.firstName")])
    run = finished_run(
        emu, fs, flow(fs, source, fs.target(dataset=(dataset_id, schema_id)), mapping, delta="UpdatedAt")
    )
    assert run["state"] == "success", run
    landed = emu.control.landed_records(dataset_id)
    assert landed == [{"person": {"name": {"firstName": r["GivenName"]}}} for r in acme.sample_rows("Members", 10)]


def test_unregistering_removes_the_source_everywhere(fs):
    declaration = sources.register_source(acme_declaration("crm"))
    base = connection(fs, ACME_ID, ACME_AUTH)
    assert sources.unregister_source("acme") is declaration
    assert sources.for_spec(ACME_ID) is None and ACME_ID not in specs.CONNECTION_SPECS
    assert ACME_ID not in specs.CRM_TO_AEP["sourceConnectionSpecIds"]
    assert fs.get(f"/connectionSpecs/{ACME_ID}").status_code == 404
    assert fs.get(f"/connections/{base}").status_code == 200  # stored connections stay readable
    assert fs.get(f"/connections/{base}/explore", params={"objectType": "root"}).status_code == 400
    assert sources.unregister_source("acme") is None


def test_register_refuses_bad_declarations():
    good = acme_declaration("crm")
    with pytest.raises(ValueError, match="already registered"):
        sources.register_source(
            sources.EmulatedSource(
                key="again",
                spec=specs.SALESFORCE_SPEC,
                tables=salesforce.TABLES,
                addressing="tableName",
                column_style="crm",
            )
        )
    with pytest.raises(ValueError, match="not a registered table source"):
        sources.register_source(
            sources.EmulatedSource(
                key="s3", spec={**good.spec, "id": S3}, tables=good.tables, addressing="tableName", column_style="crm"
            )
        )
    with pytest.raises(ValueError, match="unknown kinds"):
        sources.register_source(
            sources.EmulatedSource(
                key="x", spec=good.spec, tables={"T": [("A", "str")]}, addressing="tableName", column_style="crm"
            )
        )
    with pytest.raises(ValueError, match="delta column"):
        sources.register_source(
            sources.EmulatedSource(
                key="x",
                spec=good.spec,
                tables={"T": [("A", "string")]},
                addressing="tableName",
                column_style="crm",
                delta_column="UpdatedAt",
            )
        )
    with pytest.raises(ValueError, match="no property 'path'"):
        sources.register_source(sources.EmulatedSource(key="x", spec=good.spec, tables=good.tables, column_style="crm"))
    assert sources.for_spec(ACME_ID) is None
    replaced = sources.register_source(good)
    try:
        again = acme_declaration("crm")
        assert sources.register_source(again, replace=True) is again and sources.for_spec(ACME_ID) is again
        assert specs.CRM_TO_AEP["sourceConnectionSpecIds"].count(ACME_ID) == 1
    finally:
        sources.unregister_source(replaced)
    assert ACME_ID not in specs.CRM_TO_AEP["sourceConnectionSpecIds"]

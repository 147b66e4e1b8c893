"""Cross-service checks: Flow Service target connections need a Catalog dataset of their schema, and
``Mapping`` transformations need a Data Prep mapping set (at that version) into the target's schema."""

from __future__ import annotations

import pytest
from aep_emulator import schema_registry
from aep_emulator.testing import (
    CATALOG,
    DATA_PREP,
    ORG,
    SR,
    encoded,
    flow_error_code,
    make_dataset,
    make_mapping_set,
    make_schema,
    xdm_error_code,
)


def message(response) -> str:
    return response.json()["report"]["detailed-message"]


# -- target connections --------------------------------------------------------------------------------
def test_target_connection_needs_an_existing_dataset(fs):
    body = fs.target_body(dataset=("5ed5639d798a22191b6987b2", make_schema(fs)))
    response = fs.post("/targetConnections", json=body)
    assert response.status_code == 400
    assert flow_error_code(response) == "1100-400"
    assert "params.dataSetId" in message(response) and "5ed5639d798a22191b6987b2" in message(response)
    assert "could not be found" in message(response)


def test_target_connection_schema_must_be_the_datasets(fs):
    dataset_id, schema_id = fs.dataset()
    other_schema = make_schema(fs)
    response = fs.post("/targetConnections", json=fs.target_body(dataset=(dataset_id, other_schema)))
    assert flow_error_code(response) == "1100-400"
    assert "data.schema.id" in message(response) and schema_id in message(response)
    alt_id = (
        fs.service(SR)
        .get(f"/tenant/schemas/{encoded(schema_id)}", headers={"Accept": "application/vnd.adobe.xed+json; version=1"})
        .json()["meta:altId"]
    )
    assert alt_id.startswith("_")
    assert fs.post("/targetConnections", json=fs.target_body()).status_code == 201


def test_datasets_are_per_sandbox(fs, flow_client):
    dev = flow_client(sandbox="dev")
    dataset_id, schema_id = make_dataset(dev)
    response = fs.post("/targetConnections", json=fs.target_body(dataset=(dataset_id, schema_id)))
    assert flow_error_code(response) == "1100-400" and "sandbox 'prod'" in message(response)
    assert dev.post("/targetConnections", json=dev.target_body(dataset=(dataset_id, schema_id))).status_code == 201


def test_patching_a_target_rechecks_params_and_data(fs):
    created = fs.created("/targetConnections", fs.target_body())
    path = f"/targetConnections/{created['id']}"
    moved = fs.patch(path, [{"op": "replace", "path": "/params/dataSetId", "value": "0" * 24}], created["etag"])
    assert flow_error_code(moved) == "1100-400" and "0" * 24 in message(moved)
    other_dataset, other_schema = make_dataset(fs)
    wrong_schema = fs.patch(
        path, [{"op": "replace", "path": "/params/dataSetId", "value": other_dataset}], created["etag"]
    )
    assert flow_error_code(wrong_schema) == "1100-400" and "data.schema.id" in message(wrong_schema)
    both = [
        {"op": "replace", "path": "/params/dataSetId", "value": other_dataset},
        {"op": "replace", "path": "/data/schema/id", "value": other_schema},
    ]
    switched = fs.patch(path, both, created["etag"])
    assert switched.status_code == 200, switched.text
    # a rename does not re-run the check, even once the dataset is gone
    assert fs.service(CATALOG).delete(f"/dataSets/{other_dataset}").status_code == 200
    renamed = fs.patch(path, [{"op": "replace", "path": "/name", "value": "renamed"}], switched.json()["etag"])
    assert renamed.status_code == 200, renamed.text


# -- flows and mapping sets --------------------------------------------------------------------------
@pytest.fixture
def parts(fs):
    base = fs.connection()
    return {"source": fs.source(base), "target": fs.target()}


def mapping_params(body):
    return body["transformations"][1]["params"]


def test_flow_needs_an_existing_mapping_set(fs, parts):
    body = fs.flow_body(parts["source"], parts["target"])
    mapping_params(body)["mappingId"] = "500a9b747fcf4908a21917d49bd61780"
    response = fs.post("/flows", json=body)
    assert flow_error_code(response) == "1100-400"
    assert "transformations[1].params.mappingId" in message(response)
    assert "500a9b747fcf4908a21917d49bd61780" in message(response)


@pytest.mark.parametrize(("version", "ok"), [(0, True), ("0", True), (1, False), ("1", False), ("zero", False)])
def test_flow_mapping_version_must_exist(fs, parts, version, ok):
    body = fs.flow_body(parts["source"], parts["target"])
    mapping_params(body)["mappingVersion"] = version
    response = fs.post("/flows", json=body)
    if ok:
        assert response.status_code == 201, response.text
    else:
        assert flow_error_code(response) == "1100-400" and "version" in message(response)


def test_mapping_set_versions_stay_usable(fs, parts):
    mapping_id = fs.mapping_set()
    schema_id = fs.dataset()[1]
    update = {
        "name": "updated",
        "outputSchema": {
            "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
        },
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": "Properties_Email_Value", "destination": "personalEmail.address"}
        ],
    }
    put = fs.service(DATA_PREP).put(f"/mappingSets/{mapping_id}", json=update)
    assert put.status_code == 200, put.text
    for version in (0, 1, "1"):
        body = fs.flow_body(parts["source"], parts["target"])
        mapping_params(body)["mappingVersion"] = version
        assert fs.post("/flows", json=body).status_code == 201, version


def test_flow_mapping_must_target_the_connection_schema(fs, parts):
    other = make_mapping_set(fs, make_schema(fs))
    body = fs.flow_body(parts["source"], parts["target"])
    mapping_params(body)["mappingId"] = other
    response = fs.post("/flows", json=body)
    assert flow_error_code(response) == "1100-400"
    assert "maps into schema" in message(response) and fs.dataset()[1] in message(response)


def test_patching_a_flow_rechecks_the_mapping(fs, parts):
    created = fs.created("/flows", fs.flow_body(parts["source"], parts["target"]))
    path = f"/flows/{created['id']}"
    bad = [{"op": "replace", "path": "/transformations/1/params/mappingId", "value": "f" * 32}]
    assert flow_error_code(fs.patch(path, bad, created["etag"])) == "1100-400"
    wrong_schema = make_mapping_set(fs, make_schema(fs))
    mismatch = [{"op": "replace", "path": "/transformations/1/params/mappingId", "value": wrong_schema}]
    assert "maps into schema" in message(fs.patch(path, mismatch, created["etag"]))
    rename = fs.patch(path, [{"op": "replace", "path": "/name", "value": "renamed"}], created["etag"])
    assert rename.status_code == 200, rename.text
    # moving the flow to a target of another schema needs a mapping into that schema
    other_dataset = make_dataset(fs)
    other_target = fs.target("other target", dataset=other_dataset)
    retarget = [{"op": "replace", "path": "/targetConnectionIds/0", "value": other_target}]
    assert flow_error_code(fs.patch(path, retarget, rename.json()["etag"])) == "1100-400"
    both = [
        *retarget,
        {"op": "replace", "path": "/transformations/1/params/mappingId", "value": fs.mapping_set(other_dataset[1])},
    ]
    assert fs.patch(path, both, rename.json()["etag"]).status_code == 200


def test_flows_without_a_mapping_transformation_skip_the_check(fs, parts):
    body = fs.flow_body(parts["source"], parts["target"])
    body["transformations"] = body["transformations"][:1]
    assert fs.post("/flows", json=body).status_code == 201


# -- the registry side of the links ------------------------------------------------------------------
def test_schema_in_use_by_a_dataset_cannot_be_deleted(fs):
    dataset_id, schema_id = fs.dataset()
    sr = fs.service(SR)
    refused = sr.delete(f"/tenant/schemas/{encoded(schema_id)}")
    assert xdm_error_code(refused) == "XDM-1541-400" and dataset_id in refused.json()["detail"]
    assert fs.service(CATALOG).delete(f"/dataSets/{dataset_id}").status_code == 200
    assert sr.delete(f"/tenant/schemas/{encoded(schema_id)}").status_code == 204


def test_python_helpers_other_modules_use(emu, fs):
    schema_id = fs.dataset()[1]
    with emu.state.lock:
        store = emu.state.store(ORG, "prod")
        schema = schema_registry.find_schema(store, schema_id)
        assert schema is not None and schema["$id"] == schema_id
        resolved = schema_registry.resolve_schema(store, schema["meta:altId"])
        assert resolved["properties"]["personalEmail"]["properties"]["address"]["format"] == "email"
        assert schema_registry.find_schema(store, "https://ns.adobe.com/x/schemas/none") is None
        assert schema_registry.tenant_id(store) == schema_registry.tenant_id(emu.state.store(ORG, "dev"))

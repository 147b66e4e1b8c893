"""Flow specs and flows."""

from __future__ import annotations

import time

import pytest
from aep_emulator.testing import CRM_TO_AEP, DATA_LAKE, HUBSPOT, S3, flow_error_code, make_mapping_set


@pytest.fixture
def parts(fs):
    base = fs.connection()
    return {"base": base, "source": fs.source(base), "target": fs.target()}


@pytest.mark.parametrize("value", ["CRMToAEP", '"CRMToAEP"', "crmtoaep"])
def test_flow_spec_lookup_by_name(fs, value):
    items = fs.get("/flowSpecs", params={"property": f"name=={value}"}).json()["items"]
    assert [spec["id"] for spec in items] == [CRM_TO_AEP]
    spec = items[0]
    assert HUBSPOT in spec["sourceConnectionSpecIds"]
    assert DATA_LAKE in spec["targetConnectionSpecIds"]
    schedule = spec["scheduleSpec"]["spec"]
    assert schedule["properties"]["frequency"]["enum"] == ["once", "minute", "hour", "day", "week"]
    assert schedule["required"] == ["startTime", "frequency"]
    names = {t["name"] for t in spec["transformationSpecs"]}
    assert {"Copy", "Mapping"} <= names


def test_flow_specs_list_and_get(fs):
    listing = fs.get("/flowSpecs").json()["items"]
    assert len(listing) >= 2
    assert fs.item(f"/flowSpecs/{CRM_TO_AEP}")["name"] == "CRMToAEP"
    assert fs.get("/flowSpecs/nope").status_code == 404
    assert fs.get("/flowSpecs", params={"property": "name==CRMToAEP", "count": "true"}).json() == {"count": 1}


def test_create_and_get_flow(fs, parts):
    start = int(time.time()) + 3600
    body = fs.flow_body(parts["source"], parts["target"], startTime=start, frequency="hour", interval=1, backfill=True)
    created = fs.created("/flows", body)
    flow = fs.item(f"/flows/{created['id']}")
    assert flow["state"] == "enabled"
    assert flow["flowSpec"] == {"id": CRM_TO_AEP, "version": "1.0"}
    assert flow["sourceConnectionIds"] == [parts["source"]]
    assert flow["targetConnectionIds"] == [parts["target"]]
    assert flow["runs"] == f"/runs?property=flowId=={created['id']}"
    assert flow["etag"] == created["etag"] == flow["version"]
    # scheduleParams are echoed as strings, as in the documented GET /flows responses
    assert flow["scheduleParams"] == {"startTime": str(start), "frequency": "hour", "interval": "1", "backfill": "true"}
    inherited = flow["inheritedAttributes"]
    assert inherited["sourceConnections"][0]["id"] == parts["source"]
    assert inherited["sourceConnections"][0]["baseConnection"]["id"] == parts["base"]
    assert inherited["targetConnections"][0] == {
        "id": parts["target"],
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
    }
    assert flow["transformations"][0]["params"]["deltaColumn"]["name"] == "Updated_At"
    assert flow["lastOperation"]["operation"] == "create"
    assert "lastRunDetails" not in flow
    listed = fs.get("/flows", params={"property": f"sourceConnectionIds[]=={parts['source']}"}).json()["items"]
    assert [f["id"] for f in listed] == [created["id"]]


def schedule_error(fs, parts, **schedule):
    response = fs.post("/flows", json=fs.flow_body(parts["source"], parts["target"], **schedule))
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == "1100-400"
    return response.json()["report"]["detailed-message"]


def test_schedule_rules(fs, parts):
    now = int(time.time())
    assert "scheduleParams.startTime" in schedule_error(fs, parts, startTime=str(now), frequency="once")
    assert "scheduleParams.interval" in schedule_error(fs, parts, startTime=now, frequency="hour", interval="1")
    assert "scheduleParams.interval" in schedule_error(fs, parts, startTime=now, frequency="once", interval=15)
    assert "scheduleParams.backfill" in schedule_error(fs, parts, startTime=now, frequency="once", backfill=True)
    assert "scheduleParams.interval" in schedule_error(fs, parts, startTime=now, frequency="minute", interval=5)
    assert "scheduleParams.interval" in schedule_error(fs, parts, startTime=now, frequency="day", interval=0)
    assert "scheduleParams.interval" in schedule_error(fs, parts, startTime=now, frequency="day")
    assert "scheduleParams.frequency" in schedule_error(fs, parts, startTime=now, frequency="yearly", interval=1)
    assert "scheduleParams.startTime" in schedule_error(fs, parts, frequency="once")
    for ok in ({"frequency": "minute", "interval": 15}, {"frequency": "week", "interval": 1}, {"frequency": "once"}):
        body = fs.flow_body(parts["source"], parts["target"], startTime=now + 3600, **ok)
        assert fs.post("/flows", json=body).status_code == 201


def test_flow_validation(fs, parts):
    def error(body):
        response = fs.post("/flows", json=body)
        assert response.status_code == 400, response.text
        return flow_error_code(response), response.json()["report"]["detailed-message"]

    good = fs.flow_body(parts["source"], parts["target"])
    assert error({**good, "state": "enabled"})[0] == "1410-400"
    assert error({**good, "flowSpec": {"id": "nope"}})[0] == "1413-400"
    assert "missing-source" in error({**good, "sourceConnectionIds": ["missing-source"]})[1]
    assert "missing-target" in error({**good, "targetConnectionIds": ["missing-target"]})[1]
    assert "sourceConnectionIds" in error({**good, "sourceConnectionIds": []})[1]
    no_copy = [t for t in good["transformations"] if t["name"] != "Copy"]
    assert "Copy" in error({**good, "transformations": no_copy})[1]
    no_delta = [{"name": "Copy", "params": {"deltaColumn": {}}}, good["transformations"][1]]
    assert "deltaColumn.name" in error({**good, "transformations": no_delta})[1]
    assert "Bogus" in error({**good, "transformations": [*good["transformations"], {"name": "Bogus", "params": {}}]})[1]
    swapped = {**good, "sourceConnectionIds": [parts["target"]]}
    assert "could not be found" in error(swapped)[1]
    assert "options.partialIngestionPercent" in error({**good, "options": {"partialIngestionPercent": "5"}})[1]
    assert fs.post("/flows", json={**good, "options": {"partialIngestionPercent": 5}}).status_code == 201
    for missing in ("name", "scheduleParams", "transformations", "flowSpec"):
        assert missing in error({k: v for k, v in good.items() if k != missing})[1]


def test_flow_spec_must_allow_connection_specs(fs, parts):
    s3 = fs.created(
        "/connections",
        {
            "name": "s3",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "a", "s3SecretKey": "b"}},
            "connectionSpec": {"id": S3},
        },
    )["id"]
    s3_source = fs.created(
        "/sourceConnections",
        {
            "name": "s3 src",
            "baseConnectionId": s3,
            "data": {"format": "delimited"},
            "params": {"path": "/a.csv"},
            "connectionSpec": {"id": S3},
        },
    )["id"]
    response = fs.post("/flows", json=fs.flow_body(s3_source, parts["target"]))
    assert response.status_code == 400
    assert "not supported by flow spec 'CRMToAEP'" in response.json()["report"]["detailed-message"]


def test_patch_flow(fs, parts):
    body = fs.flow_body(parts["source"], parts["target"], startTime=int(time.time()), frequency="hour", interval=1)
    created = fs.created("/flows", body)
    path = f"/flows/{created['id']}"
    other_mapping = make_mapping_set(fs, fs.dataset()[1])
    ops = [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/transformations/1/params/mappingId", "value": other_mapping},
    ]
    assert flow_error_code(fs.patch(path, ops, None)) == "1403-400"
    patched = fs.patch(path, ops, created["etag"])
    assert patched.status_code == 200 and patched.json()["etag"] != created["etag"]
    flow = fs.item(path)
    assert flow["name"] == "renamed"
    assert flow["scheduleParams"]["frequency"] == "day"
    assert flow["transformations"][1]["params"]["mappingId"] == other_mapping
    assert flow["lastOperation"]["operation"] == "update"
    assert flow["lastOperation"]["ops"][0]["path"] == "/scheduleParams/frequency"
    bad = [{"op": "replace", "path": "/scheduleParams/interval", "value": "0"}]
    assert fs.patch(path, bad, flow["etag"]).status_code == 400
    assert fs.patch(path, [{"op": "replace", "path": "/flowSpec/id", "value": "x"}], flow["etag"]).status_code == 400
    assert fs.patch(path, ops, created["etag"]).status_code == 412


def test_enable_disable(fs, parts):
    created = fs.created("/flows", fs.flow_body(parts["source"], parts["target"]))
    action = f"/flows/{created['id']}/action"
    disabled = fs.post(action, params={"op": "disable"})
    assert disabled.status_code == 200
    assert set(disabled.json()) == {"id", "etag"}
    assert fs.item(f"/flows/{created['id']}")["state"] == "disabled"
    assert fs.get("/flows", params={"property": "state==disabled", "count": "true"}).json() == {"count": 1}
    assert fs.post(action, params={"op": "ENABLE"}, headers={"If-Match": disabled.json()["etag"]}).status_code == 200
    assert fs.item(f"/flows/{created['id']}")["state"] == "enabled"
    assert flow_error_code(fs.post(action, params={"op": "disable"}, headers={"If-Match": '"stale"'})) == "1404-412"
    assert flow_error_code(fs.post(action, params={"op": "finalize"})) == "1402-400"
    assert flow_error_code(fs.post(action, params={"op": "explode"})) == "1434-400"
    assert fs.post("/flows/missing/action", params={"op": "enable"}).status_code == 404


def test_delete_flow(fs, parts):
    created = fs.created("/flows", fs.flow_body(parts["source"], parts["target"]))
    assert fs.delete(f"/flows/{created['id']}").status_code == 204
    assert fs.get(f"/flows/{created['id']}").status_code == 404
    assert fs.delete(f"/flows/{created['id']}").status_code == 404

"""Runs: on-demand creation, clock-driven progression, forced outcomes and scheduled materialisation."""

from __future__ import annotations

import time

from aep_emulator.testing import flow_error_code


def run_now(fs, flow_id, **params):
    response = fs.post("/runs", json={"flowId": flow_id, "params": params or {"startTime": int(time.time())}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == ["items"] and set(body["items"][0]) == {"id", "etag"}
    return body["items"][0]["id"]


def status(fs, run_id):
    return fs.item(f"/runs/{run_id}")["metrics"]["statusSummary"]["status"]


def test_run_progresses_with_the_clock(emu, fs):
    ids = fs.pipeline()
    # the window holds every sample row (their Updated_At fall in 2024)
    run_id = run_now(fs, ids["flow"], startTime=int(time.time()), windowStartTime=1704067199, windowEndTime=1735689600)
    run = fs.item(f"/runs/{run_id}")
    assert run["flowId"] == ids["flow"] and run["state"] == "scheduled"
    assert run["metrics"]["statusSummary"]["status"] == "scheduled"
    assert run["params"]["windowEndTime"] == 1735689600
    emu.control.advance_clock(1.0)
    run = fs.item(f"/runs/{run_id}")
    assert run["state"] == run["metrics"]["statusSummary"]["status"] == "inProgress"
    assert "startedAtUTC" in run["metrics"]["durationSummary"]
    assert run["activities"][0]["id"] == "copyActivity"
    emu.control.advance_clock(3.0)
    run = fs.item(f"/runs/{run_id}")
    metrics = run["metrics"]
    assert metrics["statusSummary"]["status"] == "success" and "errors" not in metrics["statusSummary"]
    assert metrics["durationSummary"]["completedAtUTC"] - metrics["durationSummary"]["startedAtUTC"] == 3000
    records = metrics["recordSummary"]
    assert records["failedRecordCount"] == 0 and records["inputRecordCount"] == records["outputRecordCount"] > 0
    assert [a["id"] for a in run["activities"]] == ["copyActivity", "promotionActivity"]
    assert run["activities"][0]["sourceInfo"][0]["id"] == ids["source"]
    assert run["activities"][1]["targetInfo"][0]["id"] == ids["target"]
    assert run["activities"][0]["durationSummary"]["extensions"] == {
        "windowStart": 1704067199000,
        "windowEnd": 1735689600000,
    }
    flow = fs.item(f"/flows/{ids['flow']}")
    assert flow["lastRunDetails"]["id"] == run_id and flow["lastRunDetails"]["state"] == "success"


def test_etag_changes_with_status(emu, fs):
    run_id = run_now(fs, fs.pipeline()["flow"])
    first = fs.item(f"/runs/{run_id}")["etag"]
    assert fs.item(f"/runs/{run_id}")["etag"] == first
    emu.control.advance_clock(10)
    assert fs.item(f"/runs/{run_id}")["etag"] != first


def test_forced_failure_for_one_flow(emu, fs):
    failing, healthy = fs.pipeline()["flow"], fs.pipeline()["flow"]
    assert emu.control.set_run_outcome("failed", flow_id=failing) == 0
    bad, good = run_now(fs, failing), run_now(fs, healthy)
    emu.control.advance_clock(5)
    run = fs.item(f"/runs/{bad}")
    assert run["state"] == "failed"
    errors = run["metrics"]["statusSummary"]["errors"]
    assert errors[0]["code"] == "CONNECTOR-2001-500"
    assert status(fs, good) == "success"
    assert fs.item(f"/flows/{failing}")["lastRunDetails"]["state"] == "failed"
    failed = fs.get(
        "/runs", params=[("property", f"flowId=={failing}"), ("property", "metrics.statusSummary.status==Failed")]
    )
    assert [r["id"] for r in failed.json()["items"]] == [bad]


def test_outcome_of_running_run_can_change_but_terminal_is_frozen(emu, fs):
    flow = fs.pipeline()["flow"]
    run_id = run_now(fs, flow)
    emu.control.advance_clock(1.5)
    assert emu.control.set_run_outcome("partial", run_id=run_id, failed_records=7) == 1
    emu.control.advance_clock(5)
    run = fs.item(f"/runs/{run_id}")
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["failedRecordCount"] == 7
    assert run["metrics"]["statusSummary"]["errors"]
    promotion = run["activities"][1]["statusSummary"]
    assert {e["code"] for e in promotion["extensions"]["errors"]} == {"INGEST-1212-400", "MAPPER-3700-400"}
    assert emu.control.set_run_outcome("failed", run_id=run_id) == 0
    assert status(fs, run_id) == "success"


def test_global_outcome_applies_to_new_runs_and_config(emu, fs):
    emu.control.set_run_outcome("failed")
    flow = fs.pipeline()["flow"]
    run_id = run_now(fs, flow)
    emu.control.advance_clock(5)
    assert status(fs, run_id) == "failed"
    emu.control.reset()
    emu.control.configure(run_outcome="partial", run_duration=0.5, run_start_delay=0)
    fs2 = type(fs)(emu.url, emu.control.issue_token("test-client"))
    run_id = run_now(fs2, fs2.pipeline()["flow"])
    emu.control.advance_clock(0.5)
    run = fs2.item(f"/runs/{run_id}")
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["failedRecordCount"] == 1


def test_run_reaches_terminal_without_clock_advance(emu, fs):
    emu.control.configure(run_start_delay=0, run_duration=0.2)
    run_id = run_now(fs, fs.pipeline()["flow"])
    deadline = time.monotonic() + 10
    while status(fs, run_id) != "success":
        assert time.monotonic() < deadline, "run never finished"
        time.sleep(0.05)


def test_on_demand_run_errors(emu, fs):
    hourly = fs.pipeline(startTime=int(time.time()) + 3600, frequency="hour", interval=1)["flow"]
    response = fs.post("/runs", json={"flowId": hourly})
    assert response.status_code == 400 and "once" in response.json()["report"]["detailed-message"]
    assert flow_error_code(fs.post("/runs", json={"flowId": "missing"})) == "1430-400"
    assert flow_error_code(fs.post("/runs", json={"params": {}})) == "1446-400"
    once = fs.pipeline()["flow"]
    assert fs.post("/runs", json={"flowId": once, "params": {"startTime": "soon"}}).status_code == 400
    fs.post(f"/flows/{once}/action", params={"op": "disable"})
    assert flow_error_code(fs.post("/runs", json={"flowId": once})) == "1444-400"


def test_delta_column_cannot_change_between_runs(fs):
    flow = fs.pipeline()["flow"]
    run_now(fs, flow, startTime="1663735590", deltaColumn={"name": "Updated_At"})
    response = fs.post("/runs", json={"flowId": flow, "params": {"deltaColumn": {"name": "Created_At"}}})
    assert response.status_code == 400 and "deltaColumn" in response.json()["report"]["detailed-message"]
    run_now(fs, flow, deltaColumn={"name": "Updated_At"})


def test_once_flow_runs_at_its_start_time(emu, fs):
    flow = fs.pipeline(startTime=int(time.time()) + 60, frequency="once")["flow"]
    assert fs.get("/runs", params={"property": f"flowId=={flow}"}).json()["items"] == []
    emu.control.advance_clock(61)
    runs = fs.get("/runs", params={"property": f"flowId=={flow}"}).json()["items"]
    assert len(runs) == 1
    emu.control.advance_clock(3600)
    assert len(fs.get("/runs", params={"property": f"flowId=={flow}"}).json()["items"]) == 1


def test_scheduled_runs_are_materialised(emu, fs):
    start = int(time.time()) - 3 * 3600 - 60
    flow = fs.pipeline(startTime=start, frequency="hour", interval=1)["flow"]
    runs = fs.get("/runs", params={"property": f"flowId=={flow}", "orderby": "createdAt"}).json()["items"]
    assert [r["createdAt"] for r in runs] == [(start + k * 3600) * 1000 for k in range(4)]
    assert all(r["state"] == "success" for r in runs)
    assert runs[0]["activities"][0]["statusSummary"]["extensions"]["type"] == "incremental"
    emu.control.advance_clock(3600)
    assert fs.get("/runs", params={"property": f"flowId=={flow}", "count": "true"}).json() == {"count": 5}
    newest = fs.get("/runs", params={"property": f"flowId=={flow}", "orderby": "-createdAt", "limit": 1}).json()
    assert newest["items"][0]["createdAt"] == (start + 4 * 3600) * 1000
    assert newest["_links"]["next"]["href"].startswith("/runs?continuationToken=")
    flow_doc = fs.item(f"/flows/{flow}")
    assert flow_doc["lastRunDetails"]["id"] in {r["id"] for r in runs} | {newest["items"][0]["id"]}


def test_disabled_flows_do_not_schedule(emu, fs):
    flow = fs.pipeline(startTime=int(time.time()) + 10, frequency="minute", interval=15)["flow"]
    fs.post(f"/flows/{flow}/action", params={"op": "disable"})
    emu.control.advance_clock(3600)
    assert fs.get("/runs", params={"property": f"flowId=={flow}", "count": "true"}).json() == {"count": 0}
    fs.post(f"/flows/{flow}/action", params={"op": "enable"})
    emu.control.advance_clock(15 * 60)
    assert fs.get("/runs", params={"property": f"flowId=={flow}", "count": "true"}).json() == {"count": 1}


def test_scheduled_runs_are_capped(emu, fs):
    emu.control.configure(max_scheduled_runs=10)
    flow = fs.pipeline(startTime=int(time.time()) - 30 * 86400, frequency="minute", interval=15)["flow"]
    assert fs.get("/runs", params={"property": f"flowId=={flow}", "count": "true"}).json() == {"count": 10}


def test_runs_survive_flow_deletion(emu, fs):
    flow = fs.pipeline()["flow"]
    run_id = run_now(fs, flow)
    assert fs.delete(f"/flows/{flow}").status_code == 204
    emu.control.advance_clock(10)
    assert status(fs, run_id) == "success"
    assert fs.get("/runs", params={"property": f"flowId=={flow}"}).json()["items"][0]["id"] == run_id


def test_run_lookup_errors(fs):
    assert flow_error_code(fs.get("/runs/missing")) == "1439-404"
    assert fs.get("/runs", params={"property": "state==inProgress"}).json() == {"items": [], "_links": {}}

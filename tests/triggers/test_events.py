"""AEPDataflowRunEventTrigger: kwargs, one event per newly finished run, the cursor across restarts, errors
retried inside the loop; respx (a tiny fake ``GET /runs``) and the emulator (a minute-frequency flow)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_aep.triggers import events as events_module
from airflow_provider_aep.triggers.events import LOOKBACK_MS, AEPDataflowRunEventTrigger, RunCursor
from tests.conftest import AEP_CLIENT_SECRET

PLATFORM = "https://platform.adobe.io"
FS = PLATFORM + "/data/foundation/flowservice"
IMS_HOST = "https://ims-na1.adobelogin.com"
DATASET = "5ed5639d798a22191b6987b2"
T0 = 1_767_225_600_000  # epoch ms


class FakeStore:
    """What Airflow 3.3 injects as ``asset_state_store`` (one watched asset): async ``aget``/``aset``."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))  # what the store keeps is JSON
        self.writes += 1


class FakeRuns:
    """``GET /runs`` over a mutable list of run documents, honouring ``flowId==a,b`` and ``createdAt>=N``."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.fail_next: list[httpx.Response] = []
        self.calls = 0

    def put(self, run_id: str, status: str, created: int, *, flow_id: str = "flow-1", completed: int | None = None):
        metrics: dict[str, Any] = {
            "statusSummary": {"status": status},
            "recordSummary": {"inputRecordCount": 10, "outputRecordCount": 9, "failedRecordCount": 1},
        }
        if status in ("success", "failed"):
            metrics["durationSummary"] = {"startedAtUTC": created + 1000, "completedAtUTC": completed or created + 5000}
        if status == "failed":
            metrics["statusSummary"]["errors"] = [{"code": "CONNECTOR-2001-500", "message": "row 7: bob@example.com"}]
        self.docs[run_id] = {"id": run_id, "flowId": flow_id, "createdAt": created, "metrics": metrics}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail_next:
            return self.fail_next.pop(0)
        items = list(self.docs.values())
        for prop in request.url.params.get_list("property"):
            if prop.startswith("flowId=="):
                items = [d for d in items if d["flowId"] in prop[len("flowId==") :].split(",")]
            elif prop.startswith("createdAt>="):
                items = [d for d in items if d["createdAt"] >= int(prop[len("createdAt>=") :])]
        items.sort(key=lambda d: d["createdAt"], reverse=request.url.params.get("orderby") == "-createdAt")
        return httpx.Response(200, json={"items": items[: int(request.url.params.get("limit", 100))], "_links": {}})


@pytest.fixture(autouse=True)
def _fresh_memory():
    events_module._MEMORY.clear()
    yield
    events_module._MEMORY.clear()


@pytest.fixture
def aep(connections):
    connections(PLATFORM, ims_url=IMS_HOST)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(IMS_HOST + "/ims/token/v3").respond(json={"access_token": "watch-token-xxxx", "expires_in": 86399})
        yield mock


@pytest.fixture
def runs(aep) -> FakeRuns:
    fake = FakeRuns()
    aep.get(FS + "/runs").mock(side_effect=fake)
    return fake


def make(store: FakeStore | None = None, **kwargs: Any) -> AEPDataflowRunEventTrigger:
    kwargs.setdefault("flow_id", "flow-1")
    kwargs.setdefault("poll_interval", 0)
    trigger = AEPDataflowRunEventTrigger(aep_conn_id="aep_default", **kwargs)
    if store is not None:
        trigger.asset_state_store = store  # type: ignore[assignment]
    return trigger


class Watch:
    """Runs a trigger's ``run()`` in the background, collecting payloads (as the triggerer does)."""

    def __init__(self, trigger: AEPDataflowRunEventTrigger) -> None:
        self.trigger = trigger
        self.payloads: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            json.dumps(event.payload)  # JSON-safe, as Airflow stores it
            self.payloads.append(event.payload)

    async def __aenter__(self) -> Watch:
        self.task = asyncio.create_task(self._consume())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # the watcher must never end by itself: surface why it did
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def settle(self, runs: FakeRuns, polls: int = 3) -> None:
        """Wait until the trigger has polled ``polls`` more times."""
        target = runs.calls + polls
        for _ in range(500):
            if runs.calls >= target:
                return
            assert self.task is not None and not self.task.done(), "the watcher ended"
            await asyncio.sleep(0.005)
        raise AssertionError("the trigger stopped polling")

    def ids(self) -> list[str]:
        return [p["run_id"] for p in self.payloads]


# --------------------------------------------------------------------------- kwargs
def test_serialize_is_deterministic_json_and_hash_stable():
    from airflow.sdk import Asset, AssetWatcher
    from airflow.triggers.base import BaseEventTrigger

    trigger = AEPDataflowRunEventTrigger(aep_conn_id="aep_x", flow_id="flow-1", poll_interval=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_aep.triggers.events.AEPDataflowRunEventTrigger"
    assert kwargs == {
        "aep_conn_id": "aep_x",
        "flow_id": "flow-1",
        "dataset_id": None,
        "poll_interval": 30.0,
        "include_failed": True,
        "not_before": None,
    }
    again = AEPDataflowRunEventTrigger(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(*trigger.serialize()) == BaseEventTrigger.hash(*again.serialize())
    assert not any(AEP_CLIENT_SECRET in str(v) for v in kwargs.values())
    Asset("aep-runs", watchers=[AssetWatcher(name="w", trigger=trigger)])  # the watcher's class check passes


def test_dataset_id_is_normalised_so_two_spellings_are_one_trigger():
    upper = AEPDataflowRunEventTrigger(dataset_id=DATASET.upper())
    assert upper.serialize() == AEPDataflowRunEventTrigger(dataset_id=DATASET).serialize()
    assert upper.cursor_key == f"aep_run_cursor:dataset:{DATASET}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "exactly one"), ({"flow_id": "f", "dataset_id": DATASET}, "exactly one"), ({"dataset_id": "x"}, "dataset")],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AEPDataflowRunEventTrigger(**kwargs)


def test_cursor_moves_to_the_oldest_unfinished_run_and_forgets_old_ids():
    from airflow_provider_aep.client.models import FlowRun

    def run(run_id: str, phase: str, created: int) -> FlowRun:
        return FlowRun(id=run_id, flow_id="f", status=phase, phase=phase, created_at=created)  # type: ignore[arg-type]

    cursor = RunCursor(watermark=T0, seen={"a", "b", "gone"})
    listed = [run("a", "success", T0), run("b", "success", T0 + 10), run("c", "running", T0 + 20)]
    cursor.advance(listed)
    assert cursor.watermark == T0 + 20 and cursor.seen == {"a", "b"}  # within the look-back
    cursor.advance([run("c", "success", T0 + 20), run("d", "success", T0 + LOOKBACK_MS + 30)])
    assert cursor.watermark == T0 + LOOKBACK_MS + 30 and cursor.seen == set()  # c is below the look-back
    assert RunCursor.from_json(cursor.to_json()) == cursor
    assert RunCursor.from_json({"version": 99}) is None and RunCursor.from_json("junk") is None


# --------------------------------------------------------------------------- respx
async def test_first_start_skips_history_then_one_event_per_newly_finished_run(runs):
    runs.put("old", "success", T0)
    runs.put("pending", "inProgress", T0 + 60_000)
    store = FakeStore()
    async with Watch(make(store)) as watch:
        await watch.settle(runs)
        assert watch.payloads == []  # history is not announced
        runs.put("pending", "success", T0 + 60_000)
        runs.put("next", "failed", T0 + 120_000)
        await watch.settle(runs, polls=5)
    assert watch.ids() == ["pending", "next"]
    done, failed = watch.payloads
    assert (done["status"], done["flow_id"], done["sandbox"], done["records_written"]) == (
        "success",
        "flow-1",
        "prod",
        9,
    )
    assert done["run"]["id"] == "pending" and done["duration_seconds"] == 4.0
    assert failed["status"] == "failed" and failed["error_codes"] == ["CONNECTOR-2001-500"]
    assert "bob@example.com" not in json.dumps(failed)  # error messages can quote source rows
    assert store.data["aep_run_cursor:flow:flow-1"]["watermark"] == T0 + 120_000


async def test_restart_with_the_stored_cursor_neither_repeats_nor_loses(runs):
    runs.put("r1", "inProgress", T0)
    store = FakeStore()
    async with Watch(make(store)) as first:
        await first.settle(runs)
        runs.put("r1", "success", T0)
        await first.settle(runs)
    assert first.ids() == ["r1"]
    # the triggerer is down while r2 finishes and r3 starts
    runs.put("r2", "success", T0 + 60_000)
    runs.put("r3", "scheduled", T0 + 120_000)
    async with Watch(make(store)) as second:  # a new instance, as after a triggerer restart
        await second.settle(runs)
        runs.put("r3", "success", T0 + 120_000)
        await second.settle(runs)
    assert second.ids() == ["r2", "r3"]


async def test_runs_finishing_out_of_order_are_each_announced_once(runs):
    runs.put("base", "success", T0)
    async with Watch(make(FakeStore())) as watch:
        await watch.settle(runs)
        runs.put("slow", "inProgress", T0 + 60_000)
        runs.put("fast", "success", T0 + 120_000)
        await watch.settle(runs)
        runs.put("slow", "success", T0 + 60_000, completed=T0 + 500_000)
        await watch.settle(runs)
    assert watch.ids() == ["fast", "slow"]


async def test_not_before_announces_runs_since_then_on_a_fresh_start(runs):
    runs.put("before", "success", T0 - 1000)
    runs.put("after", "success", T0 + 1000)
    async with Watch(make(FakeStore(), not_before=T0 / 1000)) as watch:
        await watch.settle(runs)
    assert watch.ids() == ["after"]


async def test_include_failed_false_skips_failed_runs_without_announcing_them_later(runs):
    async with Watch(make(FakeStore(), include_failed=False)) as watch:
        await watch.settle(runs)
        runs.put("bad", "failed", T0)
        runs.put("good", "success", T0 + 1)
        await watch.settle(runs)
    assert watch.ids() == ["good"]


async def test_without_a_state_store_the_cursor_survives_run_being_recreated_in_process(runs):
    runs.put("r1", "success", T0)
    async with Watch(make()) as first:
        await first.settle(runs)
    runs.put("r2", "success", T0 + 1)
    async with Watch(make()) as second:  # Airflow 3.0-3.2: no asset_state_store attribute value
        await second.settle(runs)
    assert first.ids() == [] and second.ids() == ["r2"]


async def test_a_broken_state_store_falls_back_to_memory(runs, capsys):
    class Broken(FakeStore):
        async def aget(self, key: str, default: Any = None) -> Any:
            raise ValueError("Task has 2 concrete inlets and outlets")

    runs.put("r1", "success", T0)
    async with Watch(make(Broken())) as watch:
        await watch.settle(runs)
        runs.put("r2", "success", T0 + 1)
        await watch.settle(runs)
    assert watch.ids() == ["r2"]
    assert "keeping the cursor in memory" in capsys.readouterr().out  # the trigger logs through structlog


async def test_errors_inside_the_loop_are_logged_and_retried(runs, capsys):
    runs.put("r1", "inProgress", T0)
    body = {"title": "Bad", "detail": f"secret {AEP_CLIENT_SECRET} echoed", "status": 400}
    runs.fail_next = [httpx.Response(400, json=body), httpx.Response(200, json={"unexpected": True})]
    async with Watch(make(FakeStore())) as watch:
        await watch.settle(runs, polls=4)
        runs.put("r1", "success", T0)
        await watch.settle(runs)
    assert watch.ids() == ["r1"]  # the baseline was taken after the errors; the watcher kept going
    out = capsys.readouterr().out
    assert out.count("poll failed") == 2
    assert AEP_CLIENT_SECRET not in out


async def test_a_missing_connection_is_retried_not_fatal(monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_CONN_AEP_DEFAULT", raising=False)
    trigger = make()
    attempts = 0
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float) -> None:
        nonlocal attempts
        attempts += 1
        await real_sleep(0)

    monkeypatch.setattr(events_module.asyncio, "sleep", counting_sleep)
    agen = trigger.run()
    task = asyncio.ensure_future(agen.__anext__())
    for _ in range(200):
        if attempts >= 3:
            break
        await real_sleep(0.005)
    assert attempts >= 3 and not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert "aep_default" in capsys.readouterr().out


async def test_dataset_mode_watches_every_flow_writing_to_the_dataset(aep, runs):
    targets = aep.get(FS + "/targetConnections").respond(
        json={"items": [{"id": "tc-1", "params": {"dataSetId": DATASET}}], "_links": {}}
    )
    flows = aep.get(FS + "/flows").respond(
        json={
            "items": [
                {"id": "flow-1", "targetConnectionIds": ["tc-1"]},
                {"id": "flow-2", "targetConnectionIds": ["tc-0", "tc-1"]},
                {"id": "flow-x", "targetConnectionIds": ["tc-9"]},  # the server filter is not trusted
            ],
            "_links": {},
        }
    )
    async with Watch(make(FakeStore(), flow_id=None, dataset_id=DATASET)) as watch:
        await watch.settle(runs)
        runs.put("a", "success", T0, flow_id="flow-1")
        runs.put("b", "success", T0 + 1, flow_id="flow-2")
        runs.put("x", "success", T0 + 2, flow_id="flow-x")
        await watch.settle(runs)
    assert watch.ids() == ["a", "b"]
    assert {p["dataset_id"] for p in watch.payloads} == {DATASET}
    assert flows.calls.last.request.url.params["property"] == "targetConnectionIds[]==tc-1"
    assert targets.calls.last.request.url.params["property"] == f"params.dataSetId=={DATASET}"


# --------------------------------------------------------------------------- against the emulator
@pytest.fixture
def minute_flow(emulator, pipeline, context) -> str:
    """A second dataflow over the pipeline's connections, every 15 minutes from an hour from now (emulator
    clock), so only advancing the clock makes a slot due, however slow the machine."""
    from airflow_provider_aep.operators.flows import CreateDataflowOperator

    emulator.control.configure(run_start_delay=1, run_duration=2)
    start = int(emulator.control.clock()["now"]) + 3600
    return CreateDataflowOperator(
        task_id="minute_flow",
        name="hubspot contacts every 15 minutes",
        source_connection_ids=pipeline["source"],
        target_connection_id=pipeline["target"],
        delta_column="Updated_At",
        mapping_id=pipeline["mapping"],
        schedule={"frequency": "minute", "interval": 15, "startTime": start},
    ).execute(context)


async def _until(watch: Watch, count: int, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if len(watch.payloads) >= count:
            return
        assert watch.task is not None and not watch.task.done(), "the watcher ended"
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} events, got {watch.ids()}")


async def test_emulator_schedule_one_event_per_finished_run_and_none_repeated_after_restart(
    emulator, pipeline, minute_flow
):
    control = emulator.control
    store = FakeStore()
    trigger_kwargs = {"flow_id": minute_flow, "poll_interval": 0.05}
    async with Watch(make(store, **trigger_kwargs)) as first:
        await asyncio.sleep(0.5)  # baseline: the flow has not run yet
        control.advance_clock(3600 + 5)  # the first slot: a run is created, starts and finishes
        await _until(first, 1)
        # changed now: the next slot's window copies them, the one after it nothing
        control.touch_rows("Hubspot.Contacts", 2)
        control.advance_clock(2 * 900)  # two more slots
        await _until(first, 3)
        await asyncio.sleep(0.5)
    assert len(first.payloads) == len(set(first.ids())) == 3
    assert all(p["flow_id"] == minute_flow and p["status"] == "success" for p in first.payloads)
    assert all(p["batch_id"] for p in first.payloads)
    # the first slot backfills every sample row; later slots copy the rows changed in their window
    assert sorted(p["records_written"] for p in first.payloads) == [0, 2, 10]

    # restart: one slot finishes while no triggerer runs; the new instance reads the stored cursor
    control.advance_clock(900)
    async with Watch(make(store, **trigger_kwargs)) as second:
        await _until(second, 1)
        await asyncio.sleep(0.5)
        assert len(second.payloads) == 1
        control.advance_clock(900)
        await _until(second, 2)
        await asyncio.sleep(0.5)
    every = first.ids() + second.ids()
    assert len(every) == len(set(every)) == 5  # one event per finished run, none repeated, none lost
    state_runs = [r for r in control.state()["runs"] if r["flowId"] == minute_flow]
    assert sorted(every) == sorted(r["id"] for r in state_runs if r["state"] in ("success", "failed"))


async def test_emulator_dataset_mode_finds_the_flows_writing_to_the_dataset(emulator, pipeline, minute_flow):
    dataset = pipeline["dataset"]
    async with Watch(make(FakeStore(), flow_id=None, dataset_id=dataset, poll_interval=0.05)) as watch:
        await asyncio.sleep(0.5)  # baseline: the minute flow has not run (the once flow's run may be underway)
        emulator.control.advance_clock(3600 + 5)  # the minute flow's first slot
        for _ in range(400):
            if minute_flow in [p["flow_id"] for p in watch.payloads]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    flows = [p["flow_id"] for p in watch.payloads]
    # both flows write to the dataset; the once flow's run is announced if it finished after the baseline
    assert minute_flow in flows and len(flows) == len(set(flows)) and set(flows) <= {minute_flow, pipeline["flow"]}
    for payload in watch.payloads:
        assert payload["dataset_id"] == dataset
        assert payload["batch_id"] == payload["run"]["batches"][pipeline["target"]][0]


# --------------------------------------------------------------------------- the example DAG
def test_example_dag_parses_without_aep_and_its_watcher_is_deterministic(monkeypatch):
    import importlib.util
    from pathlib import Path

    from airflow.triggers.base import BaseEventTrigger

    path = Path(__file__).parents[2] / "dags_examples" / "aep_run_watcher.py"
    monkeypatch.delenv("AIRFLOW_CONN_AEP_DEFAULT", raising=False)
    monkeypatch.setenv("AEP_WATCH_FLOW_ID", "flow-from-env")

    def parse() -> Any:
        spec = importlib.util.spec_from_file_location("aep_run_watcher_example", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    first, second = parse(), parse()
    [watcher] = first.FLOW_RUNS.watchers
    assert watcher.trigger.flow_id == "flow-from-env"
    assert first.FLOW_RUNS.name == "aep_flow_runs_flow-from-env"  # named for the flow it watches
    assert BaseEventTrigger.hash(*watcher.trigger.serialize()) == BaseEventTrigger.hash(
        *second.FLOW_RUNS.watchers[0].trigger.serialize()
    )

    # Without a flow id it watches nothing, and its name says so rather than showing a made-up id.
    monkeypatch.delenv("AEP_WATCH_FLOW_ID")
    unset = parse()
    assert (unset.FLOW_RUNS.name, unset.FLOW_RUNS.watchers) == ("aep_flow_runs_unset", [])

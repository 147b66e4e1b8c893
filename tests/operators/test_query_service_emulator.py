"""RunQueryOperator, the schedule operators and AEPScheduledQueryRunSensor against the emulator, over real HTTP
(the triggers too, run in an event loop here): CTAS read back through Catalog and SQL, ITAS, failures with
codes, a held query cancelled by ``on_kill``, deferral, scheduled runs."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests

from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPQueryServiceFailedError
from airflow_provider_aep.operators.query_schedules import CreateQueryScheduleOperator, TriggerScheduledQueryRunOperator
from airflow_provider_aep.operators.query_service import RunQueryOperator
from airflow_provider_aep.sensors.query_service import AEPScheduledQueryRunSensor
from tests.airflow_compat import TaskDeferred

ROWS = "SELECT * FROM (VALUES ('a@x.io', 'Acme'), ('b@x.io', 'Acme'), ('c@x.io', 'Initech')) AS t(email, company)"


@pytest.fixture
def qs_emulator(emulator, monkeypatch):
    """The emulator with short query states, and ``aep_query_service_default`` for reading rows back."""
    emulator.control.configure(query_start_delay=0.05, query_duration=0.05)
    conn = {"conn_type": "aep_query_service", "extra": {"aep_conn_id": "aep_default"}}
    monkeypatch.setenv("AIRFLOW_CONN_AEP_QUERY_SERVICE_DEFAULT", json.dumps(conn))
    return emulator


def hold(emulator, held: bool = True) -> None:
    requests.post(f"{emulator.url}/__emulator/queries/hold", json={"held": held}, timeout=10).raise_for_status()


def count(table: str) -> int:
    from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook

    return AEPQueryServiceHook().get_first(f"SELECT COUNT(*) FROM {table}")[0]


def fire(trigger, emulator) -> dict:
    """Run a trigger to its event, moving the emulator clock on so the query (or run) ends."""
    emulator.control.advance_clock(10)
    return asyncio.run(trigger.watch())


class AliasEvents:
    """One alias of ``context["outlet_events"]``: records what the task adds through it."""

    def __init__(self) -> None:
        self.added: list[tuple] = []

    def add(self, asset, extra=None) -> None:
        self.added.append((asset, extra))


class OutletEvents(dict):
    """``context["outlet_events"]`` keyed by alias name (``AssetAlias`` is not hashable on Airflow 3.1)."""

    def __getitem__(self, alias):
        return self.setdefault(alias.name, AliasEvents())


def run_query(context, **kwargs) -> dict:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("deferrable", False)
    return RunQueryOperator(task_id=kwargs.pop("task_id", "query"), **kwargs).execute(context)


def test_ctas_not_deferred_read_back_through_catalog_and_sql_with_an_asset_event(qs_emulator, context):
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

    context["outlet_events"] = events = OutletEvents()
    result = run_query(context, sql=ROWS, ctas_dataset_name="op_contacts", asset_alias="query_outputs")
    assert result["row_count"] == 3 and result["query_id"] == context["ti"].xcoms["query_id"]
    dataset = AEPFlowServiceHook().catalog.get_dataset(result["dataset_id"])
    assert dataset["name"] == "op_contacts"
    assert count("op_contacts") == 3
    (asset, extra), *_ = next(iter(events.values())).added
    assert asset.uri.endswith(f"/prod/datasets/{result['dataset_id']}") and extra["query_id"] == result["query_id"]


def test_itas_appends_to_an_existing_dataset_with_an_event_through_the_default_alias(qs_emulator, context):
    first = run_query(context, task_id="ctas", sql=ROWS, ctas_dataset_name="itas_target")
    context["outlet_events"] = events = OutletEvents()
    second = run_query(context, task_id="itas", sql=ROWS, insert_into_dataset_id=first["dataset_id"])
    assert second["dataset_id"] == first["dataset_id"] and count("itas_target") == 6
    ((alias, recorded),) = events.items()
    assert alias.startswith("aep-datasets:") and alias.endswith(".itas")
    (asset, extra), *_ = recorded.added
    assert asset.uri.endswith(f"/datasets/{first['dataset_id']}") and extra["records_written"] == 3


def test_a_retry_reuses_the_finished_query(qs_emulator, context):
    first = run_query(context, sql="SELECT 1 AS one")
    assert run_query(context, sql="SELECT 1 AS one")["query_id"] == first["query_id"]


def test_a_failed_query_names_its_code(qs_emulator, context):
    with pytest.raises(AEPQueryServiceFailedError, match="42P01") as err:
        run_query(context, sql="SELECT * FROM missing_table_xyz")
    assert err.value.codes == ["42P01"]


def test_an_itas_into_a_missing_dataset_fails_before_submitting(qs_emulator, context):
    with pytest.raises(AEPInvalidArgumentError) as err:
        run_query(context, sql=ROWS, insert_into_dataset_id="5ed5639d798a22191b6987b2")
    assert err.value.argument == "insert_into_dataset_id"
    assert not qs_emulator.control.journal(method="POST", path="/data/foundation/query/queries")


def test_deferred_query_completes_from_the_trigger(qs_emulator, context):
    op = RunQueryOperator(task_id="query", sql=ROWS, ctas_dataset_name="deferred_out", deferrable=True, poll_interval=0)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    event = fire(deferred.value.trigger, qs_emulator)
    assert event["status"] == "success"
    assert op.execute_complete(context, event)["row_count"] == 3


def test_a_held_query_is_cancelled_by_on_kill(qs_emulator, context):
    hold(qs_emulator)
    op = RunQueryOperator(task_id="query", sql=ROWS, deferrable=True, poll_interval=0)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    qs_emulator.control.advance_clock(10)
    assert op.client.get_query(op.query_id)["state"] == "IN_PROGRESS"  # held there by the emulator
    op.on_kill()
    event = fire(deferred.value.trigger, qs_emulator)
    assert (event["status"], event["query"]["state"]) == ("failed", "KILLED")
    with pytest.raises(AEPQueryServiceFailedError, match="KILLED"):
        op.execute_complete(context, event)


def test_killing_the_deferred_task_cancels_its_query_through_the_trigger(qs_emulator, context):
    import asyncio

    hold(qs_emulator)
    op = RunQueryOperator(task_id="query", sql=ROWS, deferrable=True, poll_interval=0)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    qs_emulator.control.advance_clock(10)
    asyncio.run(deferred.value.trigger.on_kill())  # what Airflow 3.3+ calls when a user kills a deferred task
    assert op.client.get_query(op.query_id)["state"] == "KILLED"
    asyncio.run(deferred.value.trigger.on_kill())  # a query that already ended: 409, left as it is


def test_schedule_trigger_and_wait_for_a_run(qs_emulator, context):
    create = CreateQueryScheduleOperator(task_id="schedule", name="op_nightly", cron="@daily", sql="SELECT 1 AS one")
    schedule_id = create.execute(context)
    assert context["ti"].xcoms["created"] is True
    assert create.execute(context) == schedule_id and context["ti"].xcoms["created"] is False
    qs_emulator.control.advance_clock(5)  # REGISTERING -> ENABLED
    run_id = TriggerScheduledQueryRunOperator(task_id="trigger", schedule_id=schedule_id).execute(context)
    sensor = AEPScheduledQueryRunSensor(
        task_id="wait", schedule_id=schedule_id, run_id=run_id, deferrable=True, poke_interval=0
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    event = fire(deferred.value.trigger, qs_emulator)
    summary = sensor.execute_complete(context, event)
    assert (summary["id"], summary["state"].upper(), summary["external_trigger"]) == (run_id, "SUCCESS", True)
    assert sensor.poke(context).xcom_value["id"] == run_id


def test_a_scheduled_run_that_fails_names_the_query_code(qs_emulator, context):
    schedule_id = CreateQueryScheduleOperator(
        task_id="schedule", name="op_broken", cron="@daily", sql="SELECT * FROM missing_table_xyz"
    ).execute(context)
    qs_emulator.control.advance_clock(5)
    run_id = TriggerScheduledQueryRunOperator(task_id="trigger", schedule_id=schedule_id).execute(context)
    qs_emulator.control.advance_clock(10)
    sensor = AEPScheduledQueryRunSensor(task_id="wait", schedule_id=schedule_id, run_id=run_id, deferrable=False)
    with pytest.raises(AEPQueryServiceFailedError, match="42P01") as err:
        sensor.poke(context)
    assert err.value.codes == ["42P01"]


def test_openlineage_inputs_are_the_datasets_read_and_the_output_the_dataset_written(qs_emulator, context):
    source = run_query(context, task_id="source", sql=ROWS, ctas_dataset_name="lineage_source")
    op = RunQueryOperator(
        task_id="derived",
        sql="SELECT company, COUNT(*) AS n FROM lineage_source GROUP BY company",
        ctas_dataset_name="lineage_derived",
        poll_interval=0.05,
        deferrable=False,
    )
    written = op.execute(context)
    lineage = op.get_openlineage_facets_on_complete(None)
    namespace = "aep://0123456789abcdef01234567/prod"
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(namespace, f"datasets/{source['dataset_id']}")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(namespace, f"datasets/{written['dataset_id']}")]
    assert lineage.run_facets["externalQuery"].externalQueryId == written["query_id"]

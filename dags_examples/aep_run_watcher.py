"""Run a DAG each time an AEP dataflow finishes a run, including runs AEP starts on its own schedule.

A dataflow scheduled inside AEP (every 15 minutes, hourly, ...) runs without Airflow. An ``AssetWatcher``
with ``AEPDataflowRunEventTrigger`` polls the flow's runs in the triggerer and adds one asset event per newly
finished run; this DAG is scheduled on that asset. The event's ``extra["payload"]`` holds the run's metrics
(``run_event_extra``: records read/written/failed, bytes, duration, batch id, error codes) and ``run``, the
run summary.

Settings (environment, read at parse time; parsing needs no AEP):

* ``AEP_WATCH_FLOW_ID``: the id of the dataflow to watch, e.g. a ``flow_id`` from an onboarding's summary. The
  asset is named after it, ``aep_flow_runs_<flow id>``. Unset, the DAG watches nothing: its asset is
  ``aep_flow_runs_unset`` and has no watcher, so nothing polls AEP until you set it;
* ``AEP_WATCH_POLL_INTERVAL``: seconds between polls (default 60);
* connection ``aep_default`` (type ``adobe_experience_platform``), read by the triggerer, not at parse time.

The watcher only runs while this DAG is unpaused (Airflow registers watchers of assets that an active DAG
is scheduled on). Its kwargs must stay deterministic: nothing time- or random-dependent goes in.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_aep.triggers.events import AEPDataflowRunEventTrigger

FLOW_ID = os.environ.get("AEP_WATCH_FLOW_ID", "").strip()
POLL_INTERVAL = float(os.environ.get("AEP_WATCH_POLL_INTERVAL", "60"))

FLOW_RUNS = Asset(
    name=f"aep_flow_runs_{FLOW_ID or 'unset'}",
    watchers=[
        AssetWatcher(
            name=f"aep_flow_runs_{FLOW_ID}_watcher",
            trigger=AEPDataflowRunEventTrigger(aep_conn_id="aep_default", flow_id=FLOW_ID, poll_interval=POLL_INTERVAL),
        )
    ]
    if FLOW_ID
    else [],
)

with DAG(
    dag_id="aep_run_watcher",
    schedule=[FLOW_RUNS],
    catchup=False,
    tags=["aep", "example", "assets"],
    doc_md=__doc__,
):

    @task
    def report(*, triggering_asset_events=None) -> list[dict]:
        """One entry per AEP run behind this DAG run (several events can coalesce into one DAG run)."""
        summaries = []
        for events in (triggering_asset_events or {}).values():
            for event in events:
                payload = event.extra.get("payload") or {}
                summaries.append({k: payload.get(k) for k in ("run_id", "status", "records_written", "batch_id")})
                if payload.get("status") != "success":
                    print(f"AEP run {payload.get('run_id')} failed: {payload.get('error_codes')}")
        print(summaries)
        return summaries

    report()

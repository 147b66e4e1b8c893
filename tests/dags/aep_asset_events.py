"""A dataflow run announced as asset events (``tests/sensors/test_asset_events_dag.py``).

``wait_alias`` resolves the run's dataset at run time and emits through the alias; ``wait_static`` declares
the dataset as a static outlet (its id comes from ``AEP_ASSET_EVENTS_DATASET_ID`` when the DAG is parsed).
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_aep.assets import dataset_asset
from airflow_provider_aep.operators.runs import TriggerFlowRunOperator
from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"  # the org of tests/conftest.py's connections
ALIAS = "aep-hubspot-contacts"
DATASET_ID = os.environ.get("AEP_ASSET_EVENTS_DATASET_ID", "0" * 24)

with DAG(dag_id="aep_asset_events", schedule=None, params={"flow_id": ""}):
    run = TriggerFlowRunOperator(task_id="run_flow", flow_id="{{ params.flow_id }}")
    AEPFlowRunSensor(
        task_id="wait_alias", run_id=run.output, asset_alias=ALIAS, deferrable=True, poke_interval=0.2, timeout=60
    )
    AEPFlowRunSensor(
        task_id="wait_static",
        run_id=run.output,
        outlets=[dataset_asset(ORG_ID, "prod", DATASET_ID)],
        poke_interval=0.2,
        timeout=60,
    )

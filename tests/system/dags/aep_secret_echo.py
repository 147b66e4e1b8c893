"""System-test DAG: one base-connection create that AEP rejects with a 400 echoing the request body.

The secret-leak test injects that 400 (with the HubSpot credentials in it) into the emulator, runs this DAG
and checks that the failed task's log shows the error with the credentials masked. No retries: the task is
meant to fail once.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

with DAG(dag_id="aep_secret_echo", schedule=None, catchup=False, tags=["aep", "system-test"]):
    CreateHubSpotConnectionOperator(
        task_id="create_connection_rejected",
        name="{{ dag_run.conf.get('connection_name', 'secret echo') }}",
        retries=0,
    )

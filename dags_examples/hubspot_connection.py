"""Create (or reuse) the HubSpot base connection in AEP and hand its id to the next task.

Connections used: ``aep_default`` (type ``adobe_experience_platform``) and ``hubspot_default`` (type
``hubspot``). Point both at the local emulator to try it without an Adobe org (see the README).
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

with DAG(
    dag_id="aep_hubspot_connection",
    schedule=None,
    catchup=False,
    tags=["aep", "hubspot", "example"],
    doc_md=__doc__,
):
    create = CreateHubSpotConnectionOperator(
        task_id="create_hubspot_connection",
        name="HubSpot CRM ({{ dag.dag_id }})",
        description="HubSpot base connection managed by Airflow",
    )

    @task
    def report(connection_id: str) -> str:
        """Stands in for the explore and ingestion tasks that take the id from XCom."""
        print(f"HubSpot base connection id: {connection_id}")
        return connection_id

    report(create.output)

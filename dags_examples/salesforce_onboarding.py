"""Onboard Salesforce objects into Adobe Experience Platform: the HubSpot onboarding, for another source.

The same ``AEPOnboardingTaskGroup``; only ``source`` differs. Salesforce is a CRM source: its source
connections name the object in ``params.tableName`` and list its columns, and ``LastModifiedDate`` is the
delta column, all from the source's declaration (``airflow_provider_aep.sources.salesforce``).
Connections: ``aep_default`` and ``salesforce_default`` (type ``aep_salesforce``: instance URL, a connected
app's client id and secret, API version).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Param

from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

with DAG(
    dag_id="aep_salesforce_onboarding",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "salesforce", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "connection_name": Param("Salesforce (Airflow onboarding)", type="string", minLength=1),
        "tables": Param(["Contact", "Account"], type="array", minItems=1, description="Salesforce objects."),
        "teardown": Param(False, type=["boolean", "null"], description="Delete what this run created."),
    },
):
    AEPOnboardingTaskGroup(
        "salesforce",
        prefix_group_id=False,
        source="salesforce",
        connection_name="{{ params.connection_name }}",
        tables="{{ params.tables }}",
        teardown="{{ params.teardown }}",
        poll_interval=float(os.environ.get("AEP_ONBOARDING_POKE_INTERVAL", "60")),
    )

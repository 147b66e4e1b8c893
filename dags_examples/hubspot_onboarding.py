"""Onboard HubSpot tables into Adobe Experience Platform, from two Airflow connections to landed records.

One ``AEPOnboardingTaskGroup`` does it, in Adobe's order for CRM sources, once per selected table (a mapped
task group, ``onboard_table``): explore the table → XDM field group from its columns → schema → dataset →
Data Prep mapping set → source connection → Data Lake target connection → ``once`` dataflow with the
mapping → run → wait (deferred to the triggerer) → optional teardown. The HubSpot base connection is shared
by the tables.

Every create looks its resource up by name first and checks that what it finds is what was asked for,
so re-running the DAG reuses everything and only starts (and lands) new runs. Names start with
``connection_name``, so two onboardings with different names never share a resource.

Connections (Airflow UI, secrets backend or ``AIRFLOW_CONN_*`` environment variables):
``aep_default`` (type ``adobe_experience_platform``) and ``hubspot_default`` (type ``hubspot``). Nothing has
to exist in AEP beforehand. ``AEP_ONBOARDING_POKE_INTERVAL`` (seconds, default 60) sets how often runs are
polled.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Param

from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

with DAG(
    dag_id="aep_hubspot_onboarding",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "hubspot", "example"],
    # Every task is safe to retry: creates look up before they POST, runs are reconciled, deletes accept 404.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "connection_name": Param(
            "HubSpot (Airflow onboarding)",
            type="string",
            minLength=1,
            description="Name of the HubSpot source account in AEP; every resource made for it starts with it.",
        ),
        "tables": Param(
            ["Hubspot.Contacts", "Hubspot.Companies"],
            type="array",
            minItems=1,
            description="Table names, globs (Hubspot.Deal*) or re:regexes, as listed by explore.",
        ),
        "delta_column": Param("Updated_At", type="string", description="Timestamp column for incremental copy."),
        # Null-able booleans: the trigger form shows plain switches instead of marking them required.
        "teardown": Param(
            False,
            type=["boolean", "null"],
            description="Delete the dataflows and connections this run created once its runs ended.",
        ),
        "teardown_data": Param(
            False,
            type=["boolean", "null"],
            description="With teardown: also delete the datasets (and their data), schemas and field groups.",
        ),
    },
):
    AEPOnboardingTaskGroup(
        "hubspot",
        prefix_group_id=False,  # the only onboarding in this DAG: short task ids (create_base_connection, ...)
        source="hubspot",
        connection_name="{{ params.connection_name }}",
        tables="{{ params.tables }}",
        delta_column="{{ params.delta_column }}",
        teardown="{{ params.teardown }}",
        teardown_data="{{ params.teardown_data }}",
        poll_interval=float(os.environ.get("AEP_ONBOARDING_POKE_INTERVAL", "60")),
    )

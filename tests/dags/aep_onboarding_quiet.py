"""The HubSpot onboarding with its asset events turned off (``emit_asset_events=False``), for
``tests/test_example_onboarding.py``: a successful run leaves no asset event."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

with DAG(dag_id="aep_onboarding_quiet", schedule=None, params={"tables": ["Hubspot.Contacts"]}):
    AEPOnboardingTaskGroup(
        "hubspot",
        prefix_group_id=False,
        source="hubspot",
        connection_name="HubSpot (quiet)",
        tables="{{ params.tables }}",
        poll_interval=0.2,
        emit_asset_events=False,
    )

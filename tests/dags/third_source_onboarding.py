"""A DAG onboarding a source that exists only as a declaration (``tests/test_task_groups.py``).

The declaration below is the whole provider-side support for "Team CRM"; the test registers the matching
emulator declaration before it runs the DAG.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_aep.sources import AuthParam, SourceKind, register
from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

TEAM_CRM_SPEC_ID = "22222222-3333-4444-8555-666666666666"

register(
    SourceKind(
        name="teamcrm",
        title="Team CRM",
        connection_spec_id=TEAM_CRM_SPEC_ID,
        auth_spec_name="Basic Authentication",
        conn_type="aep_teamcrm",
        default_conn_id="teamcrm_default",
        docs="(test only)",
        table_param="tableName",
        send_columns=True,
        delta_column="UpdatedAt",
        auth_params=(
            AuthParam("username", "login", "User", "the user"),
            AuthParam("password", "password", "Password", "the password", secret=True),
        ),
    )
)

with DAG(dag_id="aep_teamcrm_onboarding", schedule=None):
    AEPOnboardingTaskGroup(
        "teamcrm", source="teamcrm", connection_name="Team CRM", tables=["Members"], poll_interval=0.2
    )

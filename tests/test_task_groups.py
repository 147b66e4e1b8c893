"""``AEPOnboardingTaskGroup`` through ``dag.test()`` against the emulator: Salesforce, and a source that
exists only as a declaration (provider side and emulator side), in a DAG of a few lines."""

from __future__ import annotations

import json
import os

import pytest

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.task_groups import AEPOnboardingTaskGroup

os.environ.setdefault("AEP_ONBOARDING_POKE_INTERVAL", "0.2")


@pytest.fixture
def emulated(aep_emulator, connections):
    connections(aep_emulator.url)
    aep_emulator.control.configure(run_start_delay=0.2, run_duration=0.2)
    return aep_emulator


def states(dag_run) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for ti in dag_run.get_task_instances():
        found.setdefault(ti.task_id, set()).add(str(ti.state))
    return found


def summary(dag_run, task_id: str) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value")
            .one()
        )
        return XComModel.deserialize_value(row)


def test_the_salesforce_example_dag_lands_records(run_dag, emulated):
    from airflow.utils.state import DagRunState

    dag_run = run_dag("aep_salesforce_onboarding")
    assert dag_run.state == DagRunState.SUCCESS, states(dag_run)
    result = summary(dag_run, "summary")
    assert result["source"] == "salesforce"
    assert sorted(t["table"] for t in result["tables"]) == ["Account", "Contact"]
    state = emulated.control.state()
    sources = {s["params"]["tableName"]: s for s in state["sourceConnections"]}
    assert sorted(sources) == ["Account", "Contact"]
    assert {c["name"] for c in sources["Contact"]["params"]["columns"]} >= {"Id", "Email", "LastModifiedDate"}
    for flow in state["flows"]:
        copy = next(t for t in flow["transformations"] if t["name"] == "Copy")
        assert copy["params"]["deltaColumn"]["name"] == "LastModifiedDate"
    for table in result["tables"]:
        assert table["status"] == "success" and table["failed_records"] == 0
        landed = emulated.control.landed_records(table["dataset_id"])
        assert len(landed) == table["records"] > 0
    contact = next(t for t in result["tables"] if t["table"] == "Contact")
    record = emulated.control.landed_records(contact["dataset_id"])[0]
    [tenant] = [key for key in record if key.startswith("_")]
    assert set(record[tenant]["salesforce"]["contact"]) >= {"id", "email", "lastModifiedDate"}
    assert "SECRET" not in json.dumps(state["connections"])  # the connected app's secret is masked


def test_the_group_nests_between_user_tasks_with_prefixed_ids_and_handles(dagbag):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(dag_id="nesting", schedule=None) as dag:
        group = AEPOnboardingTaskGroup("crm", source="salesforce", connection_name="sf", tables=["Contact"])
        EmptyOperator(task_id="before") >> group >> EmptyOperator(task_id="after")
    assert "crm.create_base_connection" in dag.task_dict
    assert "crm.onboard_table.wait_for_run" in dag.task_dict
    assert dag.task_dict["crm.create_base_connection"].upstream_task_ids == {"before"}
    assert group.base_connection_id.operator.task_id == "crm.create_base_connection"
    assert group.summary.operator.task_id == "crm.summary"
    assert dag.task_dict["crm.onboard_table.wait_for_run"].deferrable is True
    # Asset events are on by default: the sensor declares its own alias.
    assert (
        dag.task_dict["crm.onboard_table.wait_for_run"].asset_alias
        == "aep-datasets:nesting.crm.onboard_table.wait_for_run"
    )


def test_asset_alias_is_declared_on_every_tables_wait_for_run():
    from airflow.sdk import DAG, AssetAlias

    with DAG(dag_id="aliased", schedule=None) as dag:
        AEPOnboardingTaskGroup(
            "crm", source="salesforce", connection_name="sf", tables=["Contact"], asset_alias="sf-landed"
        )
    sensor = dag.task_dict["crm.onboard_table.wait_for_run"]
    assert sensor.asset_alias == "sf-landed"
    assert AssetAlias(name="sf-landed") in sensor.outlets  # Airflow drops alias events of undeclared aliases
    with DAG(dag_id="aliased_bad", schedule=None), pytest.raises(AEPInvalidArgumentError, match="'asset_alias'"):
        AEPOnboardingTaskGroup("crm", source="salesforce", connection_name="sf", tables=["Contact"], asset_alias=" ")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"source": "marketo"}, "source"),
        ({"enable_profile": True}, "enable_profile"),
        ({"identity": {"column": "Email", "namespace": "Email", "primary": True, "x": 1}}, "identity"),
    ],
)
def test_bad_options_fail_when_the_dag_is_parsed(kwargs, argument):
    from airflow.sdk import DAG

    options = {"source": "salesforce", "connection_name": "sf", "tables": ["Contact"], **kwargs}
    with DAG(dag_id="bad", schedule=None), pytest.raises(AEPInvalidArgumentError, match=f"'{argument}'"):
        AEPOnboardingTaskGroup("crm", **options)


@pytest.fixture
def third_source(emulated, monkeypatch):
    """The emulator's declaration of the test-only source of ``tests/dags/third_source_onboarding.py``."""
    from aep_emulator.flow_service import sources as emulated_sources

    from tests.dags.third_source_onboarding import TEAM_CRM_SPEC_ID

    auth = {
        "name": "Basic Authentication",
        "spec": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
            "required": ["username", "password"],
        },
    }
    emulator_side = emulated_sources.register_source(
        emulated_sources.EmulatedSource(
            key="teamcrm",
            spec=emulated_sources.table_source_spec(TEAM_CRM_SPEC_ID, "teamcrm", [auth], addressing="tableName"),
            tables={"Members": [("MemberId", "id"), ("Email", "email"), ("UpdatedAt", "datetime")]},
            addressing="tableName",
            column_style="crm",
            delta_column="UpdatedAt",
        )
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEAMCRM_DEFAULT",
        json.dumps({"conn_type": "aep_teamcrm", "login": "team-user", "password": "team-SECRET-77"}),
    )
    yield
    emulated_sources.unregister_source(emulator_side)


def test_a_third_source_needs_only_a_declaration(third_source, emulated, run_dag):
    from airflow.utils.state import DagRunState

    dag_run = run_dag("aep_teamcrm_onboarding")
    assert dag_run.state == DagRunState.SUCCESS, states(dag_run)
    [table] = summary(dag_run, "teamcrm.summary")["tables"]
    assert table["status"] == "success" and table["records"] > 0
    assert len(emulated.control.landed_records(table["dataset_id"])) == table["records"]
    source = next(iter(emulated.control.state()["sourceConnections"]))
    assert source["params"]["tableName"] == "Members"


def test_the_flow_spec_and_namespace_come_from_the_declaration():
    """A source whose dataflows use another flow spec needs only its declaration, not a change to the group."""
    from dataclasses import replace

    from airflow.sdk import DAG

    from airflow_provider_aep.sources import register, source_kind, unregister

    register(replace(source_kind("salesforce"), name="sfother", flow_spec_name="OtherToAEP", xdm_namespace="sfo"))
    try:
        with DAG(dag_id="other_spec", schedule=None) as dag:
            AEPOnboardingTaskGroup("crm", source="sfother", connection_name="sf", tables=["Contact"])
    finally:
        unregister("sfother")
    assert dag.task_dict["crm.create_base_connection"].flow_spec_name == "OtherToAEP"
    assert dag.task_dict["crm.onboard_table.create_dataflow"].flow_spec_name == "OtherToAEP"
    assert dag.task_dict["crm.onboard_table.create_mapping_set"].source == "sfo"


def test_an_identity_becomes_a_step_between_the_field_group_and_the_schema():
    from airflow.sdk import DAG

    from airflow_provider_aep.task_groups import identity_of

    identity = {"column": "Email", "namespace": "Email", "primary": True}
    with DAG(dag_id="identity", schedule=None) as dag:
        AEPOnboardingTaskGroup("crm", source="salesforce", connection_name="sf", tables=["Contact"], identity=identity)
    step = dag.task_dict["crm.onboard_table.identity_of"]
    assert step.upstream_task_ids == {"crm.onboard_table.create_field_group"}
    assert "crm.onboard_table.identity_of" in dag.task_dict["crm.onboard_table.create_schema"].upstream_task_ids
    assert step.step(field_paths={"Email": "_t.salesforce.contact.email"}, identity=step.arguments["identity"]) == {
        "path": "_t.salesforce.contact.email",
        "namespace": "Email",
        "primary": True,
    }
    assert identity_of({"Id": "_t.salesforce.contact.id"}, identity) is None  # a table without the column

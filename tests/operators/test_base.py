"""``operators/base.py``: the delete operators' one ``__init__`` under each subclass's own id argument."""

from __future__ import annotations

import inspect

import pytest
from airflow.sdk import DAG

from airflow_provider_aep.operators.base import IF_EXISTS_CHOICES, AEPDeleteOperator, require_choice
from airflow_provider_aep.operators.catalog import DeleteDatasetOperator
from airflow_provider_aep.operators.connections import DeleteConnectionOperator
from airflow_provider_aep.operators.flows import DeleteDataflowOperator
from airflow_provider_aep.operators.schema_registry import DeleteFieldGroupOperator, DeleteSchemaOperator
from airflow_provider_aep.operators.source_connections import DeleteSourceConnectionOperator
from airflow_provider_aep.operators.target_connections import DeleteTargetConnectionOperator

DELETES = {
    DeleteConnectionOperator: "base_connection_id",
    DeleteSourceConnectionOperator: "source_connection_id",
    DeleteTargetConnectionOperator: "target_connection_id",
    DeleteDataflowOperator: "flow_id",
    DeleteDatasetOperator: "dataset_id",
    DeleteSchemaOperator: "schema_id",
    DeleteFieldGroupOperator: "field_group_id",
}


@pytest.mark.parametrize(("operator", "argument"), DELETES.items())
def test_each_delete_operator_takes_its_id_argument(operator: type[AEPDeleteOperator], argument: str) -> None:
    assert list(inspect.signature(operator).parameters)[:5] == [
        argument,
        "missing_ok",
        "owned_only",
        "enabled",
        "aep_conn_id",
    ]
    assert operator.template_fields == (argument, "enabled")
    with DAG("d", schedule=None):
        task = operator(task_id="t", **{argument: "{{ params.id }}"}, owned_only=False, enabled="{{ params.t }}")
    assert (getattr(task, argument), task.missing_ok, task.owned_only, task.enabled) == (
        "{{ params.id }}",
        True,
        False,
        "{{ params.t }}",
    )
    with DAG("d", schedule=None), pytest.raises(TypeError, match=f"missing keyword argument '{argument}'"):
        operator(task_id="t")


def test_the_id_argument_works_as_airflow_arguments_do() -> None:
    """``default_args``, ``partial``/``expand`` and XComArg dependencies see the subclass's argument."""
    with DAG("d", schedule=None, default_args={"aep_conn_id": "other", "flow_id": "from_default_args"}):
        flow = DeleteDataflowOperator(task_id="flow")
        mapped = DeleteDatasetOperator.partial(task_id="datasets").expand(dataset_id=["a" * 24, "b" * 24])
        base = DeleteConnectionOperator(task_id="base", base_connection_id=flow.output)
        with pytest.raises(TypeError, match="unexpected keyword argument 'flow_id'"):
            DeleteDatasetOperator.partial(task_id="wrong", flow_id="x")
    assert (flow.flow_id, flow.aep_conn_id) == ("from_default_args", "other")
    assert base.upstream_task_ids == {"flow"}
    task = mapped.unmap({"dataset_id": "a" * 24})
    assert isinstance(task, DeleteDatasetOperator) and task.dataset_id == "a" * 24


def test_the_base_itself_names_no_resource() -> None:
    with DAG("d", schedule=None), pytest.raises(TypeError, match="base class"):
        AEPDeleteOperator(task_id="t")


def test_require_choice_names_the_argument() -> None:
    with DAG("d", schedule=None):
        task = DeleteDataflowOperator(task_id="t", flow_id="f")
    assert require_choice(task, "if_exists", "fail", IF_EXISTS_CHOICES) == "fail"
    with pytest.raises(ValueError, match=r"if_exists.*must be one of \('reuse', 'fail'\), got 'update'"):
        require_choice(task, "if_exists", "update", IF_EXISTS_CHOICES)

"""``OnboardingStep`` (the task group's pure-Python steps) and the one-level delete operators: what parsing a
DAG sees of them (dependencies, templated arguments, wrapped ``__init__`` levels); the DAG runs are covered by
``tests/test_example_onboarding.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator

from airflow_provider_aep.operators.catalog import DeleteDatasetOperator
from airflow_provider_aep.operators.flows import DeleteDataflowOperator
from airflow_provider_aep.operators.steps import OnboardingStep


def _wrapped_levels(cls: type) -> int:
    """How many classes of ``cls``'s chain define an ``__init__`` (each is wrapped by Airflow)."""
    return sum(1 for klass in cls.__mro__ if "__init__" in vars(klass) and issubclass(klass, BaseOperator))


def _wrapped_calls(monkeypatch: pytest.MonkeyPatch, build: Callable[[], object]) -> int:
    """How many of Airflow's ``__init__`` wrappers run while ``build`` constructs a task: each merges the
    defaults, deep-copying the DAG's params."""
    import airflow.sdk.bases.operator as operator_module

    calls = []
    merge = operator_module.get_merged_defaults

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return merge(*args, **kwargs)

    monkeypatch.setattr(operator_module, "get_merged_defaults", counted)
    build()
    return len(calls)


def test_a_step_depends_on_the_tasks_its_arguments_reference_and_returns_the_callables_result():
    def shout(text: str, times: int) -> str:
        """Say it louder."""
        return text.upper() * times

    with DAG("steps", schedule=None):
        upstream = OnboardingStep.make("upstream", lambda: "hi", {})
        step = OnboardingStep.make("shout", shout, {"text": upstream.output, "times": 2}, multiple_outputs=False)
    assert step.upstream_task_ids == {"upstream"}
    assert step.doc_md == "Say it louder."
    assert step.template_fields == ("arguments",)
    step.arguments = {"text": "hi", "times": 2}  # as rendered
    assert step.execute(context={}) == "HIHI"


def test_a_step_keeps_multiple_outputs_and_base_operator_arguments():
    with DAG("steps", schedule=None):
        step = OnboardingStep.make("names", dict, {"a": "1"}, multiple_outputs=True, trigger_rule="none_failed")
    assert step.multiple_outputs is True
    assert step.trigger_rule == "none_failed"
    assert _wrapped_levels(OnboardingStep) == 1  # BaseOperator's only, like EmptyOperator


def test_a_step_built_without_make_refuses_to_run():
    with DAG("steps", schedule=None):
        step = OnboardingStep(task_id="bare")
    with pytest.raises(TypeError, match=r"OnboardingStep\.make"):
        step.execute(context={})


@pytest.mark.parametrize(
    ("cls", "argument"), [(DeleteDataflowOperator, "flow_id"), (DeleteDatasetOperator, "dataset_id")]
)
def test_delete_operators_have_one_wrapped_init_and_keep_their_arguments(cls, argument, monkeypatch):
    with DAG("levels", schedule=None):
        # the operator's own (AEPDeleteOperator's one __init__, under its signature) and BaseOperator's
        assert _wrapped_calls(monkeypatch, lambda: cls(task_id="delete", **{argument: "abc"})) == 2
    with DAG("deletes", schedule=None, default_args={"missing_ok": False, "aep_conn_id": "other"}):
        task = cls(task_id="delete", **{argument: "abc"}, owned_only=False, enabled="{{ params.teardown }}")
    assert getattr(task, argument) == "abc"
    assert (task.missing_ok, task.owned_only, task.enabled, task.aep_conn_id) == (
        False,
        False,
        "{{ params.teardown }}",
        "other",
    )
    with DAG("deletes2", schedule=None), pytest.raises(TypeError, match=argument):
        cls(task_id="delete")


def test_provider_operators_share_base_operators_serialized_fields():
    assert DeleteDataflowOperator.get_serialized_fields() is BaseOperator.get_serialized_fields()
    assert OnboardingStep.get_serialized_fields() is BaseOperator.get_serialized_fields()

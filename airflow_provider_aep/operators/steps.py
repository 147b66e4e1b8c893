"""``OnboardingStep``: the pure-Python steps of ``AEPOnboardingTaskGroup`` (resource names, identity descriptor,
summaries), which reshape XCom values and make no AEP call.

They were ``@task`` functions. A decorated task is a ``PythonOperator`` subclass with four ``__init__`` levels,
and Airflow wraps each level in a function that deep-copies the DAG's params, so every parse of a DAG using
the group paid for that four times per step (profiled: about 1 ms per step, against 0.3 ms for an
``EmptyOperator``). A step has one wrapped ``__init__`` (``BaseOperator``'s), like ``EmptyOperator``; its
callable and arguments are set right after construction (``make``), which Airflow supports for template
fields: assigning an ``XComArg`` there sets the upstream dependency as a constructor argument would.
Behaviour is the ``@task``'s: ``arguments`` is templated (Jinja strings rendered, XComArgs and a mapped task
group's arguments resolved), the callable's return value is the XCom (one per key with
``multiple_outputs=True``), and its docstring is the task's ``doc_md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class OnboardingStep(BaseOperator):
    """Calls ``step(**arguments)`` and returns its result (build one with :meth:`make`).

    :param step: the callable (set by :meth:`make`, not a constructor argument).
    :param arguments: its keyword arguments (templated; set by :meth:`make`).
    """

    template_fields: Sequence[str] = ("arguments",)
    ui_color = "#ffefeb"  # as a @task's
    step: Callable[..., Any] | None = None
    arguments: Mapping[str, Any] | None = None

    @classmethod
    def make(
        cls, task_id: str, step: Callable[..., Any], arguments: Mapping[str, Any], **kwargs: Any
    ) -> OnboardingStep:
        """The step as a task.

        :param task_id: the task's id.
        :param step: the callable; its docstring becomes the task's ``doc_md``.
        :param arguments: its keyword arguments: values, Jinja strings or XComArgs (which become upstream
            dependencies).
        :param kwargs: ``BaseOperator``'s arguments: ``multiple_outputs``, ``trigger_rule``, ...
        """
        if step.__doc__ and "doc_md" not in kwargs:
            kwargs["doc_md"] = step.__doc__
        task = cls(task_id=task_id, **kwargs)
        task.step = step
        task.arguments = dict(arguments)  # a template field: its XComArgs become upstream dependencies
        return task

    @classmethod
    def get_serialized_fields(cls) -> frozenset[str]:
        """``BaseOperator``'s set, cached once for every class (see ``AEPBaseOperator.get_serialized_fields``)."""
        return BaseOperator.get_serialized_fields()

    def execute(self, context: Context) -> Any:
        if self.step is None:
            raise TypeError(f"{self.task_id}: built without a step; use OnboardingStep.make()")
        return self.step(**(self.arguments or {}))


#: ``(heading, summary key)`` of each column of the onboarding summary's table.
SUMMARY_COLUMNS = (
    ("table", "table"),
    ("status", "status"),
    ("records", "records"),
    ("failed", "failed_records"),
    ("dataset", "dataset_id"),
    ("dataflow", "flow_id"),
    ("run", "run_id"),
)


def summary_table(summary: Mapping[str, Any]) -> str:
    """An onboarding summary (``AEPOnboardingTaskGroup.summary``) as an aligned text table, one row per table,
    for the task log: what landed where, readable without opening the XCom."""
    rows = [[heading for heading, _ in SUMMARY_COLUMNS]]
    for table in sorted(summary.get("tables") or [], key=lambda t: str(t.get("table"))):
        rows.append(["-" if table.get(key) is None else str(table[key]) for _, key in SUMMARY_COLUMNS])
    widths = [max(len(row[column]) for row in rows) for column in range(len(SUMMARY_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    count = len(rows) - 1
    title = (
        f"Onboarded {count} table{'' if count == 1 else 's'} from {summary.get('source')} "
        f"(base connection {summary.get('connection_id')}):"
    )
    return "\n".join([title, *lines])


__all__ = ["OnboardingStep", "summary_table"]

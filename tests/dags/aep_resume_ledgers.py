"""Test DAG: the resume ledgers inside a real task run (``tests/batch/test_resume_ledgers.py``).

The task saves, loads and clears progress through both ledgers: the Variable one (what Airflow < 3.3 uses) and
the one ``task_ledger`` picks on this Airflow (the task state store where it exists).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_aep.resume import VariableLedger, task_ledger, variable_name

with DAG(dag_id="aep_resume_ledgers", schedule=None, catchup=False, tags=["aep", "test"]):

    @task
    def round_trip(**context: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for label, ledger in (
            ("variable", VariableLedger(variable_name(context, "probe"))),
            ("picked", task_ledger(context, "probe")),
        ):
            before = ledger.load()
            ledger.save({"batch_id": "b1", "done": ["a.json"]})
            saved = ledger.load()
            ledger.clear()
            seen[label] = {"where": ledger.where, "before": before, "saved": saved, "after": ledger.load()}
        seen["variable_name"] = variable_name(context, "probe")
        return seen

    round_trip()

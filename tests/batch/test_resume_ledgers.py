"""The resume ledgers in a real task run (``dag.test()``): saved progress reads back, and is gone once cleared."""

from __future__ import annotations

from tests.conftest import xcoms_of


def test_both_ledgers_round_trip_in_a_task(run_dag):
    dag_run = run_dag("aep_resume_ledgers")
    assert dag_run.state == "success"
    seen = xcoms_of(dag_run)[("round_trip", -1, "return_value")]
    for label in ("variable", "picked"):
        assert seen[label]["before"] is None
        assert seen[label]["saved"] == {"batch_id": "b1", "done": ["a.json"]}
        assert seen[label]["after"] is None
    assert seen["variable_name"] == f"aep_resume__aep_resume_ledgers__{dag_run.run_id}__round_trip__probe".replace(
        ":", "_"
    ).replace("+", "_")
    try:
        import airflow.sdk.execution_time.context as sdk_context

        has_store = hasattr(sdk_context, "NEVER_EXPIRE")
    except ImportError:
        has_store = False
    assert seen["picked"]["where"] == ("the task state store" if has_store else "an Airflow Variable")

def test_dag_test_harness_runs_a_dag(run_dag):
    from airflow.utils.state import DagRunState

    assert run_dag("smoke_empty").state == DagRunState.SUCCESS

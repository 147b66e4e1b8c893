"""A trivial DAG that proves the dag.test() harness itself works."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="smoke_empty", schedule=None, catchup=False):
    EmptyOperator(task_id="noop")

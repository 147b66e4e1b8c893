"""Warm-up DAG parsed (untimed) before every measured parse, so DagBag and serialisation code is warm.

Airflow-only (``EmptyOperator`` + TaskFlow), unrelated to the DAGs under test.
"""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

with DAG(dag_id="bench_warmup", schedule=None, catchup=False):

    @task
    def noop() -> None:
        return None

    EmptyOperator(task_id="start") >> noop() >> EmptyOperator(task_id="end")

"""The common-sql operators against Query Service's PostgreSQL interface (``aep_query_service_default``), for
``tests/hooks/test_query_service_wire.py``: a table of contacts (``params.table``) with an ``email`` column."""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLTableCheckOperator,
    SQLValueCheckOperator,
)
from airflow.sdk import DAG

CONN_ID = "aep_query_service_default"

with DAG(dag_id="aep_query_checks", schedule=None, catchup=False, params={"table": "contacts", "rows": 3}):
    SQLExecuteQueryOperator(
        task_id="select", conn_id=CONN_ID, sql="SELECT email FROM {{ params.table }} ORDER BY email"
    ) >> [
        SQLColumnCheckOperator(
            task_id="columns",
            conn_id=CONN_ID,
            table="{{ params.table }}",
            column_mapping={"email": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}},
        ),
        SQLTableCheckOperator(
            task_id="table",
            conn_id=CONN_ID,
            table="{{ params.table }}",
            checks={"row_count": {"check_statement": "COUNT(*) = {{ params.rows }}"}},
        ),
        SQLValueCheckOperator(
            task_id="value",
            conn_id=CONN_ID,
            sql="SELECT COUNT(*) FROM {{ params.table }}",
            pass_value="{{ params.rows }}",
        ),
    ]

"""Airflow hooks: thin glue that turns Airflow Connections into configured clients."""

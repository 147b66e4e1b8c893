"""Plain Python client for Adobe IMS and the AEP Flow Service. It knows HTTP and AEP, not Airflow.

Submodules are imported on use, so ``from airflow_provider_aep.client.config import AEPSettings`` stays
cheap (no ``requests``) for DAG-parse-time code.
"""

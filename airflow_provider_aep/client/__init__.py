"""Plain Python client for Adobe IMS and the AEP Platform services. It knows HTTP and AEP, not Airflow.

:class:`~airflow_provider_aep.client.platform.PlatformClient` holds what every service shares (session, IMS
token, retry policy, error parsing and redaction, retry-safe creates); ``flow_service``, ``schema_registry``,
``catalog`` and ``data_prep`` are one module per service over it. Submodules are imported on use, so
``from airflow_provider_aep.client.config import AEPSettings`` stays cheap (no ``requests``) for DAG-parse-time
code.
"""

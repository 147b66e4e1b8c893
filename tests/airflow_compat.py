"""Test-side spellings of Airflow APIs that moved between the lowest supported version (3.1, ``make test-lowest``)
and the latest; the provider's own shims are in ``airflow_provider_aep._compat``."""

from __future__ import annotations

from typing import Any

try:  # 3.2+
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, TaskDeferred
except ImportError:  # 3.1: only AirflowException is in the SDK
    from airflow.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, TaskDeferred

try:  # 3.2+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # 3.1
    from airflow.models.dagbag import DagBag

__all__ = [
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "DagBag",
    "TaskDeferred",
    "asset_providers_manager",
    "secrets_masker",
]


def asset_providers_manager() -> Any:
    """The providers manager that ``Asset(uri=...)`` and the hook-lineage collector read the asset-URI handlers
    and factories from: the task-runtime one on 3.2+, the core ``ProvidersManager`` on 3.1."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager()
    return ProvidersManagerTaskRuntime()


def secrets_masker() -> Any:
    """The process's secrets masker, which ``airflow.sdk.log.mask_secret`` adds to (same object on 3.1 and 3.3;
    only 3.2+ re-exports it from ``airflow.sdk.log``)."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    return _secrets_masker()

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
    "forget_dag",
    "secrets_masker",
    "sync_dags_to_db",
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


def forget_dag(dag_id: str) -> None:
    """Drop a DAG's serialized versions from the metadata DB, so the next ``dag.test()`` serializes it afresh.

    For a test DAG whose tasks depend on the environment when it is parsed: on 3.1 the first ``dag.test()`` of a
    session serializes every DAG of the folder, and later ones reuse that version for the DAG under test, so
    the server side would see the tasks as the environment made them then."""
    from contextlib import suppress

    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import DagNotFound

    with suppress(DagNotFound):
        delete_dag(dag_id)


def sync_dags_to_db() -> None:
    """Store every DAG of every bundle in the metadata DB, as the DAG processor does (and as the first
    ``dag.test()`` of a session does)."""
    import inspect

    from airflow.dag_processing.bundles.manager import DagBundlesManager

    try:  # 3.2+
        from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    except ImportError:  # 3.1
        from airflow.models.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    named = "bundle_name" in inspect.signature(BundleDagBag).parameters
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        extra = {"bundle_name": bundle.name} if named else {}
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, **extra)
        sync_bag_to_db(bag, bundle.name, bundle.version)

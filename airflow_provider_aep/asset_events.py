"""Asset events for the AEP datasets a task lands data in, on by default (``docs/assets.md``).

Airflow records an asset event only for an asset a task declares in ``outlets``, or for one added at run time
through an ``AssetAlias`` the task declares. A dataset's id is often only known at run time (the onboarding
creates it, a run's flow names it), so every task that lands data declares **one alias of its own** when it is
built, :func:`default_asset_alias` (``aep-datasets:<dag_id>.<task_id>``), and adds one event per dataset
through it when it succeeds: ``aep://<org>/<sandbox>/datasets/<id>`` with the metrics of what landed as the
event's ``extra`` (:func:`~airflow_provider_aep.assets.dataset_event_extra`). A DAG scheduled on the
dataset's asset, or on the alias, then runs.

Any operator that lands data uses the same two calls (the run sensor does; a batch-ingestion operator would)::

    # in __init__, after super().__init__(**kwargs)
    self.asset_alias = declare_dataset_events(self, emit_asset_events=emit_asset_events, asset_alias=asset_alias)

    # in execute (or execute_complete), once the data has landed
    if self.asset_alias:
        extra = dataset_event_extra(org_id=..., sandbox=..., dataset_id=..., batch_id=..., records_written=...)
        emit_dataset_event(context, self.asset_alias, extra)

Nothing here runs at import: ``airflow.sdk`` is imported when a task is built, which a DAG file does anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.assets import SCHEME, create_asset

if TYPE_CHECKING:
    from airflow.sdk import Asset, BaseOperator

log = logging.getLogger(__name__)

ALIAS_PREFIX = "aep-datasets:"


def default_asset_alias(dag_id: str, task_id: str) -> str:
    """``aep-datasets:<dag_id>.<task_id>``: the alias a task that lands data declares when given none.

    Schedule a consumer on it (``schedule=[AssetAlias(default_asset_alias("my_dag", "wait_for_run"))]``) to run
    after that task landed data in any dataset; the task id includes its task group's prefix
    (``onboard_table.wait_for_run``).
    """
    return f"{ALIAS_PREFIX}{dag_id}.{task_id}"


def declare_dataset_events(
    task: BaseOperator, *, emit_asset_events: bool = True, asset_alias: Any = None
) -> str | None:
    """Declare the alias ``task`` emits its datasets' events through (call from ``__init__``); returns its name.

    * ``asset_alias="name"``: that alias (a non-empty string), added to ``task.outlets`` if absent.
    * none given: :func:`default_asset_alias` of the task, unless an outlet already is an ``aep://`` asset
      (Airflow emits that one's event itself; a second event through an alias would double it), or
    * ``emit_asset_events=False``: no alias and None (static outlets are still Airflow's to emit).
    """
    from airflow.sdk import Asset, AssetAlias

    from airflow_provider_aep.exceptions import AEPInvalidArgumentError

    if asset_alias is not None and (not isinstance(asset_alias, str) or not asset_alias.strip()):
        raise AEPInvalidArgumentError(task.task_id, "asset_alias", f"must be a non-empty name, got {asset_alias!r}")
    if not isinstance(emit_asset_events, bool):
        raise AEPInvalidArgumentError(
            task.task_id, "emit_asset_events", f"must be True or False, not {emit_asset_events!r}"
        )
    if not emit_asset_events:
        if asset_alias is not None:
            raise AEPInvalidArgumentError(
                task.task_id, "asset_alias", "is given with emit_asset_events=False; drop one of the two"
            )
        return None
    if asset_alias is None:
        if any(isinstance(o, Asset) and o.uri.startswith(f"{SCHEME}://") for o in task.outlets):
            return None
        asset_alias = default_asset_alias(task.dag_id, task.task_id)
    if not any(isinstance(o, AssetAlias) and o.name == asset_alias for o in task.outlets):
        # Airflow drops alias events unless the alias is one of the task's outlets.
        task.outlets.append(AssetAlias(name=asset_alias))
    return str(asset_alias)


def emit_dataset_event(context: Mapping[str, Any], asset_alias: str, extra: Mapping[str, Any]) -> Asset | None:
    """Add the event of the dataset ``extra`` names (``org_id``, ``sandbox``, ``dataset_id``) through the alias.

    Call it only once the data has landed, in the process that ends the task (``execute``, or
    ``execute_complete`` after a deferral): Airflow sends that process's events on success only. Returns the
    asset, or None (logged) outside a real task run (no ``outlet_events`` in the context).
    """
    from airflow.sdk import AssetAlias

    outlet_events = context.get("outlet_events")
    asset = create_asset(org_id=extra["org_id"], sandbox=extra["sandbox"], dataset_id=extra["dataset_id"])
    if outlet_events is None:
        log.warning("No outlet_events in the task context: no asset event for %s", asset.uri)
        return None
    outlet_events[AssetAlias(name=asset_alias)].add(asset, extra=dict(extra))
    log.info("Asset event for %s through alias %r", asset.uri, asset_alias)
    return asset


__all__ = ["ALIAS_PREFIX", "declare_dataset_events", "default_asset_alias", "emit_dataset_event"]

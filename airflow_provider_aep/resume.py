"""State a task keeps across its tries, so a retry continues the work of a try that died instead of redoing it.

On Airflow 3.3 and later it lives in the task state store (``context["task_state_store"]``, AIP-103), scoped to
the task instance and kept for every try. Older versions have no such store, and XComs are cleared when a try
starts, so there it is an Airflow Variable named after the task instance (``aep_resume__<dag>__<run>__<task>``,
with ``__<map index>`` for mapped tasks), deleted when the task ends. Either way it holds ids and progress,
never a secret or data.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "aep_resume"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class TaskLedger(Protocol):
    """Where a task's resume state is kept: ``load`` what a previous try saved, ``save`` progress, ``clear``."""

    where: str

    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: Mapping[str, Any]) -> None: ...

    def clear(self) -> None: ...


class StateStoreLedger:
    """The task state store of Airflow 3.3+ (one key, kept for every try of the task instance).

    :param store: ``context["task_state_store"]``.
    :param key: the key under which the state is kept.
    """

    where = "the task state store"

    def __init__(self, store: Any, key: str) -> None:
        self.store = store
        self.key = key

    def load(self) -> dict[str, Any] | None:
        value = self.store.get(self.key)
        return dict(value) if isinstance(value, Mapping) else None

    def save(self, state: Mapping[str, Any]) -> None:
        try:
            from airflow.sdk.execution_time.context import NEVER_EXPIRE
        except ImportError:  # an SDK without the constant: the store's own retention applies
            self.store.set(self.key, dict(state))
            return
        self.store.set(self.key, dict(state), retention=NEVER_EXPIRE)

    def clear(self) -> None:
        self.store.delete(self.key)


class VariableLedger:
    """An Airflow Variable per task instance, for versions without a task state store.

    :param name: the Variable's key.
    """

    where = "an Airflow Variable"

    def __init__(self, name: str) -> None:
        self.name = name

    def load(self) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        raw = Variable.get(self.name, default=None)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("Variable %s does not hold JSON; starting without resume state", self.name)
            return None
        return value if isinstance(value, dict) else None

    def save(self, state: Mapping[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.name, json.dumps(dict(state)), description="airflow-provider-aep resume state")

    def clear(self) -> None:
        from airflow.sdk import Variable

        try:
            Variable.delete(self.name)
        except Exception as err:  # already gone; nothing to clear
            log.debug("Variable %s not deleted: %s", self.name, err)


def variable_name(context: Context, key: str) -> str:
    ti = context["ti"]
    parts = [VARIABLE_PREFIX, ti.dag_id, ti.run_id, ti.task_id]
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    parts.append(key)
    return "__".join(_UNSAFE.sub("_", str(p)) for p in parts)


def task_ledger(context: Context, key: str) -> TaskLedger:
    """The task's ledger: the task state store when this Airflow has one, else a Variable."""
    store = context.get("task_state_store")
    if store is not None:
        return StateStoreLedger(store, key)
    return VariableLedger(variable_name(context, key))


__all__ = ["StateStoreLedger", "TaskLedger", "VariableLedger", "task_ledger", "variable_name"]

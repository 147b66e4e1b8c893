"""Which DAG run made an AEP resource, recorded on the resource itself.

XCom only knows what the try that wrote it saw: a try whose create was committed but whose answer was lost
fails, and its retry finds the resource and reports it as reused. The resource itself remembers better. Every
resource a create operator makes carries an owner line at the end of its ``description``, a field every service
the provider writes to keeps and returns: Flow Service connections and flows, Catalog datasets, Schema Registry
field groups and schemas (Data Prep mapping sets have no such field in Adobe's docs and no delete call, so they
carry none and no teardown removes them)::

    Created by Airflow: {"dag_id": "hubspot", "run_id": "manual__2026-12-06T10:00:00+00:00", "task_id": "..."}

A teardown deletes a resource only when that line names its own DAG run (whichever try or task made it), so a
resource another DAG run made, or that existed before, is never its to delete. When its run's teardown finds the
resource still in use (another DAG run reused it), it marks the line ``"released": true`` instead: the teardown
of another run of the same DAG that reused it may then delete it once nothing uses it, so the last teardown
standing cleans up what every teardown run made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OWNER_PREFIX = "Created by Airflow: "


@dataclass(frozen=True)
class Owner:
    """The DAG run (and task) that created a resource.

    :param dag_id: the DAG's id.
    :param run_id: the DAG run's id.
    :param task_id: the task that created it (any try; a mapped task's id without its map index).
    """

    dag_id: str
    run_id: str
    task_id: str
    released: bool = False

    @classmethod
    def of(cls, context: Mapping[str, Any], task_id: str) -> Owner:
        """The running task's DAG run, from its context."""
        ti = context["ti"]
        return cls(dag_id=str(ti.dag_id), run_id=str(ti.run_id), task_id=task_id)

    def mark(self, description: str | None) -> str:
        """``description`` with this owner's line at its end (an earlier owner line is replaced)."""
        text = strip_owner(description)
        fields: dict[str, Any] = {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id}
        if self.released:
            fields["released"] = True
        line = OWNER_PREFIX + json.dumps(fields)
        return f"{text}\n\n{line}" if text else line

    def same_run(self, other: Owner | None) -> bool:
        """True when ``other`` is the same DAG run (any task)."""
        return other is not None and (other.dag_id, other.run_id) == (self.dag_id, self.run_id)

    def may_delete(self, other: Owner | None) -> bool:
        """Whether this DAG run's teardown may delete a resource owned by ``other``: its own, or one another run
        of the same DAG released."""
        return other is not None and (self.same_run(other) or (other.released and other.dag_id == self.dag_id))

    def __str__(self) -> str:
        return f"DAG {self.dag_id!r} run {self.run_id!r} (task {self.task_id!r})"


def owner_of(resource: Mapping[str, Any]) -> Owner | None:
    """The owner recorded in a resource's ``description``, or None (made outside Airflow, or before 0.2)."""
    description = resource.get("description")
    if not isinstance(description, str):
        return None
    for line in reversed(description.splitlines()):
        if line.startswith(OWNER_PREFIX):
            try:
                fields = json.loads(line[len(OWNER_PREFIX) :])
                return Owner(
                    dag_id=fields["dag_id"],
                    run_id=fields["run_id"],
                    task_id=fields["task_id"],
                    released=fields.get("released") is True,
                )
            except (ValueError, KeyError, TypeError):
                return None
    return None


def strip_owner(description: str | None) -> str:
    """``description`` without its owner line (what the user wrote)."""
    if not description:
        return ""
    lines = [line for line in description.splitlines() if not line.startswith(OWNER_PREFIX)]
    return "\n".join(lines).strip()


def description_patch(description: str) -> list[dict[str, Any]]:
    """The JSON Patch that replaces a resource's ``description`` (how a teardown marks one it leaves in use
    released), for whichever service's PATCH the resource has."""
    return [{"op": "replace", "path": "/description", "value": description}]


__all__ = ["OWNER_PREFIX", "Owner", "description_patch", "owner_of", "strip_owner"]

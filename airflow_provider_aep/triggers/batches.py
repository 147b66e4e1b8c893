"""``AEPBatchTrigger``: waits in the triggerer for a batch to end (Catalog's status), without a worker slot.

The loop is :class:`~airflow_provider_aep.triggers.polling.AEPPollingTrigger`'s: JSON-safe arguments (the
connection id, never a token), polls on a fixed grid, nothing cancelled in AEP on ``cleanup()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.batches import batch_summary, batch_verdict
from airflow_provider_aep.client.models import FAILED_RECORDS_POLICIES, FailedRecordsPolicy
from airflow_provider_aep.triggers.polling import AEPPollingTrigger, serialized

if TYPE_CHECKING:
    from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient

CATALOG_BATCHES = "/data/foundation/catalog/batches"


def batch_event(status: str, summary: dict[str, Any] | None, message: str) -> dict[str, Any]:
    """The one payload shape the batch operator's and sensor's ``execute_complete`` understand."""
    return {"status": status, "batch": summary, "message": message}


class AEPBatchTrigger(AEPPollingTrigger):
    """Poll a batch (``GET /data/foundation/catalog/batches/{id}``) until it is terminal.

    Yields exactly one event ``{"status": "success"|"failed"|"timeout"|"error", "batch": summary|None,
    "message": str}`` (:func:`batch_event`).

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param batch_id: the batch to wait for.
    :param poll_interval: seconds between polls (the first is 0.5-1x as long, at random).
    :param deadline: when to give up with a ``timeout`` event (epoch seconds); None waits forever.
    :param failed_records_policy: what a successful batch with failed records is: ``ignore`` or ``warn``
        (a ``success`` event) or ``fail`` (a ``failed`` event).
    """

    def __init__(
        self,
        *,
        aep_conn_id: str,
        batch_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        failed_records_policy: FailedRecordsPolicy = "warn",
    ) -> None:
        super().__init__(aep_conn_id=aep_conn_id, poll_interval=poll_interval, deadline=deadline)
        if not batch_id:
            raise ValueError("AEPBatchTrigger needs a batch_id")
        if failed_records_policy not in FAILED_RECORDS_POLICIES:
            raise ValueError(f"failed_records_policy must be one of {FAILED_RECORDS_POLICIES}")
        self.batch_id = batch_id
        self.failed_records_policy = failed_records_policy
        self._summary: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self, "aep_conn_id", "batch_id", "poll_interval", "deadline", "failed_records_policy")

    def waiting_for(self) -> str:
        status = self._summary["status"] if self._summary else "unknown"
        return f"batch {self.batch_id} (still {status})"

    def event(self, status: str, message: str) -> dict[str, Any]:
        return batch_event(status, self._summary, message)

    async def check(self, client: AsyncFlowServiceClient) -> dict[str, Any] | None:
        from airflow_provider_aep.client.catalog import keyed_objects

        resp = await client.request("GET", f"{CATALOG_BATCHES}/{self.batch_id}")
        found = [b for b in keyed_objects(client.json(resp), url=str(resp.url)) if b["id"] == self.batch_id]
        if not found:
            return batch_event("error", None, f"Catalog does not know batch {self.batch_id}")
        previous = self._summary["status"] if self._summary else None
        self._summary = batch_summary(found[0])
        phase, message = batch_verdict(self._summary, self.failed_records_policy)
        if self._summary["status"] != previous:
            self.log.info("AEP %s", message)
        return None if phase == "running" else batch_event(phase, self._summary, message)


__all__ = ["AEPBatchTrigger", "batch_event"]

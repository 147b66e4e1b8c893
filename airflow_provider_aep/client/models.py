"""Typed results of Flow Service calls (what operators push to XCom is built from these)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_aep.client._vocabulary import RunPhase, dig

if TYPE_CHECKING:
    from airflow_provider_aep.client._records import FlowRun
    from airflow_provider_aep.client.errors import AEPNotFoundError, AEPResponseError


def __getattr__(name: str) -> Any:
    """``CreatedResource`` and ``FlowRun``, imported on first use (see ``client._records``)."""
    if name in ("CreatedResource", "FlowRun"):
        from airflow_provider_aep.client import _records

        return getattr(_records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


HUBSPOT_CONNECTION_SPEC_ID = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
DATA_LAKE_CONNECTION_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC_NAME = "CRMToAEP"


# The client's error classes are imported when raised: the operators import this module for ``dig`` and the
# run model on every DAG parse, and ``client.errors`` is not needed for that.
def _response_error(*args: Any, **kwargs: Any) -> AEPResponseError:
    from airflow_provider_aep.client.errors import AEPResponseError

    return AEPResponseError(*args, **kwargs)


def _not_found_error(*args: Any, **kwargs: Any) -> AEPNotFoundError:
    from airflow_provider_aep.client.errors import AEPNotFoundError

    return AEPNotFoundError(*args, **kwargs)


def unwrap_item(body: Any, *, collection: str, resource_id: str, url: str, status: int) -> dict[str, Any]:
    """The resource of a GET-by-id: ``items[0]`` of the documented list envelope (or a bare object)."""
    if isinstance(body, Mapping) and isinstance(body.get("items"), list):
        if not body["items"]:
            raise _not_found_error(status=404, code=None, message=f"{collection} {resource_id} not found", url=url)
        item = body["items"][0]
    elif isinstance(body, Mapping) and body.get("id") == resource_id:
        item = body
    else:
        raise _response_error("expected an {'items': [...]} envelope", method="GET", url=url, status=status)
    if not isinstance(item, Mapping):
        raise _response_error("items[0] is not an object", method="GET", url=url, status=status)
    return dict(item)


def list_page(body: Any, *, url: str, status: int, seen: set[str]) -> tuple[list[Any], str | None]:
    """The items of one Flow Service list page and the link to the next (None on the last page).

    A page without items, or a next link already followed (``seen``, updated here), ends the listing: a
    server that keeps answering the same link would otherwise be paged forever.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
        raise _response_error("expected a list envelope with 'items'", method="GET", url=url, status=status)
    items: list[Any] = body["items"]
    href = dig(body, "_links.next.href")
    if not isinstance(href, str) or not href or not items or href in seen:
        return items, None
    seen.add(href)
    return items, href


def newest_run(body: Any, *, url: str) -> FlowRun | None:
    """The newest run in a ``GET /runs`` page (the server's ``orderby`` is not trusted), or None."""
    items = body.get("items") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise _response_error("expected a list envelope with 'items'", method="GET", url=url, status=200)
    if not items:
        return None
    newest = max(items, key=lambda item: (item.get("createdAt") or 0) if isinstance(item, Mapping) else 0)
    from airflow_provider_aep.client._records import FlowRun

    return FlowRun.from_api(newest, url=url)


def run_not_before(run: FlowRun | None, not_before: float | None) -> FlowRun | None:
    """``run`` unless it was created before ``not_before`` (epoch seconds): then it belongs to an earlier wait."""
    if run is None or not_before is None or run.created_at is None:
        return run
    return run if run.created_at >= not_before * 1000 else None


FailedRecordsPolicy = Literal["ignore", "warn", "fail"]
FAILED_RECORDS_POLICIES: tuple[FailedRecordsPolicy, ...] = get_args(FailedRecordsPolicy)


def run_verdict(run: FlowRun, failed_records_policy: FailedRecordsPolicy = "warn") -> tuple[RunPhase, str]:
    """``(phase, message)`` for a run, after applying the policy for successful runs with failed records.

    AEP marks partial ingestion as ``success`` with ``failedRecordCount > 0``; whether that is acceptable
    is the pipeline's decision, so the sensor and the trigger share this one rule.
    """
    records = f"{run.output_records if run.output_records is not None else '?'} records ingested"
    if run.phase == "running":
        return "running", f"run {run.id} is {run.status}"
    if run.phase == "failed":
        return "failed", f"run {run.id} ended {run.status}: {run.describe_errors()}"
    if run.failed_records and failed_records_policy == "fail":
        return "failed", (
            f"run {run.id} ended {run.status} but {run.failed_records} records failed "
            f"(failed_records_policy='fail'): {run.describe_errors()}"
        )
    if run.failed_records:
        return "success", f"run {run.id} ended {run.status}, {records}, {run.failed_records} records failed"
    return "success", f"run {run.id} ended {run.status}, {records}"

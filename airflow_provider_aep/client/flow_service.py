"""Flow Service client (base connections, source/target connections, flows, runs) over a PlatformClient.

Method names follow the AEP domain. Creates go through :meth:`FlowServiceClient.create_once`, which looks
a resource up by its natural key before POSTing and again before any re-send, so a lost response never
produces a duplicate. Session, auth, retries, error parsing and reconciliation live in
:class:`~airflow_provider_aep.client.platform.PlatformClient`: pass one to share it with other services, or
``FlowServiceClient(settings, retry=...)`` to have the client build its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

from tenacity import Retrying

from airflow_provider_aep.client.config import FLOW_SERVICE_PATH
from airflow_provider_aep.client.errors import (
    AEPAPIError,
    AEPAuthError,
    AEPError,
    AEPPreconditionFailedError,
    AEPResponseError,
)
from airflow_provider_aep.client.http import (
    LIST_PAGE_SIZE,
    is_safe_to_resend_create,
    latest_run_params,
    property_filter,
    resend_after_stale_etag_is_safe,
)
from airflow_provider_aep.client.models import CreatedResource, FlowRun, dig, list_page, newest_run, unwrap_item
from airflow_provider_aep.client.platform import RECONCILE_WINDOW_FACTOR
from airflow_provider_aep.client.service import ServiceClient, by_age, committed_create

log = logging.getLogger("airflow_provider_aep.client")

IfExists = Literal["reuse", "fail"]
DEFAULT_PAGE_SIZE = LIST_PAGE_SIZE


class AEPResourceExistsError(AEPError):
    """``if_exists="fail"`` and a resource with the same natural key already exists."""

    def __init__(self, collection: str, match: Mapping[str, str], existing_id: str) -> None:
        self.collection = collection
        self.existing_id = existing_id
        keys = ", ".join(f"{k}={v!r}" for k, v in match.items())
        super().__init__(f"{collection}: a resource with {keys} already exists (id {existing_id})")


class FlowServiceClient(ServiceClient):
    """A Flow Service client for one org and sandbox."""

    base_path: ClassVar[str] = FLOW_SERVICE_PATH

    # ------------------------------------------------------------------ generic resource verbs
    def get_resource(self, collection: str, resource_id: str) -> dict[str, Any]:
        """GET by id, unwrapping the documented ``{"items": [...]}`` envelope."""
        resp = self.request("GET", f"/{collection}/{resource_id}")
        return unwrap_item(
            self.json(resp), collection=collection, resource_id=resource_id, url=resp.url, status=resp.status_code
        )

    def iter_resources(
        self,
        collection: str,
        *,
        filters: Sequence[str] = (),
        orderby: str | None = None,
        page_size: int | None = DEFAULT_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a list, following ``_links.next.href`` page by page (O(page) memory)."""
        params: dict[str, Any] = {}
        if filters:
            params["property"] = list(filters)
        if orderby:
            params["orderby"] = orderby
        if page_size:
            params["limit"] = page_size
        path: str | None = f"/{collection}"
        seen: set[str] = set()
        while path is not None:
            resp = self.request("GET", path, params=params)
            items, path = list_page(self.json(resp), url=resp.url, status=resp.status_code, seen=seen)
            yield from items
            params = {}  # the next link carries every query parameter

    def count(self, collection: str, *, filters: Sequence[str] = ()) -> int:
        """``count=true`` (never combined with ``limit``, which AEP rejects with 1401-400)."""
        params: dict[str, Any] = {"count": "true"}
        if filters:
            params["property"] = list(filters)
        body = self.json(self.request("GET", f"/{collection}", params=params))
        if not isinstance(body, Mapping) or not isinstance(body.get("count"), int):
            raise AEPResponseError("expected {'count': N}", method="GET", url=collection, status=200)
        return body["count"]

    def find(
        self, collection: str, match: Mapping[str, str], *, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """Resources whose dotted fields equal ``match``, oldest first (filtered server- and client-side)."""
        filters = [property_filter(k, v) for k, v in match.items()]
        found = [
            item
            for item in self.iter_resources(collection, filters=filters, page_size=page_size)
            if all(str(dig(item, k)) == str(v) for k, v in match.items())
        ]
        return by_age(found, "createdAt")

    def _post(self, collection: str, body: Mapping[str, Any]) -> CreatedResource:
        resp = self.request("POST", f"/{collection}", json_body=body, retry=False)
        return CreatedResource.from_body(self.json(resp), method="POST", url=resp.url, status=resp.status_code)

    def create(self, collection: str, body: Mapping[str, Any]) -> CreatedResource:
        """A bare create: re-sent only when AEP provably did not process it (429, connection never made)."""
        return Retrying(**self.retry.tenacity_kwargs(retryable=is_safe_to_resend_create))(
            lambda: self._post(collection, body)
        )

    def create_once(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        match: Mapping[str, str],
        if_exists: IfExists = "reuse",
    ) -> CreatedResource:
        """Create unless a resource with the natural key ``match`` exists; safe to call again after a crash.

        A failed POST is re-sent only after a lookup by ``match`` shows it was not committed
        (:meth:`PlatformClient.create_reconciled`).
        """
        if if_exists not in ("reuse", "fail"):
            raise ValueError(f"if_exists must be 'reuse' or 'fail', not {if_exists!r}")
        existing = self.find(collection, match)
        description = body.get("description")
        if existing:
            if len(existing) > 1:
                log.warning(
                    "%d %s match %s; using the oldest, %s", len(existing), collection, dict(match), existing[0]["id"]
                )
            if if_exists == "fail":
                raise AEPResourceExistsError(collection, match, existing[0]["id"])
            winner = self.settle(
                existing,
                what=collection,
                created_field="createdAt",
                delete=lambda loser: self.delete(collection, loser),
                description=description,
            )
            log.info("Reusing existing %s %s (matched %s)", collection, winner["id"], dict(match))
            return CreatedResource.from_resource(winner, created=False)

        def lookup() -> CreatedResource | None:
            found = committed_create(self.find(collection, match), description)
            return CreatedResource.from_resource(found, created=True) if found else None

        made = self.platform.create_reconciled(lambda: self._post(collection, body), lookup, what=collection)
        return self.converge(
            made,
            lambda: self.find(collection, match),
            what=collection,
            created_field="createdAt",
            delete=lambda loser: self.delete(collection, loser),
            description=description,
        )

    def delete(self, collection: str, resource_id: str, *, missing_ok: bool = True) -> bool:
        """DELETE; False when it was already gone (404) and ``missing_ok`` (see :meth:`delete_path`)."""
        return self.delete_path(f"/{collection}/{resource_id}", missing_ok=missing_ok)

    def patch(
        self,
        collection: str,
        resource_id: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        etag: str | None = None,
    ) -> CreatedResource:
        """PATCH with If-Match; on a stale etag (412) the resource is re-read once.

        A patch of only ``replace`` (and ``test``) operations is then re-sent with the fresh etag: applying
        it again leaves the same document. Any other patch is not: the 412 can be the retry of an attempt
        that AEP committed but whose answer was lost, and an ``add`` to an array would then apply twice.
        It fails with an :class:`AEPPreconditionFailedError` that names both etags instead.
        """
        ops = [dict(op) for op in operations]
        for attempt in (1, 2):
            if etag is None or attempt == 2:
                etag = self.get_resource(collection, resource_id).get("etag")
            if not etag:
                raise AEPResponseError(
                    f"{collection} {resource_id} has no etag", method="GET", url=collection, status=200
                )
            try:
                resp = self.request("PATCH", f"/{collection}/{resource_id}", json_body=ops, headers={"If-Match": etag})
            except AEPPreconditionFailedError as err:
                if attempt == 2:
                    raise
                if not resend_after_stale_etag_is_safe(ops):
                    raise self._stale_etag(collection, resource_id, ops, sent=etag, err=err) from None
                log.info("Stale etag for %s %s; re-reading it once", collection, resource_id)
                continue
            return CreatedResource.from_body(self.json(resp), method="PATCH", url=resp.url, status=200)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stale_etag(
        self,
        collection: str,
        resource_id: str,
        ops: Sequence[Mapping[str, Any]],
        *,
        sent: str,
        err: AEPPreconditionFailedError,
    ) -> AEPPreconditionFailedError:
        """The 412 of a patch that must not be re-sent, re-read so that the message says what changed."""
        current = self.get_resource(collection, resource_id).get("etag")
        kinds = ", ".join(f"{op.get('op')} {op.get('path')}" for op in ops[:5]) + (" …" if len(ops) > 5 else "")
        message = (
            f"{collection} {resource_id} changed since etag {sent} (it is now {current}), and the patch ({kinds}) "
            "is not re-sent: only replace operations are re-sent after a stale etag. An earlier attempt of "
            "this call may have applied it already (its answer lost), or another writer changed the resource; "
            "re-read it and decide."
        )
        return AEPPreconditionFailedError(
            status=412,
            code=err.code,
            message=self.redact(message),
            request_id=err.request_id,
            method="PATCH",
            url=err.url,
            service=err.service,
        )

    # ------------------------------------------------------------------ base connections
    def create_connection(self, body: Mapping[str, Any], *, if_exists: IfExists = "reuse") -> CreatedResource:
        """POST /connections, keyed by name + connection spec id."""
        self._register_auth_secrets(body)
        match = {"name": body["name"], "connectionSpec.id": body["connectionSpec"]["id"]}
        return self.create_once("connections", body, match=match, if_exists=if_exists)

    def _register_auth_secrets(self, body: Mapping[str, Any]) -> None:
        params = dig(body, "auth.params")
        if isinstance(params, Mapping):
            for value in params.values():
                if isinstance(value, str):
                    self.add_secret(value)

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        return self.get_resource("connections", connection_id)

    def find_connections(self, *, name: str, connection_spec_id: str) -> list[dict[str, Any]]:
        return self.find("connections", {"name": name, "connectionSpec.id": connection_spec_id})

    def update_connection_auth(self, connection_id: str, params: Mapping[str, Any]) -> CreatedResource:
        """Rotate credentials: replace ``auth.params`` (If-Match; one re-read on 412)."""
        for value in params.values():
            if isinstance(value, str):
                self.add_secret(value)
        ops = [{"op": "replace", "path": "/auth/params", "value": dict(params)}]
        return self.patch("connections", connection_id, ops)

    def explore(
        self, connection_id: str, *, object_type: str = "root", object_path: str | None = None, preview: bool = False
    ) -> Any:
        """GET /connections/{id}/explore: a bare list for ``root``, ``{format, schema[, data]}`` for a table."""
        params: dict[str, Any] = {"objectType": object_type}
        if object_path is not None:
            params["object"] = object_path
        if preview:
            params["preview"] = "true"
        resp = self.request("GET", f"/connections/{connection_id}/explore", params=params)
        return self.json(resp)

    def explore_tables(self, connection_id: str) -> list[dict[str, Any]]:
        """The tables listed by ``objectType=root`` (other entry types, e.g. folders, are left out)."""
        body = self.explore(connection_id, object_type="root")
        if isinstance(body, Mapping) and isinstance(body.get("items"), list):
            body = body["items"]  # tolerate an envelope, although the docs show a bare list
        if not isinstance(body, list):
            url = f"/connections/{connection_id}/explore"
            raise AEPResponseError("explore root did not return a list", method="GET", url=url, status=200)
        return [
            dict(item)
            for item in body
            if isinstance(item, Mapping) and str(item.get("type", "table")).lower() == "table" and item.get("path")
        ]

    def table_schema(self, connection_id: str, table_path: str, *, preview: bool = False) -> dict[str, Any]:
        """``{"format", "schema": {"columns": [...]}[, "data": [...]]}`` of one table."""
        body = self.explore(connection_id, object_type="table", object_path=table_path, preview=preview)
        if not isinstance(body, Mapping) or not isinstance(dig(body, "schema.columns"), list):
            url = f"/connections/{connection_id}/explore"
            raise AEPResponseError("explore table has no schema.columns", method="GET", url=url, status=200)
        return dict(body)

    # ------------------------------------------------------------------ specs
    def find_flow_spec(self, name: str) -> dict[str, Any]:
        found = self.find("flowSpecs", {"name": name}, page_size=None)  # specs are not paged: no ``limit``
        if not found:
            raise self.not_found(f"no flow spec named {name!r}", path="/flowSpecs")
        return found[0]

    # ------------------------------------------------------------------ source / target connections, flows
    def create_source_connection(self, body: Mapping[str, Any], *, if_exists: IfExists = "reuse") -> CreatedResource:
        match = {"name": body["name"], "baseConnectionId": body["baseConnectionId"]}
        return self.create_once("sourceConnections", body, match=match, if_exists=if_exists)

    def create_target_connection(self, body: Mapping[str, Any], *, if_exists: IfExists = "reuse") -> CreatedResource:
        match = {"name": body["name"], "connectionSpec.id": body["connectionSpec"]["id"]}
        return self.create_once("targetConnections", body, match=match, if_exists=if_exists)

    def create_flow(self, body: Mapping[str, Any], *, if_exists: IfExists = "reuse") -> CreatedResource:
        match = {"name": body["name"], "flowSpec.id": body["flowSpec"]["id"]}
        return self.create_once("flows", body, match=match, if_exists=if_exists)

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        return self.get_resource("flows", flow_id)

    def get_target_connection(self, target_connection_id: str) -> dict[str, Any]:
        return self.get_resource("targetConnections", target_connection_id)

    def flow_target_datasets(self, flow_id: str) -> dict[str, str | None]:
        """``{target connection id: its params.dataSetId}`` of a flow, in the flow's order.

        A value is None when the target connection names no dataset (not a Data Lake target).
        """
        flow = self.get_flow(flow_id)
        targets = flow.get("targetConnectionIds")
        datasets: dict[str, str | None] = {}
        for target_id in targets if isinstance(targets, list) else []:
            if isinstance(target_id, str) and target_id and target_id not in datasets:
                dataset_id = dig(self.get_target_connection(target_id), "params.dataSetId")
                datasets[target_id] = dataset_id if isinstance(dataset_id, str) and dataset_id else None
        return datasets

    # ------------------------------------------------------------------ runs
    def create_run(
        self, flow_id: str, params: Mapping[str, Any], *, known_latest: str | None = None
    ) -> CreatedResource:
        """On-demand run of a ``once`` flow; accepts each of the three documented response shapes.

        Runs have no name to look up, so after an ambiguous failure a newest run of the flow other than
        ``known_latest`` (the newest run id before the POST; None if it had none) is taken as this one.
        """
        body = {"flowId": flow_id, "params": dict(params)}

        def lookup() -> CreatedResource | None:
            latest = self.latest_run(flow_id)
            if latest is None or latest.id == known_latest:
                return None
            return CreatedResource(id=latest.id, created=True)

        return self.platform.create_reconciled(lambda: self._post("runs", body), lookup, what="runs")

    def get_run(self, run_id: str) -> FlowRun:
        return FlowRun.from_api(self.get_resource("runs", run_id), url=f"/runs/{run_id}")

    def latest_run(self, flow_id: str) -> FlowRun | None:
        """The newest run of a flow, or None if it has not run yet."""
        resp = self.request("GET", "/runs", params=latest_run_params(flow_id))
        return newest_run(self.json(resp), url=resp.url)


__all__ = [
    "RECONCILE_WINDOW_FACTOR",
    "AEPAPIError",
    "AEPAuthError",
    "AEPResourceExistsError",
    "FlowServiceClient",
    "property_filter",
]

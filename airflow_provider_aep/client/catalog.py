"""Catalog Service client: datasets (create, find, patch, delete) and the batches runs land in.

Catalog answers objects keyed by id (``{"<id>": {...}}``) rather than lists, creates with
``["@/dataSets/<id>"]``, and pages by offset (``start``/``limit``) with no next link or total: the last page
is the first short one. Dataset names are not unique and nothing on the server stops a duplicate, so a
create looks for name + schema first and again after any ambiguous failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from tenacity import Retrying

from airflow_provider_aep.client.config import CATALOG_PATH
from airflow_provider_aep.client.errors import AEPNotFoundError, AEPResponseError
from airflow_provider_aep.client.http import JSON_PATCH_CONTENT, is_safe_to_resend_create, json_patch_is_idempotent
from airflow_provider_aep.client.models import CreatedResource, dig
from airflow_provider_aep.client.service import ServiceClient, by_age, committed_create

log = logging.getLogger("airflow_provider_aep.client")

MAX_LIMIT = 100
"""Catalog's largest page."""
LOOKUP_PROPERTIES = "name,description,schemaRef,tags,created"


def keyed_objects(body: Any, *, url: str, status: int = 200) -> list[dict[str, Any]]:
    """``{"<id>": {...}, ...}`` -> ``[{..., "id": "<id>"}, ...]`` (Catalog's answer to GET one and list)."""
    if body is None:
        return []
    if not isinstance(body, Mapping):
        raise AEPResponseError("expected an object keyed by id", method="GET", url=url, status=status)
    return [{**value, "id": str(key)} for key, value in body.items() if isinstance(value, Mapping)]


def ids_of_refs(body: Any) -> list[str]:
    """``["@/dataSets/<id>", ...]`` -> ``["<id>", ...]`` (the answer to create, patch and delete)."""
    if not isinstance(body, list):
        return []
    return [item.rsplit("/", 1)[-1] for item in body if isinstance(item, str) and item.rsplit("/", 1)[-1]]


def _exact_name_filter(name: str) -> str | None:
    """The ``name=`` filter that matches ``name`` exactly, or None when Catalog's syntax cannot say it.

    ``name=`` treats ``,`` as OR, a leading ``!`` as NOT and ``*`` as a wildcard (``**`` is a literal ``*``).
    A superset is fine (results are checked client-side), a subset is not: a name starting with ``!``
    cannot be expressed, so it is not filtered by the server at all.
    """
    if name.startswith("!"):
        return None
    return name.replace("*", "**")


class CatalogClient(ServiceClient):
    """Catalog Service (``/data/foundation/catalog``) for one org and sandbox."""

    base_path: ClassVar[str] = CATALOG_PATH

    # ------------------------------------------------------------------ datasets
    def get_dataset(self, dataset_id: str, *, properties: Sequence[str] = ()) -> dict[str, Any]:
        """One dataset, unwrapped from the id-keyed answer, with ``"id"`` added."""
        params = {"properties": ",".join(properties)} if properties else None
        resp = self.request("GET", f"/dataSets/{dataset_id}", params=params)
        return self._one(self.json(resp), dataset_id, path=f"/dataSets/{dataset_id}", url=resp.url)

    def _one(self, body: Any, object_id: str, *, path: str, url: str) -> dict[str, Any]:
        items = keyed_objects(body, url=url)
        match = [item for item in items if item["id"] == object_id]
        if not match:
            raise self.not_found(f"{path.strip('/').split('/')[0]} {object_id} not found", path=path)
        return match[0]

    def iter_datasets(self, *, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every dataset matching ``params`` (Catalog filters), by offset: ``start += limit`` until a short page.

        A page whose datasets were all seen already ends the walk too (a server that ignores ``start``).
        """
        query: dict[str, Any] = {"limit": MAX_LIMIT, "start": 0, **(params or {})}
        limit = int(query["limit"])
        start = int(query["start"])
        seen: set[str] = set()
        while True:
            resp = self.request("GET", "/dataSets", params={**query, "start": start})
            page = keyed_objects(self.json(resp), url=resp.url)
            fresh = [item for item in page if item["id"] not in seen]
            yield from fresh
            if len(page) < limit or not fresh:
                return
            seen.update(item["id"] for item in fresh)
            start += len(page)

    def find_datasets(self, name: str) -> list[dict[str, Any]]:
        """Datasets named exactly ``name`` (``name`` filter, then an exact check), oldest first."""
        params: dict[str, Any] = {"properties": LOOKUP_PROPERTIES}
        server_filter = _exact_name_filter(name)
        if server_filter is not None:
            params["name"] = server_filter
        found = [item for item in self.iter_datasets(params=params) if item.get("name") == name]
        return by_age(found, "created")

    def create_dataset(self, body: Mapping[str, Any], *, looked_up: bool = False) -> CreatedResource:
        """A dataset with ``body``'s name and ``schemaRef.id``: the oldest existing one, else a new one.

        POST ``/dataSets?requestDataSource=true`` (answer ``["@/dataSets/<id>"]``) is never re-sent blindly:
        after an ambiguous failure the lookup runs again first. ``resource`` holds the dataset when it was
        found by a lookup. ``looked_up=True`` says the caller has just looked the name up and found nothing,
        so the first lookup is skipped (the one after an ambiguous failure still runs).
        """
        name = body.get("name")
        schema_id = dig(body, "schemaRef.id")
        if not isinstance(name, str) or not name or not isinstance(schema_id, str) or not schema_id:
            raise ValueError("a dataset body needs 'name' and 'schemaRef.id' (its natural key)")

        def matching() -> list[dict[str, Any]]:
            return [d for d in self.find_datasets(name) if dig(d, "schemaRef.id") == schema_id]

        existing = [] if looked_up else matching()
        if existing:
            winner = self.settle_datasets(existing, body.get("description"))
            log.info("Reusing existing dataset %s (%r, schema %s)", winner["id"], name, schema_id)
            return CreatedResource.from_resource(winner, created=False)

        def post() -> CreatedResource:
            resp = self.request(
                "POST", "/dataSets", params={"requestDataSource": "true"}, json_body=dict(body), retry=False
            )
            ids = ids_of_refs(self.json(resp))
            if not ids:
                location = resp.headers.get("Location") or ""
                ids = [location.rstrip("/").rsplit("/", 1)[-1]] if "/dataSets/" in location else []
            if not ids:
                raise AEPResponseError(
                    "no '@/dataSets/<id>' in the create response", method="POST", url=resp.url, status=resp.status_code
                )
            return CreatedResource(id=ids[0], created=True)

        def lookup() -> CreatedResource | None:
            found = committed_create(matching(), body.get("description"))
            return CreatedResource.from_resource(found, created=True) if found else None

        made = self.platform.create_reconciled(post, lookup, what="dataSets")
        return self.converge(
            made,
            matching,
            what="dataSets",
            created_field="created",
            delete=self.delete_dataset,
            description=body.get("description"),
        )

    def settle_datasets(self, same_key: list[dict[str, Any]], description: str | None) -> dict[str, Any]:
        """The dataset to reuse among those with one name and schema (:meth:`settle`: the oldest, and leftovers
        of lost create answers deleted)."""
        if len(same_key) > 1:
            log.warning("%d datasets named %r match; using the oldest", len(same_key), same_key[0].get("name"))
        return self.settle(
            same_key, what="dataSets", created_field="created", delete=self.delete_dataset, description=description
        )

    def patch_dataset(self, dataset_id: str, operations: Sequence[Mapping[str, Any]]) -> None:
        """JSON Patch (``application/json-patch+json``), e.g. ``add /tags/unifiedProfile``.

        Without If-Match, a patch that would apply twice is re-sent only when the server provably did not
        get it.
        """
        ops = [dict(op) for op in operations]
        path = f"/dataSets/{dataset_id}"
        if json_patch_is_idempotent(ops):
            self.request("PATCH", path, json_body=ops, content_type=JSON_PATCH_CONTENT, idempotent=True)
            return
        Retrying(**self.retry.tenacity_kwargs(retryable=is_safe_to_resend_create))(
            lambda: self.request("PATCH", path, json_body=ops, content_type=JSON_PATCH_CONTENT, retry=False)
        )

    def delete_dataset(self, dataset_id: str, *, missing_ok: bool = True) -> bool:
        """DELETE (irreversible); False when it was already gone (404, or the documented 200 ``[]``).

        A 404 or ``[]`` that answers the retry of an ambiguous attempt (5xx, no answer) counts as deleted:
        that attempt most likely deleted it.
        """
        path = f"/dataSets/{dataset_id}"
        try:
            outcome = self.platform.delete(self.url(path))
        except AEPNotFoundError:
            if not missing_ok:
                raise
            return False
        if outcome.response is None:  # a 404 after an ambiguous attempt, which most likely deleted it
            return True
        answer = self.json(outcome.response)
        if answer is None or dataset_id in ids_of_refs(answer):  # no body: nothing says it was already gone
            return True
        if outcome.earlier_failure is not None:
            log.info(
                "DELETE %s answered [] after an earlier attempt failed (%s): that attempt most likely deleted "
                "it, so it is reported as deleted, not as already gone",
                path,
                outcome.earlier_failure,
            )
            return True
        if not missing_ok:
            raise self.not_found(f"dataSets {dataset_id} not found", path=path)
        return False

    # ------------------------------------------------------------------ batches
    def batches(self, dataset_id: str, *, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The dataset's newest batches (``orderBy=desc:created``), newest first, each with ``"id"``."""
        params: dict[str, Any] = {"dataSet": dataset_id, "orderBy": "desc:created", "limit": limit}
        if status is not None:
            params["status"] = status
        resp = self.request("GET", "/batches", params=params)
        items = keyed_objects(self.json(resp), url=resp.url)
        return sorted(items, key=lambda item: item.get("created") or 0, reverse=True)

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/batches/{batch_id}")
        return self._one(self.json(resp), batch_id, path=f"/batches/{batch_id}", url=resp.url)


__all__ = ["CatalogClient", "ids_of_refs", "keyed_objects"]

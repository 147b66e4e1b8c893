"""Data Prep (conversion service) client: mapping sets, their validation and versions.

Mapping sets have no unique field and no DELETE, and a create answers 200 (not 201) with only
``{id, version, ...}``; so the set's ``name`` is the natural key, looked up before the POST and again after
an ambiguous failure. Lists need ``limit`` and ``start`` (an offset; ``start=0`` is the first page) and
come as ``{"data": [...], "_page": {...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from tenacity import Retrying

from airflow_provider_aep.client.config import DATA_PREP_PATH
from airflow_provider_aep.client.errors import AEPResponseError
from airflow_provider_aep.client.http import is_safe_to_resend_create
from airflow_provider_aep.client.models import CreatedResource
from airflow_provider_aep.client.service import ServiceClient, by_age

log = logging.getLogger("airflow_provider_aep.client")

PAGE_SIZE = 100


class DataPrepClient(ServiceClient):
    """Data Prep (``/data/foundation/conversion``) for one org and sandbox."""

    base_path: ClassVar[str] = DATA_PREP_PATH

    def validate_mapping_set(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``POST /mappingSets/validate``: one ``{status: SUCCESS|FAILED, errors}`` per mapping; stores nothing."""
        resp = self.request("POST", "/mappingSets/validate", json_body=dict(body), retry=True)
        answer = self.json(resp)
        entries = answer.get("validationResponse") if isinstance(answer, Mapping) else None
        if not isinstance(entries, list):
            raise AEPResponseError("expected 'validationResponse'", method="POST", url=resp.url, status=200)
        return [dict(entry) for entry in entries if isinstance(entry, Mapping)]

    def get_mapping_set(self, mapping_id: str, *, version: int | None = None) -> dict[str, Any]:
        """One mapping set (its latest version, or ``version``)."""
        params = {"version": version} if version is not None else None
        resp = self.request("GET", f"/mappingSets/{mapping_id}", params=params)
        body = self.json(resp)
        if not isinstance(body, Mapping) or not body.get("id"):
            raise AEPResponseError("expected a mapping set with 'id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def iter_mapping_sets(self, *, name: str | None = None) -> Iterator[dict[str, Any]]:
        """Every mapping set (optionally filtered by ``name``), by offset until a short page."""
        params: dict[str, Any] = {"limit": PAGE_SIZE, "start": 0}
        if name is not None:
            params["name"] = name
        seen: set[str] = set()
        while True:
            resp = self.request("GET", "/mappingSets", params=params)
            body = self.json(resp)
            data = body.get("data") if isinstance(body, Mapping) else None
            if isinstance(data, Mapping):  # the spec's example shows a lone object
                data = [data]
            if data is None and isinstance(body, Mapping) and not body:
                data = []
            if not isinstance(data, list):
                raise AEPResponseError("expected a page with 'data'", method="GET", url=resp.url, status=200)
            page = [dict(item) for item in data if isinstance(item, Mapping)]
            fresh = [item for item in page if str(item.get("id")) not in seen]
            yield from fresh
            if len(page) < PAGE_SIZE or not fresh:
                return
            seen.update(str(item.get("id")) for item in fresh)
            params = {**params, "start": params["start"] + len(page)}

    def find_mapping_sets(self, name: str) -> list[dict[str, Any]]:
        """Mapping sets named exactly ``name``, oldest first."""
        found = [item for item in self.iter_mapping_sets(name=name) if item.get("name") == name]
        return by_age(found, "createdDate")

    def create_mapping_set(self, body: Mapping[str, Any], *, looked_up: bool = False) -> CreatedResource:
        """The mapping set named ``body["name"]``: the oldest existing one, else a new one (POST answers 200).

        ``resource`` holds the found set (or the create's ``{id, version, ...}`` answer). A body without a
        name cannot be looked up: it is POSTed once and re-sent only if the server provably did not get it.
        ``looked_up=True`` says the caller has just looked the name up and found nothing, so the first lookup
        is skipped (the one after an ambiguous failure still runs).
        """
        name = body.get("name")

        def post() -> CreatedResource:
            resp = self.request("POST", "/mappingSets", json_body=dict(body), retry=False)
            answer = self.json(resp)
            made = CreatedResource.from_body(answer, method="POST", url=resp.url, status=resp.status_code)
            return CreatedResource(id=made.id, created=True, resource=dict(answer))

        if not isinstance(name, str) or not name:
            log.warning("Mapping set without a 'name': it cannot be looked up, so a lost answer cannot be recovered")
            return Retrying(**self.retry.tenacity_kwargs(retryable=is_safe_to_resend_create))(post)
        existing = [] if looked_up else self.find_mapping_sets(name)
        if existing:
            if len(existing) > 1:
                log.warning("%d mapping sets named %r; using the oldest, %s", len(existing), name, existing[0]["id"])
            log.info("Reusing existing mapping set %s (%r)", existing[0]["id"], name)
            return CreatedResource.from_resource(existing[0], created=False)

        def lookup() -> CreatedResource | None:
            found = self.find_mapping_sets(name)
            return CreatedResource.from_resource(found[0], created=True) if found else None

        made = self.platform.create_reconciled(post, lookup, what="mappingSets")
        # Data Prep has no DELETE for mapping sets: a losing duplicate stays, unused by every DAG run.
        return self.converge(
            made, lambda: self.find_mapping_sets(name), what="mappingSets", created_field="createdDate", delete=None
        )

    def update_mapping_set(self, mapping_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT a whole mapping set; the answer carries the new ``version`` (earlier ones stay readable)."""
        resp = self.request("PUT", f"/mappingSets/{mapping_id}", json_body=dict(body))
        answer = self.json(resp)
        if not isinstance(answer, Mapping) or "version" not in answer:
            raise AEPResponseError("expected the new 'version'", method="PUT", url=resp.url, status=200)
        return dict(answer)


__all__ = ["DataPrepClient"]

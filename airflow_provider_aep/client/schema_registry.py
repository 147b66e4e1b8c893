"""Schema Registry client: tenant id, schemas, field groups, classes, data types, descriptors, Profile union.

The registry is picky about media types: every GET names what it wants in ``Accept`` (lists the unversioned
``xed-id``, lookups ``xed``/``xed-full`` with ``version=1``, descriptors the ``xdm`` family), and a wrong one
is an ``XDM-1006..1009-400``. Lists page by ``orderby`` + ``start`` (taken from ``_page.next``), which only
works with ``orderby``. Titles are unique across all resource types of the tenant container: a create that
collides answers ``XDM-1521-400`` naming the existing ``$id``, which is how a lost create is recognised.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from tenacity import Retrying

from airflow_provider_aep.client.config import SCHEMA_REGISTRY_PATH
from airflow_provider_aep.client.errors import (
    AEPAPIError,
    AEPBadRequestError,
    AEPError,
    AEPNotFoundError,
    AEPResponseError,
)
from airflow_provider_aep.client.http import is_safe_to_resend_create, json_patch_is_idempotent
from airflow_provider_aep.client.models import CreatedResource
from airflow_provider_aep.client.service import ServiceClient

log = logging.getLogger("airflow_provider_aep.client")

XED_ID = "application/vnd.adobe.xed-id+json"
"""Lists: a summary (``$id``, ``meta:altId``, ``version``, ``title``) per item."""
XED = "application/vnd.adobe.xed+json"
"""Lists: the full JSON per item."""
XED_V1 = "application/vnd.adobe.xed+json; version=1"
"""Lookups: the resource as stored (``$ref``/``allOf`` kept)."""
XED_FULL_V1 = "application/vnd.adobe.xed-full+json; version=1"
"""Lookups: ``$ref``/``allOf`` resolved into the full ``properties`` tree."""
XDM = "application/vnd.adobe.xdm+json"
"""Descriptors: list (objects grouped by ``@type``) and lookup."""

KINDS = ("schemas", "fieldgroups", "classes", "datatypes")
TITLE_NOT_UNIQUE = "XDM-1521-400"
GLOBAL_ID_PREFIXES = ("https://ns.adobe.com/xdm/", "http://ns.adobe.com/xdm/", "_xdm.")

_KIND_OF_SEGMENT = {
    "schemas": "schemas",
    "mixins": "fieldgroups",
    "fieldgroups": "fieldgroups",
    "classes": "classes",
    "datatypes": "datatypes",
}
_RESOURCE_ID = re.compile(r"https?://ns\.adobe\.com/[A-Za-z0-9_.-]+/(schemas|mixins|fieldgroups|classes|datatypes)/\w+")


class TenantCache:
    """Tenant ids per (Platform URL, org, sandbox), for the whole process; one ``/stats`` call per key."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str], str] = {}
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, key: tuple[str, str, str], fetch: Callable[[], str]) -> str:
        value = self._values.get(key)
        if value is not None:
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # concurrent callers for the same key wait for one fetch
            value = self._values.get(key)
            if value is None:
                value = fetch()
                self._values[key] = value
        return value

    def clear(self) -> None:
        with self._guard:
            self._values.clear()


TENANTS = TenantCache()


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def container_of(resource_id: str) -> str:
    """``global`` for Adobe's resources (``https://ns.adobe.com/xdm/...``, ``_xdm....``), else ``tenant``."""
    return "global" if resource_id.startswith(GLOBAL_ID_PREFIXES) else "tenant"


def existing_id_in(err: AEPAPIError) -> tuple[str, str] | None:
    """``(kind, $id)`` of the resource an ``XDM-1521-400`` says already has the title, if it names one."""
    for text in (err.detail, err.message):
        match = _RESOURCE_ID.search(text or "")
        if match:
            return _KIND_OF_SEGMENT[match.group(1)], match.group(0)
    return None


class SchemaRegistryClient(ServiceClient):
    """Schema Registry (``/data/foundation/schemaregistry``) for one org and sandbox."""

    base_path: ClassVar[str] = SCHEMA_REGISTRY_PATH

    # ------------------------------------------------------------------ tenant
    def tenant_id(self) -> str:
        """The org's tenant id (``GET /stats``); custom fields live under ``_<tenant id>``. Cached per process."""
        key = (self.settings.platform_url, self.settings.org_id, self.settings.sandbox_name)
        return TENANTS.get(key, self._fetch_tenant_id)

    def _fetch_tenant_id(self) -> str:
        resp = self.request("GET", "/stats")
        body = self.json(resp)
        tenant = body.get("tenantId") if isinstance(body, Mapping) else None
        if not isinstance(tenant, str) or not tenant:
            raise AEPResponseError("no 'tenantId' in /stats", method="GET", url=resp.url, status=resp.status_code)
        return tenant

    # ------------------------------------------------------------------ schemas, field groups, classes, data types
    def _path(self, kind: str, resource_id: str | None = None, *, container: str = "tenant") -> str:
        path = f"/{container}/{_check_kind(kind)}"
        return path if resource_id is None else f"{path}/{quote(resource_id, safe='')}"

    def iter_resources(
        self,
        kind: str,
        *,
        container: str = "tenant",
        filters: Sequence[str] = (),
        full: bool = False,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every resource of a list, page by page: ``orderby=title`` and ``start`` = the last page's ``_page.next``.

        ``filters`` are ``property`` expressions (``title==X``, ``meta:class==...``), ANDed by the server.
        ``full`` asks for whole resources instead of ``{$id, meta:altId, version, title}`` summaries.
        """
        params: dict[str, Any] = {"orderby": "title"}
        if filters:
            params["property"] = list(filters)
        if limit:
            params["limit"] = limit
        headers = {"Accept": XED if full else XED_ID}
        path = self._path(kind, container=container)
        seen: set[str] = set()
        while True:
            resp = self.request("GET", path, params=params, headers=headers)
            body = self.json(resp)
            results = body.get("results") if isinstance(body, Mapping) else None
            if not isinstance(results, list):
                raise AEPResponseError(
                    "expected a list with 'results'", method="GET", url=resp.url, status=resp.status_code
                )
            yield from (dict(item) for item in results if isinstance(item, Mapping))
            page = body.get("_page") if isinstance(body.get("_page"), Mapping) else {}
            start = page.get("next")
            if start is None or start == "" or not results or str(start) in seen:
                return
            seen.add(str(start))
            params = {**params, "start": start}

    def find_by_title(self, kind: str, title: str, *, full: bool = False) -> dict[str, Any] | None:
        """The tenant resource of ``kind`` titled exactly ``title`` (server filter, then an exact check).

        ``full`` lists whole resources (``Accept: application/vnd.adobe.xed+json``, the same document a
        lookup with ``xed+json; version=1`` answers), so a found resource needs no second read.
        """
        for item in self.iter_resources(kind, filters=[f"title=={title}"], full=full):
            if item.get("title") == title:
                return item
        return None

    def get(self, kind: str, resource_id: str, *, full: bool = False, container: str | None = None) -> dict[str, Any]:
        """One resource by ``$id`` or ``meta:altId`` (URL-encoded): as stored, or resolved with ``full``."""
        container = container or container_of(resource_id)
        resp = self.request(
            "GET",
            self._path(kind, resource_id, container=container),
            headers={"Accept": XED_FULL_V1 if full else XED_V1},
        )
        body = self.json(resp)
        if not isinstance(body, Mapping) or "$id" not in body:
            raise AEPResponseError("expected a resource with '$id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def create(self, kind: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """``(resource, created)``: the tenant resource titled ``body["title"]``, made only if there is none.

        Looked up by title first (then ``created`` is False). A POST that failed ambiguously is not re-sent
        before another lookup; ``XDM-1521-400`` (title taken) means it exists: the ``$id`` the error names
        (or a lookup by title) is fetched and returned. ``created`` is True when the resource is the one
        this call's POST made, even if its answer was lost. A title taken by a resource of another kind is
        a real conflict and raises the ``AEPBadRequestError``.
        """
        _check_kind(kind)
        title = body.get("title")
        if not isinstance(title, str) or not title:
            raise ValueError(f"a {kind} body needs a 'title' (the registry's unique key)")
        existing = self.find_by_title(kind, title, full=True)
        if existing is not None and "$id" in existing:
            log.info("Reusing existing %s %s (title %r)", kind, existing.get("$id"), title)
            return existing, False
        ambiguous = False  # an earlier POST of this call may have been committed

        def post() -> CreatedResource:
            nonlocal ambiguous
            try:
                resp = self.request("POST", self._path(kind), json_body=dict(body), retry=False)
            except AEPBadRequestError as err:
                if err.code != TITLE_NOT_UNIQUE:
                    raise
                found = self._resolve_title_clash(kind, title, err)
                return CreatedResource(id=str(found["$id"]), created=ambiguous, resource=found)
            except AEPError as exc:
                ambiguous = ambiguous or not is_safe_to_resend_create(exc)
                raise
            made = self.json(resp)
            if not isinstance(made, Mapping) or not isinstance(made.get("$id"), str):
                raise AEPResponseError("no '$id' in the create response", method="POST", url=resp.url, status=201)
            return CreatedResource(id=made["$id"], created=True, resource=dict(made))

        def lookup() -> CreatedResource | None:
            found = self.find_by_title(kind, title)
            if found is None:
                return None
            return CreatedResource(id=str(found["$id"]), created=True, resource=self.get(kind, str(found["$id"])))

        result = self.platform.create_reconciled(post, lookup, what=kind)
        assert result.resource is not None
        return dict(result.resource), result.created

    def _resolve_title_clash(self, kind: str, title: str, err: AEPBadRequestError) -> dict[str, Any]:
        named = existing_id_in(err)
        if named is not None and named[0] != kind:
            raise err  # the title belongs to another kind of resource: not ours to reuse
        if named is not None:
            try:
                found = self.get(kind, named[1])
            except AEPNotFoundError:
                found = None
            if found is not None:
                log.info("%s %r already exists (%s); using it", kind, title, found["$id"])
                return found
        existing = self.find_by_title(kind, title)
        if existing is None:
            raise err
        return self.get(kind, str(existing["$id"]))

    def patch(self, kind: str, resource_id: str, operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """JSON Patch a tenant resource; the answer (200) is the whole updated resource.

        No If-Match exists here, so a patch that would apply twice (``add`` to ``/allOf/-``) is re-sent only
        when the server provably did not get it.
        """
        ops = [dict(op) for op in operations]
        return self._patch(self._path(kind, resource_id), ops)

    def _patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        if json_patch_is_idempotent(ops):
            resp = self.request("PATCH", path, json_body=ops, idempotent=True)
        else:
            resp = Retrying(**self.retry.tenacity_kwargs(retryable=is_safe_to_resend_create))(
                lambda: self.request("PATCH", path, json_body=ops, retry=False)
            )
        body = self.json(resp)
        if not isinstance(body, Mapping):
            raise AEPResponseError("expected the patched resource", method="PATCH", url=resp.url, status=200)
        return dict(body)

    def delete(self, kind: str, resource_id: str, *, missing_ok: bool = True) -> bool:
        """DELETE a tenant resource; False when it was already gone (404) and ``missing_ok``."""
        return self._delete(self._path(kind, resource_id), missing_ok=missing_ok)

    def _delete(self, path: str, *, missing_ok: bool) -> bool:
        return self.delete_path(path, missing_ok=missing_ok)

    # ------------------------------------------------------------------ descriptors
    def descriptors(self, schema_id: str) -> list[dict[str, Any]]:
        """Every tenant descriptor whose ``xdm:sourceSchema`` is ``schema_id`` (any ``@type``), as full objects."""
        resp = self.request(
            "GET",
            "/tenant/descriptors",
            params={"property": f"xdm:sourceSchema=={schema_id}"},
            headers={"Accept": XDM},
        )
        body = self.json(resp)
        found: list[dict[str, Any]] = []
        if isinstance(body, Mapping) and isinstance(body.get("results"), list):  # the paged (v2) shape
            groups: list[Any] = [body["results"]]
        elif isinstance(body, Mapping):  # {"xdm:descriptorIdentity": [{...}], ...}, empty types omitted
            groups = [value for key, value in body.items() if not str(key).startswith("_")]
        elif body is None:
            groups = []
        else:
            raise AEPResponseError("expected descriptors grouped by @type", method="GET", url=resp.url, status=200)
        for group in groups:
            for item in group if isinstance(group, list) else []:
                if not isinstance(item, Mapping):
                    continue
                source = item.get("xdm:sourceSchema")
                if "://" in schema_id and source is not None and source != schema_id:
                    continue  # the server filter is trusted only as far as it can be checked ($id, not altId)
                found.append(dict(item))
        return found

    def create_descriptor(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a descriptor, unless one with the same ``@type``, source schema and property exists (returned).

        The registry has no uniqueness guard for descriptors, so a lost answer is reconciled by that key
        instead of re-sending. Compare the returned descriptor and use :meth:`replace_descriptor` to change it.
        """
        schema_id = str(body.get("xdm:sourceSchema") or "")

        def same(item: Mapping[str, Any]) -> bool:
            return all(item.get(k) == body.get(k) for k in ("@type", "xdm:sourceSchema", "xdm:sourceProperty"))

        def find() -> dict[str, Any] | None:
            if not schema_id:
                return None
            return next((d for d in self.descriptors(schema_id) if same(d) and d.get("@id")), None)

        existing = find()
        if existing is not None:
            log.info("Reusing existing descriptor %s (%s on %s)", existing["@id"], body.get("@type"), schema_id)
            return existing

        def post() -> CreatedResource:
            resp = self.request("POST", "/tenant/descriptors", json_body=dict(body), retry=False)
            made = self.json(resp)
            if not isinstance(made, Mapping) or not isinstance(made.get("@id"), str):
                raise AEPResponseError("no '@id' in the create response", method="POST", url=resp.url, status=201)
            return CreatedResource(id=made["@id"], resource={**body, **made})

        def lookup() -> CreatedResource | None:
            found = find()
            return CreatedResource(id=str(found["@id"]), resource=found) if found else None

        result = self.platform.create_reconciled(post, lookup, what="descriptors")
        assert result.resource is not None
        return dict(result.resource)

    def replace_descriptor(self, descriptor_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT a whole descriptor; the answer (201 ``{"@id"}``) is merged over ``body``."""
        resp = self.request("PUT", f"/tenant/descriptors/{quote(descriptor_id, safe='')}", json_body=dict(body))
        answer = self.json(resp)
        return {**body, **(answer if isinstance(answer, Mapping) else {}), "@id": descriptor_id}

    def delete_descriptor(self, descriptor_id: str, *, missing_ok: bool = True) -> bool:
        return self._delete(f"/tenant/descriptors/{quote(descriptor_id, safe='')}", missing_ok=missing_ok)

    # ------------------------------------------------------------------ Real-Time Customer Profile
    def enable_profile(self, schema_id: str) -> dict[str, Any]:
        """Add ``union`` to the schema's ``meta:immutableTags`` (a no-op when present); returns the schema.

        The tag can never be removed again. Needs a primary identity (or identityMap): else ``XDM-1528-400``.
        """
        schema = self.get("schemas", schema_id)
        tags = schema.get("meta:immutableTags")
        tags = list(tags) if isinstance(tags, list) else []
        if "union" in tags:
            return schema
        ops = [{"op": "add", "path": "/meta:immutableTags", "value": [*tags, "union"]}]
        return self._patch(self._path("schemas", schema_id), ops)


__all__ = [
    "KINDS",
    "TENANTS",
    "TITLE_NOT_UNIQUE",
    "XDM",
    "XED",
    "XED_FULL_V1",
    "XED_ID",
    "XED_V1",
    "SchemaRegistryClient",
    "TenantCache",
]

"""Query Service (Data Distiller) client: queries, query templates, scheduled queries and their runs, and the
parameters of the PostgreSQL interface.

Every write answers 202 (accepted, asynchronous). Lists come as ``{"<items>": [...], "_links": {"next":
{"href"}}}`` and are paged by following ``_links.next.href`` (a timestamp cursor); filters go in ``property``,
comma-joined (AND). What may be re-sent:

* ``POST /queries`` is not idempotent and Adobe has no client-side key for it. A query is re-sent after an
  ambiguous failure only when a lookup by its ``name`` (the caller makes it unique and puts it in the SQL as a
  comment, so ``property=sql~<name>`` narrows the list) finds nothing.
* Templates and schedules are looked up by name before they are created (templates with ``name~``, schedules
  by listing, since Adobe has no name filter for them), verified on reuse, and converged after a create like
  the other services' resources (``ServiceClient.converge``).
* ``PATCH {"op": "cancel"}`` is safe to repeat: a replay after a committed cancel answers 409, "already
  finished", which is what the caller wanted.
* ``POST /schedules/{id}/runs`` returns no run id: the new run is found by listing ``externalTrigger==true``
  runs, newest first, and taking the one that was not there before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from tenacity import Retrying

from airflow_provider_aep.client._query_records import AEPQueryServiceMismatchError
from airflow_provider_aep.client.config import QUERY_SERVICE_PATH
from airflow_provider_aep.client.errors import AEPAPIError, AEPBadRequestError, AEPNotFoundError, AEPResponseError
from airflow_provider_aep.client.http import is_safe_to_resend_create
from airflow_provider_aep.client.models import CreatedResource, dig
from airflow_provider_aep.client.service import ServiceClient, by_age

log = logging.getLogger("airflow_provider_aep.client")

PAGE_SIZE = 50
CONNECTION_KEYS = ("host", "port", "dbName", "username")
"""What ``GET /connection_parameters`` must answer for a PostgreSQL connection (the token is the caller's)."""


def _sql_text(sql: Any) -> str:
    """SQL compared without differences of whitespace (the service may store it reformatted)."""
    return " ".join(str(sql or "").split())


def _created(item: Mapping[str, Any]) -> str:
    """A sortable ``created``: ISO-8601 strings and epoch-ms strings (schedule examples) both occur."""
    value = item.get("created")
    text = str(value or "")
    return text.zfill(20) if text.isdigit() else text


class QueryServiceClient(ServiceClient):
    """Query Service (``/data/foundation/query``) for one org and sandbox."""

    base_path: ClassVar[str] = QUERY_SERVICE_PATH

    # ------------------------------------------------------------------ lists
    def iter_items(
        self, path: str, items_key: str, *, filters: Sequence[str] = (), orderby: str | None = "-created"
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``_links.next.href`` until it is absent, repeats or the page is empty."""
        params: dict[str, Any] | None = {"limit": PAGE_SIZE}
        if filters:
            params["property"] = ",".join(filters)  # type: ignore[index]
        if orderby:
            params["orderby"] = orderby  # type: ignore[index]
        next_path: str | None = path
        links: set[str] = set()
        ids: set[str] = set()
        while next_path is not None:
            resp = self.request("GET", next_path, params=params)
            body = self.json(resp)
            items = body.get(items_key, []) if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise AEPResponseError(f"expected a list of '{items_key}'", method="GET", url=resp.url, status=200)
            fresh = [dict(i) for i in items if isinstance(i, Mapping) and str(i.get("id")) not in ids]
            yield from fresh
            ids.update(str(i.get("id")) for i in fresh)
            href = dig(body, "_links.next.href")
            if not isinstance(href, str) or not href or not fresh or href in links:
                return
            links.add(href)
            next_path, params = href, None  # the link carries every query parameter

    # ------------------------------------------------------------------ queries
    def get_query(self, query_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/queries/{query_id}")
        body = self.json(resp)
        if not isinstance(body, Mapping) or not body.get("id"):
            raise AEPResponseError("expected a query with 'id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def iter_queries(self, *, filters: Sequence[str] = (), orderby: str = "-created") -> Iterator[dict[str, Any]]:
        """Queries matching ``filters`` (``state==SUCCESS``, ``sql~text``, ``templateId==...``, ``scheduleId==...``)."""
        return self.iter_items("/queries", "queries", filters=filters, orderby=orderby)

    def find_queries(self, name: str, *, template_id: str | None = None) -> list[dict[str, Any]]:
        """Queries named exactly ``name``, oldest first. The server narrows by ``sql~<name>`` (or ``templateId``
        for a template's query), since Adobe has no name filter; ``name`` must hold no comma."""
        narrow = [f"templateId=={template_id}"] if template_id else [f"sql~{name}"]
        found = [q for q in self.iter_queries(filters=narrow) if (q.get("name") or dig(q, "request.name")) == name]
        return sorted(found, key=_created)

    def create_query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /queries`` (202); the query as answered. With a ``name`` the POST is re-sent after an ambiguous
        failure only when :meth:`find_queries` does not find it (give SQL queries their name in a comment, see
        the module docstring); without one, only when the server provably did not get it."""
        name = body.get("name")
        if not body.get("sql") and not body.get("templateId"):
            raise ValueError("a query needs 'sql' or 'templateId'")
        if isinstance(name, str) and "," in name:
            raise ValueError(f"query name {name!r} must not contain a comma (it is used in a property filter)")

        def post() -> CreatedResource:
            resp = self.request("POST", "/queries", json_body=dict(body), retry=False)
            answer = self.json(resp)
            if not isinstance(answer, Mapping) or not answer.get("id"):
                raise AEPResponseError("expected the query with 'id'", method="POST", url=resp.url, status=202)
            return CreatedResource.from_resource(dict(answer), created=True)

        if not isinstance(name, str) or not name:
            made = Retrying(**self.retry.tenacity_kwargs(retryable=is_safe_to_resend_create))(post)
        else:

            def lookup() -> CreatedResource | None:
                found = self.find_queries(name, template_id=body.get("templateId"))
                return CreatedResource.from_resource(found[-1], created=True) if found else None

            made = self.platform.create_reconciled(post, lookup, what="queries")
        return dict(made.resource) if made.resource else self.get_query(made.id)

    def cancel_query(self, query_id: str) -> bool:
        """Ask Query Service to cancel a query; False when it had already finished (409)."""
        try:
            self.request("PATCH", f"/queries/{query_id}", json_body={"op": "cancel"}, idempotent=True)
        except AEPAPIError as err:
            if err.status == 409:
                log.info("Query %s had already finished; nothing to cancel", query_id)
                return False
            raise
        return True

    def soft_delete_query(self, query_id: str) -> None:
        """Hide a query from lists (``{"op": "soft_delete"}``); a replay changes nothing."""
        self.request("PATCH", f"/queries/{query_id}", json_body={"op": "soft_delete"}, idempotent=True)

    # ------------------------------------------------------------------ query templates
    def get_template(self, template_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/query-templates/{template_id}")
        body = self.json(resp)
        if not isinstance(body, Mapping) or not body.get("id"):
            raise AEPResponseError("expected a template with 'id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def iter_templates(self, *, filters: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        return self.iter_items("/query-templates", "templates", filters=filters)

    def find_templates(self, name: str) -> list[dict[str, Any]]:
        """Templates named exactly ``name`` (``name~`` on the server, an exact check here), oldest first."""
        narrow = [f"name~{name}"] if "," not in name else []
        return by_age([t for t in self.iter_templates(filters=narrow) if t.get("name") == name], "created")

    def create_template(self, body: Mapping[str, Any]) -> CreatedResource:
        """The template named ``body["name"]``: an existing one with the same SQL, else a new one. One with the
        same name and other SQL raises :class:`AEPQueryServiceMismatchError` (update it explicitly instead)."""
        name, sql = body.get("name"), body.get("sql")
        if not isinstance(name, str) or not name or not isinstance(sql, str) or not sql.strip():
            raise ValueError("a query template needs 'name' and 'sql'")
        existing = self.find_templates(name)
        if existing:
            winner = self.settle(existing, what="query-templates", created_field="created", delete=None)
            if _sql_text(winner.get("sql")) != _sql_text(sql):
                raise AEPQueryServiceMismatchError("query template", name, "sql", winner.get("sql"), sql)
            log.info("Reusing query template %s (%r)", winner["id"], name)
            return CreatedResource.from_resource(winner, created=False)

        def post() -> CreatedResource:
            resp = self.request("POST", "/query-templates", json_body=dict(body), retry=False)
            answer = self.json(resp)
            if not isinstance(answer, Mapping) or not answer.get("id"):
                raise AEPResponseError("expected the template with 'id'", method="POST", url=resp.url, status=202)
            return CreatedResource.from_resource(dict(answer), created=True)

        def lookup() -> CreatedResource | None:
            found = self.find_templates(name)
            return CreatedResource.from_resource(found[0], created=True) if found else None

        made = self.platform.create_reconciled(post, lookup, what="query-templates")
        return self.converge(
            made,
            lambda: self.find_templates(name),
            what="query-templates",
            created_field="created",
            delete=self.delete_template,
        )

    def update_template(self, template_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT a whole template (``name`` and ``sql`` required); a replay leaves the same template."""
        if not body.get("name") or not body.get("sql"):
            raise ValueError("a template update needs 'name' and 'sql' (PUT replaces the whole template)")
        resp = self.request("PUT", f"/query-templates/{template_id}", json_body=dict(body))
        answer = self.json(resp)
        return dict(answer) if isinstance(answer, Mapping) else {}

    def delete_template(self, template_id: str, *, missing_ok: bool = True) -> bool:
        return self.delete_path(f"/query-templates/{template_id}", missing_ok=missing_ok)

    # ------------------------------------------------------------------ scheduled queries
    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/schedules/{schedule_id}")
        body = self.json(resp)
        if not isinstance(body, Mapping) or not body.get("id"):
            raise AEPResponseError("expected a schedule with 'id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def iter_schedules(self, *, filters: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        return self.iter_items("/schedules", "schedules", filters=filters)

    def find_schedules(self, name: str, *, template_id: str | None = None) -> list[dict[str, Any]]:
        """Schedules whose query is named ``name``, oldest first (listed whole: Adobe filters no schedule name)."""
        narrow = [f"templateId=={template_id}"] if template_id else []
        found = [s for s in self.iter_schedules(filters=narrow) if dig(s, "query.name") == name]
        return sorted(found, key=_created)

    def create_schedule(self, body: Mapping[str, Any]) -> CreatedResource:
        """The schedule whose query is named ``body["query"]["name"]``: an existing one that runs the same SQL (or
        template) on the same cron, else a new one; a different one with that name raises
        :class:`AEPQueryServiceMismatchError`."""
        query, schedule = body.get("query"), body.get("schedule")
        name = query.get("name") if isinstance(query, Mapping) else None
        if not isinstance(name, str) or not name or not isinstance(schedule, Mapping):
            raise ValueError("a scheduled query needs 'query' with a 'name', and 'schedule'")
        template_id = query.get("templateId") if isinstance(query, Mapping) else None
        existing = self.find_schedules(name)
        if existing:
            winner = existing[0]
            self.verify_schedule(winner, body)
            log.info("Reusing scheduled query %s (%r, %s)", winner["id"], name, winner.get("state"))
            return CreatedResource.from_resource(winner, created=False)

        def post() -> CreatedResource:
            resp = self.request("POST", "/schedules", json_body=dict(body), retry=False)
            answer = self.json(resp)
            if not isinstance(answer, Mapping) or not answer.get("id"):
                raise AEPResponseError("expected the schedule with 'id'", method="POST", url=resp.url, status=202)
            return CreatedResource.from_resource(dict(answer), created=True)

        def lookup() -> CreatedResource | None:
            found = self.find_schedules(name, template_id=template_id)
            return CreatedResource.from_resource(found[0], created=True) if found else None

        made = self.platform.create_reconciled(post, lookup, what="schedules")
        return self.converge(
            made,
            lambda: self.find_schedules(name, template_id=template_id),
            what="schedules",
            created_field="created",
            delete=self.delete_schedule,
        )

    def verify_schedule(self, existing: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        """Raise unless ``existing`` runs what ``body`` asks for: SQL (or template), database and cron."""
        name = str(dig(body, "query.name"))
        checks = {
            "query.sql": (_sql_text(dig(existing, "query.sql")), _sql_text(dig(body, "query.sql"))),
            "query.templateId": (dig(existing, "query.templateId"), dig(body, "query.templateId")),
            "query.dbName": (dig(existing, "query.dbName"), dig(body, "query.dbName")),
            "schedule.schedule": (dig(existing, "schedule.schedule"), dig(body, "schedule.schedule")),
        }
        for field, (current, asked) in checks.items():
            if asked not in (None, "") and current != asked:
                raise AEPQueryServiceMismatchError("scheduled query", name, field, current, asked)

    def set_schedule_state(self, schedule_id: str, state: str) -> None:
        """``enable`` or ``disable`` a schedule (the ``body``-wrapped patch). Asking for the state it is already
        in is not an error (Adobe answers 400 "already in the state", also to a replay of a committed patch)."""
        if state not in ("enable", "disable"):
            raise ValueError(f"state must be 'enable' or 'disable', not {state!r}")
        patch = {"body": [{"op": "replace", "path": "/state", "value": state}]}
        try:
            self.request("PATCH", f"/schedules/{schedule_id}", json_body=patch, idempotent=True)
        except AEPBadRequestError:
            current = str(self.get_schedule(schedule_id).get("state") or "").upper()
            if current != ("ENABLED" if state == "enable" else "DISABLED"):
                raise
            log.info("Schedule %s is already %s", schedule_id, current)

    def delete_schedule(self, schedule_id: str, *, missing_ok: bool = True) -> bool:
        """Disable the schedule (only a DISABLED one can be deleted), then DELETE it; False when it was gone.
        A schedule with active runs is refused (400); that error is raised."""
        try:
            schedule = self.get_schedule(schedule_id)
        except AEPNotFoundError:
            if not missing_ok:
                raise
            return False
        if str(schedule.get("state") or "").upper() != "DISABLED":
            self.set_schedule_state(schedule_id, "disable")
        return self.delete_path(f"/schedules/{schedule_id}", missing_ok=missing_ok)

    # ------------------------------------------------------------------ scheduled runs
    def iter_schedule_runs(self, schedule_id: str, *, filters: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        return self.iter_items(f"/schedules/{schedule_id}/runs", "runsSchedules", filters=filters)

    def get_schedule_run(self, schedule_id: str, run_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/schedules/{schedule_id}/runs/{run_id}")
        body = self.json(resp)
        if not isinstance(body, Mapping) or not body.get("id"):
            raise AEPResponseError("expected a run with 'id'", method="GET", url=resp.url, status=200)
        return dict(body)

    def external_runs(self, schedule_id: str) -> list[dict[str, Any]]:
        """The schedule's manually triggered runs, newest first."""
        runs = list(self.iter_schedule_runs(schedule_id, filters=["externalTrigger==true"]))
        runs = [r for r in runs if str(r.get("externalTrigger")).lower() == "true"]  # a string in Adobe's examples
        return sorted(runs, key=_created, reverse=True)

    def trigger_schedule_run(self, schedule_id: str) -> dict[str, Any]:
        """Start a run now (``POST /schedules/{id}/runs``) and return it, found among the external runs (the
        POST answers no id). After an ambiguous failure the POST is re-sent only if no new run appeared."""
        known = {str(r.get("id")) for r in self.external_runs(schedule_id)}

        def new_run() -> CreatedResource | None:
            fresh = [r for r in self.external_runs(schedule_id) if str(r.get("id")) not in known]
            return CreatedResource.from_resource(fresh[0], created=True) if fresh else None

        def post() -> CreatedResource:
            self.request("POST", f"/schedules/{schedule_id}/runs", retry=False)
            found = new_run()
            if found is None:
                raise AEPResponseError(
                    "the run it accepted is not among the schedule's externalTrigger==true runs",
                    method="POST",
                    url=self.url(f"/schedules/{schedule_id}/runs"),
                    status=202,
                )
            return found

        made = self.platform.create_reconciled(post, new_run, what="scheduled runs")
        return dict(made.resource or {"id": made.id})

    def cancel_schedule_run(self, schedule_id: str, run_id: str) -> bool:
        """Ask to cancel a run; False when it had already finished (409)."""
        try:
            self.request(
                "PATCH", f"/schedules/{schedule_id}/runs/{run_id}", json_body={"op": "cancel"}, idempotent=True
            )
        except AEPAPIError as err:
            if err.status == 409:
                return False
            raise
        return True

    def run_queries(self, schedule_id: str, run_id: str) -> list[dict[str, Any]]:
        """The queries a scheduled run executed, newest first."""
        return list(self.iter_queries(filters=[f"scheduleId=={schedule_id}", f"scheduleRunId=={run_id}"]))

    # ------------------------------------------------------------------ PostgreSQL interface
    def connection_parameters(self) -> dict[str, Any]:
        """``GET /connection_parameters``: ``host``, ``port``, ``dbName``, ``username`` (and the caller's token
        echoed as ``token``, registered as a secret like every token)."""
        resp = self.request("GET", "/connection_parameters")
        body = self.json(resp)
        if not isinstance(body, Mapping) or any(body.get(key) in (None, "") for key in CONNECTION_KEYS):
            raise AEPResponseError(
                f"expected {', '.join(CONNECTION_KEYS)}", method="GET", url=resp.url, status=resp.status_code
            )
        for secret in ("token", "compressedToken"):
            if isinstance(body.get(secret), str):
                self.add_secret(body[secret])
        return dict(body)


__all__ = ["CONNECTION_KEYS", "QueryServiceClient"]

"""Read-only HTML pages of emulated resources, at the paths the provider's extra links use.

The Experience Cloud UI keeps its routes in the URL fragment (``https://experience.adobe.com/#/@{tenant}/
sname:{sandbox}/platform/...``), which never reaches a server, so the emulator serves the same routes without
the fragment under ``/__emulator/ui`` (part of the control plane: loopback callers only by default):

=========================  ====================================================================
link (``[aep]`` key)       page
=========================  ====================================================================
``base_connection_link``   ``/__emulator/ui/@{tenant}/sname:{sandbox}/platform/source/accounts/{id}``
``dataflow_link``          ``.../platform/source/dataflows/{id}``
``run_link``               ``.../platform/source/dataflows/{flow_id}/runs/{id}``
``dataset_link``           ``.../platform/dataset/browse/{id}``
``schema_link``            ``.../platform/schema?search={$id}`` (URL-encoded ``$id`` or ``meta:altId``)
=========================  ====================================================================

``{tenant}`` is the IMS org id (or the org's emulated XDM tenant id); other orgs with that sandbox are
searched too, because the emulator cannot know a configured ``ui_tenant``. Each page shows the resource's
name, id and state, links to related pages and the resource's JSON with secrets masked. Unknown ids answer a
404 page; ``/__emulator/ui`` lists every resource.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import catalog, runs, schema_registry, specs
from .connections import masked_view
from .messages import HTML_MEDIA_TYPE, Request, Response
from .redaction import mask_document
from .resources import view
from .state import EmulatorState, Store

SUB_PATH = "/ui"
PATH = "/__emulator" + SUB_PATH
#: How many resources of each kind the index page lists (newest first).
INDEX_LIMIT = 100
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_ROUTE = re.compile(r"/@(?P<tenant>[^/]+)/sname:(?P<sandbox>[^/]+)/platform(?P<rest>/.*)")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
header,footer{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:1rem 0}th,td{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #ddd}
pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:.85rem}code{font-size:.9rem}
"""


@dataclass
class Page:
    """What one resource page shows."""

    kind: str
    name: str
    resource_id: str
    state: str
    store: Store
    doc: dict[str, Any]
    details: list[tuple[str, str]] = field(default_factory=list)
    related: list[tuple[str, str]] = field(default_factory=list)


def base_path(org: str, sandbox: str) -> str:
    """``/__emulator/ui/@{org}/sname:{sandbox}/platform``: what the link paths are relative to."""
    return f"{PATH}/@{quote(org, safe='@')}/sname:{quote(sandbox, safe='')}/platform"


def _href(store: Store, kind: str, resource_id: str, flow_id: str = "") -> str:
    base = base_path(store.org, store.sandbox)
    rid = quote(resource_id, safe="")
    return {
        "account": f"{base}/source/accounts/{rid}",
        "dataflow": f"{base}/source/dataflows/{rid}",
        "run": f"{base}/source/dataflows/{quote(flow_id, safe='')}/runs/{rid}",
        "dataset": f"{base}/dataset/browse/{rid}",
        "schema": f"{base}/schema?search={rid}",
    }[kind]


# -- resources -----------------------------------------------------------------------------------------
def _account(store: Store, resource_id: str, req: Request) -> Page | None:
    resource = store["connections"].get(resource_id)
    if resource is None:
        return None
    doc = masked_view(resource)
    spec = specs.CONNECTION_SPECS.get(doc.get("connectionSpec", {}).get("id", ""), {})
    page = Page("Source account", str(doc.get("name", "")), resource_id, str(doc.get("state", "")), store, doc)
    page.details.append(("Connection spec", f"{spec.get('name', '?')} ({doc.get('connectionSpec', {}).get('id')})"))
    for source in store["sourceConnections"]:
        if source.get("baseConnectionId") == resource_id:
            page.details.append(("Source connection", f"{source.get('name')} ({source['id']})"))
    return page


def _dataflow(store: Store, resource_id: str, req: Request) -> Page | None:
    resource = store["flows"].get(resource_id)
    if resource is None:
        return None
    doc = view(resource)
    page = Page("Dataflow", str(doc.get("name", "")), resource_id, str(doc.get("state", "")), store, doc)
    flow_runs = [r for r in store["runs"] if r.get("flowId") == resource_id]
    for run in reversed(flow_runs[-INDEX_LIMIT:]):
        page.related.append((f"Run {run['id']} ({run.get('state', '?')})", _href(store, "run", run["id"], resource_id)))
    return page


def _run(store: Store, resource_id: str, req: Request, flow_id: str = "") -> Page | None:
    resource = store["runs"].get(resource_id)
    if resource is None or resource.get("flowId") != flow_id:
        return None
    doc = view(resource)
    flow = store["flows"].get(flow_id)
    name = f"Run of {flow.get('name') if flow else 'a deleted dataflow'}"
    page = Page("Dataflow run", name, resource_id, str(doc.get("state", "")), store, doc)
    summary = doc.get("metrics", {}).get("recordSummary") or {}
    if summary:
        page.details.append(("Records", ", ".join(f"{k}: {v}" for k, v in summary.items())))
    if flow is not None:
        page.related.append((f"Dataflow {flow.get('name')}", _href(store, "dataflow", flow_id)))
    return page


def _dataset(store: Store, resource_id: str, req: Request) -> Page | None:
    resource = catalog.find_dataset(store, resource_id)
    if resource is None:
        return None
    doc = {"id": resource_id, **catalog.dataset_view(resource)}
    state = f"last batch {doc['lastBatchStatus']}" if doc.get("lastBatchStatus") else "no batch yet"
    page = Page("Dataset", str(doc.get("name", "")), resource_id, state, store, doc)
    schema_id = (doc.get("schemaRef") or {}).get("id")
    if isinstance(schema_id, str) and schema_registry.find_schema(store, schema_id) is not None:
        page.related.append((f"Schema {schema_id}", _href(store, "schema", schema_id)))
    return page


def _schema(store: Store, resource_id: str, req: Request) -> Page | None:
    stored = schema_registry.find_schema(store, resource_id)
    if stored is None:
        return None
    doc = schema_registry.render(store, stored, "xed")
    tags = doc.get("meta:immutableTags") or []
    state = f"version {doc.get('version', '?')}" + (", enabled for Profile" if "union" in tags else "")
    page = Page("XDM schema", str(doc.get("title", "")), str(doc.get("$id", resource_id)), state, store, doc)
    page.details.append(("Alt id", str(doc.get("meta:altId", ""))))
    for dataset in store["dataSets"]:
        if (dataset.get("schemaRef") or {}).get("id") in (doc.get("$id"), doc.get("meta:altId")):
            page.related.append((f"Dataset {dataset.get('name')}", _href(store, "dataset", dataset["id"])))
    return page


Finder = Callable[..., "Page | None"]
_RESOURCES: list[tuple[re.Pattern[str], str, Finder]] = [
    (re.compile(r"/source/accounts/(?P<resource_id>[^/]+)"), "source account", _account),
    (re.compile(r"/source/dataflows/(?P<flow_id>[^/]+)/runs/(?P<resource_id>[^/]+)"), "dataflow run", _run),
    (re.compile(r"/source/dataflows/(?P<resource_id>[^/]+)"), "dataflow", _dataflow),
    (re.compile(r"/dataset/browse/(?P<resource_id>[^/]+)"), "dataset", _dataset),
    (re.compile(r"/schema"), "XDM schema", _schema),
]


def _stores(state: EmulatorState, tenant: str, sandbox: str) -> list[Store]:
    """Stores of ``sandbox``, the org named by ``tenant`` (org id or XDM tenant id) first."""
    stores = [s for s in state.stores.values() if s.sandbox == sandbox]
    return sorted(stores, key=lambda s: not (s.org == tenant or schema_registry.tenant_id(s) == tenant))


# -- HTML --------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)} - AEP emulator</title><style>{_STYLE}</style></head><body>\n"
        f'<header>Local AEP emulator - read-only view (<a href="{PATH}">all resources</a>)</header>\n'
        f"{body}\n<footer>Served by the AEP emulator in place of experience.adobe.com. Secrets are masked; "
        "nothing here can be changed.</footer>\n</body></html>\n"
    )


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)


def _links(links: Iterable[tuple[str, str]]) -> str:
    return "".join(f'<li><a href="{_e(href)}">{_e(label)}</a></li>' for label, href in links)


def render_page(page: Page) -> str:
    rows = [
        ("Name", page.name or "(no name)"),
        ("ID", page.resource_id),
        ("State", page.state or "(none)"),
        ("Sandbox", page.store.sandbox),
        ("IMS org", page.store.org),
        *page.details,
    ]
    related = f"<h2>Related</h2><ul>{_links(page.related)}</ul>" if page.related else ""
    doc = json.dumps(mask_document(page.doc), indent=2, sort_keys=True, default=str)
    body = (
        f"<h1>{_e(page.kind)}: {_e(page.name or page.resource_id)}</h1>\n"
        f'<table class="summary">{_rows(rows)}</table>\n{related}\n'
        f'<h2>JSON</h2><pre id="resource-json">{_e(doc)}</pre>'
    )
    return _document(f"{page.kind} {page.name or page.resource_id}", body)


def _html(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text, {**_HEADERS, **(headers or {})}, media_type=HTML_MEDIA_TYPE)


def _not_found(message: str) -> Response:
    body = f"<h1>Not found</h1><p>{_e(message)}</p>"
    return _html(404, _document("Not found", body))


def _index(state: EmulatorState) -> Response:
    sections = []
    for store in state.stores.values():
        links: list[tuple[str, str]] = []
        for collection, kind in (("connections", "account"), ("flows", "dataflow"), ("dataSets", "dataset")):
            for resource in list(store[collection])[-INDEX_LIMIT:][::-1]:
                links.append((f"{kind}: {resource.get('name')} ({resource['id']})", _href(store, kind, resource["id"])))
        for schema in list(store["schemas"])[-INDEX_LIMIT:][::-1]:
            links.append((f"schema: {schema.get('title')} ({schema['$id']})", _href(store, "schema", schema["$id"])))
        sections.append(f"<h2>org {_e(store.org)}, sandbox {_e(store.sandbox)}</h2><ul>{_links(links)}</ul>")
    body = "<h1>Emulated resources</h1>" + ("".join(sections) or "<p>Nothing has been created yet.</p>")
    return _html(200, _document("Emulated resources", body))


def handle(state: EmulatorState, req: Request) -> Response:
    """``GET /__emulator/ui[/...]``: the index, one resource page, or a 404 page."""
    if req.method not in ("GET", "HEAD"):
        body = f"<h1>Method not allowed</h1><p>{_e(req.method)}: these pages are read-only.</p>"
        return _html(405, _document("Method not allowed", body), {"Allow": "GET, HEAD"})
    rest = req.path[len(PATH) :]
    with state.lock:
        if rest in ("", "/"):
            runs.refresh_all(state)
            return _index(state)
        route = _ROUTE.fullmatch(rest)
        if route is None:
            return _not_found(f"No emulator page at {req.path}. Pages live under {PATH}/@ORG/sname:SANDBOX/platform/.")
        tenant, sandbox, resource_path = route.group("tenant", "sandbox", "rest")
        for pattern, kind, finder in _RESOURCES:
            match = pattern.fullmatch(resource_path)
            if match is None:
                continue
            ids = match.groupdict()
            if finder is _schema:
                ids["resource_id"] = req.param("search") or ""
                if not ids["resource_id"]:
                    return _not_found("The schema page needs ?search=<the schema's $id or meta:altId>.")
            for store in _stores(state, tenant, sandbox):
                runs.refresh(state, store)
                page = finder(store, req=req, **ids)
                if page is not None:
                    return _html(200, render_page(page))
            return _not_found(f"No {kind} with id {ids['resource_id']} in sandbox {sandbox!r} of the emulator.")
        return _not_found(f"No emulator page at {req.path}: not an account, dataflow, run, dataset or schema path.")

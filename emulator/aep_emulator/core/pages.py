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
404 page; ``/__emulator/ui`` lists every resource. Services contribute their pages (:class:`Pages`); this module
renders them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .messages import HTML_MEDIA_TYPE, Request, Response
from .redaction import SecretNames, mask_document, no_secret_names
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


def href(store: Store, kind: str, resource_id: str, flow_id: str = "") -> str:
    """The page of a resource (``kind``: ``account``, ``dataflow``, ``run``, ``dataset`` or ``schema``)."""
    base = base_path(store.org, store.sandbox)
    rid = quote(resource_id, safe="")
    return {
        "account": f"{base}/source/accounts/{rid}",
        "dataflow": f"{base}/source/dataflows/{rid}",
        "run": f"{base}/source/dataflows/{quote(flow_id, safe='')}/runs/{rid}",
        "dataset": f"{base}/dataset/browse/{rid}",
        "schema": f"{base}/schema?search={rid}",
    }[kind]


Finder = Callable[..., "Page | None"]


@dataclass(frozen=True)
class PageRoute:
    """A resource page: its path under ``.../platform`` (named groups are the finder's keyword arguments),
    what it shows, and ``finder(store, req=req, **ids)`` returning the page or ``None``. ``search`` takes the id
    from ``?search=`` (the schema page)."""

    pattern: re.Pattern[str]
    kind: str
    finder: Finder
    search: bool = False


@dataclass(frozen=True)
class Pages:
    """Every service's pages: ``routes``, the ``index`` sections (links of one sandbox) and ``tenant_of``, the XDM
    tenant id of a sandbox's org (``@{tenant}`` may name it instead of the org id)."""

    routes: Sequence[PageRoute]
    index: Sequence[Callable[[Store], list[tuple[str, str]]]]
    tenant_of: Callable[[Store], str]


def _stores(state: EmulatorState, pages: Pages, tenant: str, sandbox: str) -> list[Store]:
    """Stores of ``sandbox``, the org named by ``tenant`` (org id or XDM tenant id) first."""
    stores = [s for s in state.stores.values() if s.sandbox == sandbox]
    return sorted(stores, key=lambda s: not (s.org == tenant or pages.tenant_of(s) == tenant))


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


def render_page(page: Page, secrets: SecretNames = no_secret_names) -> str:
    rows = [
        ("Name", page.name or "(no name)"),
        ("ID", page.resource_id),
        ("State", page.state or "(none)"),
        ("Sandbox", page.store.sandbox),
        ("IMS org", page.store.org),
        *page.details,
    ]
    related = f"<h2>Related</h2><ul>{_links(page.related)}</ul>" if page.related else ""
    doc = json.dumps(mask_document(page.doc, secrets), indent=2, sort_keys=True, default=str)
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


def index_links(store: Store, collection: str, kind: str) -> list[tuple[str, str]]:
    """Index links to the newest resources of a collection (by ``id`` and ``name``)."""
    newest = list(store[collection])[-INDEX_LIMIT:][::-1]
    return [(f"{kind}: {r.get('name')} ({r['id']})", href(store, kind, r["id"])) for r in newest]


def _index(state: EmulatorState, pages: Pages) -> Response:
    sections = []
    for store in state.stores.values():
        links = [link for section in pages.index for link in section(store)]
        sections.append(f"<h2>org {_e(store.org)}, sandbox {_e(store.sandbox)}</h2><ul>{_links(links)}</ul>")
    body = "<h1>Emulated resources</h1>" + ("".join(sections) or "<p>Nothing has been created yet.</p>")
    return _html(200, _document("Emulated resources", body))


def handle(state: EmulatorState, pages: Pages, req: Request) -> Response:
    """``GET /__emulator/ui[/...]``: the index, one resource page, or a 404 page."""
    if req.method not in ("GET", "HEAD"):
        body = f"<h1>Method not allowed</h1><p>{_e(req.method)}: these pages are read-only.</p>"
        return _html(405, _document("Method not allowed", body), {"Allow": "GET, HEAD"})
    rest = req.path[len(PATH) :]
    with state.lock:
        if rest in ("", "/"):
            state.refresh_all()
            return _index(state, pages)
        route = _ROUTE.fullmatch(rest)
        if route is None:
            return _not_found(f"No emulator page at {req.path}. Pages live under {PATH}/@ORG/sname:SANDBOX/platform/.")
        tenant, sandbox, resource_path = route.group("tenant", "sandbox", "rest")
        for page_route in pages.routes:
            match = page_route.pattern.fullmatch(resource_path)
            if match is None:
                continue
            ids, kind = match.groupdict(), page_route.kind
            if page_route.search:
                ids["resource_id"] = req.param("search") or ""
                if not ids["resource_id"]:
                    return _not_found("The schema page needs ?search=<the schema's $id or meta:altId>.")
            for store in _stores(state, pages, tenant, sandbox):
                state.refresh(store)
                page = page_route.finder(store, req=req, **ids)
                if page is not None:
                    return _html(200, render_page(page, state.secret_names))
            return _not_found(f"No {kind} with id {ids['resource_id']} in sandbox {sandbox!r} of the emulator.")
        return _not_found(f"No emulator page at {req.path}: not an account, dataflow, run, dataset or schema path.")

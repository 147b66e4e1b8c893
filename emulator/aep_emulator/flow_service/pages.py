"""Flow Service's resource pages: source accounts (base connections), dataflows and their runs."""

from __future__ import annotations

import re

from ..core.messages import Request
from ..core.pages import INDEX_LIMIT, Page, PageRoute, href, index_links
from ..core.state import Store
from . import specs
from .connections import masked_view
from .resources import view


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
        page.related.append((f"Run {run['id']} ({run.get('state', '?')})", href(store, "run", run["id"], resource_id)))
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
        page.related.append((f"Dataflow {flow.get('name')}", href(store, "dataflow", flow_id)))
    return page


def index(store: Store) -> list[tuple[str, str]]:
    return index_links(store, "connections", "account") + index_links(store, "flows", "dataflow")


ROUTES = (
    PageRoute(re.compile(r"/source/accounts/(?P<resource_id>[^/]+)"), "source account", _account),
    PageRoute(re.compile(r"/source/dataflows/(?P<flow_id>[^/]+)/runs/(?P<resource_id>[^/]+)"), "dataflow run", _run),
    PageRoute(re.compile(r"/source/dataflows/(?P<resource_id>[^/]+)"), "dataflow", _dataflow),
)

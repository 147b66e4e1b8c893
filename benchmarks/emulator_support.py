"""Emulator plumbing shared by the benchmarks: start it out of process, seed resources fast, read the journal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests

from benchmarks.common import CLIENT_ID, CLIENT_SECRET, ORG_ID, chunks

PLATFORM = "/data/foundation"
FLOW_SERVICE = PLATFORM + "/flowservice"
SERVICE_PATHS = tuple(PLATFORM + s for s in ("/flowservice", "/schemaregistry", "/catalog", "/conversion"))
IMS_TOKEN = "/ims/token/v3"
HUBSPOT_SPEC_ID = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"


def emulator_available() -> str | None:
    """None when the emulator package can be started, else the reason it cannot."""
    try:
        from aep_emulator import EmulatorConfig, run_emulator_subprocess  # noqa: F401
    except Exception as exc:  # the emulator is optional for the parse benchmark
        return f"emulator not importable: {type(exc).__name__}: {exc}"
    return None


@contextmanager
def emulator_process(**config: Any) -> Iterator[Any]:
    """The emulator in a child process (its CPU and memory never count against the code under test)."""
    from aep_emulator import EmulatorConfig, run_emulator_subprocess

    with run_emulator_subprocess(EmulatorConfig(**config), env={"NO_PROXY": "127.0.0.1,localhost"}) as emu:
        yield emu


def fetch_token(url: str, session: requests.Session | None = None) -> str:
    """One IMS token (form POST, as the provider does)."""
    s = session or requests.Session()
    resp = s.post(
        url + IMS_TOKEN,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "x"},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()["access_token"]


def platform_headers(token: str, *, write: bool = False) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": CLIENT_ID,
        "x-gw-ims-org-id": ORG_ID,
        "x-sandbox-name": "prod",
        "Accept": "application/json",
    }
    if write:
        headers["Content-Type"] = "application/json"
    return headers


def hubspot_connection_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "clientId": "bench-client",
                "clientSecret": "bench-secret",
                "accessToken": "bench-access",
                "refreshToken": "bench-refresh",
            },
        },
        "connectionSpec": {"id": HUBSPOT_SPEC_ID, "version": "1.0"},
    }


def seed_connections(url: str, count: int, *, threads: int = 8, prefix: str = "bench-conn") -> None:
    """Create ``count`` HubSpot base connections with bare POSTs (no lookup) from a few threads."""
    token = fetch_token(url)
    headers = platform_headers(token, write=True)

    def work(indices: list[int]) -> None:
        with requests.Session() as s:
            for i in indices:
                body = json.dumps(hubspot_connection_body(f"{prefix}-{i:06d}"))
                resp = s.post(url + FLOW_SERVICE + "/connections", data=body, headers=headers, timeout=30)
                if resp.status_code != 201:
                    raise RuntimeError(f"seeding connection {i} failed: {resp.status_code} {resp.text[:300]}")

    indices = list(range(count))
    size = max(1, -(-count // threads))
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [list(c) for c in chunks(indices, size)]))


#: An XDM ``$id`` in a path (the journal has it decoded): ``https://ns.adobe.com/<tenant>/<kind>/<id>``.
_XDM_ID = re.compile(r"https?(?::|%3A)(?://|%2F%2F)ns\.adobe\.com(?:/|%2F)[^/?]*?(?:/|%2F)[^/?]*?(?:/|%2F)[^/?]+", re.I)


def _generic(segment: str) -> str:
    """``{id}`` for a resource id segment: a UUID, an XDM ``meta:altId``, a Catalog/Data Prep hex id."""
    if segment.startswith("_") or (len(segment) >= 20 and "-" in segment):
        return "{id}"
    if len(segment) >= 16 and all(c in "0123456789abcdefABCDEF" for c in segment):
        return "{id}"
    return segment


def journal_summary(entries: list[dict[str, Any]]) -> list[str]:
    """``METHOD /service/relative/path`` of each journal entry (``/data/foundation`` removed, ids generalised).

    E.g. ``GET /flowservice/connections``, ``POST /schemaregistry/tenant/fieldgroups``,
    ``DELETE /catalog/dataSets/{id}``, ``POST /conversion/mappingSets/validate``.
    """
    out = []
    for e in entries:
        path = e["path"]
        if path.startswith(PLATFORM + "/"):
            path = path[len(PLATFORM) :]
        path = _XDM_ID.sub("_xdm-id", path)
        out.append(f"{e['method']} {'/'.join(_generic(p) for p in path.split('/'))}")
    return out

"""The two connections ``make airflow`` stores in Airflow's metadata DB, through Airflow's REST API as a user
would (so Admin → Connections lists them, their secrets are Fernet-encrypted, and they can be opened and edited).

The AEP connection is stored the way the form asks for it: the Platform URL without a port, the emulator's port
in the Platform port field (which also lets Airflow 3.3.2's list Test button work, apache/airflow#73298), and
the IMS URL with its port (that field has no port of its own).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.system.airflow_server import AirflowAPIError, AirflowClient

DEMO_ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def demo_connections(emulator_url: str) -> list[dict[str, Any]]:
    """``aep_default`` and ``hubspot_default`` as ``POST /api/v2/connections`` bodies, pointing at the emulator
    with demo credentials (the emulator accepts any non-empty client id and secret)."""
    parts = urlsplit(emulator_url)
    aep = {
        "connection_id": "aep_default",
        "conn_type": "adobe_experience_platform",
        "description": "Local AEP emulator (make airflow)",
        "host": f"{parts.scheme}://{parts.hostname}",
        "port": parts.port,
        "login": "demo-client-id",
        "password": "demo-client-secret",
        "extra": json.dumps({"org_id": DEMO_ORG_ID, "sandbox_name": "prod", "ims_url": emulator_url}),
    }
    hubspot = {
        "connection_id": "hubspot_default",
        "conn_type": "hubspot",
        "description": "Demo HubSpot app credentials (handed to the AEP emulator)",
        "login": "demo-hubspot-client-id",
        "password": "demo-hubspot-client-secret",
        "extra": json.dumps(
            {"access_token": "demo-hubspot-access-token", "refresh_token": "demo-hubspot-refresh-token"}
        ),
    }
    return [aep, hubspot]


def _is_loopback(url: str | None) -> bool:
    return bool(url) and urlsplit(url if "://" in str(url) else f"http://{url}").hostname in LOOPBACK_HOSTS


def store_connections(client: AirflowClient, connections: list[dict[str, Any]]) -> dict[str, str]:
    """Create each connection; one kept from an earlier start (a reused ``--home``) that still points at a
    local emulator is moved to this emulator's port, and anything else in it (what the user edited) stays.
    Returns ``{connection id: "created" | "updated" | "kept"}``."""
    done: dict[str, str] = {}
    for body in connections:
        conn_id = body["connection_id"]
        try:
            client.create_connection(body)
            done[conn_id] = "created"
            continue
        except AirflowAPIError as err:
            if err.response.status_code != 409:
                raise
        stored = client.get_connection(conn_id)
        if stored.get("conn_type") != body["conn_type"] or not body.get("host") or not _is_loopback(stored.get("host")):
            done[conn_id] = "kept"  # the user pointed it somewhere else, or there is nothing to move
            continue
        extra = json.loads(stored.get("extra") or "{}")
        if _is_loopback(extra.get("ims_url")):
            extra["ims_url"] = json.loads(body["extra"])["ims_url"]
        patch = {"connection_id": conn_id, "conn_type": body["conn_type"], "host": body["host"], "port": body["port"]}
        patch["extra"] = json.dumps(extra)
        client.patch(f"/api/v2/connections/{conn_id}", patch, params={"update_mask": ["host", "port", "extra"]})
        done[conn_id] = "updated"
    return done

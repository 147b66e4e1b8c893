"""Factories for the target side (Schema Registry, Catalog, Data Prep) over real HTTP, for the emulator tests.

Everything goes through the emulator's public APIs with the same headers a client sends; nothing is put into
the emulator's state directly.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import requests
from aep_emulator.testing import CRM_TO_AEP, DATA_LAKE, FlowClient

SR = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"
XED = "application/vnd.adobe.xed+json; version=1"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"


def call(client: FlowClient, method: str, service: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to another Platform service with the client's headers."""
    return client.request(method, f"{client.url}{service}{path}", **kwargs)


def catalog(client: FlowClient, method: str, path: str, **kwargs: Any) -> requests.Response:
    return call(client, method, CATALOG, path, **kwargs)


def conversion(client: FlowClient, method: str, path: str, **kwargs: Any) -> requests.Response:
    return call(client, method, CONVERSION, path, **kwargs)


def tenant(client: FlowClient) -> str:
    response = call(client, "GET", SR, "/stats", headers={"Accept": "application/vnd.adobe.xed-id+json"})
    assert response.status_code == 200, response.text
    return response.json()["tenantId"]


#: Fields of the HubSpot field group, as JSON Schema (``_{TENANT}.hubspot.<name>``).
CONTACT_FIELDS: dict[str, dict[str, Any]] = {
    "vid": {"type": "integer", "title": "Vid", "description": "HubSpot contact id"},
    "email": {"type": "string", "title": "Email", "description": "Email address"},
    "lifecycleStage": {"type": "string", "title": "Lifecycle stage", "description": "Stage"},
    "addedAt": {"type": "string", "format": "date-time", "title": "Added at", "description": "Creation time"},
    "isContact": {"type": "boolean", "title": "Is contact", "description": "Contact flag"},
    "source": {"type": "string", "title": "Source", "description": "Constant source tag"},
}


_TITLES = itertools.count(1)


def make_schema(
    client: FlowClient,
    title: str | None = None,
    *,
    fields: dict[str, dict[str, Any]] | None = None,
    required: list[str] | None = None,
    identity: str | None = None,
    profile: bool = False,
) -> str:
    """A Profile schema with ``profile-person-details`` and a custom field group under ``_{TENANT}.hubspot``.

    ``identity`` names a custom field that becomes the primary identity (namespace Email); ``profile`` adds
    the ``union`` tag (which needs that primary identity). Titles are unique per sandbox (``XDM-1521-400``),
    so the default one is numbered. Returns the schema ``$id``.
    """
    title = title or f"HubSpot Contacts {next(_TITLES)}"
    tenant_id = tenant(client)
    hubspot: dict[str, Any] = {"type": "object", "properties": fields or CONTACT_FIELDS}
    if required:
        hubspot["required"] = required
    group = {
        "type": "object",
        "title": f"{title} fields",
        "description": "HubSpot columns",
        "meta:intendedToExtend": [PROFILE_CLASS],
        "definitions": {
            "hubspot": {"properties": {f"_{tenant_id}": {"type": "object", "properties": {"hubspot": hubspot}}}}
        },
        "allOf": [{"$ref": "#/definitions/hubspot"}],
    }
    created = call(client, "POST", SR, "/tenant/fieldgroups", json=group, headers={"Accept": "application/json"})
    assert created.status_code == 201, created.text
    schema_body = {
        "type": "object",
        "title": title,
        "description": "Landing schema",
        "allOf": [{"$ref": PROFILE_CLASS}, {"$ref": PERSON_DETAILS}, {"$ref": created.json()["$id"]}],
    }
    schema = call(client, "POST", SR, "/tenant/schemas", json=schema_body, headers={"Accept": "application/json"})
    assert schema.status_code == 201, schema.text
    schema_id = schema.json()["$id"]
    if identity:
        descriptor = {
            "@type": "xdm:descriptorIdentity",
            "xdm:sourceSchema": schema_id,
            "xdm:sourceVersion": 1,
            "xdm:sourceProperty": f"/_{tenant_id}/hubspot/{identity}",
            "xdm:namespace": "Email",
            "xdm:property": "xdm:code",
            "xdm:isPrimary": True,
        }
        made = call(client, "POST", SR, "/tenant/descriptors", json=descriptor, headers={"Accept": "application/json"})
        assert made.status_code == 201, made.text
    if profile:
        from urllib.parse import quote

        patched = call(
            client,
            "PATCH",
            SR,
            f"/tenant/schemas/{quote(schema_id, safe='')}",
            json=[{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}],
            headers={"Accept": "application/json"},
        )
        assert patched.status_code == 200, patched.text
    return schema_id


def make_dataset(client: FlowClient, schema_id: str, name: str = "HubSpot Contacts", **extra: Any) -> str:
    body = {"name": name, "schemaRef": {"id": schema_id, "contentType": XED}, **extra}
    response = catalog(client, "POST", "/dataSets", params={"requestDataSource": "true"}, json=body)
    assert response.status_code == 201, response.text
    return response.json()[0].removeprefix("@/dataSets/")


def contact_mappings(tenant_id: str) -> list[dict[str, Any]]:
    """Current-form mappings for ``Hubspot.Contacts`` into :data:`CONTACT_FIELDS`."""
    base = f"_{tenant_id}.hubspot"
    return [
        {"sourceType": "ATTRIBUTE", "source": "Vid", "destination": f"{base}.vid"},
        {"sourceType": "EXPRESSION", "source": "lower(Properties_Email_Value)", "destination": f"{base}.email"},
        {"sourceType": "ATTRIBUTE", "source": "Properties_Firstname_Value", "destination": "person.name.firstName"},
        {"sourceType": "ATTRIBUTE", "source": "Properties_Lastname_Value", "destination": "person.name.lastName"},
        {"sourceType": "ATTRIBUTE", "source": "Added_At", "destination": f"{base}.addedAt"},
        {"sourceType": "ATTRIBUTE", "source": "Is_Contact", "destination": f"{base}.isContact"},
        {"sourceType": "STATIC", "source": "hubspot", "destination": f"{base}.source"},
    ]


def make_mapping_set(client: FlowClient, schema_id: str, mappings: list[dict[str, Any]], **extra: Any) -> str:
    body = {
        "outputSchema": {
            "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
        },
        "mappings": mappings,
        **extra,
    }
    response = conversion(client, "POST", "/mappingSets", json=body)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def make_flow(
    client: FlowClient,
    dataset_id: str,
    schema_id: str,
    mapping_id: str | None,
    *,
    table: str = "Hubspot.Contacts",
    options: dict[str, Any] | None = None,
) -> str:
    """Base/source/target connections and a ``once`` flow to the dataset; returns the flow id."""
    source = client.source(client.connection(), table=table)
    target = client.created(
        "/targetConnections",
        {
            "name": "data lake target",
            "data": {"schema": {"id": schema_id, "version": XED_FULL}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        },
    )["id"]
    transformations: list[dict[str, Any]] = [
        {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At", "dateFormat": "YYYY-MM-DD"}}}
    ]
    if mapping_id:
        transformations.append({"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}})
    body: dict[str, Any] = {
        "name": "hubspot dataflow",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": transformations,
        "scheduleParams": {"startTime": int(time.time()) + 3600, "frequency": "once"},
    }
    if options:
        body["options"] = options
    return client.created("/flows", body)["id"]


def finished_run(emu: Any, client: FlowClient, flow_id: str) -> dict[str, Any]:
    """Start an on-demand run, move the emulator clock past its end and return the terminal run."""
    created = client.post("/runs", json={"flowId": flow_id})
    assert created.status_code == 201, created.text
    run_id = created.json()["items"][0]["id"]
    emu.control.advance_clock(10)
    run = client.item(f"/runs/{run_id}")
    assert run["state"] in ("success", "failed"), run
    return run


def batch_id_of(run: dict[str, Any]) -> str:
    return run["activities"][1]["targetInfo"][0]["reference"]["ids"][0]

"""Tiny Platform clients and factories for the emulator tests (real HTTP through ``requests``).

``ServiceClient`` talks to one service base path; ``FlowClient`` adds the Flow Service factories. Target
connections and flows need a real schema, dataset and mapping set (the emulator cross-checks them, as the real
services do), so ``make_schema``/``make_dataset``/``make_mapping_set`` create those over HTTP and
``FlowClient.target()``/``flow_body()`` make one schema + dataset + mapping set per client to point at.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

from .flow_service import specs

HUBSPOT = specs.HUBSPOT_SPEC_ID
DATA_LAKE = specs.DATA_LAKE_SPEC_ID
S3 = specs.S3_SPEC_ID
CRM_TO_AEP = specs.CRM_TO_AEP_FLOW_SPEC_ID
ORG = "0123456789ABCDEF01234567@AdobeOrg"
FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
DATA_PREP = "/data/foundation/conversion"
CLIENT_ID = "test-client"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL_DETAILS = "https://ns.adobe.com/xdm/context/profile-personal-details"
XED_ID = "application/vnd.adobe.xed-id+json"
XED = "application/vnd.adobe.xed+json; version=1"
XED_FULL = "application/vnd.adobe.xed-full+json; version=1"
#: HubSpot Contacts columns mapped into the standard Profile field groups (strings only, so every row lands).
CONTACT_MAPPINGS = (
    ("Properties_Firstname_Value", "person.name.firstName"),
    ("Properties_Lastname_Value", "person.name.lastName"),
    ("Properties_Email_Value", "personalEmail.address"),
)
HUBSPOT_AUTH = {
    "specName": "Basic Authentication",
    "params": {
        "clientId": "hs-client",
        "clientSecret": "hs-secret-VALUE",
        "accessToken": "hs-access-VALUE",
        "refreshToken": "hs-refresh-VALUE",
    },
}


class ServiceClient:
    """Authenticated calls to one emulated Platform service, returning raw ``requests`` responses."""

    base = ""

    def __init__(self, url: str, token: str, sandbox: str = "prod", org: str = ORG, base: str | None = None) -> None:
        self.url = url
        self.token = token
        self.sandbox = sandbox
        self.org = org
        if base is not None:
            self.base = base
        self.session = requests.Session()
        self.headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": CLIENT_ID,
            "x-gw-ims-org-id": org,
            "x-sandbox-name": sandbox,
        }

    def service(self, base: str) -> ServiceClient:
        """A client for another service base path with the same token, org, sandbox and session."""
        other = ServiceClient(self.url, self.token, self.sandbox, self.org, base=base)
        other.session = self.session
        return other

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if "json" in kwargs:
            headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith("http") else f"{self.url}{self.base}{path}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch_json(self, path: str, ops: Any, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=ops, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def encoded(resource_id: str) -> str:
    """A ``$id`` as one path segment (URL-encoded, as the Schema Registry docs recommend)."""
    return quote(resource_id, safe="")


def make_schema(
    client: ServiceClient,
    title: str | None = None,
    field_groups: Sequence[str] = (PERSON_DETAILS, PERSONAL_DETAILS),
    class_id: str = PROFILE,
) -> str:
    """POST a tenant schema (one class + field groups) to the Schema Registry; returns its ``$id``."""
    body = {
        "type": "object",
        "title": title or f"Test schema {uuid.uuid4().hex[:8]}",
        "description": "Created by the emulator tests",
        "allOf": [{"$ref": class_id}, *({"$ref": group} for group in field_groups)],
    }
    response = client.service(SR).post("/tenant/schemas", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["$id"])


def make_dataset(client: ServiceClient, schema_id: str | None = None, name: str | None = None) -> tuple[str, str]:
    """A Catalog dataset for ``schema_id`` (a new Profile schema when omitted): ``(dataset_id, schema_id)``.

    Uses the documented call, ``POST /dataSets?requestDataSource=true`` answering ``["@/dataSets/<id>"]``.
    """
    schema_id = schema_id or make_schema(client)
    body = {
        "name": name or f"Test dataset {uuid.uuid4().hex[:8]}",
        "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"},
    }
    response = client.service(CATALOG).post("/dataSets", params={"requestDataSource": "true"}, json=body)
    assert response.status_code == 201, response.text
    (ref,) = response.json()
    assert ref.startswith("@/dataSets/"), ref
    return ref.removeprefix("@/dataSets/"), schema_id


def make_mapping_set(
    client: ServiceClient, schema_id: str, mappings: Sequence[tuple[str, str]] = CONTACT_MAPPINGS
) -> str:
    """A Data Prep mapping set (current body form) from HubSpot Contacts columns into ``schema_id``; its id."""
    body = {
        "name": f"Test mapping {uuid.uuid4().hex[:8]}",
        "outputSchema": {
            "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
        },
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}
            for source, destination in mappings
        ],
    }
    response = client.service(DATA_PREP).post("/mappingSets", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


class FlowClient(ServiceClient):
    """The Flow Service client, with factories for connections, flows and their Platform prerequisites."""

    base = FS

    def __init__(self, url: str, token: str, sandbox: str = "prod", org: str = ORG) -> None:
        super().__init__(url, token, sandbox, org)
        self._dataset: tuple[str, str] | None = None
        self._mapping_sets: dict[str, str] = {}
        self._target_schemas: dict[str, str] = {}

    def patch(self, path: str, ops: Any, etag: str | None, **kwargs: Any) -> requests.Response:
        headers = {"If-Match": etag} if etag is not None else {}
        return self.request("PATCH", path, json=ops, headers=headers, **kwargs)

    def item(self, path: str) -> dict[str, Any]:
        response = self.get(path)
        assert response.status_code == 200, response.text
        return response.json()["items"][0]

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    # -- Platform prerequisites ------------------------------------------------------------------
    def dataset(self) -> tuple[str, str]:
        """``(dataset_id, schema_id)`` of this client's default target dataset (made on first use)."""
        if self._dataset is None:
            self._dataset = make_dataset(self)
        return self._dataset

    def mapping_set(self, schema_id: str | None = None) -> str:
        """A mapping set into ``schema_id`` (default: the default dataset's schema), made once per schema."""
        schema_id = schema_id or self.dataset()[1]
        if schema_id not in self._mapping_sets:
            self._mapping_sets[schema_id] = make_mapping_set(self, schema_id)
        return self._mapping_sets[schema_id]

    # -- factories -------------------------------------------------------------------------------
    def connection(self, name: str = "hubspot base", **extra: Any) -> str:
        body = {"name": name, "auth": HUBSPOT_AUTH, "connectionSpec": {"id": HUBSPOT, "version": "1.0"}, **extra}
        return self.created("/connections", body)["id"]

    def source(self, base_id: str, table: str = "Hubspot.Contacts", name: str = "hubspot source") -> str:
        body = {
            "name": name,
            "baseConnectionId": base_id,
            "data": {"format": "tabular"},
            "params": {"path": table},
            "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
        }
        return self.created("/sourceConnections", body)["id"]

    def target_body(self, name: str = "data lake target", dataset: tuple[str, str] | None = None) -> dict[str, Any]:
        """A Data Lake target connection body for ``(dataset_id, schema_id)`` (default: ``self.dataset()``)."""
        dataset_id, schema_id = dataset or self.dataset()
        return {
            "name": name,
            "data": {"schema": {"id": schema_id, "version": "application/vnd.adobe.xed-full+json;version=1"}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        }

    def target(self, name: str = "data lake target", dataset: tuple[str, str] | None = None) -> str:
        body = self.target_body(name, dataset)
        target_id = str(self.created("/targetConnections", body)["id"])
        self._target_schemas[target_id] = body["data"]["schema"]["id"]
        return target_id

    def flow_body(self, source_id: str, target_id: str, **schedule: Any) -> dict[str, Any]:
        schedule = schedule or {"startTime": int(time.time()) + 3600, "frequency": "once"}
        mapping_id = self.mapping_set(self._target_schemas.get(target_id))
        return {
            "name": "hubspot dataflow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source_id],
            "targetConnectionIds": [target_id],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At", "dateFormat": "YYYY-MM-DD"}}},
                {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}},
            ],
            "scheduleParams": schedule,
        }

    def pipeline(self, **schedule: Any) -> dict[str, str]:
        """Base, source and target connections plus a flow; returns their ids."""
        base = self.connection()
        source = self.source(base)
        target = self.target()
        flow = self.created("/flows", self.flow_body(source, target, **schedule))["id"]
        return {"base": base, "source": source, "target": target, "flow": flow}


def fetch_token(url: str, client_id: str = CLIENT_ID, secret: str = "s3cret") -> str:
    response = requests.post(
        f"{url}/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "openid"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def flow_error_code(response: requests.Response) -> str:
    """``FLOW-1413-400`` -> ``1413-400``, asserting the Flow Service error shape on the way."""
    body = response.json()
    assert body["status"] == response.status_code
    assert body["report"]["request-id"] == response.headers["x-request-id"]
    assert body["errorMessage"] == body["report"]["detailed-message"]
    return body["type"].rsplit("FLOW-", 1)[1]


def xdm_error_code(response: requests.Response) -> str:
    """``http://ns.adobe.com/aep/errors/XDM-1521-400`` -> ``XDM-1521-400``, checking the registry error shape."""
    body = response.json()
    assert body["status"] == response.status_code, body
    assert body["report"]["registryRequestId"] == response.headers["x-request-id"]
    assert body["detail"] == body["report"]["detailed-message"]
    assert isinstance(body["report"]["sub-errors"], list)
    return str(body["type"]).rsplit("/", 1)[1]

"""A tiny Flow Service client and factories for the emulator tests (real HTTP through ``requests``)."""

from __future__ import annotations

import time
from typing import Any

import requests

from airflow_provider_aep.emulator import specs

HUBSPOT = specs.HUBSPOT_SPEC_ID
DATA_LAKE = specs.DATA_LAKE_SPEC_ID
S3 = specs.S3_SPEC_ID
CRM_TO_AEP = specs.CRM_TO_AEP_FLOW_SPEC_ID
ORG = "0123456789ABCDEF01234567@AdobeOrg"
FS = "/data/foundation/flowservice"
CLIENT_ID = "test-client"
DATASET_ID = "5ed5639d798a22191b6987b2"
SCHEMA_ID = "https://ns.adobe.com/acme/schemas/8e5fd1adf94007b936d0f8ea9e270c48"
HUBSPOT_AUTH = {
    "specName": "Basic Authentication",
    "params": {
        "clientId": "hs-client",
        "clientSecret": "hs-secret-VALUE",
        "accessToken": "hs-access-VALUE",
        "refreshToken": "hs-refresh-VALUE",
    },
}


class FlowClient:
    """Authenticated calls to the emulator's Flow Service, returning raw ``requests`` responses."""

    def __init__(self, url: str, token: str, sandbox: str = "prod", org: str = ORG) -> None:
        self.url = url
        self.session = requests.Session()
        self.headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": CLIENT_ID,
            "x-gw-ims-org-id": org,
            "x-sandbox-name": sandbox,
        }

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if "json" in kwargs:
            headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith("http") else f"{self.url}{FS}{path}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, ops: Any, etag: str | None, **kwargs: Any) -> requests.Response:
        headers = {"If-Match": etag} if etag is not None else {}
        return self.request("PATCH", path, json=ops, headers=headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def item(self, path: str) -> dict[str, Any]:
        response = self.get(path)
        assert response.status_code == 200, response.text
        return response.json()["items"][0]

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

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

    def target(self, name: str = "data lake target") -> str:
        body = {
            "name": name,
            "data": {"schema": {"id": SCHEMA_ID, "version": "application/vnd.adobe.xed-full+json;version=1"}},
            "params": {"dataSetId": DATASET_ID},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        }
        return self.created("/targetConnections", body)["id"]

    def flow_body(self, source_id: str, target_id: str, **schedule: Any) -> dict[str, Any]:
        schedule = schedule or {"startTime": int(time.time()) + 3600, "frequency": "once"}
        return {
            "name": "hubspot dataflow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source_id],
            "targetConnectionIds": [target_id],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At", "dateFormat": "YYYY-MM-DD"}}},
                {"name": "Mapping", "params": {"mappingId": "500a9b747fcf4908a21917d49bd61780", "mappingVersion": 0}},
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

"""Gateway checks every Flow Service call goes through, request ids and sandbox isolation."""

from __future__ import annotations

import pytest
import requests
from aep_emulator.testing import FS, flow_error_code


def call(emu, headers, method="GET", path="/connections", **kwargs):
    return requests.request(method, f"{emu.url}{FS}{path}", headers=headers, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("drop", "status", "expected"),
    [
        ("Authorization", 403, {"error_code": "403010", "message": "Oauth token is missing."}),
        ("x-api-key", 403, {"error_code": "403000", "message": "Api Key is required"}),
        ("x-gw-ims-org-id", 400, {"error_code": "400003", "message": "Missing header"}),
    ],
)
def test_missing_gateway_headers(emu, fs, drop, status, expected):
    headers = {k: v for k, v in fs.headers.items() if k != drop}
    response = call(emu, headers)
    assert response.status_code == status
    assert response.json() == expected
    assert response.headers["x-request-id"]


def test_unknown_token(emu, fs):
    response = call(emu, {**fs.headers, "Authorization": "Bearer not-a-token"})
    assert (response.status_code, response.json()["error_code"]) == (401, "401013")
    response = call(emu, {**fs.headers, "Authorization": fs.headers["Authorization"].replace("Bearer", "Basic")})
    assert response.status_code == 401


def test_org_must_look_like_an_ims_org(emu, fs):
    response = call(emu, {**fs.headers, "x-gw-ims-org-id": "not-an-org"})
    assert (response.status_code, response.json()["error_code"]) == (403, "403025")


def test_missing_sandbox_header(emu, fs):
    headers = {k: v for k, v in fs.headers.items() if k != "x-sandbox-name"}
    response = call(emu, headers)
    assert response.status_code == 400
    assert flow_error_code(response) == "2105-400"


@pytest.mark.parametrize("sandbox", ["Prod", "dev sandbox", "DEV"])
def test_sandbox_name_must_be_lowercase(emu, fs, sandbox):
    response = call(emu, {**fs.headers, "x-sandbox-name": sandbox})
    assert response.status_code == 404
    assert flow_error_code(response) == "2100-404"
    assert sandbox in response.json()["report"]["detailed-message"]


def test_prod_and_dev_exist_by_default_and_other_sandboxes_are_not_found(emu, fs):
    assert emu.control.config()["sandboxes"] == ["prod", "dev"]
    assert call(emu, {**fs.headers, "x-sandbox-name": "dev"}).status_code == 200
    response = call(emu, {**fs.headers, "x-sandbox-name": "nosuch"})
    assert (response.status_code, flow_error_code(response)) == (404, "2100-404")
    assert "'nosuch' could not be found" in response.json()["report"]["detailed-message"]
    emu.control.configure(sandboxes=None)  # any well-formed name
    assert call(emu, {**fs.headers, "x-sandbox-name": "nosuch"}).status_code == 200


def test_configured_sandboxes(emu, fs):
    emu.control.configure(sandboxes=["prod", "dev"])
    assert call(emu, {**fs.headers, "x-sandbox-name": "dev"}).status_code == 200
    assert call(emu, {**fs.headers, "x-sandbox-name": "stage"}).status_code == 404


def test_sandbox_id_header_is_refused(emu, fs):
    response = call(emu, {**fs.headers, "x-sandbox-id": "abc"})
    assert flow_error_code(response) == "2110-400"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_payload_needs_json_content_type(emu, fs, content_type):
    headers = dict(fs.headers)
    if content_type:
        headers["Content-Type"] = content_type
    response = call(emu, headers, "POST", data=b'{"name": "x"}')
    assert response.status_code == 400
    assert response.json() == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


def test_json_content_type_with_charset_is_fine(emu, fs):
    headers = {**fs.headers, "Content-Type": "application/json; charset=utf-8"}
    assert call(emu, headers, "POST", data=b'{"name": "x"}').status_code == 400  # schema error, not content type
    response = call(emu, headers, "POST", data=b'{"name": "x"}')
    assert response.json()["title"] == "Invalid request"


def test_request_id_is_generated_or_echoed(emu, fs):
    generated = fs.get("/connections/missing")
    assert generated.json()["report"]["request-id"] == generated.headers["x-request-id"]
    echoed = fs.get("/connections/missing", headers={"x-request-id": "my-request-1"})
    assert echoed.headers["x-request-id"] == "my-request-1"
    assert echoed.json()["report"]["request-id"] == "my-request-1"
    assert fs.get("/connections").headers["x-request-id"]


def test_unknown_endpoint_and_method(emu, fs):
    missing = fs.get("/nothingHere")
    assert (missing.status_code, flow_error_code(missing)) == (404, "1101-404")
    wrong_method = fs.request("PUT", "/connections", json={"a": 1})
    assert wrong_method.status_code == 405
    outside = requests.get(f"{emu.url}/data/foundation/nothing/here", timeout=10)
    assert outside.status_code == 404


def test_sandboxes_and_orgs_are_isolated(flow_client):
    prod, dev = flow_client("prod"), flow_client("dev")
    other_org = flow_client("prod", org="FEDCBA9876543210FEDCBA98@AdobeOrg")
    conn_id = prod.connection()
    assert prod.get(f"/connections/{conn_id}").status_code == 200
    assert dev.get(f"/connections/{conn_id}").status_code == 404
    assert other_org.get(f"/connections/{conn_id}").status_code == 404
    assert dev.get("/connections").json()["items"] == []
    item = prod.item(f"/connections/{conn_id}")
    assert item["sandboxName"] == "prod"
    assert item["imsOrgId"].endswith("@AdobeOrg")
    assert item["sandboxId"] != flow_client("dev").item(f"/connections/{dev.connection()}")["sandboxId"]

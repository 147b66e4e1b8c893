import json

import pytest

from airflow_provider_aep.client.errors import (
    AEPAuthError,
    AEPBadRequestError,
    AEPNotFoundError,
    AEPPreconditionFailedError,
    AEPRateLimitError,
    AEPServerError,
    Redactor,
    error_from_response,
)


def parse(status, body, headers=None, secrets=()):
    text = body if isinstance(body, str) else json.dumps(body)
    return error_from_response(
        status=status, headers=headers or {}, text=text, method="GET", url="https://x/y", redact=Redactor(secrets)
    )


def test_gateway_shape():
    err = parse(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    assert isinstance(err, AEPAuthError)
    assert (err.status, err.code, err.message) == (401, "401013", "Oauth token is not valid")


def test_flow_service_shape_keeps_request_id():
    body = {
        "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
        "title": "Resource not found",
        "status": 404,
        "report": {"detailed-message": "The requested flows resource abc is not found.", "request-id": "req-1"},
    }
    err = parse(404, body)
    assert isinstance(err, AEPNotFoundError)
    assert err.code == "FLOW-1439-404"
    assert err.message.startswith("The requested flows resource abc")
    assert err.request_id == "req-1"
    assert "req-1" in str(err)


def test_platform_detail_and_legacy_error_message_shapes():
    err = parse(400, {"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError", "detail": "bad ct"})
    assert isinstance(err, AEPBadRequestError) and err.message == "bad ct"
    err = parse(412, {"errorMessage": "Supplied version=[1] does not match"})
    assert isinstance(err, AEPPreconditionFailedError) and "does not match" in err.message


def test_html_body_from_a_proxy():
    err = parse(502, "<html><body>Bad Gateway</body></html>", headers={"x-request-id": "gw-9"})
    assert isinstance(err, AEPServerError)
    assert "non-JSON" in err.message and err.request_id == "gw-9"


def test_rate_limit_class():
    assert isinstance(parse(429, {"error_code": "429050", "message": "Too many requests"}), AEPRateLimitError)


def test_echoed_secret_is_redacted():
    body = {"title": "Bad", "detail": 'Invalid auth params {"clientSecret": "hs-secret-XYZ12"}'}
    err = parse(400, body, secrets=["hs-secret-XYZ12"])
    assert "hs-secret-XYZ12" not in str(err)
    assert "***" in str(err)


def test_long_messages_are_truncated():
    err = parse(400, {"detail": "x" * 5000})
    assert len(err.message) < 600


@pytest.mark.parametrize("secret", ["", "abcd"])
def test_short_values_are_not_redacted(secret):
    assert Redactor([secret])("abcd efgh") == "abcd efgh"


def test_schema_registry_shape():
    body = {
        "type": "http://ns.adobe.com/aep/errors/XDM-1521-400",
        "title": "Title not unique",
        "status": 400,
        "report": {
            "registryRequestId": "a15996b5-0000",
            "timestamp": "06-01-2021 04:11:06",
            "detailed-message": "Object titles must be unique. An object https://ns.adobe.com/t/classes/11 exists",
            "sub-errors": [],
        },
        "detail": "Object titles must be unique.",
    }
    err = parse(400, body, headers={"x-request-id": "gateway-id"})
    assert isinstance(err, AEPBadRequestError)
    assert (err.code, err.request_id, err.title) == ("XDM-1521-400", "a15996b5-0000", "Title not unique")
    assert err.message.endswith("An object https://ns.adobe.com/t/classes/11 exists")
    assert err.detail == "Object titles must be unique."


def test_schema_registry_sub_errors_in_both_documented_forms():
    body = {
        "type": "http://ns.adobe.com/aep/errors/XDM-4000-400",
        "title": "JSON validation error",
        "report": {
            "detailed-message": "The request body is invalid",
            "sub-errors": [
                {"path": "$", "type": "required", "arguments": ["xdm:property"]},
                {"type": "http://ns.adobe.com/aep/errors/XDM-1001-400", "detail": "Unknown field"},
            ]
            + [{"message": f"m{n}"} for n in range(6)],
        },
    }
    err = parse(400, body)
    assert err.sub_errors[:2] == ("$: required xdm:property", "Unknown field")
    assert len(err.sub_errors) == 5
    assert "(sub-errors: $: required xdm:property; Unknown field; m0; m1; m2; 3 more)" in err.message


def test_old_placeholder_shape_and_the_not_found_variant():
    err = parse(404, {"type": "/placeholder/type/uri", "status": 404, "title": "NotFoundError", "detail": "gone"})
    assert isinstance(err, AEPNotFoundError) and err.code is None and err.message == "gone"


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            [{"code": "400", "message": "bad name"}, {"code": "400", "message": "bad schema"}],
            "bad name; bad schema",
            "400",
        ),
        ({"title": "Bad Request", "status": 400, "detail": "limit must be > 0"}, "limit must be > 0", None),
        ({"message": "Invalid mapping"}, "Invalid mapping", None),
        ({"errors": [{"code": "CAT-1", "message": "nested"}]}, "nested", "CAT-1"),
    ],
)
def test_catalog_and_data_prep_shapes(body, message, code):
    err = parse(400, body)
    assert (err.message, err.code) == (message, code)


@pytest.mark.parametrize(
    ("body", "headers", "request_id"),
    [
        ({"report": {"registryRequestId": "reg"}, "title": "t"}, {"x-request-id": "hdr"}, "reg"),
        ({"report": {"request-id": "flow"}, "title": "t"}, {}, "flow"),
        ({"title": "t"}, {"X-Request-Id": "hdr"}, "hdr"),
    ],
)
def test_request_id_sources(body, headers, request_id):
    assert parse(500, body, headers=headers).request_id == request_id


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://platform.adobe.io/data/foundation/flowservice/flows", "flowservice"),
        ("https://platform.adobe.io/data/foundation/schemaregistry/tenant/schemas", "schemaregistry"),
        ("https://platform.adobe.io/data/foundation/catalog/dataSets?x=1", "catalog"),
        ("https://platform.adobe.io/data/foundation/conversion/mappingSets", "conversion"),
        ("https://ims-na1.adobelogin.com/ims/token/v3", "ims"),
        ("/flowSpecs", None),
    ],
)
def test_service_comes_from_the_base_path(url, service):
    err = error_from_response(status=500, headers={}, text="", method="GET", url=url, redact=Redactor())
    assert err.service == service

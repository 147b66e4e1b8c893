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

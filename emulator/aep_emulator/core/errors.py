"""Error responses in the three shapes real clients meet: gateway, Flow Service (RFC-7807-like) and IMS.

Handlers raise :class:`ApiError`; the app turns it into a response and stamps the request id into
``report.request-id`` (Flow Service errors) so it matches the ``x-request-id`` header.
"""

from __future__ import annotations

from typing import Any

FLOW_ERROR_TYPE = "https://ns.adobe.com/aep/errors/FLOW-{code}"

#: Titles from Adobe's Flow Service error catalog, keyed by code (``<number>-<status>``).
_TITLES = {
    "1101-404": "Resource not found",
    "1102-500": "Internal Error",
    "1103-503": "Service Unavailable",
    "1104-504": "Gateway Timeout",
    "1403-400": "Header is missing",
    "1404-412": "Version not matching",
    "1439-404": "Resource not found",
    "2100-404": "Sandbox not found",
    "2105-400": "Header is missing",
}

#: Default detailed messages for codes whose message does not depend on the request.
_MESSAGES = {
    "1102-500": "An internal error has occurred. Please try again. If the problem persists, please "
    "contact customer support.",
    "1103-503": "The service is temporarily unavailable. Please try again. If the problem persists, "
    "please contact customer support.",
    "1104-504": "A gateway timeout has occurred. Please try again. If the problem persists, please "
    "contact customer support.",
    "1401-400": "The limit and count parameters cannot be given together in the same request. Please "
    "provide either only the limit or the count parameter and try again.",
    "1403-400": "The header 'If-Match' is missing in the request. Please provide the header and try again.",
    "1405-400": "The request body cannot be null or empty. Please provide a request body and try again.",
    "2105-400": "The header x-sandbox-name is missing in the request. Please add the header in the "
    "request and try again.",
}


class ApiError(Exception):
    """An HTTP error response: status, JSON body and extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def flow_error_body(code: str, message: str | None = None, *, title: str | None = None, **report: Any) -> dict:
    """The Flow Service error document for ``code`` such as ``"1413-400"``."""
    status = int(code.rsplit("-", 1)[1])
    detail = message or _MESSAGES.get(code) or title or "Invalid request"
    full_report: dict[str, Any] = {"detailed-message": detail, "request-id": None}
    full_report.update(report)
    return {
        "type": FLOW_ERROR_TYPE.format(code=code),
        "title": title or _TITLES.get(code) or ("Invalid request" if status == 400 else "Error"),
        "status": status,
        "report": full_report,
        "errorMessage": detail,
        "errorDetails": detail,
    }


def flow_error(code: str, message: str | None = None, *, title: str | None = None, **report: Any) -> ApiError:
    """Raiseable Flow Service error; the status comes from the code suffix."""
    body = flow_error_body(code, message, title=title, **report)
    return ApiError(body["status"], body)


def not_found(resource_type: str, resource_id: str) -> ApiError:
    """``FLOW-1439-404`` as shown in Adobe's docs for missing flows, used for every resource type."""
    message = (
        f"The requested {resource_type} resource {resource_id} is not found. "
        "Verify the resource ID before trying again."
    )
    return flow_error("1439-404", message, id=resource_id, type=resource_type)


def gateway_error(status: int, error_code: str, message: str) -> ApiError:
    """Adobe I/O gateway errors (before the request reaches Flow Service)."""
    return ApiError(status, {"error_code": error_code, "message": message})


def ims_error(status: int, error: str, description: str) -> ApiError:
    """IMS OAuth error document."""
    return ApiError(status, {"error": error, "error_description": description})


def content_type_error() -> ApiError:
    """The platform's generic error for a payload request without a JSON content type."""
    return ApiError(
        400,
        {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": "A valid content-type must be specified",
        },
    )


def attach_request_id(body: Any, request_id: str) -> Any:
    """Stamp the request id into an error body: ``report.request-id`` (Flow Service) or
    ``report.registryRequestId`` (Schema Registry); other shapes are returned unchanged."""
    if isinstance(body, dict) and isinstance(body.get("report"), dict):
        key = "registryRequestId" if "registryRequestId" in body["report"] else "request-id"
        body["report"][key] = request_id
    return body


XDM_ERROR_TYPE = "http://ns.adobe.com/aep/errors/{code}"


def xdm_error(code: str, title: str, detail: str, *, sub_errors: list[dict[str, Any]] | None = None) -> ApiError:
    """A Schema Registry error (``XDM-1521-400`` style, notes §1.11); the status is the code's suffix."""
    status = int(code.rsplit("-", 1)[1])
    body = {
        "type": XDM_ERROR_TYPE.format(code=code),
        "title": title,
        "status": status,
        "report": {
            "registryRequestId": None,
            "timestamp": None,
            "detailed-message": detail,
            "sub-errors": list(sub_errors or []),
        },
        "detail": detail,
    }
    return ApiError(status, body)


def platform_error(status: int, title: str, detail: str, **extra: Any) -> ApiError:
    """The generic Platform error document (Catalog and Data Prep document no bodies of their own)."""
    return ApiError(
        status, {"type": "/placeholder/type/uri", "status": status, "title": title, "detail": detail, **extra}
    )


def platform_bad_request(detail: str, **extra: Any) -> ApiError:
    return platform_error(400, "BadRequestError", detail, **extra)


def platform_method_not_allowed(method: str, path: str) -> ApiError:
    """405 in the generic shape: a service's ``urls.method_not_allowed`` where it documents no body of its own."""
    return platform_error(405, "MethodNotAllowedError", f"Method {method} is not supported on {path}.")


def platform_unknown_endpoint(path: str) -> ApiError:
    """404 in the generic shape: a service's ``urls.unknown_endpoint`` where it documents no body of its own."""
    return platform_error(404, "NotFoundError", f"No endpoint {path}.")


def default_fault_body(status: int, path: str) -> Any:
    """What an injected fault answers when the rule gives no body: the shape the real hop would use."""
    if path.startswith("/ims/"):
        if status >= 500:
            return {"error": "server_error", "error_description": "The server encountered an internal error"}
        if status == 429:
            return {"error": "too_many_requests", "error_description": "Too many requests"}
        return {"error": "invalid_request", "error_description": f"Injected error {status}"}
    if status == 429:
        return {"error_code": "429050", "message": "Too many requests"}
    if status == 401:
        return {"error_code": "401013", "message": "Oauth token is not valid"}
    if status == 403:
        return {"error_code": "403003", "message": "Api Key is invalid"}
    code = {500: "1102-500", 503: "1103-503", 504: "1104-504"}.get(status)
    if code:
        return flow_error_body(code)
    if status >= 500:
        return flow_error_body(f"1102-{status}", _MESSAGES["1102-500"], title="Internal Error")
    return flow_error_body(f"1100-{status}", f"Injected error {status}")

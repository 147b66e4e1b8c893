"""The Adobe I/O gateway checks every Platform call goes through before Flow Service routes it.

Order: token present, token valid, API key present, API key matches the token's client, org header,
sandbox header, sandbox known, and a JSON content type when a payload is sent.
"""

from __future__ import annotations

import re

from .context import Ctx
from .errors import content_type_error, flow_error, gateway_error
from .messages import Request
from .state import EmulatorState

SANDBOX_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PAYLOAD_METHODS = ("POST", "PUT", "PATCH")


def authenticate(state: EmulatorState, req: Request, request_id: str) -> Ctx:
    """Resolve the caller and sandbox or raise the error the gateway/service would answer."""
    authorization = req.headers.get("authorization", "").strip()
    if not authorization:
        raise gateway_error(403, "403010", "Oauth token is missing.")
    scheme, _, value = authorization.partition(" ")
    token = state.valid_token(value.strip()) if scheme.lower() == "bearer" and value.strip() else None
    if token is None:
        raise gateway_error(401, "401013", "Oauth token is not valid")
    api_key = req.headers.get("x-api-key", "").strip()
    if not api_key:
        raise gateway_error(403, "403000", "Api Key is required")
    if api_key != token.client_id:
        raise gateway_error(403, "403003", "Api Key is invalid")
    org = req.headers.get("x-gw-ims-org-id", "").strip()
    if not org:
        raise gateway_error(400, "400003", "Missing header")
    if not org.endswith("@AdobeOrg"):
        raise gateway_error(403, "403025", "Profile is not valid")
    if req.headers.get("x-sandbox-id"):
        raise flow_error(
            "2110-400",
            "The header x-sandbox-id is not allowed with the user token. Please update the header and try again.",
            title="Headers not allowed",
        )
    sandbox = req.headers.get("x-sandbox-name", "").strip()
    if not sandbox:
        raise flow_error("2105-400")
    allowed = state.config.sandboxes
    if not SANDBOX_RE.fullmatch(sandbox) or (allowed is not None and sandbox not in allowed):
        raise flow_error(
            "2100-404",
            f"The sandbox with the name '{sandbox}' could not be found. Please ensure that the sandbox name is "
            "correct and try again.",
        )
    if req.method in PAYLOAD_METHODS and req.body.strip() and not req.is_json:
        raise content_type_error()
    return Ctx(state=state, store=state.store(org, sandbox), client_id=token.client_id, request_id=request_id)

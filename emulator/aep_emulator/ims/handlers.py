"""IMS ``POST /ims/token/v3`` for OAuth Server-to-Server (client_credentials) credentials.

Fields may come in the url-encoded body or as query parameters, as IMS documents; the body wins.
"""

from __future__ import annotations

import hmac

from ..core.errors import ims_error
from ..core.messages import Request, Response
from ..core.state import EmulatorState


def token(req: Request, state: EmulatorState) -> Response:
    """Issue an opaque bearer token bound to ``client_id``; ``expires_in`` is in seconds."""
    if req.method != "POST":
        raise ims_error(405, "invalid_request", f"Method {req.method} is not allowed")
    fields = {name: values[-1] for name, values in req.query.items()}
    fields.update(req.form())
    grant_type = fields.get("grant_type", "").strip()
    if not grant_type:
        raise ims_error(400, "invalid_request", "missing grant_type parameter")
    if grant_type != "client_credentials":
        raise ims_error(400, "unsupported_grant_type", f"unsupported grant_type {grant_type}")
    client_id = fields.get("client_id", "").strip()
    if not client_id:
        raise ims_error(400, "invalid_request", "missing client_id parameter")
    secret = fields.get("client_secret", "")
    if not secret.strip():
        raise ims_error(400, "invalid_request", "missing client_secret parameter")
    scope = fields.get("scope", "").strip()
    if not scope or not all(part.strip() for part in scope.split(",")):
        raise ims_error(400, "invalid_scope", "missing or malformed scope parameter")
    allowed = state.config.credentials
    if allowed is not None:
        if client_id not in allowed:
            raise ims_error(401, "invalid_client", "invalid client_id parameter")
        if not hmac.compare_digest(allowed[client_id].encode(), secret.encode()):
            raise ims_error(401, "invalid_client", "invalid client_secret parameter")
    issued = state.issue_token(client_id, scope)
    return Response(
        200,
        {"access_token": issued.value, "token_type": "bearer", "expires_in": state.config.token_lifetime},
        {"Cache-Control": "no-store"},
    )

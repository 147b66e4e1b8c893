"""IMS's URL table: the token endpoint, outside the Adobe I/O gateway (it is what issues the gateway's tokens)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..core.routing import route
from .handlers import token

TOKEN_PATH = "/ims/token/v3"
_ANY = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def routes() -> list[BaseRoute]:
    # Every method reaches the handler, which answers IMS's own error for anything but POST.
    return [route(TOKEN_PATH, gateway=False, **dict.fromkeys(_ANY, token))]

"""Who may use the control plane (``/__emulator/...``): loopback callers, others only with a token.

The control plane resets state, injects faults, issues tokens and shows every request the emulator received
(``?secrets=true`` even unmasked), so it answers only callers whose address is loopback, unless the server
was started with ``--control-from-anywhere --control-token TOKEN``; other callers must then send
``x-emulator-token: TOKEN``. The check reads the ASGI ``client`` address (uvicorn runs without
``proxy_headers``, so ``X-Forwarded-For`` cannot fake it).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .messages import Response

TOKEN_HEADER = "x-emulator-token"
TOKEN_ENV = "AEP_EMULATOR_CONTROL_TOKEN"
CONTROL_PREFIX = "/__emulator"


def is_loopback_address(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8, ``::1`` and IPv4-mapped loopback (``::ffff:127.0.0.1``)."""
    if not host:
        return False
    host = host.strip().strip("[]").split("%", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def host_warning(host: str) -> str | None:
    """What ``aep-emulator --host HOST`` prints on stderr when HOST is not loopback (``None`` otherwise)."""
    if is_loopback_address(host):
        return None
    shown = host or "(all interfaces)"
    return (
        f"aep-emulator: WARNING: --host {shown} is not a loopback address. Other machines can reach the emulated "
        "IMS and Platform APIs (no real authentication: any client id and secret get a token unless "
        "--client-id/--client-secret are given). Bind 127.0.0.1 unless you need this."
    )


@dataclass(frozen=True)
class ControlAccess:
    """The control plane's access rule; ``from_anywhere`` needs a ``token``."""

    from_anywhere: bool = False
    token: str | None = None

    def __post_init__(self) -> None:
        if self.from_anywhere and not self.token:
            raise ValueError("control_from_anywhere needs a control token (clients send it as x-emulator-token)")

    def refusal(self, client: Sequence[Any] | None, headers: Mapping[str, str]) -> Response | None:
        """``None`` when the caller may use the control plane, else the 403 to answer."""
        host = str(client[0]) if client else None
        if is_loopback_address(host):
            return None
        caller = host or "an unknown address"
        if not self.from_anywhere or not self.token:
            return Response(
                403,
                {
                    "error": f"The AEP emulator control plane ({CONTROL_PREFIX}/...) only answers loopback callers, "
                    f"not {caller}. To use it from another host, start the emulator with --control-from-anywhere "
                    f"--control-token TOKEN and send the header '{TOKEN_HEADER}: TOKEN'."
                },
            )
        sent = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            problem = "a wrong" if sent else "no"
            return Response(
                403,
                {
                    "error": f"The AEP emulator control plane ({CONTROL_PREFIX}/...) answers {caller} only with the "
                    f"'{TOKEN_HEADER}' header given to --control-token; this request sent {problem} token."
                },
            )
        return None

"""The access tokens IMS issued, each bound to the client id that asked for it: what the gateway checks every
Platform call against and the control plane issues, expires and masks (``state.tokens``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .clock import Clock


@dataclass
class Token:
    """An issued IMS access token, bound to the client id that requested it."""

    value: str
    client_id: str
    scope: str
    expires_at: float
    #: 1 for the first token issued since the last reset, 2 for the next... (the journal shows it, not the value).
    serial: int = 0


class TokenStore:
    """Tokens by value; they expire on the emulator clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tokens: dict[str, Token] = {}
        self.issued = 0

    def issue(self, client_id: str, scope: str, lifetime: float) -> Token:
        self.issued += 1
        token = Token(secrets.token_urlsafe(48), client_id, scope, self.clock.now() + lifetime, self.issued)
        self.tokens[token.value] = token
        return token

    def valid(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token

    def expire_all(self) -> int:
        for token in self.tokens.values():
            token.expires_at = float("-inf")
        return len(self.tokens)

    def serials(self) -> dict[str, int]:
        """Token value -> serial (what the masked journal shows instead of the value)."""
        return {value: token.serial for value, token in self.tokens.items()}

    def clear(self) -> None:
        self.tokens.clear()
        self.issued = 0

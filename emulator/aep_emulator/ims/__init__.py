"""IMS (``POST /ims/token/v3``): access tokens for OAuth Server-to-Server credentials (kept in
:mod:`aep_emulator.core.tokens`, which the gateway checks every Platform call against)."""

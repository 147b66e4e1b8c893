"""IMS (``POST /ims/token/v3``): access tokens for OAuth Server-to-Server credentials."""

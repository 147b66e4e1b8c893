"""Objects that hold secrets do not show them in their repr (a log of the object must leak nothing)."""

from __future__ import annotations

from airflow_provider_aep.client.auth import AccessToken
from airflow_provider_aep.client.config import AEPSettings


def test_access_token_repr_hides_the_token():
    token = AccessToken(value="eyJhbGciOi-SECRET-token-value", expires_at=123.0)
    assert "SECRET" not in repr(token) and "SECRET" not in str(token)
    assert "expires_at=123.0" in repr(token)


def test_settings_repr_hides_the_client_secret():
    settings = AEPSettings(client_id="id", client_secret="p8e-SECRET-value", org_id="ABC@AdobeOrg")
    assert "SECRET" not in repr(settings)

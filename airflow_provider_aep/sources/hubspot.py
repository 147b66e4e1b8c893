"""HubSpot, the first source: Adobe's HubSpot tutorial, connection spec ``cc6a4487-...``.

Docs: help/sources/tutorials/api/create/marketing-automation/hubspot.md (base connection, "Basic
Authentication" with the app's client id/secret and OAuth tokens) and
help/sources/tutorials/api/collect/marketing-automation.md (``params.path`` of the source connection).
Where each value comes from: HubSpot developer account > Apps > your app > Auth tab (Client ID, Client
secret); the tokens come from the app's OAuth authorization (the authorization code exchanged at
``POST https://api.hubapi.com/oauth/v1/token``). Airflow never calls HubSpot; it hands these to AEP.
"""

from __future__ import annotations

from airflow_provider_aep.sources import AuthParam, SourceKind, register

HUBSPOT_CONNECTION_SPEC_ID = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"

HUBSPOT = register(
    SourceKind(
        name="hubspot",
        title="HubSpot",
        connection_spec_id=HUBSPOT_CONNECTION_SPEC_ID,
        auth_spec_name="Basic Authentication",
        conn_type="hubspot",
        default_conn_id="hubspot_default",
        docs="help/sources/tutorials/api/create/marketing-automation/hubspot.md",
        table_param="path",
        delta_column="Updated_At",
        hook_class="airflow_provider_aep.hooks.hubspot.HubSpotHook",
        placeholders={
            "login": "HubSpot developer account > Apps > your app > Auth > Client ID",
            "password": "HubSpot developer account > Apps > your app > Auth > Client secret",
        },
        auth_params=(
            AuthParam("clientId", "login", "Client ID", "The HubSpot app's client id."),
            AuthParam("clientSecret", "password", "Client secret", "The HubSpot app's client secret.", secret=True),
            AuthParam(
                "accessToken",
                "access_token",
                "Access token",
                "Required. 'access_token' returned by HubSpot's OAuth token endpoint "
                "(POST https://api.hubapi.com/oauth/v1/token) when the app was authorized for your portal.",
                secret=True,
            ),
            AuthParam(
                "refreshToken",
                "refresh_token",
                "Refresh token",
                "Required. 'refresh_token' from the same OAuth token response; AEP uses it to renew the "
                "access token, so the connection keeps working after the access token expires.",
                secret=True,
            ),
        ),
    )
)

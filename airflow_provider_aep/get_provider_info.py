"""Provider metadata read by Airflow's ProvidersManager through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ builds the connection form in the UI from ``connection-types[].conn-fields`` and
``ui-field-behaviour`` declared here, without importing the hooks, so this module is the single source of
truth for both forms; the hooks derive their legacy ``get_ui_field_behaviour`` /
``get_connection_form_widgets`` methods from the same dictionaries. Keep this module free of heavy imports:
it is loaded by every ``airflow`` command.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_aep.client.config import (
    DEFAULT_IMS_URL,
    DEFAULT_PLATFORM_URL,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
)
from airflow_provider_aep.version import __version__

PACKAGE_NAME = "airflow-provider-aep"
INTEGRATION = "Adobe Experience Platform"

AEP_CONN_TYPE = "adobe_experience_platform"
HUBSPOT_CONN_TYPE = "hubspot"


def _string(label: str, description: str, *, default: str | None = None, secret: bool = False) -> dict:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


def _number(label: str, description: str, *, default: float, minimum: float) -> dict:
    return {
        "label": label,
        "description": description,
        "schema": {"type": ["number", "null"], "default": default, "minimum": minimum},
    }


AEP_CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": AEP_CONN_TYPE,
    "hook-class-name": "airflow_provider_aep.hooks.flow_service.AEPFlowServiceHook",
    "hook-name": "Adobe Experience Platform",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "Platform URL",
            "login": "Client ID (API key)",
            "password": "Client secret",
        },
        "placeholders": {
            "host": DEFAULT_PLATFORM_URL,
            "login": "Adobe Developer Console > project > OAuth Server-to-Server > Client ID",
            "password": "Adobe Developer Console > OAuth Server-to-Server > Retrieve client secret",
            "description": "AEP production sandbox, ingestion service account",
        },
    },
    "conn-fields": {
        "org_id": _string(
            "IMS Org ID",
            "Required. Ends with @AdobeOrg; shown as 'Organization ID' on the Developer Console credential page.",
        ),
        "sandbox_name": _string(
            "Sandbox name",
            "Lowercase sandbox name from AEP > Sandboxes (sent as x-sandbox-name).",
            default=DEFAULT_SANDBOX,
        ),
        "scopes": _string(
            "Scopes",
            "Comma-separated scopes copied from the OAuth Server-to-Server credential page.",
            default=DEFAULT_SCOPES,
        ),
        "ims_url": _string(
            "IMS URL",
            "Adobe IMS token host. Keep the default unless Adobe support told you otherwise.",
            default=DEFAULT_IMS_URL,
        ),
        "connect_timeout": _number(
            "Connect timeout (s)", "Seconds to wait for a TCP/TLS connection.", default=10, minimum=0.1
        ),
        "read_timeout": _number("Read timeout (s)", "Seconds to wait for an AEP response.", default=60, minimum=0.1),
    },
}

HUBSPOT_CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": HUBSPOT_CONN_TYPE,
    "hook-class-name": "airflow_provider_aep.hooks.hubspot.HubSpotHook",
    "hook-name": "HubSpot (for AEP sources)",
    "ui-field-behaviour": {
        "hidden-fields": ["host", "schema", "port"],
        "relabeling": {"login": "HubSpot app client ID", "password": "HubSpot app client secret"},
        "placeholders": {
            "login": "HubSpot developer account > Apps > your app > Auth > Client ID",
            "password": "HubSpot developer account > Apps > your app > Auth > Client secret",
        },
    },
    "conn-fields": {
        "access_token": _string(
            "Access token",
            "OAuth access token from the app's first authorization (HubSpot /oauth/v1/token).",
            secret=True,
        ),
        "refresh_token": _string(
            "Refresh token",
            "OAuth refresh token from the same authorization; AEP uses it to renew the access token.",
            secret=True,
        ),
    },
}

EXTRA_LINKS = [
    "airflow_provider_aep.links.AEPBaseConnectionLink",
    "airflow_provider_aep.links.AEPDataflowLink",
    "airflow_provider_aep.links.AEPFlowRunLink",
]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description that Airflow validates against its provider-info schema."""
    return {
        "package-name": PACKAGE_NAME,
        "name": INTEGRATION,
        "description": "Adobe Experience Platform Flow Service: sources, dataflows and runs (HubSpot first).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://experienceleague.adobe.com/docs/experience-platform/sources/home.html",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.hooks.flow_service",
                    "airflow_provider_aep.hooks.hubspot",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.operators.connections",
                    "airflow_provider_aep.operators.explore",
                    "airflow_provider_aep.operators.source_connections",
                    "airflow_provider_aep.operators.target_connections",
                    "airflow_provider_aep.operators.flows",
                    "airflow_provider_aep.operators.runs",
                ],
            }
        ],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_aep.sensors.runs"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_aep.triggers.runs"]}],
        "connection-types": [AEP_CONNECTION_TYPE, HUBSPOT_CONNECTION_TYPE],
        "extra-links": EXTRA_LINKS,
    }

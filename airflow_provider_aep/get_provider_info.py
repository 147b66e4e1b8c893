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
from airflow_provider_aep.forms import number_field, string_field
from airflow_provider_aep.sources import source_kind, sources
from airflow_provider_aep.version import __version__

PACKAGE_NAME = "airflow-provider-aep"
INTEGRATION = "Adobe Experience Platform"

AEP_CONN_TYPE = "adobe_experience_platform"
ORG_ID_PATTERN = "^[A-Za-z0-9]+@AdobeOrg$"  # same rule as client.config.AEPSettings
HUBSPOT_CONN_TYPE = "hubspot"
#: Appended to the label of a required standard field (Airflow cannot mark those required itself).
REQUIRED_MARK = " *"


_string = string_field
_number = number_field


# Where each value comes from: Adobe Developer Console (https://developer.adobe.com/console) > your project >
# the "OAuth Server-to-Server" credential page lists Client ID, Client secret ("Retrieve client secret"),
# Organization ID and Scopes. The project must include the Experience Platform API.
AEP_CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": AEP_CONN_TYPE,
    "hook-class-name": "airflow_provider_aep.hooks.flow_service.AEPFlowServiceHook",
    "hook-name": "Adobe Experience Platform",
    # No "description" placeholder: Airflow 3.3 treats it as an extra field (extra__<type>__description).
    # Port stays visible: the hook appends it to the Platform URL, and on Airflow 3.3.2 the Connections
    # list's Test button only works for a connection saved with a port (apache/airflow#73298).
    # Airflow gives the standard fields no description and no required flag (only hidden-fields, relabeling
    # and placeholders), so what must stay visible is in the label (" *" marks the required ones as the form
    # marks required extra fields) and each placeholder is short enough to show whole.
    "ui-field-behaviour": {
        "hidden-fields": ["schema"],
        "relabeling": {
            "host": "Platform URL (no port)",
            "port": "Platform port",
            "login": f"Client ID (API key){REQUIRED_MARK}",
            "password": f"Client secret{REQUIRED_MARK}",
        },
        "placeholders": {
            "host": f"{DEFAULT_PLATFORM_URL} when empty",
            "port": "empty, or 443 (see the Test button notes)",
            "login": "Developer Console credential page: Client ID",
            "password": "the same page: Retrieve client secret",
        },
    },
    "conn-fields": {
        "org_id": _string(
            "IMS Org ID",
            "Required. 'Organization ID' on the Developer Console credential page (OAuth Server-to-Server); "
            "24 characters ending in @AdobeOrg, e.g. 0123456789ABCDEF01234567@AdobeOrg.",
            required=True,
            pattern=ORG_ID_PATTERN,
        ),
        "sandbox_name": _string(
            "Sandbox name",
            "The sandbox name (not its title) from Experience Platform > Sandboxes > Browse: lowercase letters, "
            "digits and hyphens. Sent as the x-sandbox-name header. Default: prod.",
            default=DEFAULT_SANDBOX,
        ),
        "scopes": _string(
            "Scopes",
            "Comma-separated, copied from 'Scopes' on the OAuth Server-to-Server credential page. "
            "The default is what Adobe assigns to an Experience Platform API project.",
            default=DEFAULT_SCOPES,
        ),
        "ims_url": _string(
            "IMS URL",
            "Adobe IMS host that issues the access token (POST /ims/token/v3). Keep the default unless your "
            "org is on another IMS region; only *.adobelogin.com or a loopback emulator is accepted.",
            default=DEFAULT_IMS_URL,
        ),
        "connect_timeout": _number(
            "Connect timeout (s)",
            "Seconds to wait for a TCP/TLS connection to IMS or Platform (also bounds the Test button).",
            default=10,
            minimum=0.1,
        ),
        "read_timeout": _number(
            "Read timeout (s)",
            "Seconds to wait for an Experience Platform response before the request is retried or fails.",
            default=60,
            minimum=0.1,
        ),
    },
}

# Query Service's PostgreSQL interface (``hooks/query_service.py``, a common-sql hook): host, port, database and
# username come from ``GET /connection_parameters`` through the AEP connection named in ``aep_conn_id``, and the
# password is a fresh IMS token of that connection, so no second copy of the client secret is stored here. A
# non-expiring Query Service credential (``technicalAccountId:credential``) may be given as the password instead.
AEP_QUERY_CONN_TYPE = "aep_query_service"
AEP_QUERY_CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": AEP_QUERY_CONN_TYPE,
    "hook-class-name": "airflow_provider_aep.hooks.query_service.AEPQueryServiceHook",
    "hook-name": "Adobe Experience Platform Query Service",
    "ui-field-behaviour": {
        "hidden-fields": ["host", "port"],
        "relabeling": {
            "schema": "Database",
            "login": "Username",
            "password": "Non-expiring credential",
        },
        "placeholders": {
            "schema": "empty: <sandbox>:all",
            "login": "empty: the one Query Service names",
            "password": "empty: a fresh IMS token per connection",
        },
    },
    "conn-fields": {
        "aep_conn_id": _string(
            "AEP connection",
            "The Adobe Experience Platform connection (OAuth Server-to-Server client, org, sandbox) whose IMS "
            "token signs in to Query Service. Default: aep_default.",
            default="aep_default",
        ),
    },
}

# The sources' credential forms come from their declarations (``airflow_provider_aep.sources``).
HUBSPOT_CONNECTION_TYPE: dict[str, Any] = source_kind("hubspot").connection_type()

# Extra links (``links.py``): URL templates read on the worker from ``[aep]`` when a task try ends.
LINK_CONFIG_SECTION = "aep"
DEFAULT_UI_SANDBOX = DEFAULT_SANDBOX
DEFAULT_UI_BASE = "https://experience.adobe.com/#/@{tenant}/sname:{sandbox}/platform"
#: Each link's path below the UI base (``[aep] ui_base``, the emulator's pages, or ``DEFAULT_UI_BASE``).
LINK_PATHS = {
    "base_connection_link": "/source/accounts/{id}",
    "dataflow_link": "/source/dataflows/{id}",
    "run_link": "/source/dataflows/{flow_id}/runs/{id}",
    # Seen in Adobe-adjacent code only (target-side notes §6); configurable because it is not a contract.
    "dataset_link": "/dataset/browse/{id}",
    # Adobe documents no deep link to one schema: the Schemas workspace, with the $id to search for.
    "schema_link": "/schema?search={id}",
}
DEFAULT_LINK_TEMPLATES = {key: DEFAULT_UI_BASE + path for key, path in LINK_PATHS.items()}
#: The AEP emulator serves a read-only page at each link path below this base (``emulator/pages.py``); used
#: when the task's AEP connection host is loopback and neither ``ui_base`` nor the link's template is set.
EMULATOR_UI_BASE = "{emulator_url}/__emulator/ui/@{org_id}/sname:{sandbox}/platform"
_PLACEHOLDERS = (
    " Placeholders: {tenant} (ui_tenant, else the IMS org id), {org_id}, {sandbox} (the connection's sandbox), {id}"
)
# The link templates are "is_template": their {placeholders} are ours, not Airflow's config variables (3.1 would
# try to expand them when it loads the providers' config and fail on {tenant}).
LINK_CONFIG: dict[str, Any] = {
    LINK_CONFIG_SECTION: {
        "description": "Adobe Experience Platform provider: where the task extra links point. Read by the "
        "worker when a task try ends; the API server only shows the stored URL.",
        "options": {
            "ui_tenant": {
                "description": "Experience Cloud tenant used as {tenant} in the link templates: the short org "
                "name after '#/@' in your browser's experience.adobe.com address. Empty: the connection's IMS "
                "org id.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "acmecorp",
                "default": "",
            },
            "ui_base": {
                "description": "Base URL of every extra link, before the resource's path (/source/accounts/{id}, "
                "/source/dataflows/{id}, /source/dataflows/{flow_id}/runs/{id}, /dataset/browse/{id}, "
                "/schema?search={id}); the placeholders of the templates work here too. Empty: automatic, the "
                "AEP emulator's read-only pages when the task's AEP connection host is loopback (the emulator), "
                f"else {DEFAULT_UI_BASE}. A link template below set to anything but its default wins over this.",
                "version_added": "0.2.0",
                "type": "string",
                "example": "https://experience.adobe.com/#/@acmecorp/sname:{sandbox}/platform",
                "default": "",
            },
            "base_connection_link": {
                "description": "URL template of the 'AEP Source Account' link (base connections)."
                + _PLACEHOLDERS
                + ".",
                "version_added": "0.1.0",
                "type": "string",
                "example": None,
                "default": DEFAULT_LINK_TEMPLATES["base_connection_link"],
                "is_template": True,
            },
            "dataflow_link": {
                "description": "URL template of the 'AEP Dataflow' link." + _PLACEHOLDERS + ".",
                "version_added": "0.1.0",
                "type": "string",
                "example": None,
                "default": DEFAULT_LINK_TEMPLATES["dataflow_link"],
                "is_template": True,
            },
            "run_link": {
                "description": "URL template of the 'AEP Dataflow Run' link." + _PLACEHOLDERS + ", {flow_id}.",
                "version_added": "0.1.0",
                "type": "string",
                "example": None,
                "default": DEFAULT_LINK_TEMPLATES["run_link"],
                "is_template": True,
            },
            "dataset_link": {
                "description": "URL template of the 'AEP Dataset' link." + _PLACEHOLDERS + ".",
                "version_added": "0.2.0",
                "type": "string",
                "example": None,
                "default": DEFAULT_LINK_TEMPLATES["dataset_link"],
                "is_template": True,
            },
            "schema_link": {
                "description": "URL template of the 'AEP XDM Schema' link." + _PLACEHOLDERS + " (the schema $id).",
                "version_added": "0.2.0",
                "type": "string",
                "example": None,
                "default": DEFAULT_LINK_TEMPLATES["schema_link"],
                "is_template": True,
            },
        },
    }
}

# ``aep://<org>/<sandbox>/datasets/<id>`` assets (``assets.py``): Airflow normalises and validates every such
# URI through the handler, the hook-lineage collector builds assets through the factory, and OpenLineage
# names them through the converter. Airflow 3 reads only "asset-uris" ("dataset-uris" is the 2.x key).
ASSET_URIS = [
    {
        "schemes": ["aep"],
        "handler": "airflow_provider_aep.assets.sanitize_uri",
        "factory": "airflow_provider_aep.assets.create_asset",
        "to_openlineage_converter": "airflow_provider_aep.assets.convert_asset_to_openlineage",
    }
]

EXTRA_LINKS = [
    "airflow_provider_aep.links.AEPBaseConnectionLink",
    "airflow_provider_aep.links.AEPDataflowLink",
    "airflow_provider_aep.links.AEPFlowRunLink",
    "airflow_provider_aep.links.AEPDatasetLink",
    "airflow_provider_aep.links.AEPSchemaLink",
]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description that Airflow validates against its provider-info schema."""
    return {
        "package-name": PACKAGE_NAME,
        "name": INTEGRATION,
        "description": "Adobe Experience Platform: onboard table sources (HubSpot, Salesforce) end to end.",
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
                    "airflow_provider_aep.hooks.sources",
                    "airflow_provider_aep.hooks.query_service",
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
                    "airflow_provider_aep.operators.schema_registry",
                    "airflow_provider_aep.operators.catalog",
                    "airflow_provider_aep.operators.data_prep",
                    "airflow_provider_aep.operators.query_service",
                    "airflow_provider_aep.operators.query_schedules",
                    "airflow_provider_aep.operators.batch_ingestion",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.sensors.runs",
                    "airflow_provider_aep.sensors.query_service",
                    "airflow_provider_aep.sensors.batches",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.triggers.runs",
                    "airflow_provider_aep.triggers.events",
                    "airflow_provider_aep.triggers.query_service",
                    "airflow_provider_aep.triggers.batches",
                ],
            }
        ],
        "connection-types": [
            AEP_CONNECTION_TYPE,
            AEP_QUERY_CONNECTION_TYPE,
            *(kind.connection_type() for kind in sources()),
        ],
        "extra-links": EXTRA_LINKS,
        "asset-uris": ASSET_URIS,
        "config": LINK_CONFIG,
    }

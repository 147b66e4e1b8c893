"""Flow Service specs, the same for every organisation: connection specs and flow specs.

Spec documents carry the JSON schemas the emulator validates against (``authSpec[].spec`` for
``auth.params``, ``sourceSpec.spec``/``targetSpec.spec`` for ``params``, ``scheduleSpec.spec`` for
``scheduleParams``, ``transformationSpecs[].spec`` for transformation params), so validation follows the
same documents a client can read at ``/connectionSpecs`` and ``/flowSpecs``.
Keys starting with ``_`` are emulator bookkeeping and never leave the server.
"""

from __future__ import annotations

from typing import Any

HUBSPOT_SPEC_ID = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
# help/sources/tutorials/api/create/crm/salesforce.md; help/sources/tutorials/api/collect/crm.md (appendix)
SALESFORCE_SPEC_ID = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
S3_SPEC_ID = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
#: ``providerId`` of the batch source connectors and their flow specs (Data Lake has its own).
SOURCES_PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
CRM_TO_AEP_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
CLOUD_STORAGE_TO_AEP_FLOW_SPEC_ID = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"

# Other CRM/database sources accepted by CRMToAEP (not emulated, listed so the flow spec looks real).
_OTHER_CRM_SPEC_IDS = [
    "38ad80fe-8b06-4938-94f4-d4ee80266b07",  # Microsoft Dynamics
    "3c9b37f8-13a6-43d8-bad3-b863b941fedd",  # Google BigQuery
]

_DRAFT7 = "http://json-schema.org/draft-07/schema#"
#: ``permissionsInfo`` of every spec (Sources permissions).
PERMISSIONS = {
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
}
#: ``exploreSpec`` of a table source: explore answers tables and their columns (the JSON schemas stay open).
TABULAR_EXPLORE_SPEC: dict[str, Any] = {
    "name": "Tabular",
    "type": "Tabular",
    "requestSpec": {"$schema": _DRAFT7, "type": "object"},
    "responseSpec": {"$schema": _DRAFT7, "type": "object"},
}
#: What the emulator notes about every table source: explore answers tables, and a base connection is needed.
TABLE_SOURCE_BOOKKEEPING: dict[str, Any] = {"_dataFormats": ["tabular"], "_requiresBaseConnection": True}


def table_source_attributes(category: str, connector_name: str) -> dict[str, Any]:
    """The top-level ``attributes`` of a table source (its explore is not paginated)."""
    return {
        "category": category,
        "connectorName": connector_name,
        "isSource": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    }


def _secret(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "password", "description": description}


#: ``params`` of a table source that names its table by explore ``path`` (HubSpot).
PATH_PARAMS_SPEC: dict[str, Any] = {
    "$schema": _DRAFT7,
    "type": "object",
    "description": "Source connection params.",
    "properties": {"path": {"type": "string", "description": "The table to ingest, as returned by explore."}},
    "required": ["path"],
}

#: ``params`` of a CRM table source: ``tableName`` (the explore ``path``) plus the ``columns`` to read, each as
#: explore describes it (help/sources/tutorials/api/collect/crm.md, "Create a source connection").
TABLE_NAME_PARAMS_SPEC: dict[str, Any] = {
    "$schema": _DRAFT7,
    "type": "object",
    "description": "Source connection params.",
    "properties": {
        "tableName": {"type": "string", "minLength": 1, "description": "The table to ingest (its explore path)."},
        "columns": {
            "type": "array",
            "minItems": 1,
            "description": "The columns to ingest, as explore describes them.",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "type": {"type": "string"},
                    "meta": {"type": "object", "properties": {"originalType": {"type": "string"}}},
                    "xdm": {"type": "object"},
                },
                "required": ["name", "type"],
            },
        },
    },
    "required": ["tableName", "columns"],
}

HUBSPOT_SPEC: dict[str, Any] = {
    "id": HUBSPOT_SPEC_ID,
    "name": "hubspot",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        {
            "name": "Basic Authentication",
            "type": "Basic Authentication",
            "spec": {
                "$schema": _DRAFT7,
                "type": "object",
                "description": "Define auth params required for connecting to HubSpot.",
                "properties": {
                    "clientId": {
                        "type": "string",
                        "description": "The client ID associated with your HubSpot application.",
                    },
                    "clientSecret": _secret("The client secret associated with your HubSpot application."),
                    "accessToken": _secret(
                        "The access token obtained when initially authenticating your OAuth integration."
                    ),
                    "refreshToken": _secret(
                        "The refresh token obtained when initially authenticating your OAuth integration."
                    ),
                },
                "required": ["clientId", "clientSecret", "accessToken", "refreshToken"],
            },
        }
    ],
    "sourceSpec": {
        "name": "hubspot",
        "type": "MarketingAutomation",
        "spec": PATH_PARAMS_SPEC,
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "isBeta": False,
                "category": "marketingAutomation",
                "icon": "hubspot",
                "label": "HubSpot",
                "description": "Ingest contacts, companies, deals and other HubSpot objects.",
                "documentationLink": "https://www.adobe.com/go/hubspot-connector-en",
            }
        },
    },
    "exploreSpec": TABULAR_EXPLORE_SPEC,
    "attributes": table_source_attributes("Marketing Automation", "HubSpot"),
    "permissionsInfo": PERMISSIONS,
    **TABLE_SOURCE_BOOKKEEPING,
}

# Salesforce (help/sources/tutorials/api/create/crm/salesforce.md, "Gather required credentials"): two auth
# specs on Azure; "OAuth2 JWT Token Credential" (Experience Platform on AWS) is not emulated. apiVersion is a
# decimal string ("60.0"), optional for basic authentication, mandatory for OAuth2 Client Credential.
_SALESFORCE_URL = {
    "type": "string",
    "pattern": "^https://[^/\\s]+/?$",
    "description": "The URL of the Salesforce instance, https://[domain].my.salesforce.com.",
}
_SALESFORCE_API_VERSION = {
    "type": "string",
    "pattern": "^[0-9]+\\.[0-9]+$",
    "description": "The REST API version of the Salesforce instance, as a decimal (52.0, 60.0).",
}

SALESFORCE_SPEC: dict[str, Any] = {
    "id": SALESFORCE_SPEC_ID,
    "name": "salesforce",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        {
            "name": "Basic Authentication",
            "type": "Basic Authentication",
            "spec": {
                "$schema": _DRAFT7,
                "type": "object",
                "description": "Define auth params required for connecting to Salesforce using basic authentication.",
                "properties": {
                    "environmentUrl": _SALESFORCE_URL,
                    "username": {"type": "string", "description": "The username for the Salesforce user account."},
                    "password": _secret("The password for the Salesforce user account."),
                    "securityToken": _secret("The security token for the Salesforce user account."),
                    "apiVersion": _SALESFORCE_API_VERSION,
                },
                "required": ["environmentUrl", "username", "password", "securityToken"],
            },
        },
        {
            "name": "OAuth2 Client Credential",
            "type": "OAuth2",
            "spec": {
                "$schema": _DRAFT7,
                "type": "object",
                "description": "Define auth params required for connecting to Salesforce using OAuth2 client "
                "credentials.",
                "properties": {
                    "environmentUrl": _SALESFORCE_URL,
                    "clientId": {"type": "string", "description": "The client ID of your Salesforce connected app."},
                    "clientSecret": _secret("The client secret of your Salesforce connected app."),
                    "apiVersion": _SALESFORCE_API_VERSION,
                    "includeDeletedObjects": {
                        "type": "boolean",
                        "default": False,
                        "description": "Whether to include soft-deleted records.",
                    },
                },
                "required": ["environmentUrl", "clientId", "clientSecret", "apiVersion"],
            },
        },
    ],
    "sourceSpec": {
        "name": "salesforce",
        "type": "CRM",
        "spec": TABLE_NAME_PARAMS_SPEC,
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "isBeta": False,
                "category": "crm",
                "icon": "salesforce",
                "label": "Salesforce",
                "description": "Ingest accounts, contacts, leads, opportunities and other Salesforce objects.",
                "documentationLink": "https://www.adobe.com/go/salesforce-source-connector-en",
            }
        },
    },
    "exploreSpec": TABULAR_EXPLORE_SPEC,
    "attributes": table_source_attributes("CRM", "Salesforce"),
    "permissionsInfo": PERMISSIONS,
    **TABLE_SOURCE_BOOKKEEPING,
}

S3_SPEC: dict[str, Any] = {
    "id": S3_SPEC_ID,
    "name": "amazon-s3",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [
        {
            "name": "Access Key",
            "type": "KeyBased",
            "spec": {
                "$schema": _DRAFT7,
                "type": "object",
                "description": "Define auth params required for connecting to Amazon S3.",
                "properties": {
                    "s3AccessKey": {"type": "string", "description": "The access key ID."},
                    "s3SecretKey": _secret("The secret access key."),
                    "serviceUrl": {"type": "string", "description": "Optional S3 endpoint."},
                },
                "required": ["s3AccessKey", "s3SecretKey"],
            },
        }
    ],
    "sourceSpec": {
        "name": "CloudStorage",
        "type": "CloudStorage",
        "spec": {
            "$schema": _DRAFT7,
            "type": "object",
            "description": "Source connection params.",
            "properties": {
                "path": {"type": "string", "description": "Folder or file path."},
                "recursive": {"type": "boolean", "default": False},
            },
            "required": ["path"],
        },
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "category": "cloudStorage",
                "icon": "amazon-s3",
                "label": "Amazon S3",
                "description": "Ingest files from an Amazon S3 bucket.",
            }
        },
    },
    "exploreSpec": {"name": "FileSystem", "type": "FileSystem"},
    "attributes": {"category": "Cloud Storage", "connectorName": "Amazon S3", "isSource": True},
    "permissionsInfo": PERMISSIONS,
    "_dataFormats": ["delimited", "json", "parquet"],
    "_requiresBaseConnection": True,
}

DATA_LAKE_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_SPEC_ID,
    "name": "Data Lake",
    "providerId": "521eee4d-8cbe-4906-bb48-fb6bd4450033",
    "version": "1.0",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "type": "DataLake",
        "spec": {
            "$schema": _DRAFT7,
            "type": "object",
            "description": "Target connection params.",
            "properties": {
                "dataSetId": {
                    "type": "string",
                    "description": "The target dataset id.",
                    "pattern": "^[0-9a-fA-F]{24}$",
                }
            },
            "required": ["dataSetId"],
        },
        "attributes": {"uiAttributes": {"isDestination": False, "category": "dataLake", "label": "Data Lake"}},
    },
    "attributes": {"category": "Data Lake", "isSource": False, "isTarget": True},
    "permissionsInfo": PERMISSIONS,
    "_isTarget": True,
}

#: Every connection spec ``/connectionSpecs`` lists. Table sources are declared in :mod:`.sources`
#: (``register_source`` adds a test source's spec here and to its flow specs' ``sourceConnectionSpecIds``).
CONNECTION_SPECS: dict[str, dict[str, Any]] = {
    spec["id"]: spec for spec in (HUBSPOT_SPEC, SALESFORCE_SPEC, S3_SPEC, DATA_LAKE_SPEC)
}

_SCHEDULE_SPEC = {
    "name": "PeriodicSchedule",
    "type": "Periodic",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {
            "startTime": {"description": "epoch time", "type": "integer"},
            "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
            "interval": {"type": "integer"},
            "backfill": {"type": "boolean", "default": True},
        },
        "required": ["startTime", "frequency"],
        "if": {"properties": {"frequency": {"const": "once"}}},
        "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
        "else": {
            "required": ["interval"],
            "if": {"properties": {"frequency": {"const": "minute"}}},
            "then": {"properties": {"interval": {"minimum": 15}}},
            "else": {"properties": {"interval": {"minimum": 1}}},
        },
    },
}

_MAPPING_SPEC = {
    "name": "Mapping",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "description": "Defines various params required for different mapping from source to target",
        "properties": {
            "mappingId": {"type": "string"},
            "mappingVersion": {"type": ["string", "integer"]},
        },
    },
}

_COPY_SPEC = {
    "name": "Copy",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "description": "Defines delta column required for incremental copy from tabular sources",
        "properties": {
            "deltaColumn": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "dateFormat": {"type": "string"},
                    "timezone": {"type": "string"},
                },
                "required": ["name"],
            }
        },
        "required": ["deltaColumn"],
    },
}

_OPTION_SPEC = {
    "name": "OptionSpec",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {
            "errorDiagnosticsEnabled": {
                "title": "Error diagnostics",
                "description": "Flag to enable detailed and sample error diagnostics summary.",
                "type": "boolean",
                "default": False,
            },
            "partialIngestionPercent": {
                "title": "Partial ingestion threshold",
                "description": "Percentage which defines the threshold of errors allowed before the run is "
                "marked as failed.",
                "type": "number",
                "exclusiveMinimum": 0,
            },
        },
    },
}

_RUN_SPEC = {
    "name": "ProviderParams",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {
            "startTime": {"type": "integer", "description": "Epoch seconds when the run starts."},
            "windowStartTime": {"type": "integer", "description": "Epoch seconds; start of the data window."},
            "windowEndTime": {"type": "integer", "description": "Epoch seconds; end of the data window."},
            "deltaColumn": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
}

_FLOW_ATTRIBUTES = {
    "isSourceFlow": True,
    "flacValidationSupported": True,
    "frequency": "batch",
    "notification": {"category": "sources", "flowRun": {"enabled": True}},
}

CRM_TO_AEP: dict[str, Any] = {
    "id": CRM_TO_AEP_FLOW_SPEC_ID,
    "name": "CRMToAEP",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [HUBSPOT_SPEC_ID, SALESFORCE_SPEC_ID, *_OTHER_CRM_SPEC_IDS],
    "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
    "optionSpec": _OPTION_SPEC,
    "transformationSpecs": [_COPY_SPEC, _MAPPING_SPEC],
    "scheduleSpec": _SCHEDULE_SPEC,
    "runSpec": _RUN_SPEC,
    "attributes": _FLOW_ATTRIBUTES,
    "permissionsInfo": PERMISSIONS,
    "_requiredTransformations": ["Copy"],
}

CLOUD_STORAGE_TO_AEP: dict[str, Any] = {
    "id": CLOUD_STORAGE_TO_AEP_FLOW_SPEC_ID,
    "name": "CloudStorageToAEP",
    "providerId": SOURCES_PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [S3_SPEC_ID],
    "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
    "optionSpec": _OPTION_SPEC,
    "transformationSpecs": [_MAPPING_SPEC],
    "scheduleSpec": _SCHEDULE_SPEC,
    "runSpec": _RUN_SPEC,
    "attributes": _FLOW_ATTRIBUTES,
    "permissionsInfo": PERMISSIONS,
    "_requiredTransformations": [],
}

FLOW_SPECS: dict[str, dict[str, Any]] = {spec["id"]: spec for spec in (CRM_TO_AEP, CLOUD_STORAGE_TO_AEP)}


def secret_param_names(spec: dict[str, Any], spec_name: str | None) -> set[str]:
    """Names of ``auth.params`` marked ``format: password`` in the matching auth spec (masked on read)."""
    names: set[str] = set()
    for auth in spec.get("authSpec", []):
        if spec_name is None or auth["name"] == spec_name:
            props = auth.get("spec", {}).get("properties", {})
            names.update(k for k, v in props.items() if isinstance(v, dict) and v.get("format") == "password")
    return names


def auth_spec(spec: dict[str, Any], spec_name: str) -> dict[str, Any] | None:
    """The ``authSpec`` entry called ``spec_name`` (exact match, as Flow Service does)."""
    for auth in spec.get("authSpec", []):
        if auth["name"] == spec_name:
            return auth
    return None


def secret_names(spec_id: Any, spec_name: Any) -> set[str]:
    """Secret ``auth.params`` names of a connection spec, or of every spec when ``spec_id`` is not one (what
    the control plane masks; sources registered later count too)."""
    spec = CONNECTION_SPECS.get(spec_id) if isinstance(spec_id, str) else None
    if spec is not None:
        return secret_param_names(spec, spec_name if isinstance(spec_name, str) else None)
    names: set[str] = set()
    for doc in list(CONNECTION_SPECS.values()):
        names |= secret_param_names(doc, None)
    return names

"""Salesforce (CRM), connection spec ``cfc0fee1-7dc0-40ef-b73e-d8b134c436f5``.

Docs: help/sources/tutorials/api/create/crm/salesforce.md (spec id, auth specs; "Basic Authentication" is
deprecated since January 2026, so this declaration uses "OAuth2 Client Credential": the Salesforce
instance URL, a connected app's client id and secret, and the API version) and
help/sources/tutorials/api/collect/crm.md (source connections name the table in ``params.tableName`` and
list its ``params.columns``; ``data.format`` is ``tabular``; the CRMToAEP flow spec). ``LastModifiedDate``
is on every Salesforce object, hence the default delta column.
"""

from __future__ import annotations

from airflow_provider_aep.sources import AuthParam, SourceKind, register

SALESFORCE_CONNECTION_SPEC_ID = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"

SALESFORCE = register(
    SourceKind(
        name="salesforce",
        title="Salesforce",
        connection_spec_id=SALESFORCE_CONNECTION_SPEC_ID,
        auth_spec_name="OAuth2 Client Credential",
        conn_type="aep_salesforce",
        default_conn_id="salesforce_default",
        docs="help/sources/tutorials/api/create/crm/salesforce.md",
        table_param="tableName",
        send_columns=True,
        delta_column="LastModifiedDate",
        placeholders={
            "host": "https://<your domain>.my.salesforce.com",
            "login": "Salesforce Setup > App Manager > your connected app > Consumer Key",
            "password": "Salesforce Setup > App Manager > your connected app > Consumer Secret",
        },
        auth_params=(
            AuthParam(
                "environmentUrl",
                "host",
                "Instance URL",
                "Your Salesforce instance, https://<your domain>.my.salesforce.com.",
            ),
            AuthParam("clientId", "login", "Client ID (consumer key)", "The connected app's consumer key."),
            AuthParam(
                "clientSecret",
                "password",
                "Client secret (consumer secret)",
                "The connected app's consumer secret.",
                secret=True,
            ),
            AuthParam(
                "apiVersion",
                "api_version",
                "API version",
                "Required for OAuth2 Client Credential: the Salesforce REST API version as a decimal, e.g. 60.0.",
                default="60.0",
            ),
            AuthParam(
                "includeDeletedObjects",
                "include_deleted_objects",
                "Include deleted records",
                "Also read soft-deleted records (Salesforce's recycle bin).",
                required=False,
                kind="boolean",
                default=False,
            ),
        ),
    )
)

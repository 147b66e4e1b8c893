"""``AEPFlowServiceHook``: reads an ``adobe_experience_platform`` Airflow Connection and builds the service clients."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_aep.client.config import AEPSettings
from airflow_provider_aep.client.errors import AEPAPIError, AEPConfigError, AEPError, AEPTransportError
from airflow_provider_aep.exceptions import AEPConnectionConfigError
from airflow_provider_aep.get_provider_info import AEP_CONN_TYPE, AEP_CONNECTION_TYPE
from airflow_provider_aep.hooks.connection_form import form_message, legacy_form_widgets, legacy_ui_field_behaviour

if TYPE_CHECKING:
    from airflow_provider_aep.client.batch_ingestion import BatchIngestionClient
    from airflow_provider_aep.client.catalog import CatalogClient
    from airflow_provider_aep.client.data_access import DataAccessClient
    from airflow_provider_aep.client.data_prep import DataPrepClient
    from airflow_provider_aep.client.flow_service import FlowServiceClient
    from airflow_provider_aep.client.http import RetryPolicy
    from airflow_provider_aep.client.platform import PlatformClient
    from airflow_provider_aep.client.query_service import QueryServiceClient
    from airflow_provider_aep.client.schema_registry import SchemaRegistryClient


def connection_extras(conn: Any, conn_type: str) -> dict[str, Any]:
    """The extra JSON as a dict, accepting both ``field`` and legacy ``extra__<type>__field`` keys."""
    raw = conn.extra
    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        extras = raw
    else:
        try:
            extras = json.loads(raw)
        except json.JSONDecodeError as err:
            raise AEPConnectionConfigError(conn.conn_id, "extra", f"is not valid JSON ({err.msg})") from None
    if not isinstance(extras, dict):
        raise AEPConnectionConfigError(conn.conn_id, "extra", "must be a JSON object")
    prefix = f"extra__{conn_type}__"
    merged = {key[len(prefix) :]: value for key, value in extras.items() if key.startswith(prefix)}
    merged.update({k: v for k, v in extras.items() if not k.startswith(prefix) and v not in (None, "")})
    return {k: v for k, v in merged.items() if v not in (None, "")}


def _number(conn_id: str, name: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise AEPConnectionConfigError(conn_id, name, f"must be a number of seconds, got {value!r}") from None


def settings_from_connection(conn: Any) -> AEPSettings:
    """Validate an Airflow Connection into :class:`AEPSettings`; errors name the connection and field."""
    extras = connection_extras(conn, AEP_CONN_TYPE)
    kwargs: dict[str, Any] = {
        "client_id": conn.login or "",
        "client_secret": conn.password or "",
        "org_id": extras.get("org_id", ""),
    }
    for name in ("sandbox_name", "scopes", "ims_url"):
        if name in extras:
            if not isinstance(extras[name], str):
                raise AEPConnectionConfigError(conn.conn_id, name, f"must be a string, got {extras[name]!r}")
            kwargs[name] = extras[name]
    for name in ("connect_timeout", "read_timeout"):
        if name in extras:
            kwargs[name] = _number(conn.conn_id, name, extras[name])
    if conn.host:
        host = conn.host.rstrip("/")
        kwargs["platform_url"] = f"{host}:{conn.port}" if conn.port else host
    if not isinstance(kwargs["org_id"], str):
        raise AEPConnectionConfigError(conn.conn_id, "org_id", "must be a string")
    field_names = {"client_id": "login (client id)", "client_secret": "password (client secret)"}
    try:
        return AEPSettings(**kwargs)
    except AEPConfigError as err:
        field = field_names.get(err.field, err.field)
        message = str(err).split(": ", 1)[1]
        raise AEPConnectionConfigError(conn.conn_id, field, message) from None


_TRANSPORT_CAUSES = (
    ("timed out", "did not answer in time"),
    ("timeout", "did not answer in time"),
    ("refused", "refused the connection"),
    ("name or service not known", "is not a known host name"),
    ("nodename nor servname", "is not a known host name"),
    ("failed to resolve", "is not a known host name"),
    ("certificate", "presented a TLS certificate that could not be verified"),
    ("ssl", "failed the TLS handshake"),
)


def unreachable_message(err: AEPTransportError, settings: AEPSettings, port: int | None = None) -> str:
    """One readable sentence for a request that got no answer, naming the host and the form field to check.

    ``port`` is the connection's Platform port field: a refused connection to a host that answers names is
    a port nothing listens on, so the message points at that field rather than the URL.
    """
    text = str(err).lower()
    cause = next((phrase for needle, phrase in _TRANSPORT_CAUSES if needle in text), "could not be reached")
    host = settings.token_url if settings.token_url in str(err) else settings.platform_url
    if host == settings.token_url:
        field = "the IMS URL field"
    elif port and cause == "refused the connection":
        field = f"the Platform port field ({port})"
    elif port:
        field = "the Platform URL and Platform port fields"
    else:
        field = "the Platform URL field"
    return f"Cannot reach AEP: {host} {cause}. Check {field} and that this machine can reach it."


def explain_api_error(err: AEPAPIError, settings: AEPSettings) -> str:
    """One sentence saying which field to fix, then AEP's own answer (for the UI's Test button)."""
    if err.url.startswith(settings.token_url) and err.status in (400, 401, 403):
        hint = (
            "Adobe IMS rejected the client ID, client secret or scopes; copy them again from the "
            "Developer Console credential page (OAuth Server-to-Server)"
        )
    elif err.status in (401, 403):
        hint = (
            f"Experience Platform refused access for org {settings.org_id}; check the IMS Org ID and that the "
            "credential's project has the Experience Platform API and a product profile with Sources access"
        )
    elif err.status == 404 and "2100-404" in (err.code or ""):
        hint = f"Sandbox {settings.sandbox_name!r} not found; use the sandbox name (not its title)"
    elif err.status == 429 or err.status >= 500:
        hint = f"AEP is unavailable right now (HTTP {err.status}); the settings may be fine, try again later"
    else:
        hint = f"AEP rejected the request (HTTP {err.status})"
    return f"{hint}. {err}"


class AEPFlowServiceHook(BaseHook):
    """Airflow glue for the Platform clients: Flow Service, Schema Registry, Catalog, Data Prep, Batch Ingestion
    and Data Access.

    Credentials come from the Connection (host = Platform URL, login = OAuth Server-to-Server client id,
    password = client secret, extras ``org_id``, ``sandbox_name``, ``scopes``, ``ims_url``). The client
    secret and every IMS token it obtains are registered with Airflow's secret masker.

    Each service client (:attr:`flow_service`, :attr:`schema_registry`, :attr:`catalog`, :attr:`data_prep`,
    :attr:`batch_ingestion`, :attr:`data_access`) is made on first use over one :attr:`platform` client, so a
    task that uses several services mints one token and keeps one session.

    :param aep_conn_id: the Airflow connection (type ``adobe_experience_platform``) to read.
    :param retry: the retry policy of every request (default: the client's,
        :class:`~airflow_provider_aep.client.http.RetryPolicy`).
    """

    conn_name_attr = "aep_conn_id"
    default_conn_name = "aep_default"
    conn_type = AEP_CONN_TYPE
    hook_name = AEP_CONNECTION_TYPE["hook-name"]

    def __init__(self, aep_conn_id: str = default_conn_name, *, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.aep_conn_id = aep_conn_id
        self._retry = retry

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.aep_conn_id)

    @cached_property
    def settings(self) -> AEPSettings:
        settings = settings_from_connection(self.connection)
        mask_secret(settings.client_secret)
        return settings

    # The clients are imported on first use: operators import this module lazily, but a DAG file that builds
    # a hook at parse time should still not load ``requests``.
    @cached_property
    def platform(self) -> PlatformClient:
        """One Platform client (session, token, retry policy) shared by every service client below."""
        from airflow_provider_aep.client.platform import PlatformClient

        return PlatformClient(self.settings, retry=self._retry, on_secret=mask_secret)

    @cached_property
    def flow_service(self) -> FlowServiceClient:
        """Flow Service: base, source and target connections, flows, runs."""
        from airflow_provider_aep.client.flow_service import FlowServiceClient

        return FlowServiceClient(self.platform)

    @cached_property
    def schema_registry(self) -> SchemaRegistryClient:
        """Schema Registry: tenant id, schemas, field groups, descriptors."""
        from airflow_provider_aep.client.schema_registry import SchemaRegistryClient

        return SchemaRegistryClient(self.platform)

    @cached_property
    def catalog(self) -> CatalogClient:
        """Catalog: datasets and batches."""
        from airflow_provider_aep.client.catalog import CatalogClient

        return CatalogClient(self.platform)

    @cached_property
    def data_prep(self) -> DataPrepClient:
        """Data Prep: mapping sets."""
        from airflow_provider_aep.client.data_prep import DataPrepClient

        return DataPrepClient(self.platform)

    @cached_property
    def batch_ingestion(self) -> BatchIngestionClient:
        """Batch Ingestion: batches and their file uploads (status read through Catalog)."""
        from airflow_provider_aep.client.batch_ingestion import BatchIngestionClient

        return BatchIngestionClient(self.platform)

    @cached_property
    def data_access(self) -> DataAccessClient:
        """Data Access: a batch's files and failed records."""
        from airflow_provider_aep.client.data_access import DataAccessClient

        return DataAccessClient(self.platform)

    @cached_property
    def query_service(self) -> QueryServiceClient:
        """Query Service: queries, templates, scheduled queries, PostgreSQL connection parameters."""
        from airflow_provider_aep.client.query_service import QueryServiceClient

        return QueryServiceClient(self.platform)

    def get_tenant_id(self) -> str:
        """The org's tenant id (``GET /stats``, cached per process): custom XDM fields live under ``_<tenant>``."""
        return self.schema_registry.tenant_id()

    def get_conn(self) -> FlowServiceClient:
        """Airflow's generic hook API: the Flow Service client (:attr:`flow_service`), the hook's main service.

        The other services are :attr:`schema_registry`, :attr:`catalog` and :attr:`data_prep`.
        """
        return self.flow_service

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token and list one base connection; bounded by the connection's timeouts, no retries."""
        from airflow_provider_aep.client.flow_service import FlowServiceClient
        from airflow_provider_aep.client.http import RetryPolicy

        try:
            settings = self.settings
            with FlowServiceClient(settings, retry=RetryPolicy(max_attempts=1), on_secret=mask_secret) as client:
                client.request("GET", "/connections", params={"limit": 1})
        except AEPConnectionConfigError as err:
            return False, form_message(AEP_CONNECTION_TYPE, err)
        except AEPTransportError as err:
            return False, unreachable_message(err, settings, self.connection.port)
        except AEPAPIError as err:
            return False, explain_api_error(err, settings)
        except AEPError as err:
            return False, str(err)
        return True, f"Connected to {settings.platform_url} (org {settings.org_id}, sandbox {settings.sandbox_name})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour(AEP_CONNECTION_TYPE)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return legacy_form_widgets(AEP_CONNECTION_TYPE)

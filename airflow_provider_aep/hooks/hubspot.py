"""``HubSpotHook``: the HubSpot app's OAuth credentials that AEP needs to read HubSpot on your behalf."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_aep.exceptions import AEPConnectionConfigError
from airflow_provider_aep.get_provider_info import HUBSPOT_CONN_TYPE, HUBSPOT_CONNECTION_TYPE
from airflow_provider_aep.hooks.connection_form import form_message, legacy_form_widgets, legacy_ui_field_behaviour
from airflow_provider_aep.hooks.flow_service import connection_extras


@dataclass(frozen=True)
class HubSpotCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def as_auth_params(self) -> dict[str, str]:
        """The ``auth.params`` of the HubSpot "Basic Authentication" auth spec."""
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
        }


class HubSpotHook(BaseHook):
    """Reads and validates a ``hubspot`` connection: login = client id, password = client secret,
    extras ``access_token`` and ``refresh_token``. All four values are masked in logs."""

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = HUBSPOT_CONN_TYPE
    hook_name = HUBSPOT_CONNECTION_TYPE["hook-name"]

    def __init__(self, hubspot_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.hubspot_conn_id = hubspot_conn_id

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.hubspot_conn_id)

    def get_credentials(self) -> HubSpotCredentials:
        conn = self.connection
        extras = connection_extras(conn, HUBSPOT_CONN_TYPE)
        values = {
            "login (client id)": conn.login,
            "password (client secret)": conn.password,
            "access_token": extras.get("access_token"),
            "refresh_token": extras.get("refresh_token"),
        }
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip():
                raise AEPConnectionConfigError(
                    conn.conn_id, name, "is required: AEP needs the HubSpot app's client id, secret and both tokens"
                )
        creds = HubSpotCredentials(*(str(v).strip() for v in values.values()))
        for secret in (creds.client_secret, creds.access_token, creds.refresh_token):
            mask_secret(secret)
        return creds

    def get_conn(self) -> HubSpotCredentials:
        return self.get_credentials()

    def test_connection(self) -> tuple[bool, str]:
        """A local check only: HubSpot is reached by AEP, not by Airflow, so all fields must be present."""
        try:
            creds = self.get_credentials()
        except AEPConnectionConfigError as err:
            return False, form_message(HUBSPOT_CONNECTION_TYPE, err)
        return True, (
            f"HubSpot credentials for client {creds.client_id} are complete. Airflow does not call HubSpot: AEP "
            "checks them when it creates the source account (the explore task fails if they are wrong)."
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour(HUBSPOT_CONNECTION_TYPE)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return legacy_form_widgets(HUBSPOT_CONNECTION_TYPE)

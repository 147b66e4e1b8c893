"""``HubSpotHook``: the HubSpot app's OAuth credentials that AEP needs to read HubSpot on your behalf."""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_aep.hooks.sources import SourceConnectionHook
from airflow_provider_aep.sources.hubspot import HUBSPOT

HUBSPOT_CONNECTION_TYPE = HUBSPOT.connection_type()


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


class HubSpotHook(SourceConnectionHook):
    """Reads and validates a ``hubspot`` connection: login = client id, password = client secret,
    extras ``access_token`` and ``refresh_token``. All four values are masked in logs.

    :param hubspot_conn_id: the Airflow connection to read.
    """

    kind = HUBSPOT
    conn_name_attr = "hubspot_conn_id"
    default_conn_name = HUBSPOT.default_conn_id
    conn_type = HUBSPOT.conn_type
    hook_name = HUBSPOT_CONNECTION_TYPE["hook-name"]

    def __init__(self, hubspot_conn_id: str = default_conn_name) -> None:
        super().__init__(source_conn_id=hubspot_conn_id)
        self.hubspot_conn_id = hubspot_conn_id

    def get_credentials(self) -> HubSpotCredentials:
        params = self.get_auth_params()
        return HubSpotCredentials(
            params["clientId"], params["clientSecret"], params["accessToken"], params["refreshToken"]
        )

"""The trigger of the triggerer masking test (``test_triggerer_masking``), in its own module so that the
triggerer's runner process imports it by classpath.

It learns its IMS token as the provider's triggers do (``AsyncFlowServiceClient(on_secret=amask_secret)``, the
connection read through the task SDK), then writes the token into its log as a careless library might: the
line must reach the trigger's log file masked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep._compat import amask_secret
from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
from airflow_provider_aep.client.auth import TokenCache

LEAK = "a library logged the request: Authorization: Bearer %s"


class TokenEchoTrigger(BaseTrigger):
    def __init__(self, aep_conn_id: str = "aep_default") -> None:
        super().__init__()
        self.aep_conn_id = aep_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"aep_conn_id": self.aep_conn_id}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from airflow_provider_aep.hooks.flow_service import settings_from_connection

        settings = settings_from_connection(await BaseHook.aget_connection(self.aep_conn_id))
        async with AsyncFlowServiceClient(settings, on_secret=amask_secret, token_cache=TokenCache()) as client:
            await client.request("GET", "/connections")  # fetches the token and masks it
            token = await client.auth.atoken(client._fetch_token)
        self.log.info(LEAK, token)
        yield TriggerEvent({"status": "done"})

"""What Airflow's secret masker hides once the hooks have read their connections.

Airflow masks a connection's password and, in its extra, only the values whose *key* looks sensitive
(``[core] sensitive_var_conn_names`` plus names such as ``token``/``secret``/``password``). The provider
relies on that documented rule: its secrets are the password and the HubSpot ``access_token`` /
``refresh_token`` extras, while org id, sandbox, scopes and URLs stay readable in task logs. (Airflow logs
"Skipping masking for a secret as it's too short" once per process when it meets a short extra value such
as sandbox ``prod``, before it checks the key's name; the value is not masked either way. See docs/ui.md.)
"""

from __future__ import annotations

import pytest

from tests.airflow_compat import secrets_masker
from tests.conftest import AEP_CLIENT_ID, AEP_CLIENT_SECRET, HUBSPOT_SECRETS, ORG_ID


@pytest.fixture
def masker(connections):
    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
    from airflow_provider_aep.hooks.hubspot import HubSpotHook

    connections("https://platform.adobe.io", ims_url="https://ims-na1.adobelogin.com")
    AEPFlowServiceHook().settings  # noqa: B018 - reading the connection registers its secrets
    HubSpotHook().get_credentials()
    return secrets_masker()


@pytest.mark.parametrize(
    "secret",
    [AEP_CLIENT_SECRET, HUBSPOT_SECRETS["password"], HUBSPOT_SECRETS["access_token"], HUBSPOT_SECRETS["refresh_token"]],
)
def test_real_secrets_are_masked(masker, secret):
    assert secret not in masker.redact(f"value: {secret}")


@pytest.mark.parametrize(
    "value", [ORG_ID, "https://ims-na1.adobelogin.com", "https://platform.adobe.io", AEP_CLIENT_ID, "prod"]
)
def test_ordinary_connection_values_stay_readable(masker, value):
    assert masker.redact(f"value: {value}") == f"value: {value}"

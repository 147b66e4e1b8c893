"""The provider as the ``airflow`` CLI sees it (issue: "airflow providers hooks lists both types")."""

from __future__ import annotations

import os
import subprocess
import sys


def airflow(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=os.environ, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_providers_list_and_hooks_show_the_provider():
    assert "airflow-provider-aep" in airflow("providers", "list", "-o", "plain")
    hooks = {
        line.split()[0]: line
        for line in airflow("providers", "hooks", "-o", "plain").splitlines()
        if line.strip() and not line.startswith("connection_type")
    }
    assert "airflow_provider_aep.hooks.flow_service.AEPFlowServiceHook" in hooks["adobe_experience_platform"]
    assert "Adobe Experience Platform" in hooks["adobe_experience_platform"]
    assert "airflow_provider_aep.hooks.hubspot.HubSpotHook" in hooks["hubspot"]
    assert "HubSpot" in hooks["hubspot"]

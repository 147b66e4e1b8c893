"""Subprocess mode and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from aep_emulator import EmulatorConfig, run_emulator_subprocess
from aep_emulator.testing import FlowClient, fetch_token

REPO = Path(__file__).resolve().parents[2]


def test_subprocess_emulator_serves_and_stops():
    config = EmulatorConfig(credentials={"sub-client": "sub-secret"}, token_lifetime=600)
    with run_emulator_subprocess(config) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert emu.state is None
        assert emu.control.config()["token_lifetime"] == 600
        token = fetch_token(emu.url, client_id="sub-client", secret="sub-secret")
        client = FlowClient(emu.url, token)
        client.headers["x-api-key"] = "sub-client"
        assert client.connection()
        assert emu.control.stats()["resources"]["connections"] == 1
        bad = requests.post(
            f"{emu.url}/ims/token/v3",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y", "scope": "openid"},
            timeout=10,
        )
        assert bad.status_code == 401
        process = emu.process
    assert process.poll() is not None


def test_cli_help():
    result = subprocess.run(
        [sys.executable, "-m", "aep_emulator.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    for flag in ("--host", "--port", "--token-lifetime", "--client-id", "--client-secret", "--run-duration"):
        assert flag in result.stdout


def test_cli_rejects_unpaired_credentials():
    result = subprocess.run(
        [sys.executable, "-m", "aep_emulator.cli", "--client-id", "a", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert "--client-secret" in result.stderr


def test_cli_flags_build_the_config():
    from aep_emulator.cli import build_parser, config_from_args

    args = build_parser().parse_args(
        ["--client-id", "a", "--client-secret", "b", "--token-lifetime", "30", "--run-duration", "0.5",
         "--run-outcome", "failed", "--sandbox", "prod"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.credentials == {"a": "b"}
    assert (config.token_lifetime, config.run_duration, config.run_outcome) == (30, 0.5, "failed")
    assert config.sandboxes == ["prod"]
    assert config_from_args(build_parser().parse_args([])).sandboxes == ["prod", "dev"]
    assert config_from_args(build_parser().parse_args(["--any-sandbox"])).sandboxes is None

"""The emulator as a product of its own: installed from ``emulator/`` into a virtualenv that has no Airflow, its
``aep-emulator`` command serves plain HTTP clients and Adobe's own Python client, aepp 0.6, with aepp's defaults.

The virtualenv is built once per session (pip from the package index: aepp brings pandas); every server a test
starts is stopped through the PID it holds.
"""

from __future__ import annotations

import json
import subprocess
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

EMULATOR_ROOT = Path(__file__).resolve().parents[1]
AEPP_CALLS = Path(__file__).with_name("outside") / "aepp_calls.py"
ORG = "0123456789ABCDEF01234567@AdobeOrg"


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory) -> Path:
    """A virtualenv with aep-emulator, aepp 0.6.0 and pytest, and no Airflow."""
    root = tmp_path_factory.mktemp("no-airflow") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(EMULATOR_ROOT),
            "aepp==0.6.0",
            "pytest",
        ],
        check=True,
        timeout=900,
    )
    return root


@contextmanager
def served(root: Path) -> Iterator[str]:
    """``aep-emulator --port 0`` from the virtualenv; yields its URL once it says it listens."""
    proc = subprocess.Popen(
        [root / "bin" / "aep-emulator", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        # The banners: the PostgreSQL endpoint's first, then the HTTP server's. readline blocks until a line, or
        # returns "" if the server died; never read() here, which would wait for a server that lives on.
        banners = [proc.stdout.readline() for _ in range(2)]
        assert "PostgreSQL endpoint on 127.0.0.1:" in banners[0], banners
        assert "listening on http://127.0.0.1:" in banners[1], banners
        yield banners[1].rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_venv_has_no_airflow_and_importing_the_emulator_pulls_none_in(bare_venv):
    check = (
        "import importlib.util, sys, aep_emulator.app;"
        "assert importlib.util.find_spec('airflow') is None;"
        "assert importlib.util.find_spec('airflow_provider_aep') is None;"
        "print(sorted(m for m in sys.modules if m.startswith('aep_emulator'))[:1])"
    )
    out = subprocess.run(
        [bare_venv / "bin" / "python", "-c", check],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=bare_venv,
    )
    assert "aep_emulator" in out.stdout


USER_TEST = """
import requests


def test_a_token_from_the_fixture(aep_emulator):
    answer = requests.post(
        aep_emulator.url + "/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": "openid"},
        timeout=30,
    )
    assert answer.json()["token_type"] == "bearer"
    assert aep_emulator.control.journal()[-1]["path"] == "/ims/token/v3"
"""


def test_a_users_tests_get_the_fixture_by_installing_the_distribution(bare_venv, tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    out = subprocess.run(
        [bare_venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", tmp_path / "test_user.py"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert "1 passed" in out.stdout


def test_the_command_serves_ims_and_the_platform_to_a_plain_http_client(bare_venv):
    with served(bare_venv) as url:
        token = requests.post(
            f"{url}/ims/token/v3",
            data={"grant_type": "client_credentials", "client_id": "plain", "client_secret": "s", "scope": "openid"},
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "x-api-key": "plain", "x-gw-ims-org-id": ORG}
        headers["x-sandbox-name"] = "prod"
        specs = requests.get(f"{url}/data/foundation/flowservice/connectionSpecs", headers=headers, timeout=30)
        assert specs.status_code == 200
        assert any(spec["name"].lower() == "hubspot" for spec in specs.json()["items"])
        datasets = requests.get(f"{url}/data/foundation/catalog/dataSets", headers=headers, timeout=30)
        assert datasets.status_code == 200


def test_aepp_schema_registry_catalog_and_data_prep_calls_work_with_aepp_defaults(bare_venv):
    with served(bare_venv) as url:
        out = subprocess.run(
            [bare_venv / "bin" / "python", AEPP_CALLS, url], capture_output=True, text=True, timeout=300
        )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["schema_id"] in seen["schemas"]
    assert seen["group_id"] in seen["field_groups"]
    # getSchema's default Accept is application/vnd.adobe.xdm-full+json; version=1: the full, resolved schema.
    assert seen["fetched_title"].startswith("aepp schema ")
    assert f"_{seen['tenant']}" in seen["fetched_properties"]
    assert any(name.startswith("aepp dataset ") for name in seen["dataset_names"])
    assert seen["behaviours"] == ["record"]  # getDataSets reads classification.dataBehavior of every dataset
    assert seen["infos_rows"] == len(seen["dataset_names"])
    assert seen["mapping_set_id"] in seen["mapping_sets"]

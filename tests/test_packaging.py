"""What the provider's wheel ships: the provider, without the emulator, which is its own distribution
(``emulator/``) that the ``emulator`` extra pins at the provider's version."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile

import pytest

from airflow_provider_aep.version import __version__
from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # Built from a copy without build/ or *.egg-info: setuptools reuses a stale build/lib of the checkout.
    source = tmp_path_factory.mktemp("source") / "provider"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "test-*"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", out, source],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("airflow_provider_aep-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_provider_and_no_emulator_module(wheel):
    names = wheel.namelist()
    assert "airflow_provider_aep/hooks/flow_service.py" in names
    assert "airflow_provider_aep/py.typed" in names
    assert [n for n in names if "emulator" in n.split("/")[0] or "/emulator/" in n] == []


def test_the_emulator_extra_pins_the_emulator_at_the_providers_version(wheel):
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = email.message_from_bytes(wheel.read(metadata)).get_all("Requires-Dist")
    assert f'aep-emulator=={__version__}; extra == "emulator"' in requires
    emulator_version = (REPO / "emulator" / "aep_emulator" / "version.py").read_text()
    assert f'__version__ = "{__version__}"' in emulator_version

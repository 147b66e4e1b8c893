"""System-test harness: ONE emulator subprocess and ONE real local Airflow per pytest session.

Fixtures (all session-scoped, started lazily by the first test that asks):

* ``system_emulator`` -- the AEP emulator in a subprocess (``run_emulator_subprocess``); ``.url``,
  ``.control.journal()/state()/reset()``.
* ``airflow_server`` -- a :class:`tests.system.airflow_server.LocalAirflow` (scheduler + LocalExecutor,
  dag-processor, api-server, triggerer; SQLite) with ``aep_default`` / ``hubspot_default`` pointing at
  the emulator (``AIRFLOW_CONN_*`` env vars), the DAGs in ``dags_examples/`` and
  ``tests/system/dags/``, and the Test button enabled. ``.url``, ``.home``, ``.env``, ``.log_tail()``.
* ``airflow_api`` -- an authenticated :class:`tests.system.airflow_server.AirflowClient` for it.
* ``fresh_emulator`` (function scope) -- ``system_emulator`` reset before the test. After every test
  that used the emulator it is reset anyway (autouse), so resources one test's DAG runs created cannot
  collide with the next test's.

A test that needs extra Airflow settings adds them to ``SYSTEM_AIRFLOW_ENV`` below (the server is shared,
so settings are global to the session). Every test in this folder is marked ``system``. When a test
that used the server fails, the tail of each component's output is attached to its report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import aep_conn_json, hubspot_conn_json
from tests.system.airflow_server import AirflowClient, AirflowStartupError, LocalAirflow

# Extra environment for the shared Airflow (e.g. pool sizes for concurrency tests). Keep it small.
SYSTEM_AIRFLOW_ENV: dict[str, str] = {
    # Link templates are read on the worker; a tenant makes the expected URL independent of the org id.
    "AIRFLOW__AEP__UI_TENANT": "aep-emulator",
    # The onboarding DAG's deferred sensor polls AEP every minute by default (read at parse time).
    "AEP_ONBOARDING_POKE_INTERVAL": "1",
}
STARTUP_TIMEOUT = float(os.environ.get("AEP_SYSTEM_STARTUP_TIMEOUT", "180"))
KEEP_HOME = os.environ.get("AEP_SYSTEM_KEEP_HOME") == "1"
_SERVER_KEY = pytest.StashKey[LocalAirflow]()
_SYSTEM_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.system)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)  # lets fixtures see whether the test failed
    server = item.config.stash.get(_SERVER_KEY, None)  # set once the shared server was created
    if report.failed and isinstance(server, LocalAirflow):
        report.sections.append(("airflow components (tail)", server.log_tail(60)))
        item.config.stash[_SYSTEM_FAILED] = True


@pytest.fixture(scope="session")
def system_emulator():
    from aep_emulator import EmulatorConfig, run_emulator_subprocess

    with run_emulator_subprocess(EmulatorConfig()) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _reset_emulator_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Leave the shared emulator empty for the next test. DAG runs create AEP resources whose names are
    unique per sandbox, so leftovers from one test would collide with the next test's runs."""
    yield
    if "system_emulator" in request.fixturenames:
        request.getfixturevalue("system_emulator").control.reset()


@pytest.fixture
def fresh_emulator(system_emulator):
    """The session emulator with empty state (and no faults) for this test, and reset again afterwards, so
    resources a DAG run created (names are unique per sandbox) cannot collide with the next test's."""
    system_emulator.control.reset()
    yield system_emulator
    system_emulator.control.reset()


@pytest.fixture(scope="session")
def airflow_server(system_emulator, request: pytest.FixtureRequest) -> Iterator[LocalAirflow]:
    home = Path(tempfile.mkdtemp(prefix="aep-system-airflow-"))
    server = LocalAirflow.create(
        home,
        # read_timeout: test_concurrent_runs holds creates in the emulator until every DAG run is inside them,
        # which on a busy CI machine can take longer than the 60 s default a held request would otherwise hit.
        connections={
            "aep_default": aep_conn_json(system_emulator.url, read_timeout=300),
            "hubspot_default": hubspot_conn_json(),
        },
        extra_env=SYSTEM_AIRFLOW_ENV,
    )
    request.config.stash[_SERVER_KEY] = server
    try:
        server.start()
        server.wait_until_ready(timeout=STARTUP_TIMEOUT)
    except AirflowStartupError as err:
        server.stop()
        pytest.fail(f"Local Airflow did not start in {home}:\n{err}", pytrace=False)
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
        if KEEP_HOME or request.config.stash.get(_SYSTEM_FAILED, False):
            print(f"\nLocal Airflow home kept for inspection: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_api(airflow_server: LocalAirflow) -> AirflowClient:
    return airflow_server.client()

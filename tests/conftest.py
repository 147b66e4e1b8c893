"""Shared test setup.

Airflow reads its configuration when first imported, so the throwaway ``AIRFLOW_HOME`` (SQLite metadata DB)
and the DAGs folder are set here, before any test module imports Airflow; the home is removed when the process
exits. The DAGs folder holds symlinks to ``dags_examples/*.py`` and ``tests/dags/*.py`` so that ``dag.test()``
finds both in the default bundle.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"

_HOME = Path(tempfile.mkdtemp(prefix="aep-airflow-home-"))
# Removed when the test process exits, so test sessions leave no homes in /tmp (the DB, logs and the DAG links).
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
_DAGS = _HOME / "dags"
_DAGS.mkdir()
for source in [*sorted((REPO / "dags_examples").glob("[!_]*.py")), *sorted((REPO / "tests" / "dags").glob("[!_]*.py"))]:
    (_DAGS / source.name).symlink_to(source)

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
# A Fernet key as every deployment has: without it, the first `airflow` CLI call of a test writes airflow.cfg
# with a generated one, and every later test would run with encryption on or off depending on the order.
os.environ["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
for key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
    del os.environ[key]


def _one_in_process_execution_api() -> None:
    """``dag.test()`` runs each task against an in-process Execution API app. Airflow 3.2+ builds that app once
    per process (``in_process_api_server`` is ``lru_cache``d); 3.1 builds a new one for every task, about 1.5 s
    of route generation each on the CI machine, most of the lowest run's time. Cache it on 3.1 the same way."""
    from airflow.sdk.execution_time import supervisor

    if not hasattr(supervisor.in_process_api_server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(supervisor.in_process_api_server)


_one_in_process_execution_api()


ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
HUBSPOT_SECRETS = {
    "login": "hubspot-client-id-1234",
    "password": "hs-client-secret-SECRET-7f3a",
    "access_token": "hs-access-token-SECRET-91bd",
    "refresh_token": "hs-refresh-token-SECRET-c44e",
}
AEP_CLIENT_ID = "aep-client-id-5678"
AEP_CLIENT_SECRET = "aep-client-secret-SECRET-0e9d"


def aep_conn_json(host: str, **extra: object) -> str:
    """An ``adobe_experience_platform`` connection as Airflow's env-var JSON form."""
    return json.dumps(
        {
            "conn_type": "adobe_experience_platform",
            "host": host,
            "login": AEP_CLIENT_ID,
            "password": AEP_CLIENT_SECRET,
            "extra": {"org_id": ORG_ID, "sandbox_name": "prod", "ims_url": host, **extra},
        }
    )


def hubspot_conn_json() -> str:
    return json.dumps(
        {
            "conn_type": "hubspot",
            "login": HUBSPOT_SECRETS["login"],
            "password": HUBSPOT_SECRETS["password"],
            "extra": {
                "access_token": HUBSPOT_SECRETS["access_token"],
                "refresh_token": HUBSPOT_SECRETS["refresh_token"],
            },
        }
    )


SALESFORCE_SECRETS = {"password": "sf-consumer-SECRET-5d21"}


def salesforce_conn_json() -> str:
    return json.dumps(
        {
            "conn_type": "aep_salesforce",
            "host": "https://acme.my.salesforce.com",
            "login": "sf-consumer-key-42",
            "password": SALESFORCE_SECRETS["password"],
            "extra": {"api_version": "60.0"},
        }
    )


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    """Tokens and tenant ids are cached per process; each test starts without either."""
    from airflow_provider_aep.client.auth import TOKENS
    from airflow_provider_aep.client.schema_registry import TENANTS

    TOKENS.clear()
    TENANTS.clear()
    yield
    TOKENS.clear()
    TENANTS.clear()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch):
    """Returns ``use(host)``: points ``aep_default`` at ``host`` (e.g. the emulator) and defines
    ``hubspot_default`` and ``salesforce_default``."""

    def use(host: str, **extra: object) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", aep_conn_json(host, **extra))
        monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_conn_json())
        monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", salesforce_conn_json())

    return use


def optional_stub(response):
    """Mark a ``responses`` stub that a test registers as a trap (it must *not* be needed), so the
    every-stub-was-called check of :func:`assert_stubs_fired` leaves it out. Returns the stub."""
    response.optional = True
    return response


def assert_stubs_fired(mock, *, shared=()) -> None:
    """Every stub a test registered was called, except ``shared`` fixture plumbing (IMS) and traps.

    A stub nobody calls usually means the code under test took another path than the test thinks.
    """
    unused = [
        f"{r.method} {r.url}"
        for r in mock.registered()
        if r.call_count == 0 and r not in shared and not getattr(r, "optional", False)
    ]
    assert not unused, f"stubs registered but never called (mark traps with optional_stub): {unused}"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB in the throwaway AIRFLOW_HOME (created once per session)."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture
def dagbag(airflow_db: Path):
    """A fresh parse per test: ``dag.test()`` renders templated fields onto the task objects in place, so
    reusing one DAG object would carry one run's rendered values (e.g. conf tables) into the next test."""
    from tests.airflow_compat import DagBag

    bag = DagBag(dag_folder=str(_DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture
def run_dag(dagbag, airflow_db):
    """``run_dag(dag_id, conf=None)`` runs a DAG with ``dag.test()`` and returns the DagRun."""

    def run(dag_id: str, conf: dict | None = None):
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"DAG {dag_id} not found; import errors: {dagbag.import_errors}"
        return dag.test(run_conf=conf)

    return run


def xcoms_of(dag_run) -> dict[tuple[str, int, str], object]:
    """Every XCom a DAG run stored, as ``{(task_id, map_index, key): value}``.

    Values are read as stored (JSON), not through ``XComModel.deserialize_value``, which decodes a string that
    is itself JSON a second time (an etag ``"\"abc\""`` would lose its quotes).
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)).all()
        return {(r.task_id, r.map_index, r.key): r.value for r in rows}

"""The test harness: ``dag.test()`` runs DAGs, and the session's throwaway ``AIRFLOW_HOME`` does not outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import _HOME, REPO


def test_dag_test_harness_runs_a_dag(run_dag):
    from airflow.utils.state import DagRunState

    assert run_dag("smoke_empty").state == DagRunState.SUCCESS


def test_the_sessions_airflow_home_is_removed_at_exit() -> None:
    assert _HOME.is_dir()  # this session's, in use
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    out = subprocess.run(
        [sys.executable, "-c", "import tests.conftest as c; print(c._HOME); (c._HOME / 'airflow.db').touch()"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    home = Path(out.stdout.strip())
    assert home.name.startswith("aep-airflow-home-") and home != _HOME
    assert not home.exists(), f"{home} left behind"

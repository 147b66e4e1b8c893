"""A real, local Airflow 3.3 for system tests and ``make airflow``: launcher plus a small REST client.

``LocalAirflow`` runs what ``airflow standalone`` runs (``db migrate``, then scheduler with the
LocalExecutor, dag-processor, api-server and triggerer, SQLite, SimpleAuthManager) in a throwaway
``AIRFLOW_HOME`` on free loopback ports, with one deliberate difference: the scheduler and triggerer
are started with ``--skip-serve-logs``. Their log servers bind every interface (uvicorn ``host=""``,
not configurable in 3.3) and are only needed to read logs from remote workers; here the api-server
reads task logs straight from ``AIRFLOW_HOME/logs``. Every component is started in its own session so
teardown can kill each whole process group (LocalExecutor workers and task supervisors included).

``AirflowClient`` wraps the handful of REST calls the tests need: JWT from ``POST /auth/token``,
unpause, trigger, wait for a run, task instances and their tries, extra links, XComs, connections and
the connection Test button; task logs are read from the files under ``AIRFLOW_HOME/logs``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "dags_examples"
SYSTEM_TEST_DAGS = Path(__file__).resolve().parent / "dags"
VENV_BIN = Path(sys.executable).parent

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
TERMINAL_RUN_STATES = {"success", "failed"}
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class AirflowStartupError(RuntimeError):
    """Airflow did not become healthy; the message ends with the tail of every component's output."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the usual bind-to-0 trick; a small race is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def link_dags(target: Path, sources: Iterable[Path]) -> Path:
    """Create ``target`` with symlinks to every ``*.py`` in ``sources`` (edits show up on re-parse)."""
    target.mkdir(parents=True, exist_ok=True)
    for folder in sources:
        if not folder.is_dir():
            continue
        for source in sorted(folder.glob("*.py")):
            if source.name.startswith("_"):
                continue
            link = target / source.name
            if not link.exists():
                link.symlink_to(source)
    return target


def home_secrets(home: Path) -> dict[str, str]:
    """Fernet key, JWT and session secrets for ``home``: generated once and kept in the home, so a reused
    home (``make airflow``) can still decrypt the connections saved in its DB."""
    path = home / "local_secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    keys = {
        "fernet_key": Fernet.generate_key().decode(),
        "secret_key": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
    }
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def airflow_env(
    home: Path,
    *,
    api_port: int,
    dags_folder: Path,
    connections: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment shared by every component. Inherited ``AIRFLOW*`` variables are dropped, so the
    unit-test configuration (tests/conftest.py) cannot leak in. ``connections`` maps conn ids to the
    ``AIRFLOW_CONN_<ID>`` JSON/URI value."""
    env = {k: v for k, v in (base_env if base_env is not None else os.environ).items() if not k.startswith("AIRFLOW")}
    env.pop("FORCE_COLOR", None)
    keys = home_secrets(home)
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            # Not started (--skip-serve-logs), but kept off the defaults 8793/8794 in case anything does.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The LocalExecutor starts this many worker processes up front (32 by default).
            "AIRFLOW__CORE__PARALLELISM": "8",
        }
    )
    for conn_id, value in (connections or {}).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    env.update(extra or {})
    return env


@dataclass
class LocalAirflow:
    """The four Airflow components on ``127.0.0.1:api_port``. Use as a context manager or call
    ``start()`` / ``wait_until_ready()`` / ``stop()``; ``stop()`` is idempotent and always kills."""

    home: Path
    env: dict[str, str]
    api_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    username: str = ADMIN_USER
    password: str = ADMIN_PASSWORD

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        connections: Mapping[str, str] | None = None,
        dag_sources: Iterable[Path] = (EXAMPLE_DAGS, SYSTEM_TEST_DAGS),
        extra_env: Mapping[str, str] | None = None,
        api_port: int | None = None,
        password: str = ADMIN_PASSWORD,
    ) -> LocalAirflow:
        home = Path(home).resolve()
        home.mkdir(parents=True, exist_ok=True)
        port = api_port or free_port()
        dags = link_dags(home / "dags", dag_sources)
        env = airflow_env(home, api_port=port, dags_folder=dags, connections=connections or {}, extra=extra_env)
        Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).write_text(json.dumps({ADMIN_USER: password}))
        return cls(home=home, env=env, api_port=port, password=password)

    # -- paths and urls --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dags_folder(self) -> Path:
        return Path(self.env["AIRFLOW__CORE__DAGS_FOLDER"])

    @property
    def logs_folder(self) -> Path:
        return self.home / "logs"

    def output_file(self, component: str) -> Path:
        return self.home / f"{component}.out"

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, self.username, self.password, home=self.home)

    # -- lifecycle -------------------------------------------------------------------------------------
    def component_commands(self) -> dict[str, list[str]]:
        """``airflow`` arguments of each long-running component, in start order."""
        return {
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }

    def component_env(self, name: str) -> dict[str, str]:
        """The environment of one component (the shared one; a subclass may add per-component settings)."""
        return self.env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = self.output_file(name).open("ab")
        try:
            return subprocess.Popen(
                [str(VENV_BIN / "airflow"), *args],
                cwd=self.home,
                env=self.component_env(name),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()

    def start(self, *, migrate_timeout: float = 240) -> None:
        """Migrate the metadata DB, then start the four components (non-blocking)."""
        atexit.register(self.stop)  # a safety net if the caller never reaches its own stop()
        migrate = self._spawn("db-migrate", ["db", "migrate"])
        self.processes["db-migrate"] = migrate
        try:
            code = migrate.wait(timeout=migrate_timeout)
        except subprocess.TimeoutExpired:
            raise AirflowStartupError(f"`airflow db migrate` took > {migrate_timeout}s\n{self.log_tail()}") from None
        if code != 0:
            raise AirflowStartupError(f"`airflow db migrate` exited with {code}\n{self.log_tail()}")
        for name, args in self.component_commands().items():
            self.processes[name] = self._spawn(name, args)

    def exited_components(self) -> dict[str, int]:
        return {
            name: proc.returncode
            for name, proc in self.processes.items()
            if name in self.component_commands() and proc.poll() is not None
        }

    def health(self) -> dict[str, Any] | None:
        try:
            response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
        except requests.RequestException:
            return None
        return response.json() if response.ok else None

    def wait_until_ready(self, timeout: float = 180) -> dict[str, Any]:
        """Poll the health endpoint until the DB, scheduler, triggerer and dag-processor are healthy."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if exited := self.exited_components():
                raise AirflowStartupError(f"Airflow components exited early: {exited}\n{self.log_tail()}")
            health = self.health()
            if health and all((health.get(key) or {}).get("status") == "healthy" for key in HEALTH_KEYS):
                return health
            time.sleep(0.5)
        raise AirflowStartupError(f"Airflow not healthy after {timeout}s (last health: {health})\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM every component's process group, then SIGKILL whatever is left (descendants too)."""
        import psutil

        procs = [p for p in self.processes.values() if p.pid]
        descendants: list[psutil.Process] = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                descendants += psutil.Process(proc.pid).children(recursive=True)
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for child in descendants:
            with contextlib.suppress(psutil.Error):
                child.kill()
        self.processes.clear()

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- diagnostics -----------------------------------------------------------------------------------
    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of each component's console output."""
        parts = []
        for name in ("db-migrate", *self.component_commands()):
            path = self.output_file(name)
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"----- {name} ({path}) -----\n" + "\n".join(tail))
        return "\n".join(parts) or "(no component output yet)"


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # each component is its own session/group leader, so pgid == pid


class AirflowAPIError(AssertionError):
    def __init__(self, response: requests.Response) -> None:
        self.response = response
        super().__init__(
            f"{response.request.method} {response.request.path_url} -> {response.status_code}: {response.text[:2000]}"
        )


class AirflowClient:
    """Minimal Airflow 3 REST client (``/api/v2`` and the UI's ``/ui`` endpoints) for tests."""

    def __init__(self, url: str, username: str, password: str, *, home: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.home = home
        self.session = requests.Session()
        self._token: str | None = None

    # -- plumbing --------------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        if self._token is None:
            response = requests.post(
                f"{self.url}/auth/token", json={"username": self.username, "password": self.password}, timeout=30
            )
            if response.status_code not in (200, 201):
                raise AirflowAPIError(response)
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, expect: Iterable[int] | None = (200,), **kwargs: Any) -> Any:
        """Call ``path`` with the bearer token (refreshed once on 401); returns the decoded JSON body."""
        kwargs.setdefault("timeout", 60)
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
            response = self.session.request(method, f"{self.url}{path}", headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            break
        if expect is not None and response.status_code not in set(expect):
            raise AirflowAPIError(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, expect=(200, 204, 404), **kwargs)

    # -- metadata --------------------------------------------------------------------------------------
    def providers(self) -> dict[str, dict[str, Any]]:
        body = self.get("/api/v2/providers", params={"limit": 1000})
        return {p["package_name"]: p for p in body["providers"]}

    def hook_meta(self) -> dict[str, dict[str, Any]]:
        """``GET /ui/connections/hook_meta`` keyed by connection type (what the connection form renders)."""
        return {meta["connection_type"]: meta for meta in self.get("/ui/connections/hook_meta")}

    def import_errors(self) -> list[dict[str, Any]]:
        return self.get("/api/v2/importErrors", params={"limit": 1000})["import_errors"]

    # -- DAGs and runs ---------------------------------------------------------------------------------
    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; fails fast on an import error for it."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.request("GET", f"/api/v2/dags/{dag_id}", expect=None)
            if response is not None and isinstance(response, dict) and response.get("dag_id") == dag_id:
                return response
            errors = [e for e in self.import_errors() if dag_id in e.get("stack_trace", "") or dag_id in e["filename"]]
            if errors:
                raise AssertionError(f"DAG {dag_id} failed to import: {errors}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {dag_id} not parsed after {timeout}s; import errors: {self.import_errors()}")
            time.sleep(0.5)

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> dict[str, Any]:
        return self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None) -> str:
        """Trigger a run now; returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float = 120, *, states: Iterable[str] = TERMINAL_RUN_STATES
    ) -> dict[str, Any]:
        """Poll the run until its state is in ``states`` (default: finished); TimeoutError lists TI states."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in wanted:
                return run
            if time.monotonic() > deadline:
                tis = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
                raise TimeoutError(f"{dag_id}/{run_id} still {run['state']} after {timeout}s; tasks: {tis}")
            time.sleep(0.5)

    def wait_for_tasks(
        self, dag_id: str, run_id: str, task_id: str, state: str, *, count: int, timeout: float = 120
    ) -> list[dict[str, Any]]:
        """Poll until ``count`` instances (map indexes) of ``task_id`` are in ``state``; returns them.

        Used to hold a test at a point (e.g. every sensor deferred) before it lets the emulator move on,
        so the test never depends on how fast this machine is."""
        deadline = time.monotonic() + timeout
        while True:
            tis = [ti for ti in self.task_instances(dag_id, run_id) if ti["task_id"] == task_id]
            reached = [ti for ti in tis if ti["state"] == state]
            if len(reached) >= count:
                return reached
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES or time.monotonic() > deadline:
                seen = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in self.task_instances(dag_id, run_id)}
                raise TimeoutError(f"{task_id} never had {count} instance(s) {state}; run {run['state']}: {seen}")
            time.sleep(0.5)

    def run_dag(self, dag_id: str, conf: Mapping[str, Any] | None = None, timeout: float = 120) -> dict[str, Any]:
        """wait_for_dag + unpause + trigger + wait_for_run; returns the finished run."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        run_id = self.trigger(dag_id, conf)
        return self.wait_for_run(dag_id, run_id, timeout)

    # -- task instances --------------------------------------------------------------------------------
    def _ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        body = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return body["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = self._ti_path(dag_id, run_id, task_id) + (f"/{map_index}" if map_index >= 0 else "")
        return self.get(path)

    def task_tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task (the TaskInstanceHistory rows plus the current try), oldest first."""
        path = self._ti_path(dag_id, run_id, task_id) + (f"/{map_index}" if map_index >= 0 else "") + "/tries"
        return self.get(path)["task_instances"]

    def links(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, str | None]:
        """``{link name: url}`` as the UI's extra-link buttons get it."""
        path = self._ti_path(dag_id, run_id, task_id) + "/links"
        return self.get(path, params={"map_index": map_index})["extra_links"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        params = {"deserialize": True, "map_index": map_index}
        return self.get(self._ti_path(dag_id, run_id, task_id) + f"/xcomEntries/{key}", params=params)["value"]

    # -- connections -----------------------------------------------------------------------------------
    def test_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """The UI's Test button: ``POST /api/v2/connections/test`` → ``{"status": bool, "message": str}``."""
        return self.post("/api/v2/connections/test", dict(connection))

    def create_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        return self.post("/api/v2/connections", dict(connection), expect=(200, 201))

    def get_connection(self, conn_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/connections/{conn_id}")

    def delete_connection(self, conn_id: str) -> None:
        self.delete(f"/api/v2/connections/{conn_id}")

    # -- task logs (files) -----------------------------------------------------------------------------
    def task_log_files(self, dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> list[Path]:
        """``attempt=N.log`` (and ``attempt=N.log.trigger.<id>.log``) files of one task, sorted. For a mapped
        task pass ``map_index`` (files live under ``map_index=N/``); ``None`` returns every instance's."""
        if self.home is None:
            raise RuntimeError("AirflowClient(home=...) is needed to read log files")
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index is not None and map_index >= 0:
            folder = folder / f"map_index={map_index}"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def read_task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> str:
        """All of a task's log files concatenated (each prefixed with a ``==> path <==`` header)."""
        return "\n".join(
            f"==> {path.relative_to(self.home / 'logs')} <==\n{path.read_text(errors='replace')}"
            for path in self.task_log_files(dag_id, run_id, task_id, map_index)
        )

    def failure_report(self, dag_id: str, run_id: str, lines: int = 25) -> str:
        """The failed task instances of a DAG run with the last ``lines`` lines of each one's logs: what an
        assertion on a run's state shows, since a CI log is all there is to read afterwards."""
        report = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] not in ("failed", "upstream_failed"):
                continue
            report.append(f"--- {ti['task_id']}[{ti['map_index']}] {ti['state']}")
            if ti["state"] == "failed" and self.home is not None:
                text = self.read_task_log(dag_id, run_id, ti["task_id"], ti["map_index"])
                report.extend(text.splitlines()[-lines:])
        return "\n".join(report) or f"{run_id}: no failed task"

    def all_log_files(self) -> list[Path]:
        """Every file under ``AIRFLOW_HOME/logs`` (task, trigger, scheduler and dag-processor logs)."""
        if self.home is None:
            raise RuntimeError("AirflowClient(home=...) is needed to read log files")
        return sorted(p for p in (self.home / "logs").rglob("*") if p.is_file())

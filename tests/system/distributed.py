"""A distributed Airflow on one machine: PostgreSQL, Redis, and Airflow with the CeleryExecutor.

What production looks like, shrunk onto loopback: the metadata DB is a private PostgreSQL, the broker a
private Redis, and Airflow runs as separate processes that share nothing in memory (api-server, scheduler,
dag-processor, triggerer and two Celery workers). Every server is started here, as a child process with its
own data directory and free loopback ports, and stopped by the PID this module holds; nothing is started
through the system's service manager and nothing is killed by name.

The Celery workers run with ``--skip-serve-logs`` and share ``AIRFLOW_HOME`` with the api-server, which then
reads task logs from the files (one machine); each worker reports its own name as the task instances'
``hostname`` (``tests.system.worker_identity``), so a test can tell which worker ran what.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.system.airflow_server import (
    REPO,
    AirflowStartupError,
    LocalAirflow,
    _signal_group,
    free_port,
)

PG_USER = "airflow"
PG_DB = "airflow"
WORKERS = ("worker-1", "worker-2")
WORKER_CONCURRENCY = 2


class ServiceMissing(RuntimeError):
    """PostgreSQL or Redis is not installed (the message says what to install)."""


def postgres_bindir() -> Path:
    """Debian's PostgreSQL binaries (``/usr/lib/postgresql/<N>/bin``, newest first), or ``pg_config``'s."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    if pg_config := shutil.which("pg_config"):
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    raise ServiceMissing("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")


def redis_server() -> str:
    path = shutil.which("redis-server")
    if not path:
        raise ServiceMissing("redis-server not found (Debian: apt-get install redis-server)")
    return path


@dataclass
class ServerProcess:
    """A server this test started: its PID, port and data directory; ``stop()`` signals that PID only."""

    name: str
    port: int
    data_dir: Path
    process: subprocess.Popen | None = None
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class PostgresServer(ServerProcess):
    """A private PostgreSQL cluster (``initdb`` into ``data_dir``), listening on 127.0.0.1 only, password auth."""

    password: str = "airflow-distributed-test"
    bindir: Path = field(default_factory=postgres_bindir)
    stop_signal: int = signal.SIGINT  # "fast" shutdown: ends sessions, no waiting for clients

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{PG_DB}"

    def _as_owner(self) -> dict:
        """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` system user."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}

    def start(self, timeout: float = 60) -> None:
        owner = self._as_owner()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / "pg-superuser-password"
        pwfile.write_text(self.password + "\n")
        if owner:
            uid = pwd.getpwnam("postgres").pw_uid
            os.chown(self.data_dir, uid, owner["group"])
            os.chown(pwfile, uid, owner["group"])
            os.chown(self.data_dir.parent, uid, owner["group"])
        log = self.data_dir.parent / "postgres.log"
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **owner,
        )
        pwfile.unlink()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.data_dir.parent}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **owner,
            )
        deadline = time.monotonic() + timeout
        while self.psql("postgres", "SELECT 1", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AirflowStartupError(f"PostgreSQL did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        self.psql("postgres", f"CREATE USER {PG_USER} PASSWORD '{self.password}'")
        self.psql("postgres", f"CREATE DATABASE {PG_DB} OWNER {PG_USER}")  # its own call: not in a transaction

    def _client_env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "5"}

    def psql(self, database: str, sql: str, *, check: bool = True) -> subprocess.CompletedProcess:
        user = "postgres" if database == "postgres" else PG_USER
        return subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            check=check,
            capture_output=True,
            text=True,
            env=self._client_env(),
        )

    def dump(self) -> str:
        """``pg_dump`` of the Airflow database as SQL text (every table, every row)."""
        return subprocess.run(
            [str(self.bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, PG_DB],
            check=True,
            capture_output=True,
            text=True,
            env=self._client_env(),
        ).stdout


@dataclass
class RedisServer(ServerProcess):
    """A private Redis on 127.0.0.1 with no persistence (the Celery broker)."""

    binary: str = field(default_factory=redis_server)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "redis.log"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
                "--logfile",
                str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _redis_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
                raise AirflowStartupError(f"Redis did not start:\n{text}")
            time.sleep(0.1)


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes in process group ``pgid``, from ``/proc``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(text.split(" ", 1)[0]))
    return sorted(members)


def _redis_ping(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class CeleryAirflow(LocalAirflow):
    """``LocalAirflow`` with the CeleryExecutor on PostgreSQL + Redis, and two Celery workers.

    ``kill(component)`` is kill -9 of the component's whole process group (the worker, its pool and the task
    processes it runs), as when a machine is lost; ``restart(component)`` starts it again with the same
    command, as a deployment would.
    """

    commands: dict[str, list[str]] = field(default_factory=dict)
    worker_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def create_distributed(
        cls,
        home: Path,
        *,
        postgres: PostgresServer,
        redis: RedisServer,
        extra_env: Mapping[str, str] | None = None,
        **kwargs,
    ) -> CeleryAirflow:
        env = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.sqlalchemy_url,
            "AIRFLOW__CELERY__BROKER_URL": redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.sqlalchemy_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__CORE__PARALLELISM": str(WORKER_CONCURRENCY * len(WORKERS)),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.system.worker_identity.hostname",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **(extra_env or {}),
        }
        base = LocalAirflow.create(home, extra_env=env, **kwargs)
        server = cls(home=base.home, env=base.env, api_port=base.api_port, password=base.password)
        server.commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(server.api_port)],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            **{name: ["celery", "worker", "--skip-serve-logs", "--celery-hostname", f"{name}@%h"] for name in WORKERS},
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        server.worker_env = {
            name: {"AEP_TEST_HOSTNAME": name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            for name in (*WORKERS, "scheduler", "triggerer", "api-server", "dag-processor")
        }
        return server

    def component_commands(self) -> dict[str, list[str]]:
        return self.commands

    def component_env(self, name: str) -> dict[str, str]:
        return {**self.env, **self.worker_env.get(name, {})}

    def wait_until_ready(self, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        health = super().wait_until_ready(timeout=timeout)
        for worker in WORKERS:
            self.wait_for_output(worker, r"\S+@\S+ ready\.", timeout=max(5.0, deadline - time.monotonic()))
        return health

    def wait_for_output(self, name: str, pattern: str, *, timeout: float, after: int = 0) -> str:
        """Wait until the component's console output (from byte ``after``) matches ``pattern``."""
        regex = re.compile(pattern)
        path = self.output_file(name)
        deadline = time.monotonic() + timeout
        while True:
            text = path.read_bytes()[after:].decode(errors="replace") if path.exists() else ""
            if match := regex.search(text):
                return match.group(0)
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is not None:
                raise AirflowStartupError(f"{name} exited with {proc.returncode}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AirflowStartupError(f"{name}: no {pattern!r} after {timeout}s\n{self.log_tail()}")
            time.sleep(0.2)

    def output_size(self, name: str) -> int:
        path = self.output_file(name)
        return path.stat().st_size if path.exists() else 0

    def kill(self, name: str, timeout: float = 30) -> int:
        """kill -9 the component's process group; returns the PID that was killed (the group's id).

        Returns once no process of the group is left (zombies aside): the leader's exit alone does not say
        that its children (a worker's pool, the triggerer's trigger runner) are gone too."""
        proc = self.processes[name]
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while left := group_members(proc.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: processes {left} of group {proc.pid} survived SIGKILL")
            time.sleep(0.05)
        return proc.pid

    def restart(self, name: str) -> subprocess.Popen:
        old = self.processes.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is still running (pid {old.pid})")
        with self.output_file(name).open("ab") as out:
            out.write(f"\n----- {name} restarted -----\n".encode())
        self.processes[name] = self._spawn(name, self.commands[name])
        return self.processes[name]


@contextlib.contextmanager
def distributed_airflow(root: Path, **kwargs):
    """PostgreSQL + Redis + ``CeleryAirflow`` under ``root``; everything stopped (by PID) on exit."""
    postgres = PostgresServer("postgres", free_port(), root / "pg" / "data")
    redis = RedisServer("redis", free_port(), root / "redis")
    airflow: CeleryAirflow | None = None
    try:
        postgres.start()
        redis.start()
        airflow = CeleryAirflow.create_distributed(root / "airflow", postgres=postgres, redis=redis, **kwargs)
        airflow.start()
        airflow.wait_until_ready()
        yield airflow, postgres, redis
    finally:
        if airflow is not None:
            airflow.stop(timeout=30)
        redis.stop()
        postgres.stop()

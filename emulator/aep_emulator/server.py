"""Run the emulator on a free loopback port: in a background thread, or as a child process."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .core.config import EmulatorConfig
from .core.control import EmulatorControl

LISTENING_PREFIX = "AEP emulator listening on "
#: The CLI prints this line (``host:port``) before the ``listening on`` line.
PG_PREFIX = "AEP emulator PostgreSQL endpoint on "


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 lets the OS pick a free one, with no race between probe and bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def require_uvicorn() -> Any:
    """uvicorn, or an error saying how to get it (Airflow ships it; a bare install of the provider may not)."""
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover
        raise ImportError(
            "The AEP emulator needs uvicorn; install it with: pip install 'airflow-provider-aep[emulator]'"
        ) from err
    return uvicorn


def uvicorn_config(app: Any) -> Any:
    """Quiet, single-process uvicorn settings shared by the thread server and the CLI."""
    uvicorn = require_uvicorn()

    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )


class EmulatorHandle:
    """A running emulator: ``url`` serves IMS and Flow Service, ``control`` drives it."""

    def __init__(self, url: str, app: Any = None, pg_address: tuple[str, int] | None = None) -> None:
        self.url = url
        self.app = app
        self.control = EmulatorControl(url)
        self._pg_address = pg_address

    @property
    def pg_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of Query Service's PostgreSQL endpoint (``None`` when it is not running)."""
        if self.app is not None:
            return self.app.pg.address
        return self._pg_address

    @property
    def pg_port(self) -> int | None:
        """The PostgreSQL endpoint's port on 127.0.0.1 (what ``/connection_parameters`` answers)."""
        address = self.pg_address
        return address[1] if address else None

    @property
    def state(self) -> Any:
        """The in-process ``EmulatorState`` (thread mode only; ``None`` for a subprocess)."""
        return None if self.app is None else self.app.state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class ThreadedEmulator(EmulatorHandle):
    """uvicorn serving the emulator from a daemon thread of the current process."""

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        uvicorn = require_uvicorn()

        from .app import create_app

        app = create_app(config)
        self._sock = bind_socket(host, port)
        super().__init__(url_for(self._sock), app)
        self._server = uvicorn.Server(uvicorn_config(app))
        self._thread = threading.Thread(target=self._run, name=f"aep-emulator-{self.url}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            # uvicorn only installs signal handlers when running in the main thread.
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # surfaced by start()
            self._error = exc

    def start(self, timeout: float = 15.0) -> ThreadedEmulator:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"AEP emulator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"AEP emulator did not start within {timeout}s")
            time.sleep(0.01)
        self.control.wait_until_ready(timeout=max(0.5, deadline - time.monotonic()))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit (graceful for 2 s, then forced) and release the port."""
        self._server.should_exit = True
        if self._thread.ident is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._sock.close()


@contextmanager
def run_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0, timeout: float = 15.0
) -> Iterator[ThreadedEmulator]:
    """Serve the emulator in a background thread until the ``with`` block ends."""
    emulator = ThreadedEmulator(config, host, port)
    try:
        yield emulator.start(timeout)
    finally:
        emulator.stop()


class SubprocessEmulator(EmulatorHandle):
    """The emulator CLI as a child process (outlives threads; needed when the caller forks or execs)."""

    def __init__(self, process: subprocess.Popen[str], url: str, pg_address: tuple[str, int] | None = None) -> None:
        super().__init__(url, pg_address=pg_address)
        self.process = process

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward child stdout lines; keeps draining so the child never blocks on a full pipe."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def _child_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


@contextmanager
def run_emulator_subprocess(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> Iterator[SubprocessEmulator]:
    """Start ``python -m aep_emulator.cli`` and wait for its ``listening on`` line."""
    config = config or EmulatorConfig()
    command = [
        sys.executable,
        "-m",
        "aep_emulator.cli",
        "--host",
        host,
        "--port",
        str(port),
        "--config-json",
        json.dumps(config.to_dict()),
    ]
    # Its own session: a terminal's Ctrl-C goes to the parent, which stops the emulator by its PID.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=_child_env(env), bufsize=1, start_new_session=True
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    url = None
    pg_address: tuple[str, int] | None = None
    seen: list[str] = []
    try:
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"AEP emulator subprocess did not report its URL within {timeout}s: {seen}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"AEP emulator subprocess exited with {process.wait()}: {seen}")
            seen.append(line.rstrip())
            if line.startswith(PG_PREFIX):
                pg_host, _, pg_port = line[len(PG_PREFIX) :].split()[0].rpartition(":")
                pg_address = (pg_host, int(pg_port))
            if line.startswith(LISTENING_PREFIX):
                url = line[len(LISTENING_PREFIX) :].strip()
        handle = SubprocessEmulator(process, url, pg_address)
        handle.control.wait_until_ready(timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        SubprocessEmulator(process, url or "").stop()
        raise
    try:
        yield handle
    finally:
        handle.stop()

#!/usr/bin/env python
"""``make airflow``: a local Airflow 3.3 UI with this provider, the example DAGs and the AEP emulator.

Starts the emulator (IMS, Flow Service, Schema Registry, Catalog and Data Prep on 127.0.0.1; sandboxes
``prod`` and ``dev``) and Airflow (scheduler with the LocalExecutor, dag-processor, api-server and triggerer;
SQLite), stores ``aep_default`` and ``hubspot_default`` pointing at the emulator in Airflow's DB through its
REST API (Admin → Connections lists them; secrets encrypted), enables the connection Test button, then
prints the URL and login. Ctrl-C stops everything. Nothing listens on anything but 127.0.0.1.

    .venv/bin/python scripts/airflow_local.py [--port 8080] [--home .airflow-local] [--fresh]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.system.airflow_server import (  # noqa: E402
    ADMIN_USER,
    EXAMPLE_DAGS,
    AirflowStartupError,
    LocalAirflow,
    free_port,
)
from tests.system.demo_connections import demo_connections, store_connections  # noqa: E402

LOCAL_ENV = {
    # Emulated runs take seconds, so waiting sensors poll every 2 s instead of every minute (read at parse time).
    "AEP_ONBOARDING_POKE_INTERVAL": "2",
}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def unpause_unscheduled_dags(server: LocalAirflow, wait: float = 30) -> list[str]:
    """Unpause example DAGs without a schedule, so a click on Trigger runs them straight away."""
    client = server.client()
    expected = {p.stem for p in server.dags_folder.glob("*.py")}
    deadline = time.monotonic() + wait
    dags: list[dict] = []
    while time.monotonic() < deadline:
        dags = client.get("/api/v2/dags", params={"limit": 1000})["dags"]
        files = {Path(d.get("fileloc") or "").stem for d in dags}
        if expected <= files:
            break
        time.sleep(1)
    unpaused = []
    for dag in dags:
        if dag.get("is_paused") and dag.get("timetable_summary") in (None, "None", "null"):
            client.unpause(dag["dag_id"])
            unpaused.append(dag["dag_id"])
    return sorted(unpaused)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="api-server port (a free one if taken)")
    parser.add_argument("--emulator-port", type=int, default=0, help="emulator port (default: any free port)")
    parser.add_argument("--home", type=Path, default=REPO / ".airflow-local", help="AIRFLOW_HOME to use/keep")
    parser.add_argument("--fresh", action="store_true", help="delete --home first (DB, logs, saved connections)")
    parser.add_argument("--password", default="admin", help="password of the 'admin' user")
    args = parser.parse_args(argv)

    from aep_emulator import EmulatorConfig, run_emulator_subprocess

    home: Path = args.home.resolve()
    if args.fresh and home.exists():
        shutil.rmtree(home)
    port = args.port if port_is_free(args.port) else free_port()
    if port != args.port:
        print(f"Port {args.port} is busy; using {port}.")

    def on_sigterm(signum, frame):  # Ctrl-C arrives as KeyboardInterrupt; `kill` as SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    print("Starting the AEP emulator ...", flush=True)
    with run_emulator_subprocess(EmulatorConfig(), port=args.emulator_port) as emulator:
        server = LocalAirflow.create(
            home,
            dag_sources=(EXAMPLE_DAGS,),  # not the system tests' DAGs (aep_secret_echo)
            extra_env=LOCAL_ENV,
            api_port=port,
            password=args.password,
        )
        print(f"Starting Airflow in {home} (component output: {home}/*.out) ...", flush=True)
        try:
            server.start()
            server.wait_until_ready()
            stored = store_connections(server.client(), demo_connections(emulator.url))
            unpaused = unpause_unscheduled_dags(server)
            sandboxes = ", ".join(emulator.control.config()["sandboxes"] or ["any name"])
            print(
                "\n"
                f"  Airflow UI : {server.url}   (login: {ADMIN_USER} / {args.password})\n"
                f"  Emulator   : {emulator.url}   (IMS, Flow Service, Schema Registry, Catalog, Data Prep; "
                f"state at {emulator.url}/__emulator/state)\n"
                f"  Sandboxes  : {sandboxes} (any other name answers 'Sandbox not found', as AEP does)\n"
                f"  Connections: {', '.join(f'{c} ({how})' for c, how in stored.items())}, in Airflow's DB "
                "(Admin -> Connections; secrets encrypted)\n"
                f"  DAGs       : {server.dags_folder} -> dags_examples/ (unpaused: {', '.join(unpaused) or 'none'})\n"
                f"  Task logs  : {server.logs_folder}\n"
                "\n  Ctrl-C stops everything.\n",
                flush=True,
            )
            while True:
                if exited := server.exited_components():
                    print(f"Airflow component(s) exited: {exited}\n{server.log_tail()}", file=sys.stderr)
                    return 1
                time.sleep(1)
        except AirflowStartupError as err:
            print(err, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C must not interrupt the shutdown and leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            server.stop()
    print("\nstopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

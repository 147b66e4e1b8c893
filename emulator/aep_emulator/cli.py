"""``aep-emulator``: serve the emulator in the foreground (also ``python -m aep_emulator.cli``).

Prints ``AEP emulator listening on http://HOST:PORT`` once it accepts requests (``--port 0`` picks a free
port), which is how :func:`run_emulator_subprocess` finds it. A ``--host`` that is not loopback prints a
warning on stderr; the control plane (``/__emulator/``) keeps answering loopback callers only unless
``--control-from-anywhere`` is given with a ``--control-token``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .core.access import TOKEN_ENV, TOKEN_HEADER, host_warning
from .core.config import RUN_OUTCOMES, EmulatorConfig
from .server import LISTENING_PREFIX, PG_PREFIX


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aep-emulator",
        description="Local emulator of Adobe IMS (/ims/token/v3) and AEP Flow Service "
        "(/data/foundation/flowservice), with a test control plane under /__emulator/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind; 0 picks a free one (default: 8081)")
    parser.add_argument("--token-lifetime", type=int, help="IMS expires_in in seconds (default: 86399)")
    parser.add_argument(
        "--client-id",
        action="append",
        default=[],
        help="restrict IMS to this client id (repeatable, pair each with --client-secret)",
    )
    parser.add_argument("--client-secret", action="append", default=[], help="secret for the matching --client-id")
    parser.add_argument("--run-duration", type=float, help="seconds a run stays inProgress (default: 3)")
    parser.add_argument("--run-start-delay", type=float, help="seconds a run stays scheduled (default: 1)")
    parser.add_argument("--run-outcome", choices=RUN_OUTCOMES, help="default run outcome (default: success)")
    parser.add_argument("--rows-per-run", type=int, help="sample rows a dataset-backed run ingests (default: 10)")
    parser.add_argument(
        "--sandbox",
        action="append",
        default=[],
        help="a sandbox that exists (repeatable; default: prod and dev); others answer 'Sandbox not found'",
    )
    parser.add_argument("--any-sandbox", action="store_true", help="accept every well-formed sandbox name")
    parser.add_argument("--pg-port", type=int, help="port of Query Service's PostgreSQL endpoint (default: 0, any)")
    parser.add_argument("--config-json", help="a full EmulatorConfig as JSON (flags above override it)")
    parser.add_argument(
        "--control-from-anywhere",
        action="store_true",
        help="let non-loopback callers use the control plane (/__emulator/...) when they send the header "
        f"{TOKEN_HEADER}: TOKEN; needs --control-token (default: loopback callers only)",
    )
    parser.add_argument(
        "--control-token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"the token for --control-from-anywhere (default: ${TOKEN_ENV}; the variable keeps it out of ps)",
    )
    return parser


def check_control_options(args: argparse.Namespace) -> None:
    """``SystemExit`` for ``--control-from-anywhere`` without a token; a note for a token alone."""
    if args.control_from_anywhere and not args.control_token:
        raise SystemExit(
            f"aep-emulator: --control-from-anywhere needs --control-token TOKEN (or ${TOKEN_ENV}); "
            f"non-loopback callers then send the header {TOKEN_HEADER}: TOKEN"
        )
    if args.control_token and not args.control_from_anywhere:
        print(
            "aep-emulator: note: --control-token has no effect without --control-from-anywhere "
            "(the control plane answers loopback callers only)",
            file=sys.stderr,
        )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    data = json.loads(args.config_json) if args.config_json else {}
    if len(args.client_id) != len(args.client_secret):
        raise SystemExit("aep-emulator: every --client-id needs a matching --client-secret")
    if args.client_id:
        data["credentials"] = dict(zip(args.client_id, args.client_secret, strict=True))
    if args.sandbox and args.any_sandbox:
        raise SystemExit("aep-emulator: --sandbox and --any-sandbox exclude each other")
    if args.sandbox:
        data["sandboxes"] = list(args.sandbox)
    elif args.any_sandbox:
        data["sandboxes"] = None
    for flag, key in (
        ("token_lifetime", "token_lifetime"),
        ("run_duration", "run_duration"),
        ("run_start_delay", "run_start_delay"),
        ("run_outcome", "run_outcome"),
        ("rows_per_run", "rows_per_run"),
        ("pg_port", "pg_port"),
    ):
        value = getattr(args, flag)
        if value is not None:
            data[key] = value
    try:
        return EmulatorConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"aep-emulator: invalid configuration: {exc}") from exc


def _announce(app: Any, url: str) -> None:
    """The PostgreSQL endpoint's address, then the ``listening on`` line (what the launcher waits for)."""
    if app.pg.address is not None:
        host, port = app.pg.address
        print(f"{PG_PREFIX}{host}:{port} (Query Service, dbname <sandbox>:all, password = an IMS token)", flush=True)
    print(f"{LISTENING_PREFIX}{url}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    check_control_options(args)
    warning = host_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if args.control_from_anywhere:
        print(
            "aep-emulator: WARNING: --control-from-anywhere: every host that can reach this port and knows the "
            f"control token can reset the emulator and read its journal ({TOKEN_HEADER} header).",
            file=sys.stderr,
            flush=True,
        )

    from .app import create_app
    from .server import bind_socket, require_uvicorn, url_for, uvicorn_config

    uvicorn = require_uvicorn()

    sock = bind_socket(args.host, args.port)
    app = create_app(config, control_from_anywhere=args.control_from_anywhere, control_token=args.control_token)
    url = url_for(sock)
    app.on_startup.append(lambda: _announce(app, url))
    try:
        uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
    except KeyboardInterrupt:  # a second Ctrl-C while uvicorn shuts down: still a clean stop
        pass
    finally:
        sock.close()
    print("AEP emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test helpers for Query Service: a REST client on ``/data/foundation/query``, the control plane's query hold
and the keyword arguments that connect a PostgreSQL driver to the emulator's endpoint."""

from __future__ import annotations

from typing import Any

import requests

from .testing import ORG, ServiceClient

QS = "/data/foundation/query"


class QueryClient(ServiceClient):
    """Authenticated calls to the emulated Query Service (raw ``requests`` responses)."""

    base = QS


def hold_queries(url: str, held: bool = True) -> None:
    """Keep queries ``IN_PROGRESS`` whatever the clock says (``held=False`` releases them)."""
    response = requests.post(f"{url}/__emulator/queries/hold", json={"held": held}, timeout=10)
    response.raise_for_status()


def pg_params(emulator: Any, token: str, sandbox: str = "prod", org: str = ORG, **extra: Any) -> dict[str, Any]:
    """``host``/``port``/``user``/``password``/``dbname`` for ``psycopg2.connect`` or ``psycopg.connect``."""
    host, port = emulator.pg_address
    return {"host": host, "port": port, "user": org, "password": token, "dbname": f"{sandbox}:all", **extra}

"""``[core] hostname_callable`` for the distributed test: each Celery worker reports its own name.

All workers run on one machine there, so the real host name cannot tell them apart; this one returns
``AEP_TEST_HOSTNAME`` (set per worker by ``tests.system.distributed``) and falls back to Airflow's default.
"""

from __future__ import annotations

import os


def hostname() -> str:
    from airflow.utils.net import getfqdn

    return os.environ.get("AEP_TEST_HOSTNAME") or getfqdn()

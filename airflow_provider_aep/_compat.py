"""What differs between the Airflow versions the provider supports (3.1.8, the floor ``make test-lowest`` runs,
to the latest 3.x), in one place. Each name is the newest spelling; the fallback is the older one.

Cheap on purpose (DAG files import the provider on every parse): it imports nothing that
``from airflow.sdk import BaseOperator`` has not already loaded on either version.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

__all__ = ["AirflowFailException", "AirflowSensorTimeout", "AirflowSkipException", "amask_secret", "conf"]

log = logging.getLogger(__name__)

_warned_unregistered: list[str] = []
"""The failure the one "could not register a secret" warning of this process named (empty until then)."""


async def amask_secret_without_sdk(secret: Any, name: str | None = None) -> None:
    """``amask_secret`` for Airflow 3.1, which has only the sync ``mask_secret``, whose supervisor message cannot
    be sent from inside the triggerer's event loop: mask locally, then tell the supervisor (3.3's own steps).

    Telling the supervisor may fail (a broken pipe, a message the supervisor refuses); the secret is then masked
    in this process only, and the supervisor's own log lines could show it. That is logged once per process as a
    warning that names the failure's type only: its text could quote the secret.
    """
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    _secrets_masker().add_mask(secret, name)
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import MaskSecret

        if comms := getattr(task_runner, "SUPERVISOR_COMMS", None):  # None outside a task or triggerer process
            await comms.asend(MaskSecret(value=secret, name=name))
    except Exception as exc:
        if not _warned_unregistered:
            _warned_unregistered.append(type(exc).__name__)
            log.warning(
                "Could not register a secret with the Airflow supervisor (%s): it is masked in this process's "
                "logs but may not be in the supervisor's (the triggerer's or the task's). Not repeated for "
                "other secrets of this process.",
                type(exc).__name__,
            )


if TYPE_CHECKING:  # mypy runs against the latest Airflow
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException
    from airflow.sdk.log import amask_secret
else:
    try:  # 3.2+: the task SDK owns these; on 3.1 airflow.sdk.exceptions has only AirflowException
        from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException
    except ImportError:
        from airflow.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

    try:  # 3.2+: the SDK's own config parser; 3.1 has no airflow.sdk.configuration
        from airflow.sdk.configuration import conf
    except ImportError:
        from airflow.configuration import conf

    try:  # 3.2+
        from airflow.sdk.log import amask_secret
    except ImportError:
        amask_secret = amask_secret_without_sdk

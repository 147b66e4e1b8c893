"""What differs between the Airflow versions the provider supports (3.1.8, the floor ``make test-lowest`` runs,
to the latest 3.x), in one place. Each name is the newest spelling; the fallback is the older one.

Cheap on purpose (DAG files import the provider on every parse): it imports nothing that
``from airflow.sdk import BaseOperator`` has not already loaded on either version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["AirflowFailException", "AirflowSensorTimeout", "AirflowSkipException", "amask_secret", "conf"]

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

        async def amask_secret(secret: Any, name: str | None = None) -> None:
            """3.1 has only the sync ``mask_secret``, whose supervisor message cannot be sent from inside the
            triggerer's event loop; this is 3.3's ``amask_secret``: mask locally, then tell the supervisor."""
            from contextlib import suppress

            from airflow.sdk._shared.secrets_masker import _secrets_masker

            _secrets_masker().add_mask(secret, name)
            with suppress(Exception):  # only inside a task or triggerer process
                from airflow.sdk.execution_time import task_runner
                from airflow.sdk.execution_time.comms import MaskSecret

                if comms := getattr(task_runner, "SUPERVISOR_COMMS", None):
                    await comms.asend(MaskSecret(value=secret, name=name))

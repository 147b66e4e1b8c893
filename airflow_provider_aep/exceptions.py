"""Airflow-facing errors for bad input, raised before any remote call.

They subclass ``AirflowException`` (as Airflow users expect from a provider) and ``ValueError``, and always
name the Airflow connection or operator argument at fault. ``AEPFlowRunFailedError`` reports a dataflow
run that ended badly.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_aep._compat import AirflowFailException


class AEPConnectionConfigError(AirflowException, ValueError):
    """An Airflow Connection is missing a field or has an invalid one."""

    def __init__(self, conn_id: str, field: str, message: str) -> None:
        self.conn_id = conn_id
        self.field = field
        self.reason = message
        super().__init__(f"Airflow connection {conn_id!r}, field {field!r}: {message}")


class AEPInvalidArgumentError(AirflowException, ValueError):
    """An operator or sensor argument is invalid."""

    def __init__(self, task: str, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"{task}: argument {argument!r} {message}")


class AEPFlowRunFailedError(AirflowFailException):
    """A dataflow run ended failed (or with failed records under ``failed_records_policy="fail"``).

    Retrying the task cannot change a finished run, hence ``AirflowFailException``. ``run`` is the run
    summary (id, status, record counts, error codes and messages).
    """

    def __init__(self, message: str, run: dict[str, Any] | None = None) -> None:
        self.run = run
        super().__init__(message)


class AEPResourceMismatchError(AirflowFailException):
    """A resource with the requested name exists but differs from what the task asks for.

    Reusing it would silently ingest into the wrong place, and retrying cannot change it, hence
    ``AirflowFailException``. The message names the resource, the differing field, and both values.
    """

    def __init__(self, task: str, resource: str, name: str, field: str, existing: Any, asked: Any) -> None:
        self.resource = resource
        self.field = field
        self.existing = existing
        self.asked = asked
        super().__init__(
            f"{task}: {resource} {name!r} exists with {field} {existing!r}, but this task asks for {asked!r}; "
            f"rename the {resource} or fix the argument"
        )

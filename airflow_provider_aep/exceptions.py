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


class AEPBatchFailedError(AirflowFailException):
    """A batch ended failed, aborted or abandoned (or with failed records under ``failed_records_policy="fail"``).

    The batch will not change, and a retry of the task finds the same batch by its ``externalId`` rather than
    loading the files again, hence ``AirflowFailException``. ``batch`` is the batch summary (id, status, record
    counts, error codes and messages, a sample of the failed records).
    """

    def __init__(self, message: str, batch: dict[str, Any] | None = None) -> None:
        self.batch = batch
        super().__init__(message)


class AEPQueryServiceFailedError(AirflowFailException):
    """A Query Service query, or a scheduled query's run, ended FAILED, KILLED or TIMEOUT.

    Retrying the task cannot change a finished query, hence ``AirflowFailException``. ``codes`` are Query
    Service's error codes (``53400``, ``42P01``...), ``summary`` the query's or run's summary.
    """

    def __init__(self, message: str, *, codes: list[str] | None = None, summary: dict[str, Any] | None = None) -> None:
        self.codes = list(codes or [])
        self.summary = summary
        super().__init__(message)

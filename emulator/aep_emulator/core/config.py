"""Emulator configuration: one small, serialisable dataclass shared by the server, CLI and control plane."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

RUN_OUTCOMES = ("success", "failed", "partial")
#: The sandboxes a new org has locally: AEP's default production sandbox and one development sandbox.
DEFAULT_SANDBOXES = ("prod", "dev")


@dataclass
class EmulatorConfig:
    """Knobs for one emulator instance.

    Defaults mirror the real service where it is documented (IMS tokens live 86399 s) and are otherwise
    chosen so that tests are quick (a run is ``scheduled`` for 1 s, then ``inProgress`` for 3 s).
    """

    #: ``expires_in`` returned by IMS, in seconds; tokens expire on the emulator clock.
    token_lifetime: int = 86399
    #: ``None`` accepts any non-empty client id/secret; a dict restricts IMS to these ``{client_id: secret}``.
    credentials: dict[str, str] | None = None
    #: Seconds a run stays ``inProgress`` before it becomes terminal.
    run_duration: float = 3.0
    #: Seconds a run stays ``scheduled`` after it is created.
    run_start_delay: float = 1.0
    #: Outcome of runs unless forced via the control plane: ``success``, ``failed`` or ``partial``.
    run_outcome: str = "success"
    #: ``failedRecordCount`` used for ``partial``/``failed`` runs when not forced (partial uses at least 1).
    failed_records: int = 0
    #: The sandboxes that exist (default ``prod`` and ``dev``); other names answer ``FLOW-2100-404`` as AEP does.
    #: ``None`` accepts every well-formed name.
    sandboxes: list[str] | None = field(default_factory=lambda: list(DEFAULT_SANDBOXES))
    #: Page size when a list request has no ``limit`` (the real default is undocumented).
    default_page_size: int = 20
    #: Larger ``limit`` values are clamped to this (the spec's search bodies cap ``limit`` at 1000).
    max_page_size: int = 1000
    #: At most this many scheduled runs are materialised per flow and read (older slots are skipped).
    max_scheduled_runs: int = 100
    #: The journal keeps only the most recent entries.
    journal_limit: int = 10000
    #: Sample rows a finished run of a dataset-backed flow ingests (mapped, validated, landed in Catalog).
    rows_per_run: int = 10
    #: Query Service: seconds a query stays ``SUBMITTED``, then ``IN_PROGRESS`` before its SQL runs.
    query_start_delay: float = 1.0
    query_duration: float = 2.0
    #: Port of Query Service's PostgreSQL endpoint on 127.0.0.1 (0 lets the OS pick a free one).
    pg_port: int = 0
    #: Largest file one small-file upload (``PUT``) of the Batch Ingestion API accepts (Adobe: 256 MB).
    batch_file_limit: int = 256 * 1024 * 1024
    #: Largest total size of one batch's files (Adobe: 100 GB).
    batch_size_limit: int = 100 * 1024**3
    #: Most files one batch may hold (Adobe: 1500).
    batch_max_files: int = 1500
    #: Seconds a completed batch stays ``staging`` on the emulator clock before it is processed.
    batch_processing_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.run_outcome not in RUN_OUTCOMES:
            raise ValueError(f"run_outcome must be one of {RUN_OUTCOMES}, got {self.run_outcome!r}")
        if self.token_lifetime <= 0:
            raise ValueError("token_lifetime must be positive")
        if self.run_duration < 0 or self.run_start_delay < 0:
            raise ValueError("run_duration and run_start_delay must not be negative")
        if self.default_page_size < 1 or self.max_page_size < self.default_page_size:
            raise ValueError("need 1 <= default_page_size <= max_page_size")
        if isinstance(self.rows_per_run, bool) or not isinstance(self.rows_per_run, int) or self.rows_per_run < 0:
            raise ValueError("rows_per_run must be a non-negative integer")
        if min(self.batch_file_limit, self.batch_size_limit, self.batch_max_files) < 1:
            raise ValueError("batch_file_limit, batch_size_limit and batch_max_files must be positive")
        if self.batch_processing_delay < 0:
            raise ValueError("batch_processing_delay must not be negative")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used by the control plane and the subprocess launcher)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown emulator config fields: {unknown}")
        return cls(**data)

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """A copy with ``changes`` applied and validated."""
        merged = self.to_dict()
        merged.update(changes)
        return EmulatorConfig.from_dict(merged)

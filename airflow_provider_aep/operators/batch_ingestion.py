"""``IngestFilesOperator``: load files a pipeline produced into an AEP dataset through the Batch Ingestion API.

Adobe's workflow, one batch per DAG-run task: create the batch, PUT its files (inputs over ``chunk_size`` cut
at record boundaries, or sent whole through the large-file calls), COMPLETE it, wait for Catalog's verdict in
the triggerer. What each try did is kept in the task's ledger (:mod:`airflow_provider_aep.resume`), so a retry
after a worker died continues the same batch and sends only what is missing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep._compat import conf
from airflow_provider_aep.asset_events import declare_dataset_events
from airflow_provider_aep.client.batch_files import FILE_FORMATS, MAX_PATCH_BYTES, MAX_PUT_BYTES, FileFormat
from airflow_provider_aep.client.models import FAILED_RECORDS_POLICIES, FailedRecordsPolicy
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.base import AEPBaseOperator, require_choice, require_text
from airflow_provider_aep.sensors.batches import BatchOutcome

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_aep.client.batch_files import Part, Source
    from airflow_provider_aep.client.batch_upload import Progress
    from airflow_provider_aep.resume import TaskLedger

LEDGER_KEY = "aep_batch"


def external_id_for(context: Context, dataset_id: str) -> str:
    """The batch's ``externalId``: the same for every try of one task instance, different for any other."""
    ti = context["ti"]
    key = "\x1f".join(str(v) for v in (ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), dataset_id))
    return f"airflow-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


class IngestFilesOperator(BatchOutcome, AEPBaseOperator):
    """Load files into an AEP dataset as one batch; wait for it; return the batch summary.

    Every file is uploaded, the batch completed and waited for (in the triggerer when ``deferrable``). The
    summary (id, status, counts, error codes, a sample of failed records) is returned and its counts pushed to
    XCom (``records``, ``failed_records``, ``error_codes``, ``failed_records_sample``; ``batch_id`` as soon as
    the batch exists). On success the dataset gets an asset event (``aep://<org>/<sandbox>/datasets/<id>``)
    through the task's alias, and OpenLineage sees the files as inputs and the dataset, with its XDM schema, as
    the output.

    Inputs larger than ``chunk_size`` go up as several files: JSON lines and CSV are cut at record boundaries
    (every CSV part repeats the header); a JSON array or a Parquet file stays one file, sent through the large-file
    calls ``chunk_size`` bytes at a time. JSON lines or array is read from the first byte of the files.

    **Never twice.** The batch's ``externalId`` is derived from the task instance, so a create whose answer was
    lost is found again instead of made twice; what each try uploaded is kept in the task state store (Airflow
    3.3+) or an Airflow Variable (earlier versions), so a retry continues the same batch and re-sends only the
    files not recorded as uploaded. A batch that already succeeded is not loaded again. ``on_kill`` aborts the
    batch only when no retry can resume it (no retries left).

    Bad input (no files, a missing or empty file, an unknown format, a JSON file of the wrong shape, a record
    longer than ``chunk_size``, more than 1,500 files or 100 GB for one batch, a CSV whose columns are not flat
    fields of the dataset's schema (nested arrays, unknown paths), a dataset that does not exist) fails before any
    batch is created, naming the argument.

    :param dataset_id: the target dataset (templated).
    :param files: local paths, ``file://``/``s3://``/``gs://``... URIs or ``ObjectStoragePath`` objects, one or a
        list (templated).
    :param file_format: ``json`` (lines, or one array per file), ``csv`` (with a header row) or ``parquet``.
    :param chunk_size: the largest file sent in one request, in bytes (default and maximum 256 MB, Adobe's
        limit of one upload).
    :param partial_ingestion_percent: accept the batch when at most this percentage of records fail (they are
        reported); None: any failed record fails the batch.
    :param error_diagnostics: ask AEP for row-level error diagnostics (on by default; partial ingestion needs it).
    :param replace_batches: ids of earlier batches this one replaces (AEP's replay; templated).
    :param wait_for_completion: wait until AEP has processed the batch (default); False returns once it is
        completed with its status then.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks while waiting.
    :param wait_timeout: seconds to wait for AEP's verdict before failing (None: no limit).
    :param failed_records_policy: ``ignore``, ``warn`` (default) or ``fail`` for a batch with failed records.
    :param storage_conn_id: the Airflow connection of URIs given as text (object storage credentials).
    :param asset_alias: the ``AssetAlias`` of the dataset's event (default ``aep-datasets:<dag_id>.<task_id>``).
    :param emit_asset_events: emit the dataset's asset event (default); False declares no alias.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("dataset_id", "files", "replace_batches", "partial_ingestion_percent")

    def __init__(
        self,
        *,
        dataset_id: str,
        files: Any,
        file_format: FileFormat = "json",
        chunk_size: int = MAX_PUT_BYTES,
        partial_ingestion_percent: float | None = None,
        error_diagnostics: bool = True,
        replace_batches: Sequence[str] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        wait_timeout: float | None = 24 * 3600.0,
        failed_records_policy: FailedRecordsPolicy = "warn",
        storage_conn_id: str | None = None,
        asset_alias: str | None = None,
        emit_asset_events: bool = True,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_id = dataset_id
        self.files = files
        self.file_format = require_choice(self, "file_format", file_format, FILE_FORMATS)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 0 < chunk_size <= MAX_PUT_BYTES:
            raise AEPInvalidArgumentError(
                self.task_id, "chunk_size", f"must be a number of bytes from 1 to {MAX_PUT_BYTES}, got {chunk_size!r}"
            )
        self.chunk_size = chunk_size
        self.partial_ingestion_percent = partial_ingestion_percent
        self.error_diagnostics = error_diagnostics
        self.replace_batches = replace_batches
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.failed_records_policy = require_choice(
            self, "failed_records_policy", failed_records_policy, FAILED_RECORDS_POLICIES
        )
        self.storage_conn_id = storage_conn_id
        self.asset_alias = declare_dataset_events(self, emit_asset_events=emit_asset_events, asset_alias=asset_alias)
        self.aep_conn_id = aep_conn_id

    # ------------------------------------------------------------------ checks before any remote call
    def _sources(self) -> list[Source]:
        from airflow_provider_aep.files import FileArgumentError, as_sources

        if self.files in (None, "", [], ()):
            raise AEPInvalidArgumentError(self.task_id, "files", "must name at least one file")
        try:
            return as_sources(self.files, self.storage_conn_id)
        except FileArgumentError as err:
            raise AEPInvalidArgumentError(self.task_id, "files", str(err)) from None

    def _percent(self) -> float | None:
        value = self.partial_ingestion_percent
        if value in (None, ""):
            return None
        try:
            percent = float(value)
        except (TypeError, ValueError):
            percent = -1.0
        if not 0 <= percent <= 100:
            raise AEPInvalidArgumentError(
                self.task_id, "partial_ingestion_percent", f"must be a percentage from 0 to 100, got {value!r}"
            )
        return percent

    def _multiline_json(self, sources: list[Source]) -> bool:
        """Whether the JSON inputs are arrays (``isMultiLineJson``); all inputs of one batch must agree."""
        shapes = set()
        for source in sources:
            with source.open() as stream:
                head = stream.read(4096).lstrip()
            shapes.add(head[:1] == b"[")
        if len(shapes) > 1:
            raise AEPInvalidArgumentError(
                self.task_id, "files", "mixes JSON arrays and JSON lines; one batch takes one of the two"
            )
        return shapes.pop()

    def plan(self) -> tuple[list[Source], list[Part], bool]:
        """The inputs, the files they become and whether they are JSON arrays; raises naming the argument."""
        from airflow_provider_aep.client.batch_files import PlanError, plan_parts

        sources = self._sources()
        multiline = self.file_format == "json" and self._multiline_json(sources)
        try:
            parts = plan_parts(sources, self.file_format, self.chunk_size, multiline_json=multiline)
        except PlanError as err:
            raise AEPInvalidArgumentError(self.task_id, err.argument, str(err)) from None
        return sources, parts, multiline

    def _check_dataset(self, dataset_id: str, sources: list[Source]) -> dict[str, Any]:
        from airflow_provider_aep.client.errors import AEPNotFoundError

        try:
            dataset = self.hook.catalog.get_dataset(dataset_id)
        except AEPNotFoundError:
            raise AEPInvalidArgumentError(self.task_id, "dataset_id", f"{dataset_id} does not exist") from None
        if self.file_format == "csv":
            from airflow_provider_aep.operators._batch_checks import csv_columns_outside, csv_header

            columns = sorted({column for source in sources for column in csv_header(source)})
            outside = csv_columns_outside(self.hook, dataset, columns)
            if outside:
                raise AEPInvalidArgumentError(
                    self.task_id,
                    "file_format",
                    f"'csv' cannot fill dataset {dataset_id}: columns {outside[:5]} are not flat fields of its "
                    "schema (CSV headers name fields by dotted XDM path and cannot fill arrays); use json or parquet",
                )
        return dataset

    def batch_body(self, dataset_id: str, multiline: bool) -> dict[str, Any]:
        input_format: dict[str, Any] = {"format": self.file_format}
        if multiline:
            input_format["isMultiLineJson"] = True
        body: dict[str, Any] = {"datasetId": dataset_id, "inputFormat": input_format}
        percent = self._percent()
        body["enableErrorDiagnostics"] = bool(self.error_diagnostics) or percent is not None
        if percent is not None:
            body["partialIngestionPercent"] = percent
        if self.replace_batches:
            replaced = [self.replace_batches] if isinstance(self.replace_batches, str) else list(self.replace_batches)
            body["replay"] = {"predecessors": [str(b) for b in replaced], "reason": "replace"}
        return body

    # ------------------------------------------------------------------ execution
    def execute(self, context: Context) -> Any:
        from airflow_provider_aep.client.batch_files import plan_digest
        from airflow_provider_aep.client.batch_upload import BatchUpload, Progress
        from airflow_provider_aep.resume import task_ledger

        dataset_id = require_text(self, "dataset_id", self.dataset_id)
        sources, parts, multiline = self.plan()
        self._lineage_sources = sources
        self._percent()
        self._check_dataset(dataset_id, sources)
        digest = plan_digest(parts, sources)
        ledger = task_ledger(context, LEDGER_KEY)
        recorded = Progress.from_json(ledger.load())
        first_attempt = recorded is None and getattr(context["ti"], "try_number", 1) <= 1
        progress = recorded or Progress(external_id_for(context, dataset_id), digest)
        if progress.digest != digest:
            progress = self._input_changed(progress, digest)
        upload = BatchUpload(
            self.hook.batch_ingestion,
            dataset_id,
            sources,
            parts,
            patch_size=min(self.chunk_size, MAX_PATCH_BYTES),
            save=ledger.save,
        )
        self._ledger, self._progress = ledger, progress
        self._resumable = getattr(context["ti"], "try_number", 1) <= (self.retries or 0)
        self.log.info("Loading %d file(s) into dataset %s as %d upload(s)", len(sources), dataset_id, len(parts))
        progress, batch = upload.open_batch(
            progress, self.batch_body(dataset_id, multiline), first_attempt=first_attempt
        )
        self._progress = progress
        context["ti"].xcom_push(key="batch_id", value=progress.batch_id)
        if batch is None:
            progress = upload.upload(progress)
        assert progress.batch_id is not None
        return self._wait(context, ledger, progress.batch_id)

    def _input_changed(self, progress: Progress, digest: str) -> Progress:
        """A retry whose inputs differ from what the previous try planned: that batch is abandoned, a new one
        (the next ``externalId`` generation) takes the new input."""
        from airflow_provider_aep.client.batch_upload import Progress, next_external_id

        self.log.warning("The input changed since the previous try (plan %s, now %s)", progress.digest, digest)
        if progress.batch_id and not progress.completed:
            self.hook.batch_ingestion.abort_batch(progress.batch_id)
            self.log.warning("Aborted batch %s, which held the previous input", progress.batch_id)
        base = progress.external_id.rsplit(".", 1)[0] if progress.generation > 1 else progress.external_id
        generation = progress.generation + 1
        return Progress(next_external_id(base, generation), digest, generation=generation)

    def _wait(self, context: Context, ledger: TaskLedger, batch_id: str) -> Any:
        from airflow_provider_aep.client.batches import batch_verdict

        summary = self.read_batch(batch_id)
        if not self.wait_for_completion:
            ledger.clear()
            self.log.info("Batch %s completed and %s; not waiting for AEP's verdict", batch_id, summary["status"])
            return summary
        deadline = None if self.wait_timeout is None else time.time() + float(self.wait_timeout)
        while batch_verdict(summary, self.failed_records_policy)[0] == "running":
            if self.deferrable:
                self.defer_batch_wait(batch_id, deadline, self.poll_interval)
            if deadline is not None and time.time() >= deadline:
                from airflow_provider_aep._compat import AirflowSensorTimeout

                raise AirflowSensorTimeout(f"AEP batch {batch_id} is still {summary['status']}")
            time.sleep(self.poll_interval)
            summary = self.read_batch(batch_id)
        return self.finish_batch(context, summary)

    def finish_batch(self, context: Context, summary: dict[str, Any]) -> dict[str, Any]:
        """The batch is terminal: the ledger is done with (a retry now finds the batch by ``externalId``)."""
        from airflow_provider_aep.resume import task_ledger

        task_ledger(context, LEDGER_KEY).clear()
        return super().finish_batch(context, summary)

    def on_kill(self) -> None:
        """Abort the batch only when no retry can resume it; a resumable one stays ``loading`` for the retry."""
        progress: Progress | None = getattr(self, "_progress", None)
        if progress is None or not progress.batch_id or progress.completed:
            return
        if getattr(self, "_resumable", False):
            self.log.info("Killed: batch %s stays loading for the next try to resume", progress.batch_id)
            return
        self.log.warning("Killed on the last try: aborting batch %s", progress.batch_id)
        self.hook.batch_ingestion.abort_batch(progress.batch_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Inputs: the files; output: the dataset with its XDM schema's fields and the records written."""
        from airflow_provider_aep.operators._batch_checks import batch_lineage

        return batch_lineage(self, getattr(self, "_lineage_sources", None) or [])


__all__ = ["IngestFilesOperator", "external_id_for"]

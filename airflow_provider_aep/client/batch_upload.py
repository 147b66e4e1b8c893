"""One batch's upload, resumable: which batch, which of its files AEP already has, and the rest sent once.

:class:`Progress` is what a try records after each step (batch id, the plan's digest, the files uploaded, how far
each large file got); a later try that loads it continues the same batch and sends only the files not recorded
(a file whose PUT succeeded but was not recorded is sent again, which is harmless: a PUT replaces the file).
Without any record, the batch is found by its ``externalId`` (a create whose answer was lost, or a ledger that
was lost); a batch found that way is still ``loading`` and every file goes up again.

No Airflow here: the operator passes a ``save`` callback that writes the progress where its Airflow keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_aep.client.batch_files import Part, Source, part_reader
from airflow_provider_aep.client.batch_ingestion import BatchIngestionClient
from airflow_provider_aep.client.batches import FAILED_STATUSES

log = logging.getLogger("airflow_provider_aep.client")

#: Batches in these states take no more files and will not land: a retry starts a new batch.
DEAD_STATUSES = frozenset({"aborted", "abandoned", "inactive", "deleted"})


@dataclass
class Progress:
    """What a try has done, as saved in the task's ledger (JSON-safe; ids and names only)."""

    external_id: str
    digest: str
    batch_id: str | None = None
    done: list[str] = field(default_factory=list)
    large: dict[str, int] = field(default_factory=dict)
    completed: bool = False
    generation: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> Progress | None:
        if not value or not isinstance(value.get("external_id"), str):
            return None
        known = {k: value[k] for k in cls.__dataclass_fields__ if k in value}
        return cls(**known)


def next_external_id(base: str, generation: int) -> str:
    return base if generation <= 1 else f"{base}.{generation}"


class BatchUpload:
    """Create or resume one batch and upload ``parts`` of ``sources`` into it, then COMPLETE it.

    :param client: the Batch Ingestion client.
    :param dataset_id: the batch's dataset.
    :param sources: the inputs, in the order ``parts`` refer to them.
    :param parts: the batch's files (:func:`~airflow_provider_aep.client.batch_files.plan_parts`).
    :param patch_size: bytes per PATCH of a large file.
    :param save: called with the progress (JSON) after every step, to keep it where a retry finds it.
    """

    def __init__(
        self,
        client: BatchIngestionClient,
        dataset_id: str,
        sources: Sequence[Source],
        parts: Sequence[Part],
        *,
        patch_size: int,
        save: Callable[[dict[str, Any]], None],
    ) -> None:
        self.client = client
        self.dataset_id = dataset_id
        self.sources = sources
        self.parts = parts
        self.patch_size = patch_size
        self._save = save
        self.sent_requests = 0

    def save(self, progress: Progress) -> None:
        self._save(progress.to_json())

    # ------------------------------------------------------------------ the batch
    def open_batch(
        self, progress: Progress, body: Mapping[str, Any], *, first_attempt: bool = False
    ) -> tuple[Progress, dict[str, Any] | None]:
        """The batch to upload into: the recorded one, the one found by ``externalId``, or a new one.

        ``first_attempt``: nothing can have created this ``externalId`` before (a task's first try with an empty
        ledger), so the create is sent without looking it up first (a lost answer is still looked up).
        Returns the progress (possibly of a new generation) and, when the batch already went past ``loading``
        (a try died after COMPLETE), the batch as Catalog shows it.
        """
        while True:
            created = self.client.create_batch(
                {**body, "externalId": progress.external_id},
                lookup_first=not (first_attempt and progress.batch_id is None and progress.generation == 1),
            )
            batch = dict(created.resource) if created.resource is not None else None
            if progress.batch_id not in (None, created.id):
                # The ledger and Catalog disagree (the recorded batch is not this externalId's): trust Catalog.
                log.warning(
                    "Recorded batch %s is not %s's; using %s", progress.batch_id, progress.external_id, created.id
                )
                progress.done, progress.large, progress.completed = [], {}, False
            progress.batch_id = created.id
            status = str((batch or {}).get("status") or "loading").lower()
            if created.created:
                log.info("Created batch %s (externalId %s)", created.id, progress.external_id)
            else:
                log.info("Resuming batch %s (externalId %s), which is %s", created.id, progress.external_id, status)
            if status in DEAD_STATUSES:
                log.warning("Batch %s is %s and takes no files: starting a new batch", created.id, status)
                base = progress.external_id.rsplit(".", 1)[0] if progress.generation > 1 else progress.external_id
                progress = Progress(
                    next_external_id(base, progress.generation + 1), progress.digest, generation=progress.generation + 1
                )
                continue
            self.save(progress)
            if status != "loading" or progress.completed:
                return progress, batch
            return progress, None

    # ------------------------------------------------------------------ files
    def upload(self, progress: Progress) -> Progress:
        """Send every part not in ``progress.done``, then COMPLETE the batch; saves after each step."""
        assert progress.batch_id is not None
        batch_id = progress.batch_id
        skipped = [p.name for p in self.parts if p.name in progress.done]
        if skipped:
            log.info("Batch %s already has %d of %d files; sending the rest", batch_id, len(skipped), len(self.parts))
        for number, part in enumerate(self.parts, start=1):
            if part.name in progress.done:
                continue
            source = self.sources[part.source]
            if part.large:
                self._upload_large(progress, part, source)
            else:
                self.client.upload_file(batch_id, self.dataset_id, part.name, _opener(source, part))
                self.sent_requests += 1
            progress.done.append(part.name)
            self.save(progress)
            log.info("Uploaded %s (%d bytes; file %d of %d)", part.name, part.size, number, len(self.parts))
        self.client.complete_batch(batch_id)
        self.sent_requests += 1
        progress.completed = True
        self.save(progress)
        return progress

    def _upload_large(self, progress: Progress, part: Part, source: Source) -> None:
        """INITIALIZE (unless a recorded try did), PATCH the ranges from the recorded offset, COMPLETE."""
        assert progress.batch_id is not None
        batch_id, name = progress.batch_id, part.name
        offset = progress.large.get(name)
        if offset is None:
            self.client.initialize_file(batch_id, self.dataset_id, name)
            self.sent_requests += 1
            offset = progress.large[name] = 0
            self.save(progress)
        while offset < part.size:
            length = min(self.patch_size, part.size - offset)

            def content(start: int = offset, size: int = length) -> Any:
                return part_reader(source, part, start, size)

            self.client.upload_file_range(batch_id, self.dataset_id, name, offset, length, content)
            self.sent_requests += 1
            offset = progress.large[name] = offset + length
            self.save(progress)
        self.client.complete_file(batch_id, self.dataset_id, name)
        self.sent_requests += 1


def _opener(source: Source, part: Part) -> Callable[[], Any]:
    return lambda: part_reader(source, part)


def failed_batch(batch: Mapping[str, Any] | None) -> bool:
    return bool(batch) and str(batch.get("status") or "").lower() in FAILED_STATUSES  # type: ignore[union-attr]


__all__ = ["DEAD_STATUSES", "BatchUpload", "Progress", "failed_batch", "next_external_id"]

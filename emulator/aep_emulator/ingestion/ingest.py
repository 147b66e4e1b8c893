"""Emulated ingestion: what a finished run of a table source -> Data Lake flow writes into its dataset.

When a run reaches its terminal phase, its source connection reads a table of a registered source
(:mod:`aep_emulator.flow_service.sources`) and its target connection points at a Catalog dataset (:mod:`.plan`),
the table's deterministic sample rows (``rows_per_run`` of them; with a delta column only those in the run's
window, see :mod:`aep_emulator.flow_service.incremental`; reduced to the source connection's ``params.columns``)
go through the flow's mapping set and Data Prep's coercion (:mod:`aep_emulator.data_prep.mapping`) and the
record checks of :mod:`.records`.

Good records land in the Catalog backend (``landed[dataset][batch]``) and a Catalog batch (id = the run's
``targetInfo[].reference.ids[0]``) records the real counts; the batch is ``failed`` when nothing landed.
A flow's ``options.partialIngestionPercent`` is honoured: more failures than that percentage fail the run
and land nothing.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..catalog.models import add_batch
from ..catalog.models import backend as catalog
from ..core.state import EmulatorState, Store
from ..data_prep import expressions
from ..data_prep.mapping import MAPPER_ERROR, Rejection, map_record, utc_from_ms
from ..flow_service import incremental
from .plan import Plan
from .records import ERROR_TITLES, SUMMARY_ERROR, primary_identity_paths, validate_record


@dataclass
class Outcome:
    """The result of ingesting one run."""

    batch_id: str
    dataset_id: str
    input_count: int
    landed: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    status: str
    input_bytes: int
    output_bytes: int
    error_counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed_count(self) -> int:
        return len(self.failures)

    def summary_message(self) -> str:
        return (
            f"Encountered {self.failed_count} errors in the data. Successfully ingested {len(self.landed)} rows. "
            "Review the associated diagnostic files for additional details."
        )

    def promotion_errors(self) -> list[dict[str, Any]]:
        """``statusSummary.extensions.errors`` of the promotion activity, as run monitoring shows them."""
        errors: list[dict[str, Any]] = [{"code": SUMMARY_ERROR, "message": self.summary_message()}]
        for code, count in sorted(self.error_counts.items()):
            errors.append({"code": code, "recordCount": count, "message": ERROR_TITLES.get(code, code)})
        return errors


def _ranges(rows: list[int]) -> list[str]:
    """``[1, 2, 3, 5]`` -> ``["1-3", "5"]`` (the batch errors' ``rows`` format)."""
    out: list[str] = []
    for row in sorted(rows):
        if out and "-" not in out[-1] and int(out[-1]) == row - 1:
            out[-1] = f"{out[-1]}-{row}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == row - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{row}"
        else:
            out.append(str(row))
    return out


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def ingest(
    state: EmulatorState,
    store: Store,
    run: dict[str, Any],
    the_plan: Plan,
    batch_id: str,
    forced_failures: int,
) -> Outcome:
    """Map, coerce and validate the run's rows, land the good ones and record the Catalog batch."""
    rows = incremental.rows_for_run(state, store, run, the_plan, run.get("_rows", state.config.rows_per_run))
    identities = primary_identity_paths(store, the_plan.schema)
    now = utc_from_ms(run["_end"])
    landed: list[tuple[int, dict[str, Any]]] = []
    failures: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=1):
        context = expressions.EvalContext(now=now, rng=random.Random(f"{run['id']}:{index}"))
        record, errors = map_record(row, the_plan.mappings, the_plan.schema, context)
        if not errors:
            errors = validate_record(record, the_plan.schema, identities)
        if errors:
            failures.append({"row": index, "source": copy.deepcopy(row), "errors": [e.as_dict() for e in errors]})
        else:
            landed.append((index, record))
    while len(failures) < min(forced_failures, len(rows)) and landed:
        index, _ = landed.pop()
        forced = Rejection(MAPPER_ERROR, "Mapper Transform Error (forced by the emulator control plane).")
        failures.append({"row": index, "source": copy.deepcopy(rows[index - 1]), "errors": [forced.as_dict()]})
    failures.sort(key=lambda f: f["row"])
    threshold_hit = (
        the_plan.threshold is not None and bool(rows) and len(failures) * 100 / len(rows) > the_plan.threshold
    )
    records = [] if threshold_hit else [record for _, record in landed]
    status = "success" if records or not failures else "failed"
    outcome = Outcome(
        batch_id=batch_id,
        dataset_id=the_plan.dataset_id,
        input_count=len(rows),
        landed=records,
        failures=failures,
        status=status,
        input_bytes=_size(rows),
        output_bytes=_size(records) if records else 0,
    )
    outcome.error_counts = dict(Counter(f["errors"][0]["code"] for f in failures))
    _store_batch(state, store, run, outcome)
    return outcome


def batch_errors(outcome: Outcome) -> list[dict[str, Any]]:
    """The batch's ``errors``: the summary, then one entry per code with a sample and the failing rows."""
    if not outcome.failures:
        return []
    errors: list[dict[str, Any]] = [{"code": SUMMARY_ERROR, "description": outcome.summary_message()}]
    for code, count in sorted(outcome.error_counts.items()):
        failing = [f for f in outcome.failures if f["errors"][0]["code"] == code]
        errors.append(
            {
                "code": code,
                "description": failing[0]["errors"][0]["message"],
                "recordCount": count,
                "rows": _ranges([f["row"] for f in failing]),
            }
        )
    return errors


def _store_batch(state: EmulatorState, store: Store, run: dict[str, Any], outcome: Outcome) -> None:
    batch = add_batch(
        store,
        batch_id=outcome.batch_id,
        dataset_id=outcome.dataset_id,
        status=outcome.status,
        records=len(outcome.landed),
        failed=outcome.failed_count,
        errors=batch_errors(outcome),
        created_ms=run["_end"] - 1000,
        updated_ms=run["_end"],
        seq=state.next_seq(),
        client_id=run.get("createdClient") or "acp_foundation_connectors",
        input_bytes=outcome.input_bytes,
    )
    batch["_failed_records"] = copy.deepcopy(outcome.failures)
    if outcome.landed:
        catalog(store).landed.setdefault(outcome.dataset_id, {})[outcome.batch_id] = copy.deepcopy(outcome.landed)

"""Emulated ingestion: what a finished run of a table source -> Data Lake flow writes into its dataset.

When a run reaches its terminal phase, its source connection reads a table of a registered source
(:mod:`.sources`: HubSpot's ``params.path``, Salesforce's ``params.tableName``) and its target connection points
at a Catalog dataset, the table's deterministic sample rows (``rows_per_run`` of them; with a delta column only
those in the run's window, see :mod:`.incremental`; reduced to the source connection's ``params.columns`` when it
lists them) go through the flow's mapping set, Data Prep's type
coercion and a validation against the resolved XDM schema:

* ``ATTRIBUTE`` copies a column, ``STATIC`` writes the constant in ``source``, ``EXPRESSION`` evaluates the
  Data Prep subset in :mod:`.expressions`. A flow without a Mapping transformation copies columns whose
  names are top-level schema fields.
* Coercion follows the Data Prep data-handling guide: strings become booleans (``y``/``yes``/``on``/``true``
  ... and ``n``/``no``/``off``/``false`` ...), numbers, or dates/date-times (its list of formats, first
  match wins); integers must fit the bounds of their ``meta:xdmType`` (byte, short, int, long); maps are
  not supported. A failure is a ``MAPPER-3700-400`` ("Mapper Transform Error"), like an expression error.
* Validation: ``enum``, ``pattern``, ``minLength``/``maxLength``, explicit ``minimum``/``maximum`` (also
  ``MAPPER-3700-400``); ``required`` fields and the primary identity (``INGEST-1555-400``: "A required
  field is either missing or has a value of null").

Good records land in ``store.landed[dataset][batch]`` and a Catalog batch (id = the run's
``targetInfo[].reference.ids[0]``) records the real counts; the batch is ``failed`` when nothing landed.
A flow's ``options.partialIngestionPercent`` is honoured: more failures than that percentage fail the run
and land nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import catalog, data_prep, expressions, incremental, sources
from .state import EmulatorState, Store

MAPPER_ERROR = "MAPPER-3700-400"
REQUIRED_ERROR = "INGEST-1555-400"
SUMMARY_ERROR = "INGEST-1212-400"
ERROR_TITLES = {
    MAPPER_ERROR: "Mapper Transform Error",
    REQUIRED_ERROR: "A required field is either missing or has a value of null. Add the required field to the "
    "input row and try again.",
}
TRUE_STRINGS = frozenset({"y", "yes", "Y", "YES", "on", "ON", "true", "TRUE"})
FALSE_STRINGS = frozenset({"n", "N", "no", "NO", "off", "OFF", "false", "FALSE"})
#: Integer bounds by ``meta:xdmType`` (Adobe's field-constraints table; a plain integer is an ``int``).
INTEGER_BOUNDS = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**53 - 1), 2**53 - 1),
}
_INTEGER_RE = re.compile(r"[+-]?\d+")
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Rejection:
    """Why one value or record was refused."""

    code: str
    message: str
    destination: str | None = None
    source: str | None = None
    source_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.destination is not None:
            out["destination"] = self.destination
        if self.source is not None:
            out["source"] = self.source
        return out


class _ConversionError(ValueError):
    pass


def utc_from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def transform_error(rejection: Rejection) -> dict[str, Any]:
    """A rejection in the spec's ``TransformErrorInfo`` shape (used by ``/mappingSets/preview``)."""
    return {
        "destination": rejection.destination,
        "exception": f"{rejection.code}: {rejection.message}",
        "source": rejection.source,
        "columnName": rejection.source if rejection.source_type == "ATTRIBUTE" else None,
        "sourceType": rejection.source_type,
    }


# -- Data Prep coercion ----------------------------------------------------------------------------
def xdm_type(definition: dict[str, Any]) -> str:
    """``meta:xdmType``, else derived from ``type``/``format`` the way the Schema Registry stores it."""
    declared = definition.get("meta:xdmType")
    if isinstance(declared, str) and declared:
        return declared
    kind = definition.get("type")
    if kind == "string" and definition.get("format") in ("date", "date-time"):
        return str(definition["format"])
    if kind == "integer":
        return "int"
    if kind == "object" and "additionalProperties" in definition and "properties" not in definition:
        return "map"
    return str(kind or "")


def _describe(value: Any) -> str:
    return json.dumps(value, default=str)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return expressions.parse_any_date(value)
        except expressions.EvaluationError as exc:
            raise _ConversionError(str(exc)) from exc
    raise _ConversionError(f"Cannot convert {_describe(value)} to a date.")


def coerce(value: Any, definition: dict[str, Any]) -> Any:
    """Convert a mapped value to the field's XDM type, as Data Prep does; raises ``_ConversionError``."""
    kind = xdm_type(definition)
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            return expressions.iso_datetime(value)
        if isinstance(value, (int, float, str)):
            return str(value)
        raise _ConversionError(f"Cannot convert {_describe(value)} to a string.")
    if kind in INTEGER_BOUNDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _ConversionError(f"Cannot convert {_describe(value)} to {kind}.")
        if isinstance(value, str):
            if not _INTEGER_RE.fullmatch(value.strip()):
                raise _ConversionError(f"Cannot convert {_describe(value)} to {kind}.")
            value = int(value.strip())
        if isinstance(value, float):
            if not value.is_integer():
                raise _ConversionError(f"Cannot convert {_describe(value)} to {kind} without losing precision.")
            value = int(value)
        low, high = INTEGER_BOUNDS[kind]
        low = int(definition.get("minimum", low))
        high = int(definition.get("maximum", high))
        if not low <= value <= high:
            raise _ConversionError(f"The value {value} is outside the range of {kind} ({low} to {high}).")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _ConversionError(f"Cannot convert {_describe(value)} to a number.")
        if isinstance(value, str):
            if not _NUMBER_RE.fullmatch(value.strip()):
                raise _ConversionError(f"Cannot convert {_describe(value)} to a number.")
            return float(value.strip())
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in TRUE_STRINGS:
            return True
        if isinstance(value, str) and value in FALSE_STRINGS:
            return False
        raise _ConversionError(f"Cannot convert {_describe(value)} to a boolean.")
    if kind == "date-time":
        return expressions.iso_datetime(_as_datetime(value))
    if kind == "date":
        return _as_datetime(value).strftime("%Y-%m-%d")
    if kind == "map":
        raise _ConversionError("Maps are not supported by Data Prep.")
    if kind == "array":
        items = definition.get("items") if isinstance(definition.get("items"), dict) else {}
        values = value if isinstance(value, list) else [value]
        return [coerce(item, items) for item in values if item is not None] if items else list(values)
    if kind == "object":
        if not isinstance(value, dict):
            raise _ConversionError(f"Cannot write {_describe(value)} into an object field.")
        properties = definition.get("properties") or {}
        out = {}
        for key, item in value.items():
            if key not in properties:
                raise _ConversionError(f"The field '{key}' does not exist in the object.")
            if item is not None:
                out[key] = coerce(item, properties[key])
        return out
    return value


def _constraints(value: Any, definition: dict[str, Any]) -> str | None:
    """The first XDM constraint the (converted) value breaks, or ``None``."""
    enum = definition.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"The value {_describe(value)} is not one of {enum}."
    if isinstance(value, str):
        pattern = definition.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            return f"The value {_describe(value)} does not match the pattern '{pattern}'."
        if isinstance(definition.get("minLength"), int) and len(value) < definition["minLength"]:
            return f"The value {_describe(value)} is shorter than {definition['minLength']} characters."
        if isinstance(definition.get("maxLength"), int) and len(value) > definition["maxLength"]:
            return f"The value {_describe(value)} is longer than {definition['maxLength']} characters."
    if isinstance(value, (int, float)) and not isinstance(value, bool) and xdm_type(definition) == "number":
        if "minimum" in definition and value < definition["minimum"]:
            return f"The value {value} is below the minimum {definition['minimum']}."
        if "maximum" in definition and value > definition["maximum"]:
            return f"The value {value} is above the maximum {definition['maximum']}."
    return None


# -- mapping ---------------------------------------------------------------------------------------
def _static(source: Any) -> Any:
    """A ``STATIC`` mapping's constant: the ``source`` text (surrounding double quotes removed)."""
    if isinstance(source, str) and len(source) >= 2 and source[0] == source[-1] == '"':
        return source[1:-1]
    return source


def _assign(record: dict[str, Any], path: str, value: Any) -> None:
    node = record
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _ConversionError(f"'{part}' is already set to a value, it cannot hold '{path}'.")
        node = child
    node[parts[-1]] = value


def map_record(
    row: dict[str, Any],
    mappings: list[dict[str, Any]],
    schema: dict[str, Any],
    context: expressions.EvalContext,
) -> tuple[dict[str, Any], list[Rejection]]:
    """Apply the mappings to one source row; values that fail are left out and reported."""
    record: dict[str, Any] = {}
    errors: list[Rejection] = []
    for mapping in mappings:
        kind, source, destination = mapping["sourceType"], mapping["source"], mapping["destination"]

        def reject(message: str, kind: str = kind, source: Any = source, destination: Any = destination) -> None:
            errors.append(Rejection(MAPPER_ERROR, message, destination, source, kind))

        definition = data_prep.schema_field(schema, destination) if isinstance(destination, str) else None
        if definition is None:
            reject(f"The destination '{destination}' does not exist in the schema.")
            continue
        try:
            if kind == "ATTRIBUTE":
                value = expressions.lookup(row, str(source).split("."))
            elif kind == "EXPRESSION":
                value = expressions.parse(str(source)).evaluate(row, context)
            else:
                value = _static(source)
        except (expressions.ExpressionError, expressions.EvaluationError) as exc:
            reject(str(exc))
            continue
        if value is None:
            continue
        try:
            value = coerce(value, definition)
            problem = _constraints(value, definition)
            if problem:
                raise _ConversionError(problem)
            _assign(record, destination, value)
        except _ConversionError as exc:
            reject(f"{destination}: {exc}")
    return record, errors


def _has(record: dict[str, Any], path: list[str]) -> bool:
    node: Any = record
    for part in path:
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return True


def _required(record: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[Rejection]:
    errors = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if record.get(name) is None:
            errors.append(Rejection(REQUIRED_ERROR, f"The required field '{prefix}{name}' is missing.", prefix + name))
    for name, value in record.items():
        definition = properties.get(name)
        if isinstance(value, dict) and isinstance(definition, dict) and definition.get("properties"):
            errors.extend(_required(value, definition, f"{prefix}{name}."))
    return errors


def primary_identity_paths(store: Store, schema: dict[str, Any]) -> list[list[str]]:
    """Paths of the schema's primary identity descriptors (``xdm:sourceProperty`` JSON pointers)."""
    ids = {schema.get("$id"), schema.get("meta:altId"), schema.get("id")} - {None}
    paths = []
    for descriptor in store["descriptors"]:
        if (
            descriptor.get("@type") == "xdm:descriptorIdentity"
            and descriptor.get("xdm:sourceSchema") in ids
            and descriptor.get("xdm:isPrimary")
            and isinstance(descriptor.get("xdm:sourceProperty"), str)
        ):
            paths.append([p for p in descriptor["xdm:sourceProperty"].split("/") if p])
    return paths


def validate_record(record: dict[str, Any], schema: dict[str, Any], identities: list[list[str]]) -> list[Rejection]:
    """Record-level checks after mapping: required fields and the primary identity."""
    errors = _required(record, schema)
    for path in identities:
        if not _has(record, path):
            dotted = ".".join(path)
            errors.append(Rejection(REQUIRED_ERROR, f"The primary identity field '{dotted}' is missing.", dotted))
    return errors


# -- runs ------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """What a dataset-backed run reads and writes."""

    dataset_id: str
    table: str
    schema: dict[str, Any]
    mappings: list[dict[str, Any]]
    threshold: float | None
    source: sources.EmulatedSource | None = None
    params: dict[str, Any] = field(default_factory=dict)


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


def _mapping_of(store: Store, run: dict[str, Any]) -> list[dict[str, Any]] | None:
    reference = run.get("_mapping")
    if not reference:
        return None
    doc = data_prep.find_mapping_set(store, reference[0], reference[1])
    return None if doc is None else data_prep.normalised_mappings(doc)


def plan(store: Store, run: dict[str, Any]) -> Plan | None:
    """The ingestion plan of a run, or ``None`` (flow deleted, no dataset target, not a registered source's table)."""
    flow = store["flows"].get(run["flowId"])
    if flow is None:
        return None
    dataset = None
    for target_id in run.get("_targets", []):
        connection = store["targetConnections"].get(target_id)
        dataset_id = ((connection or {}).get("params") or {}).get("dataSetId")
        dataset = catalog.find_dataset(store, dataset_id) if isinstance(dataset_id, str) else None
        if dataset is not None:
            break
    if dataset is None:
        return None
    table: str | None = None
    source: sources.EmulatedSource | None = None
    params: dict[str, Any] = {}
    for source_id in run.get("_sources", []):
        connection = store["sourceConnections"].get(source_id) or {}
        source = sources.for_spec((connection.get("connectionSpec") or {}).get("id"))
        params = connection.get("params") or {}
        table = source.table_in(params) if source is not None else None
        if table is not None:
            break
    schema = catalog.resolve_schema(store, dataset["schemaRef"]["id"])
    if source is None or table is None or schema is None:
        return None
    mappings = _mapping_of(store, run)
    if mappings is None:  # no Mapping transformation: columns named like top-level schema fields are copied
        properties = schema.get("properties") or {}
        columns = source.selected_columns(params, table)
        mappings = [{"sourceType": "ATTRIBUTE", "source": c, "destination": c} for c in columns if c in properties]
    options = flow.get("options") or {}
    threshold = options.get("partialIngestionPercent")
    limit = float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None
    return Plan(dataset["id"], table, schema, mappings, limit, source, copy.deepcopy(params))


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
    batch = catalog.add_batch(
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
        store.landed.setdefault(outcome.dataset_id, {})[outcome.batch_id] = copy.deepcopy(outcome.landed)


# -- reading back (control plane) ------------------------------------------------------------------
def landed_records(store: Store, dataset_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
    """Records that landed in a dataset (all batches in order, or one batch)."""
    batches = store.landed.get(dataset_id, {})
    if batch_id is not None:
        return copy.deepcopy(batches.get(batch_id, []))
    return [copy.deepcopy(record) for records in batches.values() for record in records]


def failed_records(store: Store, dataset_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
    """Rejected rows (``{row, source, errors[{code, message, ...}], batch}``) of a dataset's batches."""
    out: list[dict[str, Any]] = []
    for batch in store["batches"]:
        related = {o.get("id") for o in batch.get("relatedObjects") or [] if o.get("type") == "dataSet"}
        if dataset_id in related and (batch_id is None or batch["id"] == batch_id):
            out.extend({**copy.deepcopy(f), "batch": batch["id"]} for f in batch.get("_failed_records", []))
    return out

"""The ``aep`` asset URI scheme: AEP datasets as Airflow assets.

Canonical form::

    aep://<org>/<sandbox>/datasets/<dataset_id>
    aep://0123456789abcdef01234567/prod/datasets/5ed5639d798a22191b6987b2

* ``<org>`` is the IMS org id, lowercased, **without** its ``@AdobeOrg`` suffix. The org is part of the URI
  because a dataset id is only unique inside one org (and sandbox names such as ``prod`` exist in every org):
  two orgs feeding one Airflow or one lineage backend must not share ``aep://prod/datasets/...``. The suffix
  is the same for every org and carries no information, and an ``@`` in a URI authority means user-info
  (``user@host``): URI parsers and lineage tools would read ``...@adobeorg`` as the host ``adobeorg``, and
  Airflow drops user-info when it looks like credentials. A URI written with the suffix (the org id as the
  Developer Console shows it) is accepted and normalised to the form above.
* ``<sandbox>`` is the sandbox *name* (lowercase letters, digits and hyphens); AEP has no uppercase sandbox
  names, so ``PROD`` is normalised to ``prod``.
* ``<dataset_id>`` is the Catalog dataset id: 24 hexadecimal digits, normalised to lowercase.

Anything else (missing org, another path, a query, a short id) raises ``ValueError`` naming what is wrong,
when the ``Asset`` is built, so a typo becomes a DAG import error instead of an asset nobody produces.

Airflow's ``Asset(uri=...)`` copies the *raw* string into ``name`` when no name is given, so
``aep://ORG/...`` and ``aep://org/...`` would become two assets with one URI. Build assets through
:func:`create_asset` or :func:`dataset_asset`, which always set ``name`` to the canonical URI.

This module is imported by Airflow's ProvidersManager (``asset-uris`` in ``get_provider_info``) in every
process that builds an ``aep://`` asset, so it imports nothing from Airflow at module level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

SCHEME = "aep"
ORG_SUFFIX = "@adobeorg"
_ORG_RE = re.compile(r"^[a-z0-9]+$")
_SANDBOX_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # same rule as client.config.AEPSettings
_DATASET_ID_RE = re.compile(r"^[0-9a-f]{24}$")
FORM = "aep://<org>/<sandbox>/datasets/<dataset_id>"


def _normalized(value: Any, what: str, pattern: re.Pattern[str], hint: str, *, suffix: str = "") -> str:
    """``value`` stripped, lower-cased and without ``suffix``; ValueError (``hint`` says what is expected) unless
    it then matches ``pattern``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"aep asset: the {what} is empty (expected {FORM})")
    text = value.strip().lower()
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)]
    if not pattern.match(text):
        raise ValueError(f"aep asset: {value!r} is not {hint}")
    return text


def normalize_org(org_id: str) -> str:
    """``0123...67@AdobeOrg`` (or without the suffix, any case) -> ``0123...67``; ValueError if malformed."""
    hint = "an IMS org id (letters and digits, optionally ending in @AdobeOrg)"
    return _normalized(org_id, "IMS org id", _ORG_RE, hint, suffix=ORG_SUFFIX)


def normalize_sandbox(sandbox: str) -> str:
    hint = "a sandbox name (letters, digits and hyphens, e.g. 'prod'; the sandbox name, not its title)"
    return _normalized(sandbox, "sandbox name", _SANDBOX_RE, hint)


def normalize_dataset_id(dataset_id: str) -> str:
    hint = "a Catalog dataset id (24 hexadecimal digits, e.g. 5ed5639d798a22191b6987b2)"
    return _normalized(dataset_id, "dataset id", _DATASET_ID_RE, hint)


def dataset_uri(org_id: str, sandbox: str, dataset_id: str) -> str:
    """The canonical ``aep://`` URI of a dataset (no Airflow needed)."""
    return (
        f"{SCHEME}://{normalize_org(org_id)}/{normalize_sandbox(sandbox)}/datasets/{normalize_dataset_id(dataset_id)}"
    )


def _split(uri: SplitResult) -> tuple[str, str, str]:
    """``(org, sandbox, dataset_id)`` of an ``aep://`` URI, normalised; ValueError naming the problem."""
    if uri.scheme.lower() != SCHEME:
        raise ValueError(f"not an aep:// URI: scheme {uri.scheme!r}")
    if not uri.netloc:
        raise ValueError(f"aep asset URI has no IMS org id as its host (expected {FORM})")
    if ":" in uri.netloc:
        raise ValueError(f"aep asset URI host {uri.netloc!r} must be the IMS org id, without a port or password")
    if uri.query:
        raise ValueError(f"aep asset URI takes no query (got ?{uri.query}; expected {FORM})")
    parts = uri.path.strip("/").split("/") if uri.path.strip("/") else []
    if len(parts) != 3 or parts[1] != "datasets":
        raise ValueError(
            f"aep asset URI path {uri.path or '(empty)'!r} is not /<sandbox>/datasets/<dataset_id> (expected {FORM})"
        )
    return normalize_org(uri.netloc), normalize_sandbox(parts[0]), normalize_dataset_id(parts[2])


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler: normalise an ``aep://`` URI or raise ``ValueError``.

    Airflow has already lowercased the scheme, dropped the fragment and trailing slashes when it calls this.
    """
    org, sandbox, dataset_id = _split(uri)
    return SplitResult(SCHEME, org, f"/{sandbox}/datasets/{dataset_id}", "", "")


def parse_dataset_uri(uri: str) -> tuple[str, str, str]:
    """``(org, sandbox, dataset_id)`` of a dataset URI (normalised); ValueError if it is not one."""
    return _split(urlsplit(uri.strip()))


def create_asset(*, org_id: str, sandbox: str, dataset_id: str, extra: dict[str, Any] | None = None) -> Asset:
    """Airflow's ``asset-uris`` factory: the ``Asset`` of one dataset, named by its canonical URI."""
    from airflow.sdk import Asset

    uri = dataset_uri(org_id, sandbox, dataset_id)
    return Asset(name=uri, uri=uri, extra=extra)


def dataset_asset(
    settings_or_org: Any, sandbox: str | None, dataset_id: str, *, extra: dict[str, Any] | None = None
) -> Asset:
    """The ``Asset`` of a dataset, for ``outlets=[...]`` or ``schedule=[...]``.

    ``settings_or_org`` is an IMS org id (``"...@AdobeOrg"``) or anything with ``org_id`` and
    ``sandbox_name`` attributes (``AEPSettings``, e.g. ``AEPFlowServiceHook().settings``); with settings,
    ``sandbox=None`` means the settings' sandbox.
    """
    org_id = settings_or_org if isinstance(settings_or_org, str) else getattr(settings_or_org, "org_id", None)
    if not isinstance(org_id, str):
        raise TypeError(f"dataset_asset() needs an IMS org id or AEPSettings, got {type(settings_or_org).__name__}")
    if sandbox is None:
        sandbox = getattr(settings_or_org, "sandbox_name", None)
        if not isinstance(sandbox, str):
            raise ValueError("aep asset: give the sandbox name (or AEPSettings instead of the org id)")
    return create_asset(org_id=org_id, sandbox=sandbox, dataset_id=dataset_id, extra=extra)


def _iso(epoch_ms: Any) -> str | None:
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, (int, float)):
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def dataset_event_extra(
    *,
    org_id: str | None,
    sandbox: str,
    dataset_id: str | None,
    batch_id: str | None = None,
    records_read: int | None = None,
    records_written: int | None = None,
    records_failed: int | None = 0,
    bytes_read: int | None = None,
    bytes_written: int | None = None,
    duration_seconds: float | None = None,
    started_at: str | None = None,
    completed_at: str | None = None,
    flow_id: str | None = None,
    run_id: str | None = None,
    status: str | None = None,
    error_codes: Iterable[Any] = (),
    sample_errors_url: str | None = None,
) -> dict[str, Any]:
    """The JSON ``extra`` of an asset event for data landed in a dataset, by a run or by any other operator
    (a batch ingestion gives ``batch_id``, ``records_*``, ``bytes_*``, ``duration_seconds``, ``error_codes``).

    Every key of ``docs/assets.md``'s table is always present (None when unknown), so consumers need no
    ``.get`` chains. Give error *codes* only: messages can quote source rows.
    """
    return {
        "org_id": org_id,
        "sandbox": sandbox,
        "dataset_id": dataset_id,
        "flow_id": flow_id,
        "run_id": run_id,
        "status": status,
        "records_read": records_read,
        "records_written": records_written,
        "records_failed": records_failed or 0,
        "bytes_read": bytes_read,
        "bytes_written": bytes_written,
        "duration_seconds": duration_seconds,
        "started_at": started_at,
        "completed_at": completed_at,
        "batch_id": batch_id,
        "error_codes": sorted({str(code) for code in error_codes if code}),
        "sample_errors_url": sample_errors_url,
    }


def run_event_extra(
    run: Mapping[str, Any],
    *,
    sandbox: str,
    org_id: str | None = None,
    dataset_id: str | None = None,
    target_connection_id: str | None = None,
) -> dict[str, Any]:
    """The :func:`dataset_event_extra` of a finished run (``FlowRun.to_dict()`` / the sensor's XCom).

    ``batch_id`` is the batch written through ``target_connection_id`` when given (one dataset of a flow
    with several targets), else the run's first batch.
    """
    batches = run.get("batches") or {}
    batch_ids = batches.get(target_connection_id) if target_connection_id and isinstance(batches, Mapping) else None
    duration_ms = run.get("duration_ms")
    errors = run.get("errors") or []
    return dataset_event_extra(
        org_id=org_id,
        sandbox=sandbox,
        dataset_id=dataset_id,
        flow_id=run.get("flow_id"),
        run_id=run.get("id"),
        status=run.get("status"),
        records_read=run.get("input_records"),
        records_written=run.get("output_records"),
        records_failed=run.get("failed_records"),
        bytes_read=run.get("input_bytes"),
        bytes_written=run.get("output_bytes"),
        duration_seconds=duration_ms / 1000 if isinstance(duration_ms, (int, float)) else None,
        started_at=_iso(run.get("started_at")),
        completed_at=_iso(run.get("completed_at")),
        batch_id=batch_ids[0] if batch_ids else run.get("batch_id"),
        error_codes=[e.get("code") for e in errors if isinstance(e, Mapping)],
        sample_errors_url=run.get("sample_errors_url"),
    )


def convert_asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """Airflow's ``asset-uris`` OpenLineage converter: ``Dataset(namespace="aep://<org>/<sandbox>",
    name="datasets/<id>")``, or None when the OpenLineage client is not installed (an optional extra)."""
    try:
        from openlineage.client.generated.base import Dataset
    except ImportError:
        return None
    org, sandbox, dataset_id = parse_dataset_uri(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{org}/{sandbox}", name=f"datasets/{dataset_id}")


__all__ = [
    "SCHEME",
    "convert_asset_to_openlineage",
    "create_asset",
    "dataset_asset",
    "dataset_event_extra",
    "dataset_uri",
    "parse_dataset_uri",
    "run_event_extra",
    "sanitize_uri",
]

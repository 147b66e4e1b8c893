"""Shared pieces of the Batch Ingestion and Data Access tests: a dataset to ingest into, spec validators."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from aep_emulator.testing_batches import BatchClient
from jsonschema import Draft7Validator
from target_helpers import make_dataset, make_schema, tenant

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
#: The configured ``batch_processing_delay`` (``EmulatorConfig`` default).
DELAY = 2.0


class Target:
    """A dataset whose schema has ``_{TENANT}.hubspot`` fields (``email`` required) and a batch client."""

    def __init__(self, fs: Any, emu: Any) -> None:
        self.emu = emu
        self.tenant = tenant(fs)
        self.schema = make_schema(fs, required=["email"])
        self.dataset = make_dataset(fs, self.schema)
        self.client = BatchClient(emu.url, fs.token)

    def record(self, vid: int, email: str | None = "a@example.com", **more: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"vid": vid, **more}
        if email is not None:
            fields["email"] = email
        return {f"_{self.tenant}": {"hubspot": fields}}

    def column(self, name: str) -> str:
        return f"_{self.tenant}.hubspot.{name}"

    def ingest(self, files: dict[str, bytes], input_format: dict[str, Any] | None = None, **extra: Any) -> str:
        """Create a batch, upload ``files``, COMPLETE it and move the clock past its processing; its id."""
        batch_id = self.client.create(self.dataset, input_format, **extra)
        for name, data in files.items():
            response = self.client.upload(batch_id, self.dataset, name, data)
            assert response.status_code == 200, response.text
        self.client.complete(batch_id)
        self.emu.control.advance_clock(DELAY)
        return batch_id

    def landed(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.emu.control.landed_records(self.dataset, batch_id=batch_id))


def spec_schema(name: str, component: str, *, drop_enum: tuple[str, ...] = ()) -> Draft7Validator:
    """A validator for ``components.schemas.<component>`` of a reference spec (skips when the spec is absent).

    ``drop_enum`` names properties whose ``enum`` is a known gap of the spec (the import spec's ``Batch.status``
    lists neither ``loading`` nor ``staging``, which the docs' create response shows).
    """
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"Adobe's spec {name} is not available at {path}")
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for prop in drop_enum:
        schemas[component]["properties"][prop].pop("enum", None)
    return Draft7Validator({"$ref": f"#/components/schemas/{component}", "components": {"schemas": schemas}})


def lines(records: list[dict[str, Any]]) -> bytes:
    import json

    return b"".join(json.dumps(r).encode() + b"\n" for r in records)

"""``xdm.FieldLayout`` in a module of its own: ``client.xdm`` is imported on every DAG parse (its constants are
operator defaults), and building a frozen dataclass compiles its generated methods. ``client.xdm`` still
exports ``FieldLayout`` (imported from here on first use).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldLayout:
    """Where a table's fields sit in the tenant namespace: ``_{tenant}.{source}.{table}.{field}``."""

    tenant_id: str
    source: str
    table: str
    fields: Mapping[str, tuple[str, str]]
    """Column name -> (field name, ``meta:xdmType``), in column order."""

    @property
    def object_path(self) -> tuple[str, str, str]:
        return (f"_{self.tenant_id}", self.source, self.table)

    def field_path(self, column: str) -> str:
        """Dot path of a column's field, as a Data Prep destination."""
        return ".".join((*self.object_path, self.fields[column][0]))

    def paths(self) -> dict[str, str]:
        return {column: self.field_path(column) for column in self.fields}

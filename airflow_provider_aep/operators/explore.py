"""``ExploreConnectionOperator``: list a source's tables, or read one table's columns and sample rows."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.base import AEPBaseOperator, is_template, require_choice, require_text

if TYPE_CHECKING:
    from airflow.sdk import Context

ObjectType = Literal["root", "table"]
OBJECT_TYPES: tuple[ObjectType, ...] = get_args(ObjectType)
MAX_PREVIEW_ROWS = 100
REGEX_PREFIX = "re:"
_GLOB_CHARS = frozenset("*?[")
_DATE_TIME = ("date-time", "date")


class TableFilter:
    """Selects tables by exact name, glob (``Hubspot.Deal*``) or regex (``re:Hubspot\\.(Deals|Owners)``).

    Matching is case-insensitive against both ``name`` and ``path``. Exact names must exist: a typo in a
    selected table should fail the task rather than silently ingest nothing.
    """

    def __init__(self, patterns: Iterable[str | re.Pattern[str]]) -> None:
        self.exact: list[str] = []
        self.matchers: list[re.Pattern[str]] = []
        for pattern in patterns:
            if isinstance(pattern, re.Pattern):
                self.matchers.append(re.compile(pattern.pattern, pattern.flags | re.IGNORECASE))
            elif pattern.startswith(REGEX_PREFIX):
                self.matchers.append(re.compile(pattern[len(REGEX_PREFIX) :], re.IGNORECASE))
            elif _GLOB_CHARS & set(pattern):
                self.matchers.append(re.compile(fnmatch.translate(pattern), re.IGNORECASE))
            else:
                self.exact.append(pattern)

    def matches(self, table: dict[str, Any]) -> bool:
        keys = {str(table.get("name", "")), str(table.get("path", ""))}
        if any(key.lower() == name.lower() for key in keys for name in self.exact):
            return True
        return any(matcher.fullmatch(key) for key in keys for matcher in self.matchers)

    def missing(self, tables: list[dict[str, Any]]) -> list[str]:
        known = {str(t.get(k, "")).lower() for t in tables for k in ("name", "path")}
        return [name for name in self.exact if name.lower() not in known]


def parse_table_filter(task_id: str, value: Any) -> TableFilter | None:
    """Accept a list, one pattern, or a rendered list literal (``"['Hubspot.Contacts']"`` from Jinja)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                try:
                    value = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise AEPInvalidArgumentError(task_id, "table_filter", f"is not a list: {text!r}") from None
        else:
            value = [text]
    if isinstance(value, re.Pattern):
        value = [value]
    if not isinstance(value, (list, tuple, set)):
        raise AEPInvalidArgumentError(task_id, "table_filter", f"must be a list of names or patterns, got {value!r}")
    patterns: list[str | re.Pattern[str]] = []
    for item in value:
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif isinstance(item, str) and item.strip():
            patterns.append(item.strip())
        else:
            raise AEPInvalidArgumentError(task_id, "table_filter", f"entries must be non-empty strings, got {item!r}")
    try:
        return TableFilter(patterns)
    except re.error as err:
        raise AEPInvalidArgumentError(task_id, "table_filter", f"has an invalid regular expression: {err}") from None


def delta_column_candidates(columns: list[dict[str, Any]]) -> list[str]:
    """Timestamp columns, usable as the ``deltaColumn`` of a CRM dataflow."""
    found = []
    for column in columns:
        fmt = column.get("meta:xdmType") or (column.get("xdm") or {}).get("format")
        if fmt in _DATE_TIME and column.get("name"):
            found.append(column["name"])
    return found


class ExploreConnectionOperator(AEPBaseOperator):
    """Explore a base connection (``GET /connections/{id}/explore``), e.g. to pick tables to ingest.

    * ``object_type="root"``: the tables, optionally narrowed by ``table_filter`` (names, globs, or
      ``re:`` regexes). Returns the table dicts (``name``, ``path``, ...) or, with ``return_paths=True``,
      a list of paths ready for ``CreateSourceConnectionOperator.partial(...).expand(table_path=...)``.
      A filter that matches no table fails the task (naming ``table_filter`` and listing the tables)
      unless ``allow_empty=True``.
    * ``object_type="table"``: ``{"path", "format", "columns", "delta_column_candidates"}`` for ``table``,
      plus at most ``preview_rows`` sample ``rows`` with ``preview=True``. Preview rows are customer data
      that end up in XCom, so they are opt-in and bounded.

    :param base_connection_id: the base connection's id (templated).
    :param object_type: ``"root"`` (the tables) or ``"table"`` (one table's columns) (templated).
    :param table: the table's path, for ``object_type="table"`` (templated).
    :param table_filter: names, globs or ``re:`` regexes of the tables to return, for ``object_type="root"``
        (templated; a rendered list literal is accepted).
    :param return_paths: return the tables' paths instead of the table dicts.
    :param allow_empty: let a ``table_filter`` that matches no table succeed with an empty list.
    :param preview: also return sample rows (customer data, into XCom), for ``object_type="table"``.
    :param preview_rows: at most this many sample rows, 1 to 100.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("base_connection_id", "object_type", "table", "table_filter")

    def __init__(
        self,
        *,
        base_connection_id: str,
        object_type: ObjectType = "root",
        table: str | None = None,
        table_filter: list[str] | str | None = None,
        return_paths: bool = False,
        allow_empty: bool = False,
        preview: bool = False,
        preview_rows: int = 5,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if type(preview_rows) is not int or not 1 <= preview_rows <= MAX_PREVIEW_ROWS:
            raise AEPInvalidArgumentError(
                self.task_id, "preview_rows", f"must be an integer from 1 to {MAX_PREVIEW_ROWS}, got {preview_rows!r}"
            )
        self.base_connection_id = base_connection_id
        self.object_type = object_type
        self.table = table
        self.table_filter = table_filter
        self.return_paths = return_paths
        self.allow_empty = allow_empty
        self.preview = preview
        self.preview_rows = preview_rows
        if not is_template(object_type):
            self._object_type()  # fail at DAG parse time when the arguments cannot work

    def _object_type(self) -> ObjectType:
        value = require_choice(self, "object_type", str(self.object_type or "").strip().lower(), OBJECT_TYPES)
        if value == "table" and self.table_filter:
            raise AEPInvalidArgumentError(self.task_id, "table_filter", "only applies to object_type='root'")
        if value == "root" and (self.table or self.preview):
            raise AEPInvalidArgumentError(
                self.task_id, "table" if self.table else "preview", "only applies to object_type='table'"
            )
        return value

    def execute(self, context: Context) -> list[Any] | dict[str, Any]:
        connection_id = require_text(self, "base_connection_id", self.base_connection_id)
        if self._object_type() == "table":
            return self.explore_table(connection_id, require_text(self, "table", self.table))
        return self.explore_root(connection_id, parse_table_filter(self.task_id, self.table_filter))

    def explore_root(self, connection_id: str, selection: TableFilter | None) -> list[Any]:
        tables = self.hook.flow_service.explore_tables(connection_id)
        if selection is not None:
            missing = selection.missing(tables)
            available = ", ".join(sorted(str(t["path"]) for t in tables)) or "none"
            if missing:
                raise AEPInvalidArgumentError(
                    self.task_id, "table_filter", f"names tables that do not exist: {missing}; available: {available}"
                )
            tables = [t for t in tables if selection.matches(t)]
            if not tables and not self.allow_empty:
                raise AEPInvalidArgumentError(
                    self.task_id,
                    "table_filter",
                    f"{self.table_filter!r} matches no table (an onboarding of nothing is not a success; pass "
                    f"allow_empty=True if that is expected); available: {available}",
                )
        paths = [t["path"] for t in tables]
        self.log.info("Base connection %s: %d tables selected: %s", connection_id, len(paths), paths)
        if not tables:
            self.log.warning("No table matched table_filter=%r (allow_empty=True)", self.table_filter)
        return paths if self.return_paths else tables

    def explore_table(self, connection_id: str, table: str) -> dict[str, Any]:
        body = self.hook.flow_service.table_schema(connection_id, table, preview=self.preview)
        columns = list(body["schema"]["columns"])
        result: dict[str, Any] = {
            "path": table,
            "format": body.get("format"),
            "columns": columns,
            "delta_column_candidates": delta_column_candidates(columns),
        }
        if self.preview:
            rows = body.get("data")
            result["rows"] = rows[: self.preview_rows] if isinstance(rows, list) else []
        self.log.info("Table %s has %d columns", table, len(columns))
        return result

"""Data Prep: the mapping set that turns a source table's rows into XDM records (create only).

Data Prep has no delete for mapping sets, so teardowns leave them. Mapping sets have no unique field
either: ``name`` is this provider's natural key, looked up before every create, and a mapping set found
under that name must target the same schema with the same mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client import xdm
from airflow_provider_aep.client.models import dig
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.operators.base import AEPBaseOperator, is_template, push_created, require_text
from airflow_provider_aep.operators.schema_registry import explored_table, field_layout
from airflow_provider_aep.operators.target_connections import schema_id_of

if TYPE_CHECKING:
    from airflow.sdk import Context


#: Which argument a mapping of each kind comes from (column mappings are changed by ``mapping_overrides``).
ARGUMENT_OF_KIND = {"ATTRIBUTE": "mapping_overrides", "EXPRESSION": "calculated_fields", "STATIC": "constants"}


def output_schema_of(mapping_set: Mapping[str, Any]) -> Any:
    """The target schema of a mapping set in either body form (``outputSchema.schemaRef`` or ``xdmSchema``)."""
    return dig(mapping_set, "outputSchema.schemaRef.id") or mapping_set.get("xdmSchema")


class CreateMappingSetOperator(AEPBaseOperator):
    """Create (or reuse) a Data Prep mapping set from an explored table's columns to a schema's fields.

    Each column maps to the field ``CreateFieldGroupOperator`` made for it (same ``table`` and ``source``).
    ``mapping_overrides`` maps a column to another XDM path (``{"Properties_Email_Value":
    "personalEmail.address"}``) or to None to leave it out; ``calculated_fields`` maps a path to a Data Prep
    expression; ``constants`` a path to a fixed value. The mapping set is checked with
    ``POST /mappingSets/validate`` before it is created, so a bad mapping fails here, not in a run.
    Returns the mapping set id; pushes ``version`` and ``created``.

    :param schema_id: the target XDM schema's ``$id`` (templated).
    :param table: the ``ExploreConnectionOperator(object_type="table")`` result (templated: its XCom).
    :param name: the mapping set's name (templated), its natural key; default ``"<table path> to <schema_id>"``.
    :param source: the declared source the table comes from (names the fields' namespace, as for the field
        group).
    :param mapping_overrides: column -> XDM path, or None to leave the column out (templated).
    :param calculated_fields: XDM path -> Data Prep expression (templated).
    :param constants: XDM path -> fixed value (templated).
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "schema_id",
        "table",
        "name",
        "mapping_overrides",
        "calculated_fields",
        "constants",
    )

    def __init__(
        self,
        *,
        schema_id: str,
        table: Mapping[str, Any] | str,
        name: str | None = None,
        source: str = "hubspot",
        mapping_overrides: Mapping[str, str | None] | None = None,
        calculated_fields: Mapping[str, str] | None = None,
        constants: Mapping[str, Any] | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if not is_template(schema_id):
            schema_id_of(self, schema_id)
        require_text(self, "source", source)
        self.schema_id = schema_id
        self.table = table
        self.name = name
        self.source = source
        self.mapping_overrides = mapping_overrides
        self.calculated_fields = calculated_fields
        self.constants = constants

    def _local_layout(self, table: Mapping[str, Any]) -> xdm.FieldLayout:
        try:
            return xdm.layout("tenant", self.source, table["path"], table["columns"])
        except xdm.XDMError as err:
            raise AEPInvalidArgumentError(self.task_id, f"table.{err.field}", str(err).split(": ", 1)[1]) from None

    def _mappings(self, fields: xdm.FieldLayout) -> list[dict[str, str]]:
        try:
            return xdm.mapping_list(
                fields, overrides=self.mapping_overrides, calculated=self.calculated_fields, constants=self.constants
            )
        except xdm.XDMError as err:
            raise AEPInvalidArgumentError(self.task_id, err.field, str(err).split(": ", 1)[1]) from None

    def execute(self, context: Context) -> str:
        schema_id = schema_id_of(self, self.schema_id)
        table = explored_table(self, self.table)
        name = require_text(self, "name", self.name) if self.name is not None else f"{table['path']} to {schema_id}"
        self._mappings(self._local_layout(table))  # argument errors before any request (no tenant needed)
        mappings = self._mappings(field_layout(self, table, self.source))
        body = xdm.mapping_set_body(name, schema_id, mappings)
        data_prep = self.hook.data_prep
        # oldest first, the one every DAG run agrees on should a race or a late commit have made a second one
        existing = data_prep.find_mapping_sets(name)
        if existing:
            # A list item is the whole mapping set (``MapperSetPage.data`` items are ``MappingSet``s, with
            # ``mappings``); only an answer without them is read again.
            found = existing[0] if "mappings" in existing[0] else data_prep.get_mapping_set(existing[0]["id"])
            self._verify(found, name, schema_id, mappings)
            mapping_id, version, created = str(found["id"]), found.get("version", 0), False
        else:
            self._validate(data_prep, body)
            result = data_prep.create_mapping_set(body, looked_up=True)  # the lookup above found none
            mapping_id, created = result.id, result.created
            version = 0
            if not created:  # found by a lookup (a lost answer) or another DAG run's, which won a race
                found = result.resource or {}
                found = found if "mappings" in found else data_prep.get_mapping_set(mapping_id)
                self._verify(found, name, schema_id, mappings)
                version = found.get("version", 0)
        self.log.info(
            "%s mapping set %s v%s (%d mappings) for %s",
            "Created" if created else "Reusing existing",
            mapping_id,
            version,
            len(mappings),
            table["path"],
        )
        context["ti"].xcom_push(key="version", value=version)
        push_created(context, created)
        return mapping_id

    def _validate(self, data_prep: Any, body: Mapping[str, Any]) -> None:
        """``POST /mappingSets/validate``; a rejected mapping fails naming the argument it came from."""
        results = data_prep.validate_mapping_set(body)
        failures: dict[str, list[str]] = {}
        for mapping, result in zip(body["mappings"], results, strict=False):
            if str(result.get("status", "")).upper() != "SUCCESS":
                argument = ARGUMENT_OF_KIND.get(mapping["sourceType"], "mapping_overrides")
                failures.setdefault(argument, []).append(
                    f"{mapping['destination']} <- {mapping['source']}: {_reason(result)}"
                )
        for argument, messages in failures.items():
            raise AEPInvalidArgumentError(
                self.task_id, argument, f"gives mappings Data Prep rejects: {'; '.join(messages)}"
            )

    def _verify(self, found: Mapping[str, Any], name: str, schema_id: str, mappings: list[dict[str, str]]) -> None:
        if output_schema_of(found) != schema_id:
            raise AEPResourceMismatchError(
                self.task_id, "mapping set", name, "output schema", output_schema_of(found), schema_id
            )
        have = {xdm.mapping_key(m)[2]: xdm.mapping_key(m) for m in found.get("mappings") or []}
        want = {xdm.mapping_key(m)[2]: xdm.mapping_key(m) for m in mappings}
        for destination in sorted(set(have) | set(want)):
            if have.get(destination) != want.get(destination):

                def show(key: tuple[str, str, str] | None) -> str | None:
                    return None if key is None else f"{key[0]} {key[1]}"

                raise AEPResourceMismatchError(
                    self.task_id,
                    "mapping set",
                    name,
                    f"mapping to {destination}",
                    show(have.get(destination)),
                    show(want.get(destination)),
                )


def _reason(result: Mapping[str, Any]) -> str:
    errors = result.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    return str(first.get("exception") or first or "rejected")

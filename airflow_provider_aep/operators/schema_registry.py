"""Schema Registry: the XDM field group and schema a source table lands in (create and delete).

Titles are the natural key (the registry refuses a second resource with the same title), so a re-run
finds what it made before. A found resource is checked against what the task asks for: a field group
must extend the same class and hold each field with the same type (missing fields are added, which is
non-destructive); a schema must have the same class (missing field groups are added).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_aep.client import xdm
from airflow_provider_aep.exceptions import AEPInvalidArgumentError, AEPResourceMismatchError
from airflow_provider_aep.links import AEPSchemaLink
from airflow_provider_aep.operators.base import (
    AEPBaseOperator,
    AEPDeleteOperator,
    is_template,
    push_created,
    require_text,
)

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

    from airflow_provider_aep.client.columns import Fields

IDENTITY_KEYS = ("path", "namespace", "primary")
_XDM_ID_PREFIX = "https://ns.adobe.com/"


def explored_table(task: BaseOperator, value: Any) -> dict[str, Any]:
    """The ``ExploreConnectionOperator(object_type="table")`` result: ``{"path", "columns", ...}``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("columns"), list):
        raise AEPInvalidArgumentError(
            task.task_id,
            "table",
            f"must be the result of ExploreConnectionOperator(object_type='table'), got {str(value)[:200]!r}",
        )
    return {**value, "path": require_text(task, "table.path", value.get("path"))}


def xdm_id(task: BaseOperator, argument: str, value: Any) -> str:
    """An XDM ``$id`` (``https://ns.adobe.com/...``), not a ``meta:altId`` or a title."""
    text = require_text(task, argument, value)
    if not text.startswith(_XDM_ID_PREFIX):
        hint = " (that looks like a meta:altId; use the $id)" if text.startswith("_") else ""
        raise AEPInvalidArgumentError(
            task.task_id, argument, f"must be an XDM $id, https://ns.adobe.com/..., got {value!r}{hint}"
        )
    return text


def field_layout(task: AEPBaseOperator, table: Mapping[str, Any], source: str) -> xdm.FieldLayout:
    """The fields of an explored table under the org's tenant namespace (shared by field groups and mappings)."""
    try:
        return xdm.layout(task.hook.get_tenant_id(), source, table["path"], table["columns"])
    except xdm.XDMError as err:
        raise AEPInvalidArgumentError(task.task_id, f"table.{err.field}", str(err).split(": ", 1)[1]) from None


class CreateFieldGroupOperator(AEPBaseOperator):
    """Create (or reuse) a custom field group holding one XDM field per column of a table or a file.

    The columns come from one of:

    * ``table``: what ``ExploreConnectionOperator(object_type="table")`` returns; fields go under
      ``_{TENANT_ID}.{source}.{table}`` with types derived from the columns (``airflow_provider_aep.client.xdm``);
    * ``columns``: declared in the DAG, name -> XDM type (``{"email": "string", "address.city": "string",
      "signup": "date-time", "age": "integer"}``; a dotted name is a field of a nested object);
    * ``infer_from``: a sample of a file (a path or an ``ObjectStoragePath``): a Parquet schema (the
      ``parquet`` extra), a CSV header and first ``sample_rows`` rows, the first JSON lines. ``columns`` may
      be given too: declared types win over inferred ones.

    With ``columns``/``infer_from`` the fields go under ``_{TENANT_ID}.{source}.{object_name}``. Field names are
    XDM-safe camelCase. Columns are checked (and a file sampled) before any request to AEP. A field group with
    the same title is reused if it extends ``class_id`` and has no field of another type (or a value where an
    object is asked for); fields it lacks are added by PATCH.
    Returns the field group ``$id``; pushes ``field_paths`` (column -> XDM path) and ``created``.

    :param table: the ``ExploreConnectionOperator(object_type="table")`` result (templated: its XCom).
    :param columns: column name -> XDM type (``string``, ``integer``, ``long``, ``number``, ``boolean``,
        ``date``, ``date-time``; templated), instead of ``table``.
    :param infer_from: a file to infer the columns from, a path or an ``ObjectStoragePath`` (templated),
        instead of ``table``; only its sample is read.
    :param file_format: ``csv``, ``jsonl`` or ``parquet``; default from ``infer_from``'s suffix.
    :param sample_rows: how many CSV rows or JSON lines are sampled (default 100).
    :param object_name: the object the fields of ``columns``/``infer_from`` sit under (templated); default the
        file's name without its suffix. Required with ``columns`` alone.
    :param title: the field group's title (templated), its natural key; default ``"<table path> fields"``
        (``"<object_name> fields"``).
    :param source: the declared source the table comes from (a level of the fields' path).
    :param class_id: the XDM class ``$id`` the field group extends (templated); default XDM Individual Profile.
    :param description: the field group's description (templated); the owner line is appended to it.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = (
        "table",
        "title",
        "description",
        "class_id",
        "columns",
        "infer_from",
        "object_name",
    )

    def __init__(
        self,
        *,
        table: Mapping[str, Any] | str | None = None,
        columns: Mapping[str, str] | str | None = None,
        infer_from: Any = None,
        file_format: str | None = None,
        sample_rows: int = 100,
        object_name: str | None = None,
        title: str | None = None,
        source: str = "hubspot",
        class_id: str = xdm.PROFILE_CLASS_ID,
        description: str | None = None,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        require_text(self, "source", source)
        if not is_template(class_id):
            xdm_id(self, "class_id", class_id)
        if table is not None and (columns is not None or infer_from is not None):
            raise AEPInvalidArgumentError(self.task_id, "table", "is given with columns/infer_from; give one source")
        if table is None and columns is None and infer_from is None:
            raise AEPInvalidArgumentError(self.task_id, "table", "or columns= or infer_from= is required")
        if table is None and infer_from is None and object_name is None:
            raise AEPInvalidArgumentError(self.task_id, "object_name", "is required with columns (no file to name it)")
        if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
            raise AEPInvalidArgumentError(
                self.task_id, "sample_rows", f"must be a positive integer, got {sample_rows!r}"
            )
        if columns is not None and not is_template(columns):
            self._declared(columns)  # a wrong type or a leaf-and-object path is a DAG import error
        if file_format is not None:
            from airflow_provider_aep.client.samples import file_format_of

            self._checked(lambda: file_format_of(infer_from, file_format))
        self.table = table
        self.columns = columns
        self.infer_from = infer_from
        self.file_format = file_format
        self.sample_rows = sample_rows
        self.object_name = object_name
        self.title = title
        self.source = source
        self.class_id = class_id
        self.description = description

    def _checked(self, call: Any) -> Any:
        """``call()``, its ``XDMError`` (bad columns, a missing file) as the task's argument error."""
        try:
            return call()
        except xdm.XDMError as err:
            raise AEPInvalidArgumentError(self.task_id, err.field, str(err).split(": ", 1)[1]) from None

    def _declared(self, value: Any) -> Fields:
        # imported here, like samples below: DAG files that only use explored tables never load them
        from airflow_provider_aep.client.columns import declared_fields

        return self._checked(lambda: declared_fields(value))

    def _file_columns(self) -> tuple[Fields, str]:
        """The columns (inferred, then declared over them) and the object they sit under; no request is made."""
        from airflow_provider_aep.client import samples

        declared: dict[str, str] = dict(self.columns) if isinstance(self.columns, Mapping) else {}
        if self.columns is not None and not isinstance(self.columns, Mapping):
            self._declared(self.columns)  # rendered to something else than a dict: fails naming columns
        inferred: dict[str, str] = {}
        if self.infer_from is not None:
            inferred = self._checked(
                lambda: samples.infer_columns(
                    self.infer_from, self.file_format, sample_rows=self.sample_rows, declared=declared
                )
            )
        name = self.object_name if self.object_name is not None else samples.stem_of(self.infer_from)
        return self._declared({**inferred, **declared}), require_text(self, "object_name", name)

    def execute(self, context: Context) -> str:
        class_id = xdm_id(self, "class_id", self.class_id)
        if self.table is None:
            return self._execute_columns(context, class_id)
        table = explored_table(self, self.table)
        title = require_text(self, "title", self.title) if self.title is not None else f"{table['path']} fields"
        fields = field_layout(self, table, self.source)
        description = self.owned(context, self.description)
        body = xdm.field_group_body(fields, title=title, class_id=class_id, description=description)
        registry = self.hook.schema_registry
        group, created = registry.create("fieldgroups", body)
        if not created:
            group = self._extend_reused(registry, group, fields, class_id, title)
        return self._done(context, group, created, title, fields.paths())

    def _execute_columns(self, context: Context, class_id: str) -> str:
        from airflow_provider_aep.client import columns as columns_module

        fields, object_name = self._file_columns()
        title = require_text(self, "title", self.title) if self.title is not None else f"{object_name} fields"
        base = self._checked(lambda: columns_module.object_path(self.hook.get_tenant_id(), self.source, object_name))
        description = self.owned(context, self.description)
        body = columns_module.field_group_body(base, fields, title=title, class_id=class_id, description=description)
        registry = self.hook.schema_registry
        group, created = registry.create("fieldgroups", body)
        if not created:
            self._check_extends(group, class_id, title)
            operations, conflicts = columns_module.field_group_differences(group, base, fields)
            group = self._apply_differences(registry, group, operations, conflicts, title, "the declared types")
        return self._done(context, group, created, title, columns_module.field_paths(base, fields))

    def _done(self, context: Context, group: Mapping[str, Any], created: bool, title: str, paths: Any) -> str:
        self.log.info("%s field group %s (%r)", "Created" if created else "Reusing existing", group["$id"], title)
        context["ti"].xcom_push(key="field_paths", value=paths)
        push_created(context, created)
        return str(group["$id"])

    def _extend_reused(
        self, registry: Any, group: dict[str, Any], fields: xdm.FieldLayout, class_id: str, title: str
    ) -> dict[str, Any]:
        self._check_extends(group, class_id, title)
        operations, conflicts = xdm.field_group_differences(group, fields)
        return self._apply_differences(registry, group, operations, conflicts, title, "the explored types")

    def _check_extends(self, group: Mapping[str, Any], class_id: str, title: str) -> None:
        extends = list(group.get("meta:intendedToExtend") or [])
        if class_id not in extends:
            raise AEPResourceMismatchError(
                self.task_id, "field group", title, "meta:intendedToExtend", extends, [class_id]
            )

    def _apply_differences(
        self, registry: Any, group: dict[str, Any], operations: list, conflicts: list, title: str, wanted: str
    ) -> dict[str, Any]:
        """Fail on conflicting fields; else add the missing ones (non-destructive)."""
        if conflicts:
            raise AEPResourceMismatchError(self.task_id, "field group", title, "field types", conflicts, wanted)
        if operations:
            self.log.info("Adding %d missing field(s) to field group %s", len(operations), group["$id"])
            group = registry.patch("fieldgroups", group["$id"], operations)
        return group


class CreateSchemaOperator(AEPBaseOperator):
    """Create (or reuse) an XDM schema of ``class_id`` (default XDM Individual Profile) with field groups.

    ``identity`` (optional) is ``{"path": ..., "namespace": "Email", "primary": True}``: an identity
    descriptor on a field path (dot or slash form; ``{TENANT_ID}`` is replaced by the org's tenant id).
    ``enable_profile=True`` adds the schema to the Real-Time Customer Profile union: **irreversible** in
    AEP (the ``union`` tag can never be removed), so it is off by default and needs a primary identity.
    A schema with the same title is reused if it has the same class; field groups it lacks are added, an
    identity descriptor at the same path must have the same namespace and primary flag.
    Returns the schema ``$id``; pushes ``created``.

    :param title: the schema's title (templated), its natural key.
    :param field_group_ids: the ``$id`` of each field group to include, or one ``$id`` (templated).
    :param class_id: the XDM class ``$id`` (templated); default XDM Individual Profile.
    :param description: the schema's description (templated); the owner line is appended to it.
    :param identity: ``{"path", "namespace", "primary"}`` of an identity descriptor to add (templated).
    :param enable_profile: add the schema to the Profile union (irreversible; needs a primary identity).
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("title", "field_group_ids", "class_id", "description", "identity")
    operator_extra_links = (AEPSchemaLink(),)

    def __init__(
        self,
        *,
        title: str,
        field_group_ids: str | Sequence[str] = (),
        class_id: str = xdm.PROFILE_CLASS_ID,
        description: str | None = None,
        identity: Mapping[str, Any] | None = None,
        enable_profile: bool = False,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if not is_template(class_id):
            xdm_id(self, "class_id", class_id)
        if identity is not None and not is_template(identity):
            self._identity(identity)
        if (
            enable_profile
            and not is_template(identity)
            and not (isinstance(identity, Mapping) and identity.get("primary"))
        ):
            raise AEPInvalidArgumentError(
                self.task_id, "enable_profile", "needs identity={'path': ..., 'namespace': ..., 'primary': True}"
            )
        self.title = title
        self.field_group_ids = field_group_ids
        self.class_id = class_id
        self.description = description
        self.identity = identity
        self.enable_profile = enable_profile

    def _identity(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise AEPInvalidArgumentError(
                self.task_id, "identity", f"must be a dict with {IDENTITY_KEYS}, got {value!r}"
            )
        unknown = sorted(set(value) - set(IDENTITY_KEYS))
        if unknown:
            raise AEPInvalidArgumentError(
                self.task_id, "identity", f"has unknown keys {unknown}; allowed: {IDENTITY_KEYS}"
            )
        primary = value.get("primary", False)
        if not isinstance(primary, bool):
            raise AEPInvalidArgumentError(self.task_id, "identity.primary", f"must be a boolean, got {primary!r}")
        return {
            "path": require_text(self, "identity.path", value.get("path")),
            "namespace": require_text(self, "identity.namespace", value.get("namespace")),
            "primary": primary,
        }

    def _field_group_ids(self) -> list[str]:
        value = self.field_group_ids
        items = [value] if isinstance(value, str) else list(value or [])
        return [xdm_id(self, "field_group_ids", item) for item in items]

    def execute(self, context: Context) -> str:
        title = require_text(self, "title", self.title)
        class_id = xdm_id(self, "class_id", self.class_id)
        group_ids = self._field_group_ids()
        identity = self._identity(self.identity) if self.identity is not None else None
        if self.enable_profile and not (identity and identity["primary"]):
            raise AEPInvalidArgumentError(self.task_id, "enable_profile", "needs a primary identity, and has none")
        body = {
            "type": "object",
            "title": title,
            "description": self.owned(context, self.description),
            "allOf": [{"$ref": class_id}, *({"$ref": group_id} for group_id in group_ids)],
        }
        registry = self.hook.schema_registry
        schema, created = registry.create("schemas", body)
        schema_id = str(schema["$id"])
        if not created:
            self._complete_reused(registry, schema, class_id, group_ids, title)
        if identity is not None:
            self._ensure_identity(registry, schema_id, identity, title)
        if self.enable_profile:
            registry.enable_profile(schema_id)
            self.log.info("Schema %s is enabled for Profile (irreversible)", schema_id)
        self.log.info("%s schema %s (%r)", "Created" if created else "Reusing existing", schema_id, title)
        push_created(context, created)
        AEPSchemaLink.persist(context, self.hook.settings, quote(schema_id, safe=""))
        return schema_id

    def _complete_reused(
        self, registry: Any, schema: Mapping[str, Any], class_id: str, group_ids: list[str], title: str
    ) -> None:
        if schema.get("meta:class") != class_id:
            raise AEPResourceMismatchError(
                self.task_id, "schema", title, "meta:class", schema.get("meta:class"), class_id
            )
        present = {item.get("$ref") for item in schema.get("allOf") or [] if isinstance(item, Mapping)}
        missing = [group_id for group_id in group_ids if group_id not in present]
        if missing:
            self.log.info("Adding field group(s) %s to schema %s", missing, schema["$id"])
            registry.patch(
                "schemas", schema["$id"], [{"op": "add", "path": "/allOf/-", "value": {"$ref": g}} for g in missing]
            )

    def _ensure_identity(self, registry: Any, schema_id: str, identity: Mapping[str, Any], title: str) -> None:
        pointer = xdm.identity_pointer(identity["path"], self.hook.get_tenant_id())
        identities = [d for d in registry.descriptors(schema_id) if d.get("@type") == "xdm:descriptorIdentity"]
        for descriptor in identities:
            if descriptor.get("xdm:sourceProperty") == pointer:
                if descriptor.get("xdm:namespace") != identity["namespace"]:
                    raise AEPResourceMismatchError(
                        self.task_id,
                        "schema",
                        title,
                        f"identity namespace at {pointer}",
                        descriptor.get("xdm:namespace"),
                        identity["namespace"],
                    )
                if bool(descriptor.get("xdm:isPrimary")) != identity["primary"]:
                    raise AEPResourceMismatchError(
                        self.task_id,
                        "schema",
                        title,
                        f"identity primary flag at {pointer}",
                        bool(descriptor.get("xdm:isPrimary")),
                        identity["primary"],
                    )
                return
        primaries = [d.get("xdm:sourceProperty") for d in identities if d.get("xdm:isPrimary")]
        if identity["primary"] and primaries:
            raise AEPResourceMismatchError(self.task_id, "schema", title, "primary identity", primaries[0], pointer)
        registry.create_descriptor(
            {
                "@type": "xdm:descriptorIdentity",
                "xdm:sourceSchema": schema_id,
                "xdm:sourceVersion": 1,
                "xdm:sourceProperty": pointer,
                "xdm:namespace": identity["namespace"],
                "xdm:property": "xdm:code",
                "xdm:isPrimary": identity["primary"],
            }
        )
        self.log.info("Added identity descriptor %s (%s) to schema %s", pointer, identity["namespace"], schema_id)


class _DeleteRegistryResourceOperator(AEPDeleteOperator):
    """Delete a Schema Registry resource; only when asked, since a schema may describe data in a dataset."""

    def read(self, resource_id: str) -> Mapping[str, Any]:
        return self.hook.schema_registry.get(self.collection, resource_id)

    def set_description(self, resource_id: str, resource: Mapping[str, Any], description: str) -> None:
        from airflow_provider_aep.ownership import description_patch

        self.hook.schema_registry.patch(self.collection, resource_id, description_patch(description))

    def delete(self, resource_id: str) -> bool:
        return bool(self.hook.schema_registry.delete(self.collection, resource_id, missing_ok=self.missing_ok))


class DeleteSchemaOperator(_DeleteRegistryResourceOperator):
    """Delete an XDM schema (after the datasets using it). Returns False if it was already gone.

    :param schema_id: the schema's ``$id`` (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "schemas"
    id_argument = "schema_id"


class DeleteFieldGroupOperator(_DeleteRegistryResourceOperator):
    """Delete a custom field group (after the schemas using it). Returns False if it was already gone.

    :param field_group_id: the field group's ``$id`` (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "fieldgroups"
    id_argument = "field_group_id"

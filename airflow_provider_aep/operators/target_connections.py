"""Target connections: the Data Lake dataset (and XDM schema) a dataflow writes to (create and delete)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.models import DATA_LAKE_CONNECTION_SPEC_ID, dig
from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.base import (
    IF_EXISTS_CHOICES,
    AEPBaseOperator,
    AEPDeleteOperator,
    IfExists,
    is_template,
    push_created,
    require_choice,
    require_text,
    verify_reused,
)

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

DEFAULT_SCHEMA_VERSION = "application/vnd.adobe.xed-full+json;version=1"
CATALOG_REF_PREFIX = "@/dataSets/"
_DATASET_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_SCHEMA_ID = re.compile(r"^https://ns\.adobe\.com/\S+$")


def dataset_id_of(task: BaseOperator, value: Any) -> str:
    """A Catalog dataset id: 24 hex characters; the ``@/dataSets/<id>`` reference Catalog returns is accepted."""
    text = require_text(task, "dataset_id", value)
    if text.startswith(CATALOG_REF_PREFIX):
        text = text[len(CATALOG_REF_PREFIX) :]
    if not _DATASET_ID.match(text):
        example = "5ed5639d798a22191b6987b2"
        raise AEPInvalidArgumentError(
            task.task_id, "dataset_id", f"must be a Catalog dataset id (24 hex digits, e.g. {example}), got {value!r}"
        )
    return text


def schema_id_of(task: BaseOperator, value: Any) -> str:
    """The XDM schema ``$id`` URI (``https://ns.adobe.com/<tenant>/schemas/<hash>``), not its ``meta:altId``."""
    text = require_text(task, "schema_id", value)
    if not _SCHEMA_ID.match(text):
        hint = " (that looks like a meta:altId; use the schema's $id)" if text.startswith("_") else ""
        raise AEPInvalidArgumentError(
            task.task_id, "schema_id", f"must be the schema $id, https://ns.adobe.com/..., got {value!r}{hint}"
        )
    return text


class CreateTargetConnectionOperator(AEPBaseOperator):
    """Create (or reuse) a Data Lake target connection for a dataset and its XDM schema.

    The dataset and schema come from Catalog and the Schema Registry (outside the Flow Service). The
    Data Lake connection spec ``c604ff05-7f1a-43c0-8e18-33bf874cb11c`` is fixed. ``data_format`` is left
    out by default, as in Adobe's HubSpot tutorial; set it (e.g. ``"parquet_xdm"``) if your org needs it.
    An existing target connection with the same ``name`` is reused. Returns the target connection id.

    :param dataset_id: the Catalog dataset id (templated; an ``@/dataSets/<id>`` reference is accepted).
    :param schema_id: the dataset's XDM schema ``$id`` (templated).
    :param schema_version: the schema's content type and version (templated).
    :param name: the target connection's name (templated), its natural key; default
        ``"Data Lake dataset <dataset_id>"``.
    :param description: the target connection's description (templated); the owner line is appended to it.
    :param data_format: ``data.format``, e.g. ``"parquet_xdm"``; left out by default.
    :param if_exists: ``"reuse"`` a target connection with the same name, or ``"fail"``.
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("dataset_id", "schema_id", "schema_version", "name", "description")

    def __init__(
        self,
        *,
        dataset_id: str,
        schema_id: str,
        schema_version: str = DEFAULT_SCHEMA_VERSION,
        name: str | None = None,
        description: str | None = None,
        data_format: str | None = None,
        if_exists: IfExists = "reuse",
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        require_choice(self, "if_exists", if_exists, IF_EXISTS_CHOICES)
        if data_format is not None:
            require_text(self, "data_format", data_format)
        if not is_template(dataset_id):
            dataset_id_of(self, dataset_id)
        if not is_template(schema_id):
            schema_id_of(self, schema_id)
        self.dataset_id = dataset_id
        self.schema_id = schema_id
        self.schema_version = schema_version
        self.name = name
        self.description = description
        self.data_format = data_format
        self.if_exists = if_exists

    def build_body(self) -> dict[str, Any]:
        """The create's body, every argument validated; :meth:`execute` adds the ``description`` with the owner line."""
        dataset_id = dataset_id_of(self, self.dataset_id)
        data: dict[str, Any] = {
            "schema": {
                "id": schema_id_of(self, self.schema_id),
                "version": require_text(self, "schema_version", self.schema_version),
            }
        }
        if self.data_format:
            data["format"] = self.data_format
        name = require_text(self, "name", self.name) if self.name is not None else f"Data Lake dataset {dataset_id}"
        body: dict[str, Any] = {
            "name": name,
            "data": data,
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"},
        }
        return body

    def execute(self, context: Context) -> str:
        body = self.build_body()  # validates everything before any HTTP call
        body["description"] = self.owned(context, self.description)
        client = self.hook.flow_service
        result = client.create_target_connection(body, if_exists=self.if_exists)
        if not result.created:
            existing = result.resource or client.get_resource("targetConnections", result.id)
            asked = {
                "params.dataSetId": body["params"]["dataSetId"],
                "data.schema.id": body["data"]["schema"]["id"],
                "data.format": body["data"].get("format", dig(existing, "data.format")),
            }
            verify_reused(self, "target connection", existing, asked)
        verb = "Created" if result.created else "Reusing existing"
        self.log.info("%s target connection %s for dataset %s", verb, result.id, body["params"]["dataSetId"])
        context["ti"].xcom_push(key="etag", value=result.etag)
        # the natural key includes the connection spec, so a reused one has the same
        context["ti"].xcom_push(key="connection_spec_id", value=body["connectionSpec"]["id"])
        push_created(context, result.created)
        return result.id


class DeleteTargetConnectionOperator(AEPDeleteOperator):
    """Delete a target connection (after the dataflows using it). Returns False if it was already gone.

    :param target_connection_id: the target connection's id (templated).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "targetConnections"
    id_argument = "target_connection_id"

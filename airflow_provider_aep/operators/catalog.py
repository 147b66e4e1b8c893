"""Catalog: the dataset a dataflow lands records in (create and delete).

Catalog does not refuse a second dataset with the same name, so the name is this provider's natural key:
it is looked up before every create, and a dataset found under that name must be for the same schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.client.models import dig
from airflow_provider_aep.exceptions import AEPResourceMismatchError
from airflow_provider_aep.links import AEPDatasetLink
from airflow_provider_aep.operators.base import (
    AEPBaseOperator,
    AEPDeleteOperator,
    is_template,
    push_created,
    require_text,
)
from airflow_provider_aep.operators.target_connections import DEFAULT_SCHEMA_VERSION, dataset_id_of, schema_id_of

if TYPE_CHECKING:
    from airflow.sdk import Context

PROFILE_TAG = "unifiedProfile"
IDENTITY_TAG = "unifiedIdentity"
ENABLED = ["enabled:true"]
_ENABLED_VALUES = {"enabled:true", "enabled: true"}


def _enabled(dataset: dict[str, Any], tag: str) -> bool:
    return bool(_ENABLED_VALUES & set(dig(dataset, f"tags.{tag}") or []))


class CreateDatasetOperator(AEPBaseOperator):
    """Create (or reuse) a Catalog dataset for an XDM schema.

    ``profile``/``identity`` set the ``unifiedProfile``/``unifiedIdentity`` tags (Real-Time Customer
    Profile and Identity Service; the schema must be Profile-enabled first). A dataset with the same name
    is reused only if it is for ``schema_id``; a reused one gets the tags asked for if it lacks them.
    Returns the dataset id (the ``@/dataSets/`` prefix stripped); pushes ``created``.

    :param name: the dataset's name (templated), its natural key: looked up before every create.
    :param schema_id: the XDM schema's ``$id`` (templated).
    :param description: the dataset's description (templated); the owner line is appended to it.
    :param profile: enable the dataset for Real-Time Customer Profile (``unifiedProfile`` tag).
    :param identity: enable the dataset for Identity Service (``unifiedIdentity`` tag).
    :param aep_conn_id: the ``adobe_experience_platform`` Airflow connection.
    """

    template_fields: Sequence[str] = ("name", "schema_id", "description")
    operator_extra_links = (AEPDatasetLink(),)

    def __init__(
        self,
        *,
        name: str,
        schema_id: str,
        description: str | None = None,
        profile: bool = False,
        identity: bool = False,
        aep_conn_id: str = "aep_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        if not is_template(schema_id):
            schema_id_of(self, schema_id)
        self.name = name
        self.schema_id = schema_id
        self.description = description
        self.profile = profile
        self.identity = identity

    def _tags(self) -> dict[str, list[str]]:
        wanted = {PROFILE_TAG: self.profile, IDENTITY_TAG: self.identity}
        return {tag: list(ENABLED) for tag, on in wanted.items() if on}

    def execute(self, context: Context) -> str:
        name = require_text(self, "name", self.name)
        schema_id = schema_id_of(self, self.schema_id)
        catalog = self.hook.catalog
        same_name = catalog.find_datasets(name)
        for_schema = [d for d in same_name if dig(d, "schemaRef.id") == schema_id]
        if same_name and not for_schema:
            existing = dig(same_name[0], "schemaRef.id")
            raise AEPResourceMismatchError(self.task_id, "dataset", name, "schemaRef.id", existing, schema_id)
        description = self.owned(context, self.description)
        if for_schema:
            dataset, created = catalog.settle_datasets(for_schema, description), False
            dataset_id = dataset_id_of(self, dataset["id"])
            missing = [tag for tag in self._tags() if not _enabled(dataset, tag)]
            if missing:
                ops = [{"op": "add", "path": f"/tags/{tag}", "value": list(ENABLED)} for tag in missing]
                catalog.patch_dataset(dataset_id, ops)
                self.log.info("Enabled %s on reused dataset %s", missing, dataset_id)
        else:
            body: dict[str, Any] = {
                "name": name,
                "description": description,
                "schemaRef": {"id": schema_id, "contentType": DEFAULT_SCHEMA_VERSION},
            }
            if self._tags():
                body["tags"] = self._tags()
            result = catalog.create_dataset(body, looked_up=True)  # the lookup above found none
            dataset_id, created = dataset_id_of(self, result.id), result.created
        self.log.info(
            "%s dataset %s (%r) for schema %s",
            "Created" if created else "Reusing existing",
            dataset_id,
            name,
            schema_id,
        )
        push_created(context, created)
        AEPDatasetLink.persist(context, self.hook.settings, dataset_id)
        return dataset_id


class DeleteDatasetOperator(AEPDeleteOperator):
    """Delete a dataset **and the data in it** (irreversible; after the dataflows writing to it).

    :param dataset_id: the Catalog dataset id (templated; an ``@/dataSets/<id>`` reference is accepted).
    :param missing_ok: see :class:`~airflow_provider_aep.operators.base.AEPDeleteOperator`, like
        ``owned_only``, ``enabled`` and ``aep_conn_id``.
    """

    collection = "dataSets"
    id_argument = "dataset_id"

    def read(self, resource_id: str) -> Mapping[str, Any]:
        return self.hook.catalog.get_dataset(dataset_id_of(self, resource_id))

    def set_description(self, resource_id: str, resource: Mapping[str, Any], description: str) -> None:
        from airflow_provider_aep.ownership import description_patch

        self.hook.catalog.patch_dataset(dataset_id_of(self, resource_id), description_patch(description))

    def in_use(self, resource_id: str, resource: Mapping[str, Any]) -> str | None:
        """Target connections that write to it: Catalog, unlike Flow Service, would delete it under them."""
        writers = self.hook.flow_service.find(
            "targetConnections", {"params.dataSetId": dataset_id_of(self, resource_id)}
        )
        return f"target connections {', '.join(t['id'] for t in writers)}" if writers else None

    def delete(self, resource_id: str) -> bool:
        return bool(self.hook.catalog.delete_dataset(dataset_id_of(self, resource_id), missing_ok=self.missing_ok))

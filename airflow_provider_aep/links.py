"""Extra links from a task to what it created in the AEP UI.

Airflow 3 calls ``get_link`` on the worker when the task ends and stores the URL in XCom; the API server
only reads that XCom. Operators therefore ``persist`` the ids they created (the Airbyte provider's pattern)
and ``get_link`` formats them with a URL template. Templates are configurable in ``airflow.cfg``
(section ``[aep]``) or ``AIRFLOW__AEP__<KEY>`` environment variables, because the AEP UI URL scheme is not
a public contract; placeholders: ``{org_id}``, ``{sandbox}``, ``{id}``, ``{flow_id}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

UI_BASE = "https://experience.adobe.com/#/@{org_id}/sname:{sandbox}/platform"
DEFAULT_TEMPLATES = {
    "base_connection_link": UI_BASE + "/source/accounts/{id}",
    "dataflow_link": UI_BASE + "/source/dataflows/{id}",
    "run_link": UI_BASE + "/source/dataflows/{flow_id}/runs/{id}",
}


def link_template(key: str) -> str:
    from airflow.sdk.configuration import conf

    return conf.get("aep", key, fallback=DEFAULT_TEMPLATES[key])


class _AEPLink(BaseOperatorLink):
    key: ClassVar[str]
    template_key: ClassVar[str]
    label: ClassVar[str]

    @property
    def name(self) -> str:
        return self.label

    @classmethod
    def persist(cls, context: Context, *, org_id: str, sandbox: str, id: str, **extra: Any) -> None:
        """Store what ``get_link`` needs; called by the operator right after it knows the id."""
        context["ti"].xcom_push(key=cls.key, value={"org_id": org_id, "sandbox": sandbox, "id": id, **extra})

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        value = XCom.get_value(key=self.key, ti_key=ti_key)
        if not isinstance(value, dict) or not value.get("id"):
            return ""
        try:
            return link_template(self.template_key).format(**value)
        except (KeyError, IndexError, ValueError):
            return ""


class AEPBaseConnectionLink(_AEPLink):
    key = "aep_base_connection"
    template_key = "base_connection_link"
    label = "AEP Source Account"


class AEPDataflowLink(_AEPLink):
    key = "aep_dataflow"
    template_key = "dataflow_link"
    label = "AEP Dataflow"


class AEPFlowRunLink(_AEPLink):
    key = "aep_flow_run"
    template_key = "run_link"
    label = "AEP Dataflow Run"

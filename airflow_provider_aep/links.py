"""Extra links from a task to what it created in the AEP UI.

How Airflow 3 handles them (checked against 3.3.2): at the end of every try, whatever its outcome, the
worker calls ``get_link`` for each link on the operator (``task_runner.finalize``) and stores the returned
URL in XCom under ``link.xcom_key`` (default ``_link_<ClassName>``). The DAG processor serializes only
``{link.name: link.xcom_key}``; the API server (``GET .../taskInstances/{task}/links`` and the UI buttons)
reads that XCom and never imports this module. Consequences:

* the task must ``persist`` the ids it created *before* the task ends (the Airbyte provider's
  pattern), and ``get_link`` must tolerate a missing value (a task that failed before creating anything)
  by returning ``""``;
* URL templates are read **on the worker** when the try ends: configure them where tasks run. Changing
  them later does not rewrite links of finished tries.

Templates live in section ``[aep]`` of ``airflow.cfg`` (or ``AIRFLOW__AEP__<KEY>`` environment variables)
because the Experience Cloud URL scheme is not a public contract. Placeholders: ``{tenant}`` (``[aep]
ui_tenant``, falling back to the IMS org id), ``{org_id}``, ``{sandbox}`` (the connection's sandbox,
``prod`` when unknown), ``{id}`` and, for runs, ``{flow_id}``. A template with an unknown placeholder
yields no link (and a warning in the task log) rather than a failed task.

Which URL a link gets, first match wins: the link's own template when it is set to anything but its default;
``[aep] ui_base`` + the link's path (``LINK_PATHS``) when ``ui_base`` is set; the AEP emulator's read-only page
(``EMULATOR_UI_BASE``) when the operator persisted an ``emulator_url`` (its AEP connection's Platform host is
loopback); the default template (experience.adobe.com).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_aep.client.config import is_loopback
from airflow_provider_aep.get_provider_info import (
    DEFAULT_LINK_TEMPLATES,
    DEFAULT_UI_SANDBOX,
    EMULATOR_UI_BASE,
    LINK_CONFIG_SECTION,
    LINK_PATHS,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_aep.client.config import AEPSettings

log = logging.getLogger(__name__)


def _conf_get(key: str, fallback: str) -> str:
    from airflow_provider_aep._compat import conf

    return conf.get(LINK_CONFIG_SECTION, key, fallback=fallback) or fallback


def link_template(key: str, value: Any = None) -> str:
    """The URL template for ``key`` and the persisted ``value`` (precedence: see the module docstring)."""
    default = DEFAULT_LINK_TEMPLATES[key]
    configured = _conf_get(key, default)
    if configured != default:
        return configured
    base = _conf_get("ui_base", "").strip()
    if not base and isinstance(value, dict) and value.get("emulator_url"):
        base = EMULATOR_UI_BASE
    return base.rstrip("/") + LINK_PATHS[key] if base else default


def emulator_url(platform_url: str | None) -> str | None:
    """``platform_url`` (without a trailing ``/``) when its host is loopback, i.e. the AEP emulator."""
    if not platform_url:
        return None
    try:
        host = urlsplit(platform_url).hostname
    except ValueError:
        return None
    return platform_url.rstrip("/") if is_loopback(host) else None


def ui_tenant(org_id: str) -> str:
    return _conf_get("ui_tenant", "") or org_id


def format_link(template_key: str, value: Any) -> str:
    """Format the persisted ``value`` with the configured template; ``""`` when there is nothing to link."""
    if not isinstance(value, dict) or not value.get("id"):
        return ""
    params = {**value, "org_id": value.get("org_id") or "", "sandbox": value.get("sandbox") or DEFAULT_UI_SANDBOX}
    params["tenant"] = ui_tenant(params["org_id"])
    template = link_template(template_key, value)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError) as err:
        log.warning(
            "[%s] %s = %r cannot be formatted (%s); no extra link", LINK_CONFIG_SECTION, template_key, template, err
        )
        return ""


class _AEPLink(BaseOperatorLink):
    key: ClassVar[str]
    template_key: ClassVar[str]
    label: ClassVar[str]

    @property
    def name(self) -> str:
        return self.label

    @classmethod
    def persist(cls, context: Context, settings: AEPSettings, id: str, **extra: Any) -> None:
        """Store what ``get_link`` needs; called by the task as soon as it knows the id.

        :param context: the running task's context (its ``ti`` stores the XCom).
        :param settings: the task's AEP connection (``hook.settings``): org id and sandbox for the URL, and its
            Platform URL, stored as ``emulator_url`` when its host is loopback (the emulator), so that the link
            opens the emulator's page of the resource.
        :param id: the resource's id (``{id}`` in the URL template).
        :param extra: more placeholders, e.g. ``flow_id`` for a run.
        """
        value = {"org_id": settings.org_id, "sandbox": settings.sandbox_name, "id": id, **extra}
        local = emulator_url(settings.platform_url)
        if local:
            value["emulator_url"] = local
        context["ti"].xcom_push(key=cls.key, value=value)

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return format_link(self.template_key, XCom.get_value(key=self.key, ti_key=ti_key))


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


class AEPDatasetLink(_AEPLink):
    key = "aep_dataset"
    template_key = "dataset_link"
    label = "AEP Dataset"


class AEPSchemaLink(_AEPLink):
    key = "aep_schema"
    template_key = "schema_link"
    label = "AEP XDM Schema"

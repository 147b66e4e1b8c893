"""Peer: the HubSpot onboarding as ``@task`` functions calling Adobe's ``aepp`` client (PyPI ``aepp``), as a
user without this provider would write it.

Connection ``aep_aepp`` (any type): login/password = the OAuth client id/secret, extra ``org_id``,
``sandbox_name``, ``scopes``, ``platform_url`` and ``ims_url``; ``hubspot_default`` holds the HubSpot app's
credentials. ``aepp`` is imported inside the tasks (it loads pandas), so parsing the DAG does not pay for it.

Pointing aepp at the loopback emulator: ``aepp.configure(environment="support", endpoint=...)`` is aepp's
own switch for a custom Platform base URL, but its IMS endpoint is fixed (``ims-na1.adobelogin.com`` for
every environment but stage). The one override here is ``oauthTokenEndpointV2`` in the config dict that is
passed to each aepp module, set from the connection's ``ims_url``; nothing else of aepp is changed.

What aepp does that shows in the benchmark: every module instance (``FlowService()``, ``Schema()``, ...)
fetches its own IMS token; a create is a bare POST, retried by urllib3 (``Retry(total=retry,
allowed_methods=[... "POST" ...])``) when the connection drops; errors come back as dicts, so each task checks
the answer itself. ``AEP_PEER_POKE_INTERVAL`` / ``AEP_PEER_RETRY_DELAY`` (seconds): poll interval of the
wait and retry delay (defaults 60 and 30).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task, task_group

from benchmarks.peers import onboarding_helpers as h

CONN_ID = "aep_aepp"


def aep(module: str) -> Any:
    """An aepp service object (``flowservice.FlowService``, ``schema.Schema``, ...) for the ``aep_aepp`` connection."""
    import importlib

    import aepp
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(CONN_ID)
    extra = conn.extra_dejson
    aepp.configure(
        org_id=extra["org_id"],
        client_id=conn.login,
        secret=conn.password,
        scopes=extra["scopes"],
        sandbox=extra.get("sandbox_name", "prod"),
        environment="support",
        endpoint=extra["platform_url"],
    )
    config = dict(aepp.config.config_object, oauthTokenEndpointV2=extra["ims_url"] + "/ims/token/v3")
    name, _, cls = module.partition(".")
    return getattr(importlib.import_module(f"aepp.{name}"), cls)(config=config, header=aepp.config.header)


def created(answer: Any, key: str = "id") -> str:
    """aepp returns error bodies instead of raising: fail the task unless the answer has the new id."""
    if isinstance(answer, dict) and answer.get(key):
        return answer[key]
    raise RuntimeError(f"AEP refused the create: {str(answer)[:500]}")


with DAG(
    dag_id="peer_aepp_hubspot_onboarding",
    schedule=None,
    catchup=False,
    tags=["aep", "hubspot", "peer"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=float(os.environ.get("AEP_PEER_RETRY_DELAY", "30")))},
    params={
        "connection_name": Param("HubSpot (Airflow onboarding)", type="string", minLength=1),
        "tables": Param(["Hubspot.Contacts", "Hubspot.Companies"], type="array", minItems=1),
        "delta_column": Param("Updated_At", type="string"),
    },
):

    @task
    def create_base_connection(params: dict | None = None) -> str:
        from airflow.sdk import BaseHook

        hubspot = BaseHook.get_connection("hubspot_default")
        auth = {
            "specName": "Basic Authentication",
            "params": {
                "clientId": hubspot.login,
                "clientSecret": hubspot.password,
                "accessToken": hubspot.extra_dejson["access_token"],
                "refreshToken": hubspot.extra_dejson["refresh_token"],
            },
        }
        flows = aep("flowservice.FlowService")
        return created(flows.createConnection(name=params["connection_name"], auth=auth, connectionSpec=h.HUBSPOT_SPEC))

    @task
    def explore_tables(base_connection_id: str, params: dict | None = None) -> list[str]:
        flows = aep("flowservice.FlowService")  # aepp has no explore method for a base connection
        root = flows.connector.getData(
            f"{flows.endpoint}/connections/{base_connection_id}/explore", params={"objectType": "root"}
        )
        return [t["path"] for t in root if t.get("type") == "table" and t["path"] in params["tables"]]

    @task
    def get_tenant() -> str:
        return aep("schema.Schema").getTenantId()

    base = create_base_connection()
    tenant = get_tenant()
    selected = explore_tables(base)

    @task_group(group_id="onboard_table")
    def onboard_table(table_path: str) -> None:
        @task
        def explore_table(base_connection_id: str, table: str, params: dict | None = None) -> dict[str, Any]:
            flows = aep("flowservice.FlowService")
            doc = flows.connector.getData(
                f"{flows.endpoint}/connections/{base_connection_id}/explore",
                params={"objectType": "table", "object": table},
            )
            return {"names": h.names(params["connection_name"], table), "columns": doc["schema"]["columns"]}

        @task
        def create_field_group(explored: dict, tenant_id: str) -> str:
            names = explored["names"]
            group = h.field_group_body(tenant_id, names["table"], explored["columns"], names["field_group"])
            return created(aep("schema.Schema").createFieldGroup(group), "$id")

        @task
        def create_schema(explored: dict, field_group_id: str) -> str:
            schema = {
                "type": "object",
                "title": explored["names"]["schema"],
                "description": "Created by Airflow",
                "allOf": [{"$ref": h.PROFILE_CLASS}, {"$ref": field_group_id}],
            }
            return created(aep("schema.Schema").createSchema(schema), "$id")

        @task
        def create_dataset(explored: dict, schema_id: str) -> str:
            body = {"name": explored["names"]["dataset"], "schemaRef": {"id": schema_id, "contentType": h.XED_FULL}}
            answer = aep("catalog.Catalog").createDataSet(data=body, requestDataSource=True)
            if isinstance(answer, list) and answer:  # ["@/dataSets/{id}"]
                return answer[0].split("/")[-1]
            raise RuntimeError(f"AEP refused the dataset: {str(answer)[:500]}")

        @task
        def create_mapping_set(explored: dict, tenant_id: str, schema_id: str) -> str:
            mappings = h.mappings(tenant_id, explored["names"]["table"], explored["columns"])
            body = {
                "name": explored["names"]["mapping_set"],
                "outputSchema": {"schemaRef": {"id": schema_id, "contentType": h.XED_FULL}},
                "mappings": mappings,
            }
            return created(aep("dataprep.DataPrep").createMappingSet(mappingSet=body))

        @task
        def create_source_connection(explored: dict, base_connection_id: str) -> str:
            body = {
                "name": explored["names"]["schema"],
                "baseConnectionId": base_connection_id,
                "data": {"format": "tabular"},
                "params": {"path": explored["names"]["table"]},
                "connectionSpec": h.HUBSPOT_SPEC,
            }
            return created(aep("flowservice.FlowService").createSourceConnection(body))

        @task
        def create_target_connection(explored: dict, dataset_id: str, schema_id: str) -> str:
            body = {
                "name": explored["names"]["target_connection"],
                "data": {"schema": {"id": schema_id, "version": h.XED_FULL}},
                "params": {"dataSetId": dataset_id},
                "connectionSpec": h.DATA_LAKE_SPEC,
            }
            return created(aep("flowservice.FlowService").createTargetConnection(data=body))

        @task
        def create_dataflow(
            explored: dict, source_id: str, target_id: str, mapping_id: str, params: dict | None = None
        ) -> str:
            flow = {
                "name": explored["names"]["dataflow"],
                "flowSpec": h.CRM_TO_AEP_FLOW_SPEC,
                "sourceConnectionIds": [source_id],
                "targetConnectionIds": [target_id],
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": {"name": params["delta_column"]}}},
                    {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}},
                ],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
            }
            return created(aep("flowservice.FlowService").createFlow(h.CRM_TO_AEP_FLOW_SPEC["id"], obj=flow))

        @task.sensor(poke_interval=float(os.environ.get("AEP_PEER_POKE_INTERVAL", "60")), timeout=6 * 3600)
        def wait_for_run(flow_id: str) -> bool:
            runs = aep("flowservice.FlowService").getRuns(prop=f"flowId=={flow_id}")
            state = h.run_state({"items": runs if isinstance(runs, list) else []})
            if state in ("failed", "cancelled"):
                raise RuntimeError(f"dataflow run {state}")
            return state == "success"

        explored = explore_table(base, table_path)
        field_group = create_field_group(explored, tenant)
        schema = create_schema(explored, field_group)
        dataset = create_dataset(explored, schema)
        mapping = create_mapping_set(explored, tenant, schema)
        source = create_source_connection(explored, base)
        target = create_target_connection(explored, dataset, schema)
        wait_for_run(create_dataflow(explored, source, target, mapping))

    onboard_table.expand(table_path=selected)

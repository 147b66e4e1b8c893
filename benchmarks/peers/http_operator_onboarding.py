"""Peer: the HubSpot onboarding with ``HttpOperator`` tasks (``apache-airflow-providers-http``) and a
hand-written IMS token task, as a user without this provider would write it.

Connections: ``aep_ims_http`` (HTTP; host = the IMS base URL, login/password = the OAuth client id/secret,
extra ``org_id``, ``sandbox_name``, ``scopes``), ``aep_platform_http`` (HTTP; host = the Platform base URL) and
``hubspot_default`` (the HubSpot app's credentials). The token task puts the access token in XCom, and every
request's headers pull it from there (so the token sits in the metadata DB and in each task's rendered
fields). Bodies are Jinja-templated JSON strings; ids travel by XCom (``response_filter``). Each create is a
bare POST: a task retry after a lost answer POSTs again. ``AEP_PEER_POKE_INTERVAL`` and
``AEP_PEER_RETRY_DELAY`` (seconds) are the wait's poll interval and the retry delay (defaults 60 and 30).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.sdk import DAG, Param, task, task_group

from benchmarks.peers import onboarding_helpers as h

IMS, PLATFORM = "aep_ims_http", "aep_platform_http"
FLOW, REGISTRY = "/data/foundation/flowservice", "/data/foundation/schemaregistry"
CATALOG, DATA_PREP = "/data/foundation/catalog", "/data/foundation/conversion"
GROUP = "onboard_table"
HEADERS = {
    "Authorization": "Bearer {{ ti.xcom_pull(task_ids='get_token') }}",
    "x-api-key": "{{ conn.aep_ims_http.login }}",
    "x-gw-ims-org-id": "{{ conn.aep_ims_http.extra_dejson.org_id }}",
    "x-sandbox-name": "{{ conn.aep_ims_http.extra_dejson.sandbox_name }}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def pull(task_id: str, key: str | None = None) -> str:
    """Jinja for an XCom of this table's instance of a task in the mapped group (``| tojson`` for bodies)."""
    value = f"ti.xcom_pull(task_ids='{GROUP}.{task_id}', map_indexes=ti.map_index)"
    return f"{value}[{key!r}]" if key else value


def body(template: dict) -> str:
    """A JSON body whose string values may be Jinja expressions (``"{{ ... | tojson }}"`` placeholders)."""
    text = json.dumps(template)
    return text.replace('"<<', "{{ ").replace('>>"', " | tojson }}")


def ident(response) -> str:
    return response.json()["id"]


with DAG(
    dag_id="peer_http_hubspot_onboarding",
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
    def get_token() -> str:
        """The hand-written token task: one IMS client-credentials token for the whole DAG run."""
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(IMS)
        form = {
            "grant_type": "client_credentials",
            "client_id": conn.login,
            "client_secret": conn.password,
            "scope": conn.extra_dejson["scopes"],
        }
        response = HttpHook(method="POST", http_conn_id=IMS).run("/ims/token/v3", data=form)
        return response.json()["access_token"]

    token = get_token()
    tenant = HttpOperator(
        task_id="get_tenant",
        http_conn_id=PLATFORM,
        method="GET",
        endpoint=f"{REGISTRY}/stats",
        headers=HEADERS,
        response_filter=lambda r: r.json()["tenantId"],
    )
    base = HttpOperator(
        task_id="create_base_connection",
        http_conn_id=PLATFORM,
        endpoint=f"{FLOW}/connections",
        headers=HEADERS,
        data=body(
            {
                "name": "<<params.connection_name>>",
                "auth": {
                    "specName": "Basic Authentication",
                    "params": {
                        "clientId": "<<conn.hubspot_default.login>>",
                        "clientSecret": "<<conn.hubspot_default.password>>",
                        "accessToken": "<<conn.hubspot_default.extra_dejson.access_token>>",
                        "refreshToken": "<<conn.hubspot_default.extra_dejson.refresh_token>>",
                    },
                },
                "connectionSpec": h.HUBSPOT_SPEC,
            }
        ),
        response_filter=ident,
    )
    explore = HttpOperator(
        task_id="explore_tables",
        http_conn_id=PLATFORM,
        method="GET",
        endpoint=f"{FLOW}/connections/{{{{ ti.xcom_pull(task_ids='create_base_connection') }}}}/explore",
        data={"objectType": "root"},
        headers=HEADERS,
    )

    @task
    def select_tables(root: str, params: dict | None = None) -> list[str]:
        paths = [item["path"] for item in json.loads(root) if item.get("type") == "table"]
        return [p for p in paths if p in params["tables"]]

    selected = select_tables(explore.output)
    token >> tenant >> base >> explore

    @task_group(group_id=GROUP)
    def onboard_table(table_path: str) -> None:
        @task
        def resource_names(table: str, connection_name: str) -> dict[str, str]:
            return h.names(connection_name, table)

        named = resource_names(table_path, "{{ params.connection_name }}")
        table = HttpOperator(
            task_id="explore_table",
            http_conn_id=PLATFORM,
            method="GET",
            endpoint=f"{FLOW}/connections/{{{{ ti.xcom_pull(task_ids='create_base_connection') }}}}/explore",
            data={"objectType": "table", "object": table_path},
            headers=HEADERS,
            response_filter=lambda r: r.json()["schema"]["columns"],
        )

        @task
        def field_group_body(tenant_id: str, columns: list, names: dict) -> str:
            return json.dumps(h.field_group_body(tenant_id, names["table"], columns, names["field_group"]))

        @task
        def mapping_set_body(tenant_id: str, columns: list, names: dict, schema_id: str) -> str:
            mapping = h.mappings(tenant_id, names["table"], columns)
            schema = {"schemaRef": {"id": schema_id, "contentType": h.XED_FULL}}
            return json.dumps({"name": names["mapping_set"], "outputSchema": schema, "mappings": mapping})

        field_group = HttpOperator(
            task_id="create_field_group",
            http_conn_id=PLATFORM,
            endpoint=f"{REGISTRY}/tenant/fieldgroups",
            headers=HEADERS,
            data=field_group_body(tenant.output, table.output, named),
            response_filter=lambda r: r.json()["$id"],
        )
        schema = HttpOperator(
            task_id="create_schema",
            http_conn_id=PLATFORM,
            endpoint=f"{REGISTRY}/tenant/schemas",
            headers=HEADERS,
            data=body(
                {
                    "type": "object",
                    "title": f"<<{pull('resource_names', 'schema')}>>",
                    "description": "Created by Airflow",
                    "allOf": [{"$ref": h.PROFILE_CLASS}, {"$ref": f"<<{pull('create_field_group')}>>"}],
                }
            ),
            response_filter=lambda r: r.json()["$id"],
        )
        dataset = HttpOperator(
            task_id="create_dataset",
            http_conn_id=PLATFORM,
            endpoint=f"{CATALOG}/dataSets?requestDataSource=true",
            headers=HEADERS,
            data=body(
                {
                    "name": f"<<{pull('resource_names', 'dataset')}>>",
                    "schemaRef": {"id": f"<<{pull('create_schema')}>>", "contentType": h.XED_FULL},
                }
            ),
            response_filter=lambda r: r.json()[0].split("/")[-1],  # ["@/dataSets/{id}"]
        )
        mapping = HttpOperator(
            task_id="create_mapping_set",
            http_conn_id=PLATFORM,
            endpoint=f"{DATA_PREP}/mappingSets",
            headers=HEADERS,
            data=mapping_set_body(tenant.output, table.output, named, schema.output),
            response_filter=ident,
        )
        source = HttpOperator(
            task_id="create_source_connection",
            http_conn_id=PLATFORM,
            endpoint=f"{FLOW}/sourceConnections",
            headers=HEADERS,
            data=body(
                {
                    "name": f"<<{pull('resource_names', 'schema')}>>",
                    "baseConnectionId": "<<ti.xcom_pull(task_ids='create_base_connection')>>",
                    "data": {"format": "tabular"},
                    "params": {"path": f"<<{pull('resource_names', 'table')}>>"},
                    "connectionSpec": h.HUBSPOT_SPEC,
                }
            ),
            response_filter=ident,
        )
        target = HttpOperator(
            task_id="create_target_connection",
            http_conn_id=PLATFORM,
            endpoint=f"{FLOW}/targetConnections",
            headers=HEADERS,
            data=body(
                {
                    "name": f"<<{pull('resource_names', 'target_connection')}>>",
                    "data": {"schema": {"id": f"<<{pull('create_schema')}>>", "version": h.XED_FULL}},
                    "params": {"dataSetId": f"<<{pull('create_dataset')}>>"},
                    "connectionSpec": h.DATA_LAKE_SPEC,
                }
            ),
            response_filter=ident,
        )
        flow = HttpOperator(
            task_id="create_dataflow",
            http_conn_id=PLATFORM,
            endpoint=f"{FLOW}/flows",
            headers=HEADERS,
            data=body(
                {
                    "name": f"<<{pull('resource_names', 'dataflow')}>>",
                    "flowSpec": h.CRM_TO_AEP_FLOW_SPEC,
                    "sourceConnectionIds": [f"<<{pull('create_source_connection')}>>"],
                    "targetConnectionIds": [f"<<{pull('create_target_connection')}>>"],
                    "transformations": [
                        {"name": "Copy", "params": {"deltaColumn": {"name": "<<params.delta_column>>"}}},
                        {
                            "name": "Mapping",
                            "params": {"mappingId": f"<<{pull('create_mapping_set')}>>", "mappingVersion": 0},
                        },
                    ],
                    "scheduleParams": {"startTime": "<<macros.time.time() | int>>", "frequency": "once"},
                }
            ),
            response_filter=ident,
        )

        def finished(response) -> bool:
            state = h.run_state(response.json())
            if state in ("failed", "cancelled"):
                raise RuntimeError(f"dataflow run {state}")
            return state == "success"

        wait = HttpSensor(
            task_id="wait_for_run",
            http_conn_id=PLATFORM,
            endpoint=f"{FLOW}/runs",
            request_params={"property": f"flowId=={{{{ {pull('create_dataflow')} }}}}"},
            headers=HEADERS,
            response_check=finished,
            poke_interval=float(os.environ.get("AEP_PEER_POKE_INTERVAL", "60")),
            timeout=6 * 3600,
        )
        named >> table >> field_group >> schema >> dataset >> mapping >> source >> target >> flow >> wait

    onboard_table.expand(table_path=selected)

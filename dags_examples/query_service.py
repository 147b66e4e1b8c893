"""Query the HubSpot contacts the onboarding landed: a data-quality check, a derived dataset, a row count.

Runs after ``aep_hubspot_onboarding`` (``dags_examples/hubspot_onboarding.py``) has landed ``Hubspot.Contacts``:

1. ``locate``: find the contacts dataset in Catalog (by the onboarding's name for it) and the org's tenant id; the
   dataset's Query Service table is its ``adobe/pqs/table`` tag (else its name, lower-cased, ``_`` for the rest),
   and the contacts' fields sit under ``_<tenant>.hubspot.contacts`` (the onboarding's field group);
2. ``check_contacts``: ``SQLColumnCheckOperator`` over the PostgreSQL interface (``aep_query_service_default``)
   on the latest version of each contact (the dataset keeps every batch, so a contact an incremental run copied
   again is there twice): every contact has an email, and no email appears twice; a failure names the column;
3. ``drop_previous`` / ``contacts_per_company``: ``RunQueryOperator`` CTAS, companies with their contact counts, as a
   new dataset (its asset event goes through ``AssetAlias("aep_query_outputs")``); the previous DAG run's copy is
   dropped first, so the DAG can run again;
4. ``report``: reads the row counts back through ``AEPQueryServiceHook``.

Schedule: set ``AEP_QUERY_CONTACTS_ASSET`` to the contacts dataset's asset URI (``aep://<org>/<sandbox>/datasets/<id>``,
see ``docs/assets.md``) to run whenever that dataset gets new data (e.g. an onboarding whose ``wait_for_run`` emits
asset events); unset, the DAG is triggered by hand after an onboarding (``make demo QUERY=1`` does that).

Connections: ``aep_default`` (``adobe_experience_platform``) and ``aep_query_service_default``
(``aep_query_service``, whose ``aep_conn_id`` extra names ``aep_default``: it holds no secret of its own).
"""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator, SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_aep.operators.query_service import RunQueryOperator

QUERY_CONN_ID = "aep_query_service_default"
CONTACTS_ASSET = os.environ.get("AEP_QUERY_CONTACTS_ASSET", "").strip()
POLL_INTERVAL = float(os.environ.get("AEP_QUERY_POKE_INTERVAL", "30"))
LOCATED = "ti.xcom_pull(task_ids='locate')"
_FIELDS = "c._{{ " + LOCATED + "['tenant'] }}.hubspot.contacts"
#: The latest version of each contact, as plain columns. A dataset keeps every batch, so a contact that changed
#: between two onboarding runs is there twice (by ``vid``); and the check operators alias each column, so dot
#: paths cannot be their columns.
CONTACTS = (
    "(SELECT email, company FROM (SELECT "
    f"{_FIELDS}.propertiesEmailValue AS email, {_FIELDS}.propertiesCompanyValue AS company, "
    f"ROW_NUMBER() OVER (PARTITION BY {_FIELDS}.vid ORDER BY {_FIELDS}.updatedAt DESC) AS version "
    "FROM {{ " + LOCATED + "['table'] }} AS c) AS versions WHERE version = 1) AS contacts"
)

with DAG(
    dag_id="aep_query_service",
    schedule=[Asset(CONTACTS_ASSET)] if CONTACTS_ASSET else None,
    catchup=False,
    doc_md=__doc__,
    tags=["aep", "query-service", "example"],
    params={
        "contacts_dataset": Param(
            "HubSpot (Airflow onboarding): Hubspot.Contacts",
            type="string",
            minLength=1,
            description="Name of the dataset the onboarding landed the contacts in.",
        ),
        "output_dataset": Param(
            "hubspot_contacts_per_company",
            type="string",
            pattern="^[a-z][a-z0-9]*(_[a-z0-9]+)*$",
            description="Name (and table) of the derived dataset: lower-case, single underscores.",
        ),
    },
):

    @task
    def locate(params: dict[str, Any] | None = None) -> dict[str, str]:
        """The contacts dataset's id and table, and the tenant id its fields are under."""
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook
        from airflow_provider_aep.operators.query_service import table_name

        name = str((params or {})["contacts_dataset"])
        hook = AEPFlowServiceHook()
        found = hook.catalog.find_datasets(name)
        if not found:
            raise ValueError(f"no dataset named {name!r}: run aep_hubspot_onboarding first")
        return {"dataset_id": found[0]["id"], "table": table_name(found[0]), "tenant": hook.get_tenant_id()}

    located = locate()

    check_contacts = SQLColumnCheckOperator(
        task_id="check_contacts",
        conn_id=QUERY_CONN_ID,
        table=CONTACTS,
        column_mapping={"email": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}},
    )

    drop_previous = SQLExecuteQueryOperator(
        task_id="drop_previous",
        conn_id=QUERY_CONN_ID,
        sql="DROP TABLE IF EXISTS {{ params.output_dataset }}",
    )

    contacts_per_company = RunQueryOperator(
        task_id="contacts_per_company",
        sql=(
            "SELECT contacts.company AS company, COUNT(*) AS contact_count FROM " + CONTACTS + " "
            "WHERE contacts.company IS NOT NULL GROUP BY contacts.company"
        ),
        ctas_dataset_name="{{ params.output_dataset }}",
        asset_alias="aep_query_outputs",
        poll_interval=POLL_INTERVAL,
        deferrable=True,
    )

    @task
    def report(written: Any, located: Any, params: dict[str, Any] | None = None) -> dict:
        """Row counts read back over the PostgreSQL interface."""
        from airflow_provider_aep.hooks.query_service import AEPQueryServiceHook

        hook = AEPQueryServiceHook(aep_query_conn_id=QUERY_CONN_ID)
        output = str((params or {})["output_dataset"])
        records, contacts = hook.get_first(
            f"SELECT COUNT(*), COUNT(DISTINCT c._{located['tenant']}.hubspot.contacts.vid) FROM {located['table']} AS c"
        )
        companies = hook.get_first(f"SELECT COUNT(*), SUM(contact_count) FROM {output}")
        counts = {  # plain ints: SUM() comes back as a Decimal
            "records": int(records),
            "contacts": int(contacts),
            "companies": int(companies[0]),
            "contacts_with_a_company": int(companies[1] or 0),
            "query_id": written["query_id"],
            "dataset_id": written["dataset_id"],
        }
        print(f"Query Service row counts: {counts}")
        return counts

    located >> check_contacts >> drop_previous >> contacts_per_company
    report(contacts_per_company.output, located)

"""Run when HubSpot records land in AEP: a DAG scheduled on the datasets ``aep_hubspot_onboarding`` writes.

The onboarding's ``wait_for_run`` sensors emit, when a table's run succeeds, the asset event of the table's
dataset (``aep://<org>/<sandbox>/datasets/<dataset id>``, with what the run landed in its ``extra``) through
their own alias, ``aep-datasets:<dag_id>.<task_id>`` (``docs/assets.md``). The dataset ids are only known once
the onboarding has created them, so this DAG is scheduled on that alias: it runs after every onboarding run
that landed records, whichever tables it onboarded.

To react to one table only, schedule on its dataset's asset instead, once you know the dataset id (the
onboarding's ``summary`` XCom, the asset list of the Airflow UI, or AEP's Datasets page)::

    from airflow_provider_aep.assets import dataset_asset

    schedule=[dataset_asset("<org id>@AdobeOrg", "prod", "<dataset id>")]
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, AssetAlias, task

from airflow_provider_aep.asset_events import default_asset_alias

LANDED = AssetAlias(name=default_asset_alias("aep_hubspot_onboarding", "onboard_table.wait_for_run"))

with DAG(dag_id="aep_hubspot_landed", schedule=[LANDED], catchup=False, doc_md=__doc__, tags=["aep", "example"]):

    @task
    def report(*, triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """One line per dataset event: which dataset, how many records, which batch."""
        landed = []
        for asset, events in (triggering_asset_events or {}).items():
            for event in events:
                extra = event.extra or {}
                records, batch = extra.get("records_written"), extra.get("batch_id")
                logging.getLogger(__name__).info("%s: %s records (batch %s)", asset.uri, records, batch)
                landed.append({"uri": asset.uri, "records": records, "batch": batch})
        return landed

    report()

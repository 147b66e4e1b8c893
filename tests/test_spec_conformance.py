"""Every request of a whole onboarding DAG run validates against the spec of its service.

The DAG runs through ``dag.test()`` against the emulator; the emulator's journal then holds each request
the provider sent to the Flow Service, Schema Registry, Catalog and Data Prep, and ``tests.spec_requests``
checks bodies and query parameters against Adobe's published specs.
"""

from __future__ import annotations

import os

import pytest

from tests import spec_requests

os.environ.setdefault("AEP_ONBOARDING_POKE_INTERVAL", "0.2")

pytestmark = pytest.mark.skipif(
    not spec_requests.available(), reason=f"Adobe's API specs are not available in {spec_requests.SHARED_REFERENCE}"
)


def test_every_request_of_an_onboarding_run_matches_its_service_spec(run_dag, aep_emulator, connections):
    from airflow.utils.state import DagRunState

    connections(aep_emulator.url)
    aep_emulator.control.configure(run_start_delay=0.2, run_duration=0.2)
    dag_run = run_dag("aep_hubspot_onboarding", conf={"tables": ["Hubspot.Contacts", "Hubspot.All_Deals"]})
    assert dag_run.state == DagRunState.SUCCESS
    counts, problems = spec_requests.check_journal(aep_emulator.control.journal(include_secrets=True))
    assert set(counts) == {"flow-service", "schema-registry", "catalog", "data-prep"}, counts
    assert problems == [], "\n".join(map(str, problems))


def test_every_request_of_a_batch_ingestion_run_matches_its_service_spec(run_dag, aep_emulator, connections):
    from airflow.utils.state import DagRunState

    connections(aep_emulator.url)
    os.environ.setdefault("AEP_BATCH_POKE_INTERVAL", "0.2")
    dag_run = run_dag("aep_batch_ingestion", conf={"records": 50})
    assert dag_run.state == DagRunState.SUCCESS
    counts, problems = spec_requests.check_journal(aep_emulator.control.journal(include_secrets=True))
    assert {"batch-ingestion", "catalog", "schema-registry"} <= set(counts), counts
    assert problems == [], "\n".join(map(str, problems))


def test_the_checker_catches_a_body_the_spec_refuses():
    entry = {
        "method": "POST",
        "path": "/data/foundation/schemaregistry/tenant/schemas",
        "query": {"bogus": ["1"]},
        "body": {"title": "no type, no allOf"},
    }
    problems = [str(p) for p in spec_requests.check_entry(entry)]
    assert any("query parameter 'bogus'" in p for p in problems), problems
    assert any("is a required property" in p for p in problems), problems

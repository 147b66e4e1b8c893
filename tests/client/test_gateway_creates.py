"""A create answered 502 or 504 is ambiguous: the gateway gave up, the backend may still commit it.

Such a create is treated like one that got no answer at all: the lookup is repeated for the settle window
(``RECONCILE_WINDOW_FACTOR * read_timeout``) before the create is sent again, for every service's creates.
"""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.data_prep import DataPrepClient
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.platform import RECONCILE_WINDOW_FACTOR
from airflow_provider_aep.client.schema_registry import SchemaRegistryClient

from .conftest import CAT, DP, FS, SR, service_calls

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
SCHEMA_ID = "https://ns.adobe.com/acmecorp/schemas/533ca5da28087c44344810891b0f03d9"
DS_ID = "5ed5639d798a22191b6987b2"
MAP_ID = "500a9b747fcf4908a21917d49bd61780"
WINDOW = RECONCILE_WINDOW_FACTOR * 60.0  # the default read_timeout of the ``settings`` fixture

GATEWAY = {
    502: {"status": 502, "body": "<html><body>502 Bad Gateway</body></html>"},
    504: {"status": 504, "json": {"error_code": "504", "message": "Gateway Timeout"}},
}


class Service:
    """One service's create: the stubs of its lookup (empty or finding the resource), POST and answer."""

    name: str
    post_url: str
    looks_up_first = True  # runs have no natural key: nothing to look up before the POST

    def lookup(self, mock, *, found: bool) -> None:
        raise NotImplementedError

    def created(self, mock) -> None:
        raise NotImplementedError

    def create(self, platform):
        """Run the create; returns ``(id, created)``."""
        raise NotImplementedError


class Connections(Service):
    name = "flow service connection"
    post_url = FS + "/connections"
    body = {"name": "conn", "auth": {"params": {}}, "connectionSpec": {"id": HUBSPOT, "version": "1.0"}}

    def lookup(self, mock, *, found):
        items = [{"id": "made", "name": "conn", "connectionSpec": {"id": HUBSPOT}, "createdAt": 1}] if found else []
        mock.add(responses.GET, FS + "/connections", json={"items": items, "_links": {}})

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=201, json={"id": "made", "etag": '"e"'})

    def create(self, platform):
        made = FlowServiceClient(platform).create_connection(self.body)
        return made.id, made.created


class Runs(Service):
    name = "flow service run"
    post_url = FS + "/runs"
    looks_up_first = False

    def lookup(self, mock, *, found):
        status = {"metrics": {"statusSummary": {"status": "inProgress"}}}
        newest = (
            {"id": "made", "flowId": "f1", "createdAt": 2} if found else {"id": "old", "flowId": "f1", "createdAt": 1}
        )
        items = [{**newest, **status}]
        mock.add(responses.GET, FS + "/runs", json={"items": items, "_links": {}})

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=201, json={"id": "made"})

    def create(self, platform):
        made = FlowServiceClient(platform).create_run("f1", {"windowStartTime": "1"}, known_latest="old")
        return made.id, made.created


class Schemas(Service):
    name = "schema registry schema"
    post_url = SR + "/tenant/schemas"
    body = {
        "type": "object",
        "title": "HubSpot Contacts",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}],
    }

    def lookup(self, mock, *, found):
        results = [{"$id": SCHEMA_ID, "title": "HubSpot Contacts", "version": "1.0"}] if found else []
        mock.add(
            responses.GET,
            SR + "/tenant/schemas",
            json={"results": results, "_page": {"orderby": "title", "next": None, "count": len(results)}},
            match=[matchers.query_param_matcher({"orderby": "title", "property": "title==HubSpot Contacts"})],
        )
        if found:
            from urllib.parse import quote

            mock.add(
                responses.GET,
                f"{SR}/tenant/schemas/{quote(SCHEMA_ID, safe='')}",
                json={**self.body, "$id": SCHEMA_ID},
            )

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=201, json={**self.body, "$id": SCHEMA_ID})

    def create(self, platform):
        resource, created = SchemaRegistryClient(platform).create("schemas", self.body)
        return resource["$id"], created


class Descriptors(Service):
    name = "schema registry descriptor"
    post_url = SR + "/tenant/descriptors"
    body = {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": SCHEMA_ID,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": "/_acmecorp/email",
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }

    def lookup(self, mock, *, found):
        body = {"xdm:descriptorIdentity": [{**self.body, "@id": "d-made"}]} if found else {}
        mock.add(responses.GET, SR + "/tenant/descriptors", json=body)

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=201, json={"@id": "d-made"})

    def create(self, platform):
        return SchemaRegistryClient(platform).create_descriptor(self.body)["@id"], True


class Datasets(Service):
    name = "catalog dataset"
    post_url = CAT + "/dataSets"
    body = {
        "name": "HubSpot Contacts",
        "schemaRef": {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"},
    }

    def lookup(self, mock, *, found):
        body = {DS_ID: {"name": "HubSpot Contacts", "schemaRef": {"id": SCHEMA_ID}, "created": 1}} if found else {}
        mock.add(responses.GET, CAT + "/dataSets", json=body)

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=201, json=[f"@/dataSets/{DS_ID}"])

    def create(self, platform):
        made = CatalogClient(platform).create_dataset(self.body)
        return made.id, made.created


class MappingSets(Service):
    name = "data prep mapping set"
    post_url = DP + "/mappingSets"
    body = {"name": "HubSpot Contacts mapping", "mappings": [{"source": "Vid", "destination": "_id"}]}

    def lookup(self, mock, *, found):
        data = [{"id": MAP_ID, "name": self.body["name"], "version": 0, "createdDate": 1}] if found else []
        mock.add(responses.GET, DP + "/mappingSets", json={"data": data, "_page": {"count": len(data)}})

    def created(self, mock):
        mock.add(responses.POST, self.post_url, status=200, json={"id": MAP_ID, "version": 0})

    def create(self, platform):
        made = DataPrepClient(platform).create_mapping_set(self.body)
        return made.id, made.created


SERVICES = [Connections(), Runs(), Schemas(), Descriptors(), Datasets(), MappingSets()]
EXPECTED_ID = {"made", SCHEMA_ID, "d-made", DS_ID, MAP_ID}


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_create_the_gateway_gave_up_on_is_found_while_it_settles(
    platform, strict_http, strict_ims, sleeps, service, status
):
    """The backend commits the create a moment after the gateway's 502/504: the lookups find it, no re-send."""
    if service.looks_up_first:
        service.lookup(strict_http, found=False)  # before the POST
    strict_http.add(responses.POST, service.post_url, **GATEWAY[status])
    service.lookup(strict_http, found=False)  # right after the 502/504: not committed yet
    service.lookup(strict_http, found=False)
    service.lookup(strict_http, found=True)  # committed while the client was still looking
    made_id, created = service.create(platform)
    assert made_id in EXPECTED_ID and created is True
    assert len(service_calls(strict_http, service.post_url, "POST")) == 1
    settle = sleeps[1:]  # the first sleep is the back-off after the 502/504
    assert len(settle) == 2 and sum(settle) <= WINDOW


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_gateway_failure_is_resent_only_after_the_settle_window(
    platform, strict_http, strict_ims, sleeps, service, status
):
    service.lookup(strict_http, found=False)
    strict_http.add(responses.POST, service.post_url, **GATEWAY[status])
    service.created(strict_http)
    made_id, created = service.create(platform)
    assert made_id in EXPECTED_ID and created is True
    assert len(service_calls(strict_http, service.post_url, "POST")) == 2
    assert sum(sleeps[1:]) == pytest.approx(WINDOW)  # looked for it for the whole window, then re-sent


@pytest.mark.parametrize("status", [500, 503])
def test_a_service_error_is_still_resent_after_one_lookup(platform, strict_http, strict_ims, sleeps, status):
    """500 and 503 come from the service itself: it is done with the request, one lookup settles it."""
    service = Connections()
    service.lookup(strict_http, found=False)
    strict_http.add(responses.POST, service.post_url, status=status, json={"title": "Internal"})
    service.created(strict_http)
    assert service.create(platform) == ("made", True)
    # the last GET: the key listed again after the create (convergence with racing DAG runs)
    assert [c.request.method for c in service_calls(strict_http, FS)] == ["GET", "POST", "GET", "POST", "GET"]
    assert len(sleeps) == 1  # only the back-off

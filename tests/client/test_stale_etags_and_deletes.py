"""A PATCH is re-sent after a stale etag (412) only when re-applying it is harmless; a DELETE whose retry
answers 404 after an ambiguous first attempt reports the deletion the first attempt most likely made."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
import requests
import responses

from airflow_provider_aep.client.catalog import CatalogClient
from airflow_provider_aep.client.errors import AEPNotFoundError, AEPPreconditionFailedError
from airflow_provider_aep.client.schema_registry import SchemaRegistryClient

from .conftest import CAT, FS, SR, service_calls

STALE = {"title": "Precondition failed", "status": 412}
GONE = {"title": "Resource not found", "status": 404}
APPEND = [{"op": "add", "path": "/transformations/-", "value": {"name": "Mapping"}}]


def etag_is(mock, etag: str) -> None:
    mock.add(responses.GET, FS + "/flows/f1", json={"items": [{"id": "f1", "etag": etag}]})


# ---------------------------------------------------------------------- PATCH after 412
def test_an_append_is_not_resent_after_a_stale_etag(client, strict_http, strict_ims):
    """The first attempt was committed (its answer lost to a 503); the retry's 412 must not append again."""
    strict_http.add(responses.PATCH, FS + "/flows/f1", status=503, json={"title": "Service Unavailable"})
    strict_http.add(responses.PATCH, FS + "/flows/f1", status=412, json=STALE)
    etag_is(strict_http, '"v2"')  # re-read: it changed
    with pytest.raises(AEPPreconditionFailedError) as err:
        client.patch("flows", "f1", APPEND, etag='"v1"')
    assert len(service_calls(strict_http, FS, "PATCH")) == 2  # the first attempt and its retry; no third
    message = str(err.value)
    assert "not re-sent" in message and "add /transformations/-" in message
    assert '"v1"' in message and '"v2"' in message  # the etag sent and the one found
    assert "may have applied" in message
    assert err.value.status == 412


def test_a_replace_is_still_reread_and_resent_once(client, strict_http, strict_ims):
    ops = [{"op": "replace", "path": "/name", "value": "n"}, {"op": "test", "path": "/state", "value": "enabled"}]
    strict_http.add(responses.PATCH, FS + "/flows/f1", status=412, json=STALE)
    etag_is(strict_http, '"v2"')
    strict_http.add(responses.PATCH, FS + "/flows/f1", json={"id": "f1", "etag": '"v3"'})
    assert client.patch("flows", "f1", ops, etag='"v1"').etag == '"v3"'
    patches = service_calls(strict_http, FS, "PATCH")
    assert [p.request.headers["If-Match"] for p in patches] == ['"v1"', '"v2"']
    assert json.loads(patches[1].request.body) == ops


# ---------------------------------------------------------------------- DELETE: 5xx, then 404
@pytest.mark.parametrize(
    "first",
    [{"status": 502, "json": {"title": "Bad Gateway"}}, {"body": requests.ReadTimeout("read timed out")}],
    ids=["502", "timeout"],
)
def test_a_404_after_an_ambiguous_delete_reports_the_deletion(client, strict_http, strict_ims, caplog, first):
    strict_http.add(responses.DELETE, FS + "/flows/f1", **first)
    strict_http.add(responses.DELETE, FS + "/flows/f1", status=404, json=GONE)
    with caplog.at_level(logging.INFO, logger="airflow_provider_aep.client"):
        assert client.delete("flows", "f1") is True
        assert client.delete("flows", "f1", missing_ok=True) is False  # a plain 404 is still "already gone"
    said = [r.getMessage() for r in caplog.records if "most likely deleted" in r.getMessage()]
    assert len(said) == 1 and "/flows/f1" in said[0]


def test_a_404_after_a_429_is_already_gone(client, strict_http, strict_ims):
    """A 429 means AEP did not act: the 404 that follows is the truth."""
    strict_http.add(
        responses.DELETE, FS + "/flows/f1", status=429, json={"message": "slow"}, headers={"Retry-After": "0"}
    )
    strict_http.add(responses.DELETE, FS + "/flows/f1", status=404, json=GONE)
    assert client.delete("flows", "f1") is False
    strict_http.add(responses.DELETE, FS + "/flows/f1", status=404, json=GONE)
    with pytest.raises(AEPNotFoundError):
        client.delete("flows", "f1", missing_ok=False)


def test_missing_ok_false_does_not_fail_our_own_deletion(client, strict_http, strict_ims):
    strict_http.add(responses.DELETE, FS + "/connections/c1", status=500, json={"title": "Internal"})
    strict_http.add(responses.DELETE, FS + "/connections/c1", status=404, json=GONE)
    assert client.delete("connections", "c1", missing_ok=False) is True


def test_every_service_reports_it(platform, strict_http, strict_ims):
    schema = f"{SR}/tenant/schemas/{quote('https://ns.adobe.com/acme/schemas/s1', safe='')}"
    for url in (schema, CAT + "/dataSets/d1"):
        strict_http.add(responses.DELETE, url, status=504, json={"title": "Gateway Timeout"})
        strict_http.add(responses.DELETE, url, status=404, json=GONE)
    assert SchemaRegistryClient(platform).delete("schemas", "https://ns.adobe.com/acme/schemas/s1") is True
    assert CatalogClient(platform).delete_dataset("d1") is True


def test_catalogs_empty_answer_after_an_ambiguous_delete_is_the_deletion_too(platform, strict_http, strict_ims):
    strict_http.add(responses.DELETE, CAT + "/dataSets/d1", status=503, json={"title": "Unavailable"})
    strict_http.add(responses.DELETE, CAT + "/dataSets/d1", json=[])  # Catalog's "not found" answer
    strict_http.add(responses.DELETE, CAT + "/dataSets/d2", json=[])
    assert CatalogClient(platform).delete_dataset("d1") is True
    assert CatalogClient(platform).delete_dataset("d2") is False

"""List semantics: pagination, count, filters and ordering."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from aep_emulator.core.context import Ctx
from aep_emulator.flow_service.resources import build
from aep_emulator.testing import FS, HUBSPOT, HUBSPOT_AUTH, ORG, flow_error_code


def seed_connections(emu, count, sandbox="prod", org=ORG):
    """Insert connections straight into the in-process state (fast setup for big lists)."""
    state = emu.state
    with state.lock:
        ctx = Ctx(state=state, store=state.store(org, sandbox), client_id="seed", request_id="seed")
        for index in range(count):
            resource = build(
                ctx,
                {
                    "name": f"conn-{index:05d}",
                    "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
                    "auth": HUBSPOT_AUTH,
                },
            )
            ctx.store["connections"].add(resource)


def follow(fs, first_path, params=None):
    """All items, following the relative ``_links.next.href`` exactly as a client would."""
    pages, items = 0, []
    response = fs.get(first_path, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        items.extend(body["items"])
        href = body["_links"].get("next", {}).get("href")
        if not href:
            assert body["_links"] == {}
            return items, pages
        assert href.startswith("/") and not href.startswith(FS)
        response = fs.get(fs.url + FS + href)


def test_paginate_250_connections(fs):
    created = {fs.connection(name=f"c{i:03d}") for i in range(250)}
    items, pages = follow(fs, "/connections", {"limit": 100})
    assert pages == 3
    assert {i["id"] for i in items} == created
    assert [i["name"] for i in items] == [f"c{i:03d}" for i in range(250)]
    assert fs.get("/connections", params={"count": "true"}).json() == {"count": 250}


def test_default_page_size_and_token_only_pagination(emu, fs):
    seed_connections(emu, 45)
    first = fs.get("/connections").json()
    assert len(first["items"]) == 20
    href = first["_links"]["next"]["href"]
    assert href.startswith("/connections?continuationToken=")
    token = parse_qs(urlsplit(href).query)["continuationToken"][0]
    assert "=" not in token
    second = fs.get("/connections", params={"continuationToken": token}).json()
    assert second["items"][0]["name"] == "conn-00020"
    items, pages = follow(fs, "/connections")
    assert (len(items), pages) == (45, 3)


def test_pagination_is_stable_under_concurrent_changes(fs):
    ids = [fs.connection(name=f"c{i}") for i in range(10)]
    first = fs.get("/connections", params={"limit": 4}).json()
    assert fs.delete(f"/connections/{ids[4]}").status_code == 204  # first item of the next page
    fs.connection(name="late")
    rest, _ = follow(fs, fs.url + FS + first["_links"]["next"]["href"])
    names = [i["name"] for i in first["items"] + rest]
    assert names == [f"c{i}" for i in range(10) if i != 4] + ["late"]


def test_count_and_limit_cannot_be_combined(fs):
    response = fs.get("/connections", params={"count": "true", "limit": 5})
    assert response.status_code == 400
    assert flow_error_code(response) == "1401-400"
    assert fs.get("/connections", params={"count": "false", "limit": 5}).json()["items"] == []


def test_ten_thousand_connections_list_quickly(emu, fs):
    seed_connections(emu, 10_000)
    started = time.monotonic()
    items, pages = follow(fs, "/connections", {"limit": 100})
    elapsed = time.monotonic() - started
    assert (len(items), pages) == (10_000, 100)
    assert elapsed < 15, f"paging 10k connections took {elapsed:.1f}s"
    started = time.monotonic()
    page = fs.get("/connections", params={"limit": 50, "property": "name==conn-09999"}).json()
    assert [i["name"] for i in page["items"]] == ["conn-09999"]
    assert time.monotonic() - started < 2


def test_filters(fs):
    a = fs.connection(name="Alpha", description="Test description")
    b = fs.connection(name="beta")
    c = fs.connection(name="gamma, with comma")
    names = lambda **params: [i["name"] for i in fs.get("/connections", params=params).json()["items"]]  # noqa: E731
    assert names(property="name==Alpha") == ["Alpha"]
    assert names(property="name==alpha") == ["Alpha"]
    assert names(property='name=="beta"') == ["beta"]
    assert names(property='name=="gamma, with comma"') == ["gamma, with comma"]
    assert names(property=f"id=={a},{c}") == ["Alpha", "gamma, with comma"]
    assert names(property="description==Test description") == ["Alpha"]
    assert names(property=f"connectionSpec.id=={HUBSPOT}") == ["Alpha", "beta", "gamma, with comma"]
    assert names(property="name!=beta") == ["Alpha", "gamma, with comma"]
    both = fs.get("/connections", params=[("property", "state==enabled"), ("property", f"id=={b}")]).json()
    assert [i["name"] for i in both["items"]] == ["beta"]
    created = fs.item(f"/connections/{b}")["createdAt"]
    assert names(property=f"createdAt>={created}") == ["beta", "gamma, with comma"]
    assert names(property=f"createdAt<{created}") == ["Alpha"]
    assert names(property="auth.params.clientId==hs-client") == ["Alpha", "beta", "gamma, with comma"]


def test_array_filters(fs):
    ids = fs.pipeline()
    other = fs.pipeline()
    flows = fs.get("/flows", params={"property": f"sourceConnectionIds[]=={ids['source']},{other['source']}"}).json()
    assert {f["id"] for f in flows["items"]} == {ids["flow"], other["flow"]}
    one = fs.get(
        "/flows", params={"property": f"inheritedAttributes.sourceConnections[].baseConnection.id=={ids['base']}"}
    )
    assert [f["id"] for f in one.json()["items"]] == [ids["flow"]]
    without_brackets = fs.get("/flows", params={"property": f"sourceConnectionIds=={ids['source']}"}).json()
    assert without_brackets["items"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"property": "bogusField==1"}, "1449-400"),
        ({"property": "name!>x"}, "1450-400"),
        ({"property": "name~x"}, "1440-400"),
        ({"property": "createdAt=="}, "1453-400"),
        ({"property": "name"}, "1453-400"),
        ({"property": "createdAt>yesterday"}, "1452-400"),
        ({"property": "createdAt<=1,2"}, "1443-400"),
        ({"orderby": "-id"}, "1433-400"),
        ({"orderby": "*name"}, "1432-400"),
        ({"start": "0"}, "1451-400"),
        ({"limit": "ten"}, "1452-400"),
        ({"limit": "0"}, "1452-400"),
        ({"continuationToken": "!!!"}, "1452-400"),
    ],
)
def test_invalid_list_parameters(fs, params, code):
    response = fs.get("/connections", params=params)
    assert response.status_code == 400, response.text
    assert flow_error_code(response) == code


def test_orderby(fs):
    for name in ("bravo", "Alpha", "charlie", "delta"):
        fs.connection(name=name)
    names = lambda order, **extra: [  # noqa: E731
        i["name"] for i in fs.get("/connections", params={"orderby": order, **extra}).json()["items"]
    ]
    assert names("name") == ["Alpha", "bravo", "charlie", "delta"]
    assert names("-name") == ["delta", "charlie", "bravo", "Alpha"]
    assert names("+createdAt") == ["bravo", "Alpha", "charlie", "delta"]
    assert names("-createdAt") == ["delta", "charlie", "Alpha", "bravo"]
    items, pages = follow(fs, "/connections", {"orderby": "-name", "limit": 3})
    assert [i["name"] for i in items] == ["delta", "charlie", "bravo", "Alpha"] and pages == 2


def test_next_href_keeps_filters(fs):
    for i in range(5):
        fs.connection(name=f"keep-{i}")
    fs.connection(name="other")
    first = fs.get("/connections", params={"limit": 2, "property": "name!=other", "orderby": "-name"}).json()
    href = first["_links"]["next"]["href"]
    query = parse_qs(urlsplit(href).query)
    assert query["limit"] == ["2"] and query["property"] == ["name!=other"] and query["orderby"] == ["-name"]
    items, _ = follow(fs, fs.url + FS + href)
    assert [i["name"] for i in first["items"] + items] == [f"keep-{i}" for i in range(4, -1, -1)]


def test_limit_is_clamped(emu, fs):
    emu.control.configure(max_page_size=30)
    seed_connections(emu, 40)
    assert len(fs.get("/connections", params={"limit": 5000}).json()["items"]) == 30

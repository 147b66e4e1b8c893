"""Control plane: reset, journal, state, stats, clock and configuration; cheap and Airflow-free imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from aep_emulator import EmulatorConfig, EmulatorControl, EmulatorControlError
from aep_emulator.app import COLLECTIONS
from aep_emulator.testing import FS, HUBSPOT_AUTH, ORG

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_aep" / "emulator"


def test_journal_records_requests(emu, fs):
    conn_id = fs.connection()
    fs.get("/connections", params={"property": ["name==x", "state==enabled"], "limit": 5})
    journal = emu.control.journal(include_secrets=True)
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/ims/token/v3", 200),
        ("POST", f"{FS}/connections", 201),
        ("GET", f"{FS}/connections", 200),
    ]
    ims, create, listing = journal
    assert ims["body"]["grant_type"] == "client_credentials"
    assert ims["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert create["body"]["auth"] == HUBSPOT_AUTH
    assert create["headers"]["x-gw-ims-org-id"] == ORG
    assert create["headers"]["authorization"].startswith("Bearer ")
    assert listing["query"] == {"property": ["name==x", "state==enabled"], "limit": ["5"]}
    assert listing["body"] is None
    assert all(isinstance(e["time"], float) for e in journal)
    assert journal[0]["time"] <= journal[1]["time"] <= journal[2]["time"]
    assert emu.control.journal(method="GET", include_secrets=True) == [listing]
    assert emu.control.journal(path=r".*/connections", include_secrets=True) == [create, listing]
    emu.control.clear_journal()
    assert emu.control.journal() == []
    assert conn_id


def test_journal_limit(emu, fs):
    emu.control.configure(journal_limit=3)
    for _ in range(5):
        fs.get("/connections")
    assert len(emu.control.journal()) == 3


def test_reset_clears_everything(emu, fs):
    fs.connection()
    emu.control.add_fault("GET", ".*")
    emu.control.advance_clock(100)
    emu.control.configure(token_lifetime=5)
    emu.control.set_run_outcome("failed")
    emu.control.reset()
    assert emu.control.state()["connections"] == []
    assert emu.control.faults() == [] and emu.control.journal() == []
    assert emu.control.clock()["offset"] == 0
    assert emu.control.config()["token_lifetime"] == 86399
    assert emu.control.stats()["tokens_issued"] == 0
    assert fs.get("/connections").status_code == 401  # tokens were forgotten too


def test_state_across_sandboxes(emu, flow_client):
    prod, dev = flow_client("prod"), flow_client("dev")
    prod.pipeline()
    dev.connection(name="dev-conn")
    state = emu.control.state()
    assert set(state) == set(COLLECTIONS)
    assert sorted(c["sandboxName"] for c in state["connections"]) == ["dev", "prod"]
    assert all(c["imsOrgId"] == ORG for c in state["connections"])
    assert len(state["flows"]) == 1 and len(state["sourceConnections"]) == 1
    assert "hs-secret-VALUE" not in str(state)
    raw = emu.control.state(include_secrets=True)
    assert raw["connections"][0]["auth"]["params"]["clientSecret"] == "hs-secret-VALUE"
    assert not any(key.startswith("_") for items in state.values() for item in items for key in item)


def test_stats(emu, fs):
    fs.connection()
    fs.get("/connections/missing")
    stats = emu.control.stats()
    assert stats["tokens_issued"] == 1
    assert stats["requests"] == 3
    assert stats["responses"] == {"200": 1, "201": 1, "404": 1}
    assert stats["resources"]["connections"] == 1


def test_clock(emu):
    before = emu.control.clock()["now"]
    after = emu.control.advance_clock(3600)
    assert after - before >= 3600
    with pytest.raises(EmulatorControlError):
        emu.control.advance_clock(-1)


def test_configure_validates(emu):
    with pytest.raises(EmulatorControlError):
        emu.control.configure(run_outcome="maybe")
    with pytest.raises(EmulatorControlError):
        emu.control.configure(no_such_field=1)
    assert emu.control.configure(run_duration=0.5)["run_duration"] == 0.5


def test_control_http_surface(emu):
    base = f"{emu.url}/__emulator"
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
    assert requests.post(f"{base}/reset", timeout=5).status_code == 200
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    assert requests.post(f"{base}/state", timeout=5).status_code == 405
    assert requests.post(f"{base}/clock/advance", json={"seconds": "x"}, timeout=5).status_code == 400
    created = requests.post(f"{base}/faults", json={"path": "/x", "status": 418}, timeout=5)
    assert created.status_code == 201
    assert requests.get(f"{emu.url}/x", timeout=5).status_code == 418
    assert requests.delete(f"{base}/faults", timeout=5).status_code == 204
    assert requests.post(f"{base}/runs/outcome", json={"outcome": "meh"}, timeout=5).status_code == 400
    unknown_run = requests.post(f"{base}/runs/outcome", json={"outcome": "failed", "run_id": "nope"}, timeout=5)
    assert unknown_run.status_code == 404


def test_control_client_waits_with_a_deadline():
    with pytest.raises(TimeoutError):
        EmulatorControl("http://127.0.0.1:9").wait_until_ready(timeout=0.3)


def test_config_round_trip():
    config = EmulatorConfig(credentials={"a": "b"}, run_duration=1.5)
    assert EmulatorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError):
        EmulatorConfig(run_outcome="bad")


def test_package_import_is_cheap_and_airflow_free():
    code = (
        "import sys, aep_emulator as e;"
        "assert 'uvicorn' not in sys.modules and 'fastapi' not in sys.modules, 'heavy import';"
        "assert not any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules), 'airflow import';"
        "assert callable(e.run_emulator) and e.EmulatorConfig().token_lifetime == 86399"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parents[1])


def test_no_airflow_imports_in_the_emulator():
    offenders = [
        path.name
        for path in PACKAGE.glob("*.py")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import airflow", "from airflow "))
    ]
    assert offenders == []


# -- the journal masks secrets by default (item 11) ------------------------------------------------------------
SECRETS = ("s3cret", "hs-secret-VALUE", "hs-access-VALUE", "hs-refresh-VALUE", "new-access-VALUE")


def _rotate_credentials(fs, conn_id: str) -> None:
    etag = fs.item(f"/connections/{conn_id}")["etag"]
    params = {**HUBSPOT_AUTH["params"], "accessToken": "new-access-VALUE"}
    ops = [{"op": "replace", "path": "/auth/params", "value": params}]
    assert fs.patch(f"/connections/{conn_id}", ops, etag).status_code == 200


def test_journal_masks_secrets_unless_asked(emu, fs):
    conn_id = fs.connection()
    _rotate_credentials(fs, conn_id)
    masked = emu.control.journal()
    assert not [s for s in (*SECRETS, fs.token) if s in str(masked)], "a raw secret in the default journal"
    ims, create = masked[0], masked[1]
    assert ims["body"] == {
        "grant_type": "client_credentials",
        "client_id": "test-client",
        "client_secret": "<redacted>",
        "scope": "openid",
    }
    assert create["body"]["auth"]["params"] == {
        "clientId": "hs-client",
        "clientSecret": "<redacted>",
        "accessToken": "<redacted>",
        "refreshToken": "<redacted>",
    }
    assert create["headers"]["authorization"] == "Bearer <redacted token #1>"
    assert create["headers"]["x-api-key"] == "test-client"  # not a secret: the OAuth client id
    patch = next(e for e in masked if e["method"] == "PATCH")
    assert patch["body"][0]["value"]["accessToken"] == "<redacted>"
    assert patch["body"][0]["value"]["clientId"] == "hs-client"

    raw = emu.control.journal(include_secrets=True)
    assert [(e["method"], e["path"], e["status"]) for e in raw] == [
        (e["method"], e["path"], e["status"]) for e in masked
    ]
    assert raw[0]["body"]["client_secret"] == "s3cret"
    assert raw[1]["body"]["auth"] == HUBSPOT_AUTH
    assert raw[1]["headers"]["authorization"] == f"Bearer {fs.token}"
    over_http = requests.get(f"{emu.url}/__emulator/journal", params={"secrets": "true"}, timeout=5).json()
    assert over_http == raw
    assert requests.get(f"{emu.url}/__emulator/journal", timeout=5).json() == masked
    assert emu.state.journal[0]["body"]["client_secret"] == "s3cret", "masking must not change what is stored"


def test_journal_numbers_the_tokens_it_masks(emu, fs, flow_client):
    fs.get("/connections")
    other = flow_client()  # a second IMS token
    other.get("/connections")
    fs.session.get(f"{emu.url}{FS}/connections", headers={**fs.headers, "Authorization": "Bearer not-issued"})
    seen = [e["headers"].get("authorization") for e in emu.control.journal(path=f"{FS}/.*")]
    assert seen == ["Bearer <redacted token #1>", "Bearer <redacted token #2>", "Bearer <redacted>"]


def test_journal_masks_query_secrets_and_text_bodies(emu):
    query = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "q-secret-VALUE", "scope": "x"}
    requests.post(f"{emu.url}/ims/token/v3", params=query, timeout=5)
    broken = '{"auth": {"params": {"clientSecret": "text-secret-VALUE", "clientId": "c"'
    requests.post(f"{emu.url}{FS}/connections", data=broken, headers={"Content-Type": "application/json"}, timeout=5)
    masked = emu.control.journal()
    assert "q-secret-VALUE" not in str(masked) and "text-secret-VALUE" not in str(masked)
    assert masked[0]["query"]["client_secret"] == ["<redacted>"] and masked[0]["query"]["client_id"] == ["c"]
    assert '"clientId": "c"' in masked[1]["body"]
    assert "text-secret-VALUE" in str(emu.control.journal(include_secrets=True))


# -- the control plane answers loopback callers only (item 11) ------------------------------------------------
def asgi_get(app, path: str, client: tuple[str, int] | None, headers: dict[str, str] | None = None):
    """One request straight through the ASGI app, with ``client`` as the peer address uvicorn would set."""
    import asyncio

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
        "server": ("0.0.0.0", 8081),
        "scheme": "http",
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body.decode()


@pytest.mark.parametrize("client", [("127.0.0.1", 5000), ("127.8.9.10", 1), ("::1", 5000), ("::ffff:127.0.0.1", 1)])
def test_control_plane_answers_loopback_callers(client):
    from aep_emulator import create_app

    assert asgi_get(create_app(), "/__emulator/health", client) == (200, '{"status":"ok"}')


@pytest.mark.parametrize(
    "client", [("192.0.2.10", 5000), ("10.0.0.7", 1), ("2001:db8::1", 1), ("::ffff:10.0.0.7", 1), None]
)
@pytest.mark.parametrize("path", ["/__emulator/health", "/__emulator/journal", "/__emulator/state", "/__emulator/ui"])
def test_control_plane_refuses_other_callers(client, path):
    from aep_emulator import create_app

    app = create_app()
    status, body = asgi_get(app, path, client, {"x-emulator-token": "guess", "x-forwarded-for": "127.0.0.1"})
    assert status == 403
    message = json.loads(body)["error"]
    assert "only answers loopback callers" in message and "--control-from-anywhere --control-token" in message
    assert (client[0] if client else "an unknown address") in message
    # the emulated APIs themselves still answer (only the control plane is restricted)
    assert asgi_get(app, "/ims/token/v3", client)[0] == 405


def test_control_from_anywhere_needs_the_token():
    from aep_emulator import create_app

    with pytest.raises(ValueError, match="control token"):
        create_app(control_from_anywhere=True)
    app = create_app(control_from_anywhere=True, control_token="t0ken-XYZ")
    remote = ("192.0.2.10", 5000)
    status, body = asgi_get(app, "/__emulator/health", remote)
    assert status == 403 and "x-emulator-token" in body and "no token" in body
    status, body = asgi_get(app, "/__emulator/health", remote, {"x-emulator-token": "wrong"})
    assert status == 403 and "a wrong token" in body and "t0ken-XYZ" not in body
    assert asgi_get(app, "/__emulator/health", remote, {"x-emulator-token": "t0ken-XYZ"})[0] == 200
    assert asgi_get(app, "/__emulator/health", ("127.0.0.1", 1))[0] == 200  # loopback needs no token
    token_alone = create_app(control_token="t0ken-XYZ")  # the token alone opens nothing
    assert asgi_get(token_alone, "/__emulator/health", remote, {"x-emulator-token": "t0ken-XYZ"})[0] == 403


def test_control_client_sends_the_token():
    assert EmulatorControl("http://127.0.0.1:9", token="abc")._session.headers["x-emulator-token"] == "abc"
    assert "x-emulator-token" not in EmulatorControl("http://127.0.0.1:9")._session.headers


class _Bound(Exception):
    """Raised instead of binding a socket, so the CLI tests never listen anywhere."""


def _refuse_to_bind(*args, **kwargs):
    raise _Bound(args)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "", "emulator.internal"])
def test_cli_warns_about_a_host_that_is_not_loopback(host, monkeypatch, capsys):
    from aep_emulator import cli, server

    monkeypatch.setattr(server, "bind_socket", _refuse_to_bind)
    with pytest.raises(_Bound):
        cli.main(["--host", host, "--port", "0"])
    err = capsys.readouterr().err
    assert "WARNING" in err and "is not a loopback address" in err
    assert (host or "(all interfaces)") in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_cli_is_quiet_on_loopback(host, monkeypatch, capsys):
    from aep_emulator import cli, server

    monkeypatch.delenv("AEP_EMULATOR_CONTROL_TOKEN", raising=False)
    monkeypatch.setattr(server, "bind_socket", _refuse_to_bind)
    with pytest.raises(_Bound):
        cli.main(["--host", host, "--port", "0"])
    assert capsys.readouterr().err == ""


def test_cli_control_from_anywhere_needs_a_token(monkeypatch, capsys):
    from aep_emulator import cli, server

    monkeypatch.delenv("AEP_EMULATOR_CONTROL_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="--control-from-anywhere needs --control-token"):
        cli.main(["--control-from-anywhere", "--port", "0"])
    created = {}

    def fake_create_app(config, **kwargs):
        created.update(kwargs)
        raise _Bound()

    monkeypatch.setattr(server, "bind_socket", lambda *a, **k: None)
    monkeypatch.setattr("aep_emulator.app.create_app", fake_create_app)
    monkeypatch.setenv("AEP_EMULATOR_CONTROL_TOKEN", "from-env")
    with pytest.raises(_Bound):
        cli.main(["--control-from-anywhere", "--port", "0"])
    assert created == {"control_from_anywhere": True, "control_token": "from-env"}
    assert "--control-from-anywhere" in capsys.readouterr().err

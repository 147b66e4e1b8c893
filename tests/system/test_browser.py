"""The Airflow 3.3 UI in a real browser: our connection forms, the Test button and the extra link.

Drives Debian's ``/usr/bin/chromium`` through Playwright (never Playwright's own browser downloads) against
the session's local Airflow and emulator. Skipped with a message when chromium is missing on a developer
machine; in CI (``CI=true``) a missing browser is a failure. Screenshots go to
``test-artifacts/browser/`` (gitignored; CI can upload it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.system.airflow_server import REPO, LocalAirflow

pytestmark = [pytest.mark.system, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("AEP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
AEP_CONN_ID = "aep_browser"
HUBSPOT_CONN_ID = "hubspot_browser"
EXAMPLE_DAG = "aep_hubspot_connection"
CREATE_TASK = "create_hubspot_connection"
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (browser tests must run in CI; .ci/run installs chromium)", pytrace=False)
    pytest.skip(f"{reason}; install it with `apt-get install -y chromium` to run the browser tests")


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Checked before the (session-scoped) Airflow is started, so a skip costs nothing."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser_context(chromium: Path, airflow_server: LocalAirflow) -> Iterator:
    """A logged-in Chromium context (fresh, empty user-data-dir) shared by this module's tests."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="aep-chromium-profile-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1100},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto(f"{airflow_server.url}/")
            page.fill("input[name=username]", airflow_server.username)
            page.fill("input[name=password]", airflow_server.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
            page.close()
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context, artifacts: Path, request: pytest.FixtureRequest):
    """A new tab; on failure its screenshot is saved as ``FAILED-<test>.png``."""
    page = browser_context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)  # set by tests/system/conftest.py
    if report is not None and report.failed:
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
    page.close()


def open_add_connection(page, url: str, type_label: str, conn_id: str):
    """Admin → Connections → Add Connection, pick ``type_label``; returns the dialog locator."""
    page.goto(f"{url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(conn_id)
    combo = dialog.get_by_role("combobox")
    combo.click()
    combo.fill(type_label.split()[0])
    page.get_by_role("option", name=type_label, exact=True).click()
    return dialog


def field_label(dialog, text: str):
    return dialog.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def open_section(dialog, name: str) -> None:
    """The form's sections are an accordion: opening one closes the other."""
    dialog.get_by_role("button", name=name, exact=True).click()


def toast(page, title: str):
    return page.locator("[data-scope=toast][data-part=root]").filter(has_text=title).first


def test_aep_connection_form_save_and_test(page, airflow_server, airflow_api, system_emulator, artifacts) -> None:
    from playwright.sync_api import expect

    airflow_api.delete_connection(AEP_CONN_ID)
    dialog = open_add_connection(page, airflow_server.url, "Adobe Experience Platform", AEP_CONN_ID)

    # Standard fields: relabelled, placeholders saying where the value comes from, secret masked.
    for label in ("Description", "Platform URL", "Platform port", "Client ID (API key)", "Client secret"):
        expect(field_label(dialog, label)).to_be_visible()
    expect(dialog.locator("input[name=schema]")).to_have_count(0)
    expect(dialog.locator("input[name=host]")).to_have_attribute("placeholder", re.compile("platform.adobe.io"))
    expect(dialog.locator("input[name=login]")).to_have_attribute("placeholder", re.compile("Developer Console"))
    expect(dialog.locator("input[name=password]")).to_have_attribute("type", "password")
    page.screenshot(path=str(artifacts / "01-aep-standard-fields.png"), full_page=True)

    emulator_host, emulator_port = system_emulator.url.rsplit(":", 1)
    dialog.locator("input[name=host]").fill(emulator_host)
    dialog.locator("input[name=port]").fill(emulator_port)
    dialog.locator("input[name=login]").fill("browser-client-id")
    dialog.locator("input[name=password]").fill("browser-client-SECRET-1234")

    # Extra fields (conn-fields): labels, help text, defaults; the org id is required.
    open_section(dialog, "Extra Fields")
    for label in ("IMS Org ID", "Sandbox name", "Scopes", "IMS URL", "Connect timeout (s)", "Read timeout (s)"):
        expect(field_label(dialog, label)).to_be_visible()
    expect(dialog.locator("#element_sandbox_name")).to_have_value("prod")
    expect(dialog.locator("#element_ims_url")).to_have_value("https://ims-na1.adobelogin.com")
    expect(dialog.get_by_text(re.compile("'Organization ID' on the Developer Console"))).to_be_visible()
    save = dialog.get_by_role("button", name="Save")
    expect(save).to_be_disabled()  # IMS Org ID is required
    page.screenshot(path=str(artifacts / "02-aep-extra-fields.png"), full_page=True)

    dialog.locator("#element_org_id").fill(ORG_ID)
    dialog.locator("#element_ims_url").fill(system_emulator.url)
    dialog.locator("#element_ims_url").press("Tab")  # the form validates on blur
    expect(save).to_be_enabled()
    page.screenshot(path=str(artifacts / "03-aep-filled.png"), full_page=True)
    save.click()
    expect(toast(page, "Create Connection Request Submitted")).to_be_visible()

    stored = airflow_api.get_connection(AEP_CONN_ID)
    assert stored["conn_type"] == "adobe_experience_platform"
    assert (stored["host"], stored["port"], stored["login"]) == (emulator_host, int(emulator_port), "browser-client-id")
    assert json.loads(stored["extra"]) == {
        "org_id": ORG_ID,
        "sandbox_name": "prod",
        "scopes": "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext",
        "ims_url": system_emulator.url,
        "connect_timeout": 10,
        "read_timeout": 60,
    }

    # The Test button (Connections list row) runs the hook's test_connection() in the api-server.
    row = page.get_by_role("row").filter(has_text=AEP_CONN_ID)
    row.get_by_role("button", name="Test Connection").click()
    success = toast(page, "Test Connection Successful")
    expect(success).to_be_visible()
    expect(success).to_contain_text(f"org {ORG_ID}, sandbox prod")
    page.wait_for_timeout(500)  # let the toast finish fading in
    page.screenshot(path=str(artifacts / "04-aep-test-success.png"))


def test_hubspot_connection_form_masks_secrets(page, airflow_server, airflow_api, artifacts) -> None:
    from playwright.sync_api import expect

    airflow_api.delete_connection(HUBSPOT_CONN_ID)
    dialog = open_add_connection(page, airflow_server.url, "HubSpot (for AEP sources)", HUBSPOT_CONN_ID)
    for label in ("Client ID", "Client secret"):
        expect(field_label(dialog, label)).to_be_visible()
    for hidden in ("host", "port", "schema"):
        expect(dialog.locator(f"input[name={hidden}]")).to_have_count(0)
    expect(dialog.locator("input[name=password]")).to_have_attribute("type", "password")
    dialog.locator("input[name=login]").fill("browser-hubspot-client")
    dialog.locator("input[name=password]").fill("browser-hubspot-SECRET-1")
    page.screenshot(path=str(artifacts / "05-hubspot-standard-fields.png"), full_page=True)

    open_section(dialog, "Extra Fields")
    for label, element in (("Access token", "#element_access_token"), ("Refresh token", "#element_refresh_token")):
        expect(field_label(dialog, label)).to_be_visible()
        expect(dialog.locator(element)).to_have_attribute("type", "password")
    save = dialog.get_by_role("button", name="Save")
    expect(save).to_be_disabled()  # both tokens are required
    dialog.locator("#element_access_token").fill("browser-hubspot-ACCESS-2")
    dialog.locator("#element_refresh_token").fill("browser-hubspot-REFRESH-3")
    dialog.locator("#element_refresh_token").press("Tab")  # the form validates on blur
    expect(save).to_be_enabled()
    page.screenshot(path=str(artifacts / "06-hubspot-extra-fields.png"), full_page=True)
    save.click()
    expect(toast(page, "Create Connection Request Submitted")).to_be_visible()

    stored = airflow_api.get_connection(HUBSPOT_CONN_ID)
    assert stored["login"] == "browser-hubspot-client"
    assert stored["password"] == "***"
    assert json.loads(stored["extra"]) == {"access_token": "***", "refresh_token": "***"}, "sensitive extras"

    # Editing shows the secrets masked, never their values.
    page.get_by_role("row").filter(has_text=HUBSPOT_CONN_ID).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("input[name=password]")).to_have_value("***")
    open_section(dialog, "Extra Fields")
    expect(dialog.locator("#element_access_token")).to_have_value("***")
    expect(dialog.locator("#element_refresh_token")).to_have_value("***")
    assert "browser-hubspot-ACCESS-2" not in page.content()
    page.screenshot(path=str(artifacts / "07-hubspot-edit-masked.png"), full_page=True)


def test_extra_link_on_the_task_page(page, airflow_server, airflow_api, fresh_emulator, artifacts) -> None:
    from playwright.sync_api import expect

    run = airflow_api.run_dag(EXAMPLE_DAG, timeout=120)
    assert run["state"] == "success", airflow_api.task_instances(EXAMPLE_DAG, run["dag_run_id"])
    run_id = run["dag_run_id"]
    connection_id = airflow_api.xcom(EXAMPLE_DAG, run_id, CREATE_TASK)
    expected = airflow_api.links(EXAMPLE_DAG, run_id, CREATE_TASK)["AEP Source Account"]
    assert expected.endswith(f"/source/accounts/{connection_id}")

    page.goto(f"{airflow_server.url}/dags/{EXAMPLE_DAG}/runs/{quote(run_id, safe='')}/tasks/{CREATE_TASK}/details")
    expect(page.get_by_text("Extra Links")).to_be_visible()
    link = page.get_by_role("link", name="AEP Source Account")
    expect(link).to_have_attribute("href", expected)
    expect(link).to_have_attribute("target", "_blank")
    page.screenshot(path=str(artifacts / "08-task-extra-link.png"), full_page=True)

    # aep_default points at the emulator: the link opens its read-only page of the account, not experience.adobe.com
    assert expected.startswith(f"{fresh_emulator.url}/__emulator/ui/"), expected
    page.goto(expected)
    expect(page.locator("h1")).to_contain_text("Source account")
    expect(page.locator("table.summary")).to_contain_text(connection_id)
    expect(page.locator("#resource-json")).to_contain_text("<redacted>")
    page.screenshot(path=str(artifacts / "09-emulator-account-page.png"), full_page=True)

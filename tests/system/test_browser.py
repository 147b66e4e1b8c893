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
from urllib.parse import quote, unquote

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
    from playwright.sync_api import expect, sync_playwright

    # expect() waits 5 s by default, less than a page of the UI can take on a busy machine: the same bound
    # as every action.
    expect.set_options(timeout=TIMEOUT_MS)
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
    for label in ("Description", "Platform URL (no port)", "Platform port", "Client ID (API key)", "Client secret"):
        expect(field_label(dialog, label)).to_be_visible()
    # Airflow cannot flag a standard field as required: the label carries the form's required mark.
    expect(field_label(dialog, "Client ID (API key)")).to_have_text(re.compile(r"\*\s*$"))
    expect(field_label(dialog, "Client secret")).to_have_text(re.compile(r"\*\s*$"))
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


def test_make_airflow_connections_are_listed_and_open_in_the_edit_form(
    page, airflow_server, airflow_api, system_emulator, artifacts
) -> None:
    """What a new user finds under Admin → Connections after ``make airflow``: both connections, stored through
    Airflow's API by the same code, listed, and open in the edit form with the port in its own field and the
    secrets masked."""
    from playwright.sync_api import expect

    from tests.system.demo_connections import DEMO_ORG_ID, demo_connections, store_connections

    emulator_port = system_emulator.url.rsplit(":", 1)[1]
    try:
        assert store_connections(airflow_api, demo_connections(system_emulator.url)) == {
            "aep_default": "created",
            "hubspot_default": "created",
        }
        # a second `make airflow` on the same home finds them and points them at its emulator again
        assert store_connections(airflow_api, demo_connections(system_emulator.url)) == {
            "aep_default": "updated",
            "hubspot_default": "kept",
        }
        page.goto(f"{airflow_server.url}/connections")
        aep_row = page.get_by_role("row").filter(has_text="aep_default")
        expect(aep_row).to_contain_text(re.compile("adobe_experience_platform|Adobe Experience Platform"))
        expect(page.get_by_role("row").filter(has_text="hubspot_default")).to_contain_text(
            re.compile("hubspot", re.IGNORECASE)
        )
        page.screenshot(path=str(artifacts / "00-make-airflow-connections.png"), full_page=True)

        aep_row.get_by_role("button", name="Edit Connection").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.locator("input[name=connection_id]")).to_have_value("aep_default")
        expect(dialog.locator("input[name=host]")).to_have_value("http://127.0.0.1")  # no port in the URL
        expect(dialog.locator("input[name=port]")).to_have_value(emulator_port)  # the port in its own field
        expect(dialog.locator("input[name=login]")).to_have_value("demo-client-id")
        expect(dialog.locator("input[name=password]")).to_have_value("***")
        open_section(dialog, "Extra Fields")
        expect(dialog.locator("#element_org_id")).to_have_value(DEMO_ORG_ID)
        expect(dialog.locator("#element_sandbox_name")).to_have_value("prod")
        expect(dialog.locator("#element_ims_url")).to_have_value(system_emulator.url)
        assert "demo-client-secret" not in page.content()
        page.screenshot(path=str(artifacts / "00-make-airflow-aep-edit.png"), full_page=True)
        # The list's Test button on them is checked by test_airflow_local.py against `make airflow` itself: this
        # session's Airflow also defines aep_default as an environment variable, which Airflow reads first.
    finally:
        airflow_api.delete_connection("aep_default")
        airflow_api.delete_connection("hubspot_default")


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


ONBOARDING_DAG = "aep_hubspot_onboarding"
SENSOR = "onboard_table.wait_for_run"
ONBOARDING_RUN_TIMEOUT = 300  # seconds; one table takes ~40 s here, task retries wait 30 s each


def open_trigger_form(page, *, again_with_this_config: bool = False):
    """The header's Trigger button; on a run page it is a menu (Trigger / Trigger again with this config)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    if again_with_this_config:
        page.get_by_role("menuitem", name="Trigger again with this config").click()
    else:
        menu_item = page.get_by_role("menuitem", name="Trigger", exact=True)
        expect(dialog.or_(menu_item).first).to_be_visible()
        if menu_item.is_visible():
            menu_item.click()
    expect(dialog.locator("#element_tables")).to_be_visible()
    return dialog


def conf_editor(dialog):
    """Advanced Options → Configuration JSON (a Monaco editor): what the params form will send as conf."""
    dialog.get_by_role("button", name="Advanced Options").click()
    return dialog.locator(".monaco-editor .view-lines")


def submit_trigger(page, dialog, previous_run_ids: set[str]) -> str:
    """Click Trigger; the UI opens the new run's page, whose URL gives the run id."""
    from playwright.sync_api import expect

    dialog.get_by_test_id("trigger-dag-submit").click()
    expect(toast(page, "Dag Run Triggered")).to_be_visible()

    def new_run_page(url: str) -> bool:
        match = re.search(r"/runs/([^/?#]+)$", url)
        return bool(match) and unquote(match.group(1)) not in previous_run_ids

    page.wait_for_url(new_run_page)
    return unquote(re.search(r"/runs/([^/?#]+)$", page.url).group(1))


def open_grid_cell(page, url: str, run_id: str, task_id: str) -> None:
    """The run's page, every task group expanded, then the grid cell of ``task_id`` in that run's column."""
    from playwright.sync_api import expect

    page.goto(f"{url}/dags/{ONBOARDING_DAG}/runs/{quote(run_id, safe='')}")
    expect(page.get_by_text(ONBOARDING_DAG).first).to_be_visible()
    cell = page.locator(f'a[href="/dags/{ONBOARDING_DAG}/runs/{run_id}/tasks/{task_id}/mapped"]')
    # The UI remembers expanded groups between pages (then there is no "Expand all" button to press).
    expand = page.get_by_role("button", name="Expand all task groups")
    if not cell.count() and expand.count() and expand.is_enabled():
        expand.click()
    if cell.count():
        cell.first.click()
    else:  # the grid shows the groups collapsed and offers no expand button: open the mapped task directly
        page.goto(f"{url}/dags/{ONBOARDING_DAG}/runs/{quote(run_id, safe='')}/tasks/{task_id}/mapped")
    page.wait_for_url(f"**/tasks/{task_id}/mapped")
    # The run page's own table links to the same instances: wait until the mapped task's page is rendered.
    expect(page.get_by_role("heading", name=re.compile(rf"^{re.escape(task_id)} \["))).to_be_visible()


def mapped_instance_link(page, run_id: str, task_id: str, table: str):
    """On a mapped task's page: the Map Index cell of its instance 0, which should read ``table``."""
    href = f"/dags/{ONBOARDING_DAG}/runs/{run_id}/tasks/{task_id}/mapped/0"
    return page.locator(f'a[href="{href}"]', has_text=re.compile(rf"^\s*{re.escape(table)}\s*$"))


def test_onboarding_trigger_grid_log_link_and_rerun_with_teardown(
    page, airflow_server, airflow_api, fresh_emulator, artifacts
) -> None:
    """A new user's walk through the onboarding DAG: the params form, the deferred sensor's log, the grid's
    map index, the "AEP Dataset" link to the emulator's page, then "Trigger again with this config" with
    another table and teardown on, which deletes only what the re-run created.

    The first run's AEP run is held in progress through the emulator (not by timing) until its sensor has
    deferred and the triggerer's progress line is on screen; every other wait polls Airflow's API."""
    from playwright.sync_api import expect

    url = airflow_server.url
    airflow_api.wait_for_dag(ONBOARDING_DAG)
    airflow_api.pause(ONBOARDING_DAG)  # as a new user finds it; the trigger form offers to unpause it
    earlier_runs = {r["dag_run_id"] for r in airflow_api.get(f"/api/v2/dags/{ONBOARDING_DAG}/dagRuns")["dag_runs"]}

    # 1. DAG page → Trigger → the params form (not raw JSON): one table, teardown off.
    page.goto(f"{url}/dags/{ONBOARDING_DAG}")
    dialog = open_trigger_form(page)
    expect(dialog.get_by_text(f"Unpause {ONBOARDING_DAG} on trigger")).to_be_visible()
    for description in ("Table names, globs", "Delete the dataflows and connections this run created"):
        expect(dialog.get_by_text(re.compile(re.escape(description)))).to_be_visible()
    teardown = dialog.get_by_role("checkbox", name="teardown", exact=True)
    expect(teardown).not_to_be_checked()
    dialog.locator("#element_tables").fill("Hubspot.Contacts")  # one table per line
    conf = conf_editor(dialog)
    expect(conf).to_contain_text(re.compile(r'"tables":\s*\[\s*"Hubspot\.Contacts"\s*\]'))
    expect(conf).to_contain_text(re.compile(r'"teardown":\s*false'))
    page.screenshot(path=str(artifacts / "10-onboarding-trigger-form.png"), full_page=True)
    # Hold the AEP run in progress (an hour on the emulator's clock) so the deferred sensor can be watched.
    defaults = fresh_emulator.control.config()
    fresh_emulator.control.configure(run_start_delay=0.0, run_duration=3600.0)
    first_run = submit_trigger(page, dialog, earlier_runs)
    airflow_api.wait_for_tasks(ONBOARDING_DAG, first_run, SENSOR, "deferred", count=1, timeout=240)
    fresh_emulator.control.configure(  # runs created from now on (the re-run's) take the usual few seconds
        run_start_delay=defaults["run_start_delay"], run_duration=defaults["run_duration"]
    )

    # 2a. While deferred: grid → wait_for_run → its instance (Logs tab): the triggerer's progress line.
    open_grid_cell(page, url, first_run, SENSOR)
    page.locator(f'a[href="/dags/{ONBOARDING_DAG}/runs/{first_run}/tasks/{SENSOR}/mapped/0"]').first.click()
    page.wait_for_url(f"**/tasks/{SENSOR}/mapped/0")
    expect(page.get_by_text("Deferred", exact=True).first).to_be_visible()
    # The log view refetches while the task is deferred; the trigger logs on its first poll.
    progress = page.get_by_text(re.compile(r"AEP run \S+ is inProgress after \d+m\d\ds"))
    expect(progress.first).to_be_visible(timeout=90_000)
    page.screenshot(path=str(artifacts / "11-onboarding-sensor-deferred-log.png"), full_page=True)
    fresh_emulator.control.advance_clock(7200)  # the run is done; the trigger sees it on its next poll
    run = airflow_api.wait_for_run(ONBOARDING_DAG, first_run, timeout=ONBOARDING_RUN_TIMEOUT)
    assert run["state"] == "success", airflow_api.task_instances(ONBOARDING_DAG, first_run)
    assert (run["conf"]["tables"], run["conf"]["teardown"]) == (["Hubspot.Contacts"], False)
    first_summary = airflow_api.xcom(ONBOARDING_DAG, first_run, "summary")
    [contacts] = first_summary["tables"]
    assert contacts["table"] == "Hubspot.Contacts" and contacts["status"] == "success"

    # 2b. Grid → the mapped create_dataset: its one instance shows the table, not "0".
    open_grid_cell(page, url, first_run, "onboard_table.create_dataset")
    expect(page.get_by_role("heading", name=re.compile(r"^1 Task Instance$"))).to_be_visible()
    instance = mapped_instance_link(page, first_run, "onboard_table.create_dataset", "Hubspot.Contacts")
    expect(instance).to_be_visible()
    page.screenshot(path=str(artifacts / "12-onboarding-grid-mapped-task.png"), full_page=True)
    instance.click()
    page.wait_for_url("**/tasks/onboard_table.create_dataset/mapped/0")
    heading = re.compile(r"onboard_table\.create_dataset \[Hubspot\.Contacts\]")
    expect(page.get_by_role("heading", name=heading)).to_be_visible()

    # 2c. Details → Extra Links → "AEP Dataset": opens (new tab) the emulator's page of that dataset.
    page.get_by_role("link", name="Details", exact=True).click()
    expect(page.get_by_text("Extra Links")).to_be_visible()
    link = page.get_by_role("link", name="AEP Dataset")
    expected = airflow_api.links(ONBOARDING_DAG, first_run, "onboard_table.create_dataset", 0)["AEP Dataset"]
    assert expected.startswith(f"{fresh_emulator.url}/__emulator/ui/"), expected
    assert expected.endswith(f"/dataset/browse/{contacts['dataset_id']}"), expected
    expect(link).to_have_attribute("href", expected)
    page.screenshot(path=str(artifacts / "13-onboarding-dataset-link.png"), full_page=True)
    with page.context.expect_page() as opened:
        link.click()
    dataset_page = opened.value
    try:
        dataset_page.wait_for_load_state()
        expect(dataset_page.locator("h1")).to_contain_text("Dataset: HubSpot (Airflow onboarding): Hubspot.Contacts")
        expect(dataset_page.locator("table.summary")).to_contain_text(contacts["dataset_id"])
        expect(dataset_page.locator("table.summary")).to_contain_text("last batch success")
        dataset_page.screenshot(path=str(artifacts / "14-emulator-dataset-page.png"), full_page=True)
    finally:
        dataset_page.close()

    # 2d. Grid → wait_for_run, now done → its instance's log: the trigger's and the sensor's lines about the run.
    open_grid_cell(page, url, first_run, SENSOR)
    mapped_instance_link(page, first_run, SENSOR, "Hubspot.Contacts").click()
    page.wait_for_url(f"**/tasks/{SENSOR}/mapped/0")
    expect(page.get_by_role("link", name="Logs", exact=True)).to_be_visible()
    aep_run, records = contacts["run_id"], contacts["records"]
    # The sensor's own last line. (The trigger's lines were checked while it was deferred, step 2b: on a busy
    # machine the resumed part can be a later try, whose log page does not show the earlier try's lines.)
    expect(page.get_by_text(f"AEP run {aep_run} ended success, {records} records ingested").first).to_be_visible()
    page.screenshot(path=str(artifacts / "15-onboarding-sensor-log.png"), full_page=True)

    # 3. The run's Trigger menu → "Trigger again with this config": the form starts from this run's conf;
    #    switch to another table and turn teardown on.
    page.goto(f"{url}/dags/{ONBOARDING_DAG}/runs/{quote(first_run, safe='')}")
    dialog = open_trigger_form(page, again_with_this_config=True)
    expect(dialog.locator("#element_tables")).to_have_value("Hubspot.Contacts")
    dialog.locator("#element_tables").fill("Hubspot.Companies")
    teardown = dialog.get_by_role("checkbox", name="teardown", exact=True)
    # The switch's input is visually hidden (Playwright's check() is intercepted): click the switch itself.
    dialog.locator("[id='switch:element_teardown']").click()
    expect(teardown).to_be_checked()
    expect(dialog.get_by_role("checkbox", name="teardown_data", exact=True)).not_to_be_checked()
    conf = conf_editor(dialog)
    expect(conf).to_contain_text(re.compile(r'"tables":\s*\[\s*"Hubspot\.Companies"\s*\]'))
    expect(conf).to_contain_text(re.compile(r'"teardown":\s*true'))
    expect(conf).to_contain_text(re.compile(r'"teardown_data":\s*false'))
    page.screenshot(path=str(artifacts / "16-onboarding-rerun-form.png"), full_page=True)
    second_run = submit_trigger(page, dialog, earlier_runs | {first_run})
    run = airflow_api.wait_for_run(ONBOARDING_DAG, second_run, timeout=ONBOARDING_RUN_TIMEOUT)
    tis = airflow_api.task_instances(ONBOARDING_DAG, second_run)
    states = {(ti["task_id"], ti.get("rendered_map_index")): ti["state"] for ti in tis}
    assert run["state"] == "success", states
    second_summary = airflow_api.xcom(ONBOARDING_DAG, second_run, "summary")
    assert second_summary["connection_id"] == first_summary["connection_id"]  # the base connection was reused
    [companies] = second_summary["tables"]
    assert companies["table"] == "Hubspot.Companies" and companies["status"] == "success"
    for task in ("delete_dataflow", "delete_source_connection", "delete_target_connection"):
        assert states[(f"onboard_table.{task}", "Hubspot.Companies")] == "success", states
    # The base connection was created by the first run, so this run's teardown leaves it (and says so).
    assert states[("delete_base_connection", None)] == "success", states
    left = airflow_api.read_task_log(ONBOARDING_DAG, second_run, "delete_base_connection")
    made_by = f"Leaving connections {first_summary['connection_id']}: it was created by DAG '{ONBOARDING_DAG}' run "
    assert f"{made_by}'{first_run}' (task 'create_base_connection'), not by this DAG run" in left, left

    # Teardown removed only what the second run created: Companies' dataflow and connections are gone;
    # Contacts' (first run) and the shared base connection stay; without teardown_data both datasets stay.
    state = fresh_emulator.control.state()
    kinds = ("connections", "sourceConnections", "targetConnections", "flows", "dataSets")
    ids = {kind: {resource["id"] for resource in state[kind]} for kind in kinds}
    assert ids["connections"] == {first_summary["connection_id"]}
    assert ids["flows"] == {contacts["flow_id"]}
    assert ids["sourceConnections"] == {contacts["source_connection_id"]}
    assert ids["targetConnections"] == {contacts["target_connection_id"]}
    assert ids["dataSets"] == {contacts["dataset_id"], companies["dataset_id"]}

    # What the user sees of it: the re-run's page lists Companies' teardown tasks as succeeded.
    page.goto(f"{url}/dags/{ONBOARDING_DAG}/runs/{quote(second_run, safe='')}")
    for task in ("delete_dataflow", "delete_source_connection", "delete_target_connection"):
        task_link = page.get_by_role("link", name=f"onboard_table.{task}", exact=True)
        row = page.get_by_role("row").filter(has=task_link)
        expect(row).to_contain_text("Hubspot.Companies")
        expect(row).to_contain_text("Success")
    page.screenshot(path=str(artifacts / "17-onboarding-rerun-teardown.png"), full_page=True)

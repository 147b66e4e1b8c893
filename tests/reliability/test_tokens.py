"""IMS tokens under stress: expiry mid-pipeline, IMS down or throttling, and 401s that must not loop.

Requests are counted in the emulator's journal, so "exactly one refresh" and "bounded" are measured on the
wire, not inferred from the client's own bookkeeping.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_aep.client.auth import TOKENS
from airflow_provider_aep.client.errors import AEPAuthError, AEPRateLimitError, AEPServerError, AEPTransportError
from tests.conftest import AEP_CLIENT_SECRET
from tests.reliability.pipeline import SleepRecorder, fast_policy, run_onboarding
from tests.reliability.plan import CATALOG, CONVERSION, FS, IMS, SR

PLATFORM = "/data/foundation/.*"  # every service the pipeline calls: Flow Service, Schema Registry, Catalog, Data Prep

TABLES = ["Hubspot.Contacts", "Hubspot.Deals"]
MAX_ATTEMPTS = fast_policy(SleepRecorder()).max_attempts


def ims_requests(emulator) -> list[dict]:
    return emulator.control.journal(method="POST", path=IMS)


def platform_401s(emulator) -> list[dict]:
    return [e for e in emulator.control.journal(path=PLATFORM) if e["status"] == 401]


def bearer_tokens(emulator) -> list[str]:
    """The distinct bearer tokens the emulator saw, in order of first use."""
    seen: list[str] = []
    for entry in emulator.control.journal(path=PLATFORM):
        token = entry["headers"].get("authorization", "").removeprefix("Bearer ")
        if token and token not in seen:
            seen.append(token)
    return seen


def wait_for_journal(emulator, count: int, *, method: str, path: str, deadline: float = 10.0) -> list[dict]:
    """Poll until ``count`` requests are journaled (a delayed request is journaled when it is handled)."""
    end = time.monotonic() + deadline
    while len(entries := emulator.control.journal(method=method, path=path)) < count:
        assert time.monotonic() < end, f"only {len(entries)} of {count} {method} {path} requests arrived"
        time.sleep(0.05)
    return entries


def one_task(emulator, **fault):
    """Run the pipeline with ``retries=0`` (an IMS failure stops it at its first task)."""
    emulator.control.configure(run_start_delay=0.0, run_duration=0.0)
    if fault:
        emulator.control.add_fault(**fault)
    return run_onboarding(connection_name="token test", tables=TABLES, retries=0)


@pytest.mark.parametrize("how", ["revoked", "clock"])
@pytest.mark.parametrize(
    "before_task",
    [
        "explore_tables",
        "create_schema[0]",  # Schema Registry
        "create_dataset[0]",  # Catalog
        "create_mapping_set[1]",  # Data Prep
        "create_target_connection[1]",
        "wait_for_run[0]",
    ],
)
def test_expiry_between_tasks_costs_exactly_one_refresh(fault_emulator, how, before_task):
    """The cached token dies between two tasks: the next call gets one 401, one new token, and succeeds."""
    control = fault_emulator.control
    control.configure(run_start_delay=0.0, run_duration=0.0, token_lifetime=3600)
    expired = []

    def between(task: str) -> None:
        if task == before_task:
            if how == "revoked":
                expired.append(control.expire_tokens())
            else:  # the emulator clock passes expires_in; the client still believes its token is fresh
                control.advance_clock(7200)
                expired.append(1)

    result = run_onboarding(connection_name="expiry", tables=TABLES, between_tasks=between)
    assert result.ok, result.failure
    assert expired == [1]
    assert len(ims_requests(fault_emulator)) == 2  # the first token, then exactly one refresh
    assert len(platform_401s(fault_emulator)) == 1
    assert len(bearer_tokens(fault_emulator)) == 2
    assert result.task_retries == 0 and result.client_retries == 0  # the refresh is not a retry


async def test_expiry_while_the_trigger_waits_costs_exactly_one_refresh(fault_emulator):
    """The deferred sensor's trigger (async client, same process-wide token cache) refreshes once too."""
    from airflow_provider_aep.triggers.runs import AEPFlowRunTrigger

    control = fault_emulator.control
    control.configure(run_start_delay=0.0, run_duration=0.0)
    result = run_onboarding(connection_name="trigger expiry", tables=TABLES[:1])
    assert result.ok, result.failure
    assert len(ims_requests(fault_emulator)) == 1
    control.expire_tokens()
    trigger = AEPFlowRunTrigger(aep_conn_id="aep_default", run_id=result.run_ids[TABLES[0]], poll_interval=0)
    events = [event async for event in trigger.run()]
    assert [e.payload["status"] for e in events] == ["success"]
    assert len(ims_requests(fault_emulator)) == 2
    assert len(platform_401s(fault_emulator)) == 1


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ({"status": 503}, AEPServerError, "HTTP 503"),
        ({"status": 500}, AEPServerError, "HTTP 500"),
        ({"status": 429, "retry_after": "0"}, AEPRateLimitError, "HTTP 429"),
        ({"status": 429}, AEPRateLimitError, "HTTP 429"),
        ({"action": "drop"}, AEPTransportError, "no response"),
        ({"action": "delay", "latency": 1.0}, AEPTransportError, "ReadTimeout"),
    ],
    ids=["503", "500", "429-retry-after-0", "429-no-retry-after", "dropped", "slow"],
)
def test_ims_down_or_throttling_is_retried_a_bounded_number_of_times(fault_emulator, fault, error, message):
    TOKENS.clear()
    result = one_task(fault_emulator, method="POST", path=IMS, count=100, **fault)
    assert not result.ok and result.failure.task == "create_base_connection"
    err = result.failure.error
    assert isinstance(err, error), err
    assert message in str(err) and "/ims/token/v3" in str(err)
    assert AEP_CLIENT_SECRET not in str(err)
    assert len(wait_for_journal(fault_emulator, MAX_ATTEMPTS, method="POST", path=IMS)) == MAX_ATTEMPTS
    assert fault_emulator.control.journal(path=PLATFORM) == []  # nothing reached Platform without a token


def test_a_transient_ims_failure_is_absorbed(fault_emulator):
    fault_emulator.control.add_fault(method="POST", path=IMS, count=2, status=503)
    fault_emulator.control.add_fault(method="POST", path=IMS, count=1, status=429, retry_after="0")
    result = one_task(fault_emulator)
    assert result.ok, result.failure
    assert [e["status"] for e in ims_requests(fault_emulator)] == [503, 503, 429, 200]


def test_wrong_client_secret_fails_at_once_with_a_clear_error(fault_emulator):
    """IMS 401 invalid_client is not transient: one request per try, and the secret is not in the message."""
    fault_emulator.control.configure(credentials={"aep-client-id-5678": "the-right-secret"})
    result = run_onboarding(connection_name="bad secret", tables=TABLES, retries=2)
    err = result.failure.error
    assert isinstance(err, AEPAuthError) and err.status == 401
    assert "invalid client_secret" in str(err) and "/ims/token/v3" in str(err)
    assert AEP_CLIENT_SECRET not in str(err)
    assert len(ims_requests(fault_emulator)) == 3  # one per Airflow try (retries=2), none by the client


@pytest.mark.parametrize(
    "path",
    [
        f"{FS}/connections",
        f"{FS}/flowSpecs",
        f"{SR}/tenant/fieldgroups",
        f"{CATALOG}/dataSets",
        f"{CONVERSION}/mappingSets",
    ],
)
def test_a_401_right_after_a_fresh_token_is_not_retried_forever(fault_emulator, path):
    """Platform keeps answering 401 even to a brand-new token (e.g. the credential lost its product profile):
    one refresh, one re-send, then a clear AEPAuthError; Airflow's retries repeat that, bounded."""
    fault_emulator.control.configure(run_start_delay=0.0, run_duration=0.0)
    fault_emulator.control.add_fault(method="GET", path=path, count=1000, status=401)
    retries = 2
    result = run_onboarding(connection_name="401 loop", tables=TABLES, retries=retries)
    err = result.failure.error
    assert isinstance(err, AEPAuthError) and err.status == 401 and "401013" in str(err)
    assert f"GET {fault_emulator.url}{path}" in str(err)
    tries = retries + 1
    assert len(platform_401s(fault_emulator)) == 2 * tries  # the call and its one re-send, per try
    assert len(ims_requests(fault_emulator)) == 1 + tries  # first token + one refresh per try
    assert result.client_retries == 0  # 401 is not in the retry policy's statuses

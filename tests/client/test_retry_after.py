"""Retry-After: honoured in full while one call's sleeps stay within ``max_retry_after``, else a clear error
at once saying when AEP allows the next call; invalid values fall back to the back-off."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import responses
import respx

from airflow_provider_aep.client.async_flow_service import AsyncFlowServiceClient
from airflow_provider_aep.client.errors import AEPRateLimitError, AEPServerError
from airflow_provider_aep.client.flow_service import FlowServiceClient
from airflow_provider_aep.client.http import RetryPolicy, parse_retry_after

from .conftest import FS, IMS, service_calls

URL = FS + "/connections/c1"
OK = {"items": [{"id": "c1"}]}
NEXT_CALL = re.compile(r"AEP allows the next call at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) \(in (\d+) s\)")


def throttled(mock, retry_after: str, *, status: int = 429) -> None:
    body = {"error_code": "429050", "message": "Too many requests"} if status == 429 else {"title": "Unavailable"}
    mock.add(responses.GET, URL, status=status, json=body, headers={"Retry-After": retry_after})


def client_with(settings, sleeps, **policy) -> FlowServiceClient:
    return FlowServiceClient(settings, retry=RetryPolicy(sleep=sleeps.append, **policy))


# ---------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("inf", None),
        ("Infinity", None),
        ("-inf", None),
        ("nan", None),
        ("NaN", None),
        ("-5", None),
        ("-0.5", None),
        ("1e3", None),
        ("0x10", None),
        ("soon", None),
        ("", None),
        ("   ", None),
        ("Mon, 99 Foo 2026 25:61:61 GMT", None),
        (None, None),
    ],
)
def test_retry_after_values(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_dates():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 0


def test_an_absurd_retry_after_fails_at_once_without_overflowing(settings, strict_http, strict_ims, sleeps):
    throttled(strict_http, "9" * 40)
    with pytest.raises(AEPRateLimitError, match=r"AEP allows the next call in \d+ s; later than"):
        client_with(settings, sleeps).get_connection("c1")
    assert sleeps == []


# ---------------------------------------------------------------------- beyond the budget
def test_a_hint_beyond_max_delay_but_within_max_retry_after_is_waited_in_full(
    settings, strict_http, strict_ims, sleeps
):
    throttled(strict_http, "200")  # more than max_delay (120 s), less than max_retry_after (300 s)
    strict_http.add(responses.GET, URL, json=OK)
    assert client_with(settings, sleeps).get_connection("c1")["id"] == "c1"
    assert sleeps == [200.0]


@pytest.mark.parametrize("status", [429, 503])
def test_a_hint_beyond_max_retry_after_fails_at_once_saying_when(settings, strict_http, strict_ims, sleeps, status):
    throttled(strict_http, "600", status=status)
    before = time.time()
    with pytest.raises(AEPRateLimitError if status == 429 else AEPServerError) as err:
        client_with(settings, sleeps).get_connection("c1")
    assert sleeps == [] and len(service_calls(strict_http, FS)) == 1  # not one pointless wait or re-send
    message = str(err.value)
    match = NEXT_CALL.search(message)
    assert match, message
    when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=timezone.utc).timestamp()
    assert before + 599 <= when <= time.time() + 601
    assert match.group(2) == "600"
    assert "max_retry_after=300 s" in message
    assert err.value.retry_at is not None and abs(err.value.retry_at - when) < 1.5


def test_the_cap_is_configurable_and_a_hint_is_never_shortened(settings, strict_http, strict_ims, sleeps):
    throttled(strict_http, "30")
    with pytest.raises(AEPRateLimitError, match=r"in 30 s\).*max_retry_after=10 s"):
        client_with(settings, sleeps, max_retry_after=10).get_connection("c1")
    assert sleeps == []  # a 10 s wait would only have been throttled again


def test_the_cap_bounds_all_sleeps_of_one_call(settings, strict_http, strict_ims, sleeps):
    throttled(strict_http, "200")
    throttled(strict_http, "200")  # 400 s of sleep in all: more than max_retry_after
    with pytest.raises(AEPRateLimitError, match=r"in 200 s\)"):
        client_with(settings, sleeps).get_connection("c1")
    assert sleeps == [200.0] and len(service_calls(strict_http, FS)) == 2


def test_giving_up_after_the_last_attempt_also_says_when(settings, strict_http, strict_ims, sleeps):
    throttled(strict_http, "1")
    with pytest.raises(AEPRateLimitError, match=r"AEP allows the next call at .* \(in 1 s\); gave up after 3 attempts"):
        client_with(settings, sleeps, max_attempts=3).get_connection("c1")
    assert sleeps == [1.0, 1.0]
    with pytest.raises(AEPRateLimitError, match=r"\(in 1 s\); gave up after 1 attempt$"):
        client_with(settings, sleeps, max_attempts=1).get_connection("c1")  # e.g. the Test button


def test_an_invalid_hint_falls_back_to_the_backoff(settings, strict_http, strict_ims, sleeps):
    throttled(strict_http, "inf")
    strict_http.add(responses.GET, URL, json=OK)
    assert client_with(settings, sleeps).get_connection("c1")["id"] == "c1"
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2  # the first back-off (1 s + jitter), not inf or 300


def test_ims_throttling_beyond_the_cap_fails_at_once(settings, strict_http, sleeps):
    strict_http.add(
        responses.POST, IMS, status=429, json={"error": "too_many_requests"}, headers={"Retry-After": "3600"}
    )
    with pytest.raises(AEPRateLimitError, match=r"/ims/token/v3 failed with HTTP 429.*in 3600 s\)"):
        client_with(settings, sleeps).get_connection("c1")
    assert sleeps == [] and len(strict_http.calls) == 1


def test_the_async_client_fails_at_once_too(settings):
    import asyncio

    async def main() -> None:
        waits: list[float] = []

        async def record(seconds: float) -> None:
            waits.append(seconds)

        with respx.mock(assert_all_called=True) as mock:
            mock.post(IMS).respond(json={"access_token": "atoken-1-xxxxxxxx", "expires_in": 86399})
            route = mock.get(FS + "/runs/r1").respond(
                429, headers={"Retry-After": "900"}, json={"error_code": "429050", "message": "Too many"}
            )
            async with AsyncFlowServiceClient(settings, sleep=record) as client:
                with pytest.raises(AEPRateLimitError, match=r"AEP allows the next call at .* \(in 900 s\)"):
                    await client.get_run("r1")
        assert waits == [] and route.call_count == 1

    asyncio.run(main())


def test_invalid_budgets_are_refused():
    for bad in ({"max_retry_after": -1}, {"max_delay": float("nan")}, {"max_retry_after": float("nan")}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)

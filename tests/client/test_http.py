from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_aep.client.errors import AEPRateLimitError, AEPServerError, AEPTransportError
from airflow_provider_aep.client.http import is_safe_to_resend_create, is_transient, parse_retry_after


def test_retry_after_seconds_and_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30, abs=1)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 0


def _api(cls, status):
    return cls(status=status, code=None, message="m")


def test_which_errors_are_transient():
    statuses = frozenset({429, 500, 502, 503, 504})
    assert is_transient(_api(AEPServerError, 503), statuses)
    assert is_transient(_api(AEPRateLimitError, 429), statuses)
    assert is_transient(AEPTransportError("x", method="GET", url="u", sent=True), statuses)
    assert not is_transient(_api(AEPServerError, 501), statuses)


def test_creates_are_resent_only_when_not_processed():
    assert is_safe_to_resend_create(_api(AEPRateLimitError, 429))
    assert is_safe_to_resend_create(AEPTransportError("refused", method="POST", url="u", sent=False))
    assert not is_safe_to_resend_create(AEPTransportError("reset", method="POST", url="u", sent=True))
    assert not is_safe_to_resend_create(_api(AEPServerError, 503))

"""Time parsing for --since/--until/--at: every documented form, UTC inside, AUDITCTL_NOW."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditctl.errors import UsageError
from auditctl.timeparse import parse_duration, parse_time


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")
    monkeypatch.setenv("TZ", "UTC")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", datetime(2026, 11, 18, 12, tzinfo=UTC)),
        ("24h", datetime(2026, 11, 24, 12, tzinfo=UTC)),
        ("30m", datetime(2026, 11, 25, 11, 30, tzinfo=UTC)),
        ("2w", datetime(2026, 11, 11, 12, tzinfo=UTC)),
        ("7 days ago", datetime(2026, 11, 18, 12, tzinfo=UTC)),
        ("3 hours ago", datetime(2026, 11, 25, 9, tzinfo=UTC)),
        ("today", datetime(2026, 11, 25, tzinfo=UTC)),
        ("yesterday", datetime(2026, 11, 24, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("1764000000", datetime.fromtimestamp(1764000000, UTC)),
    ],
)
def test_accepted_forms(text, expected):
    assert parse_time(text) == expected


def test_today_is_the_start_of_the_local_day(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert parse_time("today") == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


@pytest.mark.parametrize("text", ["7x", "2026-13-45", "10000-01-01", "", "soon", "99999999999999999999"])
def test_malformed_times_are_usage_errors_naming_the_value(text):
    with pytest.raises(UsageError) as err:
        parse_time(text, option="--since")
    assert "--since" in err.value.message
    if text.strip():
        assert text in err.value.message


def test_durations():
    assert parse_duration("45d").days == 45
    with pytest.raises(UsageError):
        parse_duration("-5d")

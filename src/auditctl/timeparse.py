"""Turn what people type for a time into a UTC instant.

Accepted: ``7d``/``24h``/``30m``/``2w``/``45s`` (that long before now), ``today``,
``yesterday``, ``now``, ``"7 days ago"``, ISO dates and datetimes with or without an
offset (no offset means UTC), and epoch seconds. ``AUDITCTL_NOW`` fixes "now".
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta

from auditctl.errors import UsageError
from auditctl.model import MAX_YEAR, MIN_YEAR, format_time

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
}
_SHORT = re.compile(r"(\d+)\s*(s|m|h|d|w)", re.IGNORECASE)
_AGO = re.compile(r"(\d+)\s*(sec|second|min|minute|hour|day|week)s?\s+ago", re.IGNORECASE)
_EPOCH = re.compile(r"-?\d{9,12}(\.\d+)?")
_HINT = "try 7d, 24h, 30m, 2w, today, yesterday, '7 days ago', 2026-11-25, 2026-11-25T10:00:00Z or epoch seconds"


def now() -> datetime:
    """The current instant, or ``AUDITCTL_NOW`` when set (tests, replays)."""
    fixed = os.environ.get("AUDITCTL_NOW")
    if fixed:
        try:
            moment = datetime.fromisoformat(fixed.strip())
        except ValueError:
            raise UsageError(f"AUDITCTL_NOW is not an RFC 3339 time: {fixed!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    return datetime.now(UTC)


def now_text() -> str:
    return format_time(now())


def parse_duration(text: str) -> timedelta:
    """``45d`` / ``24h`` / ``2w`` / ``30m`` / ``10s`` as a positive length of time."""
    value = text.strip()
    match = _SHORT.fullmatch(value) or _AGO.fullmatch(value + " ago")
    if not match:
        raise UsageError(f"invalid duration {text!r}", hint="try 30d, 24h, 2w or 90m")
    amount, unit = int(match.group(1)), match.group(2).lower()
    seconds = amount * _UNITS[unit]
    if seconds > 400 * 365 * 86400:
        raise UsageError(f"duration {text!r} is too long")
    return timedelta(seconds=seconds)


def parse_time(text: str, *, option: str = "time") -> datetime:
    """Parse a user-typed time; raise UsageError naming the value when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{option}: empty time", hint=_HINT)
    value = text.strip()
    lower = value.lower()
    current = now()
    if lower == "now":
        return current
    if lower in ("today", "yesterday"):
        # "today" is the start of the user's local day: that is what a person means.
        local = current.astimezone()
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if lower == "yesterday":
            start = (start - timedelta(days=1)).replace(hour=0)
        return start.astimezone(UTC)
    match = _SHORT.fullmatch(lower) or _AGO.fullmatch(lower)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
        try:
            return current - timedelta(seconds=seconds)
        except OverflowError:
            raise UsageError(f"{option}: {text!r} is too far back") from None
    if _EPOCH.fullmatch(value):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise UsageError(f"{option}: epoch time out of range: {text!r}") from None
        return _in_range(moment, text, option)
    try:
        if len(value) == 10 and value[4] == "-":
            day = date.fromisoformat(value)
            return _in_range(datetime(day.year, day.month, day.day, tzinfo=UTC), text, option)
        moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise UsageError(f"{option}: invalid time {text!r}", hint=_HINT) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return _in_range(moment.astimezone(UTC), text, option)
    except OverflowError:
        raise UsageError(f"{option}: time out of range: {text!r}") from None


def _in_range(moment: datetime, text: str, option: str) -> datetime:
    if not (MIN_YEAR <= moment.year <= MAX_YEAR):
        raise UsageError(f"{option}: time out of range ({MIN_YEAR}–{MAX_YEAR}): {text!r}")
    return moment


def parse_time_text(text: str, *, option: str = "time") -> str:
    return format_time(parse_time(text, option=option))

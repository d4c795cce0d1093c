"""Retention: which moment a purge cuts at, refusing the dangerous ones.

Pure: shared by ``auditctl purge``, ``POST /v1/purge`` and the server's scheduled
purge, so the same request means the same cut-off everywhere.
"""

from __future__ import annotations

from datetime import timedelta

from auditctl.errors import UsageError
from auditctl.model import format_time
from auditctl.timeparse import now, parse_duration, parse_time

MIN_WINDOW = timedelta(days=1)


def purge_cutoff(older_than: str | None, before: str | None, retention_days: int, force: bool) -> str:
    """The cut-off time, refusing the dangerous ones (exit 2)."""
    if older_than and before:
        raise UsageError("give --older-than or --before, not both")
    current = now()
    if before:
        cutoff = parse_time(before, option="--before")
    else:
        text = older_than or f"{retention_days}d"
        if text.strip().startswith("-"):
            raise UsageError(f"--older-than must be a positive duration, got {text!r}")
        length = parse_duration(text)
        if length <= timedelta(0):
            raise UsageError(f"--older-than {text} would delete every event; refusing",
                             hint="give a real retention window, e.g. --older-than 30d")
        try:
            cutoff = current - length
        except OverflowError:
            raise UsageError(f"--older-than {text} reaches before year 1") from None
    if cutoff > current:
        raise UsageError(f"the cut-off {format_time(cutoff)} is in the future; refusing to purge",
                         hint="a purge only deletes events older than a moment in the past")
    if current - cutoff < MIN_WINDOW and not force:
        raise UsageError(
            f"the cut-off {format_time(cutoff)} is less than a day ago; refusing",
            hint="purging the last day is almost always a mistake; add --force if you mean it",
        )
    return format_time(cutoff)

"""``auditctl purge``, ``verify`` and ``head``: retention and tamper evidence."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from auditctl import jsonio
from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals, open_text_input
from auditctl.cli.output import busy
from auditctl.cli.record_cmd import current_user
from auditctl.errors import UsageError, VerifyFailed
from auditctl.integrity import VerifyReport, compare_head, verify_stream
from auditctl.retention import purge_cutoff
from auditctl.store.base import PurgeResult


@command(app, "purge")
def purge(
    older_than: Annotated[str | None, typer.Option("--older-than", help="Delete events older than this, e.g. 45d (default: retention_days).", show_default=False)] = None,
    before: Annotated[str | None, typer.Option("--before", help="Delete events before this time.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Allow a cut-off less than a day ago.")] = False,
) -> None:
    """Delete events past the retention window, keeping the chain verifiable.

    Example: auditctl purge --older-than 90d --dry-run      (cron: auditctl purge --yes)
    """
    g = get_globals()
    cutoff = purge_cutoff(older_than, before, g.settings["retention_days"], force)
    fmt = g.format or Format.table  # a sentence for people unless JSON is asked for
    with g.open_store() as store:
        preview = store.purge(cutoff, dry_run=True)
        if dry_run or preview.count == 0:
            _print_purge(fmt, preview, dry_run=True)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"purge would delete {preview.count} events; add --yes to confirm",
                                 hint="on a terminal auditctl asks; in scripts and cron pass --yes")
            if not typer.confirm(f"Delete {preview.count} events older than {cutoff}?", default=False, err=True):
                raise typer.Exit(1)
        with busy(f"purging {preview.count:,} events older than {cutoff}…"):
            result = store.purge(cutoff, dry_run=False, actor={"type": "system", "id": "auditctl-purge"},
                                 reason=f"retention purge run by {current_user()}")
    _print_purge(fmt, result, dry_run=False)


def _print_purge(fmt: Format, result: PurgeResult, dry_run: bool) -> None:
    data = result.to_dict()
    if fmt in (Format.json, Format.jsonl):
        sys.stdout.write((jsonio.dumps_pretty(data) if fmt == Format.json else jsonio.dumps(data)) + "\n")
        return
    count = data["count"]
    if count == 0:
        sys.stdout.write(f"nothing to purge: no events older than {data['cutoff']}\n")
        return
    span = f" (from {data['oldest']} to {data['newest']})"
    verb = "would delete" if dry_run else "deleted"
    sys.stdout.write(f"{verb} {count} event{'s' if count != 1 else ''} older than {data['cutoff']}{span}\n")


@command(app, "verify")
def verify(
    file: Annotated[str | None, typer.Option("--file", help="Check an exported JSONL file offline instead of the store.", show_default=False)] = None,
    expect_head: Annotated[str | None, typer.Option("--expect-head", help="SEQ:HASH anchored earlier (from auditctl head): detects a truncated tail or an old backup.", show_default=False)] = None,
) -> None:
    """Check the hash chain; exit 65 naming the first bad seq.

    Example: auditctl verify --expect-head "$(cat last-head.txt)"
    """
    g = get_globals()
    key = g.settings["chain_key"]
    if file is not None:
        report = _verify_file(file, key.encode() if key else None)
    else:
        with g.open_store() as store:
            report = store.verify()
    breaks = list(report.breaks)
    if not breaks and expect_head:
        problem = compare_head(report, expect_head.strip())
        if problem:
            breaks.append(problem)
    fmt = g.format or Format.table
    if fmt in (Format.json, Format.jsonl):
        data = report.to_dict()
        data["ok"] = not breaks
        data["breaks"] = [{"seq": b.seq, "problem": b.problem} for b in breaks]
        sys.stdout.write((jsonio.dumps_pretty(data) if fmt == Format.json else jsonio.dumps(data)) + "\n")
    if breaks:
        first = breaks[0]
        raise VerifyFailed(first.message(), first.seq,
                           hint="the store was changed outside auditctl; compare with a backup or an anchored head")
    if fmt not in (Format.json, Format.jsonl):
        where = f"seq {report.first_seq}–{report.head_seq}" if report.checked else "empty chain"
        purged = f", seq ≤ {report.purged_through} purged" if report.purged_through else ""
        sys.stdout.write(f"OK: {report.checked} events verified ({where}{purged}); head {report.head_seq}:{report.head_hash}\n")


def _verify_file(path: str, key: bytes | None) -> VerifyReport:
    from auditctl.export import read_events

    handle = open_text_input(path)
    try:
        return verify_stream((data for _, data in read_events(handle, name=path)), key)
    finally:
        handle.close()


@command(app, "head")
def head() -> None:
    """Print the chain head (SEQ:HASH) to anchor elsewhere: a ticket, another system, a cron mail.

    Example: auditctl head >> anchors.txt
    """
    g = get_globals()
    with g.open_store() as store:
        current = store.head()
    if g.format in (Format.json, Format.jsonl):
        sys.stdout.write(jsonio.dumps(current.to_dict()) + "\n")
    else:
        sys.stdout.write(f"{current}\n")

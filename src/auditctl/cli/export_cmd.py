"""``auditctl export``: stream matching events as jsonl, json or csv; recorded as an event."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Annotated

import typer

from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals, info
from auditctl.cli.options import (
    Filters,
)
from auditctl.cli.output import progress
from auditctl.cli.record_cmd import self_actor
from auditctl.errors import StoreIOError, UsageError
from auditctl.export import write_query
from auditctl.model import Actor as ActorModel
from auditctl.model import Context as ContextModel
from auditctl.model import Entity, Event


@command(app, "export")
def export(
    filters: Filters = Filters(),
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file (created 0600) instead of stdout.", show_default=False)] = None,
) -> None:
    """Export matching events as JSON lines (default), a JSON array or CSV.

    Example: auditctl export --since 30d -o last-month.jsonl
    """
    g = get_globals()
    fmt = g.format or (Format(g.settings["format"]) if g.settings["format"] else Format.jsonl)
    if fmt == Format.table:
        if g.format is None:
            fmt = Format.jsonl
        else:
            raise UsageError("export writes jsonl, json or csv, not a table", hint="use auditctl search for a table")
    query = filters.query()
    with g.open_store() as store:
        if output is None:
            count = write_query(store, query, fmt.value, sys.stdout)
        else:
            total = store.count(query) if sys.stderr.isatty() else None
            count = _export_to_file(output, lambda handle: write_query(
                store, query, fmt.value, handle, progress(total, f"exporting to {output}")))
            info(f"exported {count} event{'s' if count != 1 else ''} to {output}")
        store.append([
            Event(
                action="export",
                actor=ActorModel(**self_actor()),
                source="cli",
                entity=Entity("audit_log", None),
                context=ContextModel(reason="auditctl export"),
                metadata={"count": count, "format": fmt.value, "filters": filters.describe(),
                          "output": output or "stdout"},
            )
        ])


def _export_to_file(path: str, write: Callable[[IO[str]], int]) -> int:
    """Write to a temporary file beside the target, then rename: no half export."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise StoreIOError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            count = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreIOError(f"cannot write {path}: {exc.strerror}") from None
        raise
    return count

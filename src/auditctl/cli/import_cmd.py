"""``auditctl import``: bulk ingest JSONL, a JSON array, or CSV, in atomic batches."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Annotated, Any

import typer

from auditctl.cli.app import app
from auditctl.cli.common import command, get_globals, info, open_text_input
from auditctl.cli.output import progress
from auditctl.cli.record_cmd import self_actor
from auditctl.errors import ValidationError
from auditctl.export import read_events
from auditctl.ingest import store_batches
from auditctl.model import Actor, Context, Entity, Event
from auditctl.redact import DEFAULT_REDACTOR

# One transaction per batch: each commit is an fsync of the WAL (synchronous=FULL),
# so bigger batches import faster; 5,000 events keep the process near 90 MB.
BATCH_SIZE = 5000


@command(app, "import")
def import_(
    file: Annotated[str, typer.Argument(help="JSONL, JSON array or CSV file to read; - for stdin.")],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000, help="Events per transaction.")] = BATCH_SIZE,
) -> None:
    """Import events in bulk; re-running the same import adds nothing.

    Each batch is stored whole or not at all. Events without an id get one derived
    from their content, so an interrupted import can simply be run again.

    Example: auditctl import events.jsonl
    """
    g = get_globals()
    name = "stdin" if file == "-" else file
    handle = open_text_input(file)
    # The bar follows the bytes read (a regular file has a size; a pipe has not).
    total_bytes, position = _size_and_position(handle) if file != "-" else (None, None)
    added = skipped = 0
    failure: str | None = None
    with g.open_store(create=True) as store:
        redactor = getattr(store, "redactor", DEFAULT_REDACTOR)  # a remote store's server redacts alike
        try:
            rows = read_events(handle, name=name, lazy=True)
            bar = progress(total_bytes, f"importing {name}", unit="bytes" if total_bytes else "events",
                           position=position)
            with store.bulk_import():
                for created, present in store_batches(bar(rows), store, name=name, redactor=redactor,
                                                      batch_size=batch_size):
                    added, skipped = added + created, skipped + present
        except ValidationError as exc:
            failure = exc.message
            raise ValidationError(
                exc.message,
                exc.field,
                hint=f"{added} events before it were stored; fix the input and run the import again (stored events are skipped)"
                if added else exc.hint,
            ) from None
        finally:
            handle.close()
            if added:
                _record_import(store, name, added, skipped, failure)
    info(f"imported {added} event{'s' if added != 1 else ''} from {name}" + (f" ({skipped} already present)" if skipped else ""))


def _size_and_position(handle: Any) -> tuple[int | None, Callable[[], int] | None]:
    try:
        fd = handle.fileno()
        status = os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return None, None
    if not stat.S_ISREG(status.st_mode) or status.st_size == 0:
        return None, None

    def position() -> int:
        # Where the OS file offset is: ahead of the parser by at most one read buffer.
        try:
            return min(os.lseek(fd, 0, os.SEEK_CUR), status.st_size)
        except OSError:
            return 0

    return status.st_size, position


def _record_import(store: object, name: str, added: int, skipped: int, failure: str | None) -> None:
    try:
        store.append([  # type: ignore[attr-defined]
            Event(
                action="import",
                actor=Actor(**self_actor()),
                source="cli",
                entity=Entity("audit_log", None),
                context=Context(reason="auditctl import"),
                metadata={"file": name, "imported": added, "skipped": skipped,
                          **({"failed": failure} if failure else {})},
            )
        ])
    except Exception:  # the import itself is what the user asked for; never mask its error
        if failure is None:
            raise

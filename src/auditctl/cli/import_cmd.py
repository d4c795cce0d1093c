"""``auditctl import``: bulk ingest JSONL, a JSON array, or CSV, in atomic batches."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from auditctl.cli.app import app
from auditctl.cli.common import command, get_globals, info
from auditctl.cli.output import progress
from auditctl.cli.record_cmd import self_actor
from auditctl.errors import StoreIOError, ValidationError
from auditctl.export import read_events
from auditctl.model import Actor, Context, Entity, Event, content_id

BATCH_SIZE = 1000


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
    try:
        handle = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="strict", newline="")
    except FileNotFoundError:
        raise StoreIOError(f"no such file: {file}") from None
    except OSError as exc:
        raise StoreIOError(f"cannot read {file}: {exc.strerror}") from None
    total_bytes = os.fstat(handle.fileno()).st_size if file != "-" and sys.stderr.isatty() else None
    added = skipped = 0
    failure: str | None = None
    with g.open_store(create=True) as store:
        try:
            batch: list[Event] = []
            rows = read_events(handle, name=name)
            for line, data in progress(None if total_bytes is None else None, "importing")(rows):
                try:
                    event = Event.from_dict(data)
                except ValidationError as exc:
                    raise ValidationError(f"{name}, line {line}: {exc.message}", exc.field, exc.hint) from None
                if event.id is None:
                    event = event.with_store_fields(id=content_id(event))
                batch.append(event)
                if len(batch) >= batch_size:
                    a, s = _flush(store, batch)
                    added, skipped = added + a, skipped + s
                    batch = []
            if batch:
                a, s = _flush(store, batch)
                added, skipped = added + a, skipped + s
        except ValidationError as exc:
            failure = exc.message
            raise ValidationError(
                exc.message,
                exc.field,
                hint=f"{added} events before it were stored; fix the input and run the import again (stored events are skipped)"
                if added else exc.hint,
            ) from None
        finally:
            if handle is not sys.stdin:
                handle.close()
            if added:
                _record_import(store, name, added, skipped, failure)
    info(f"imported {added} event{'s' if added != 1 else ''} from {name}" + (f" ({skipped} already present)" if skipped else ""))


def _flush(store: object, batch: list[Event]) -> tuple[int, int]:
    results = store.append(batch)  # type: ignore[attr-defined]
    added = sum(1 for r in results if r.created)
    return added, len(results) - added


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
